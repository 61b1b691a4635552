from services.common.migrate import run_env
from services.accountability.models import metadata

run_env(metadata)

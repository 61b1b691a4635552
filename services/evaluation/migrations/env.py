from services.common.migrate import run_env
from services.evaluation.models import metadata

run_env(metadata)

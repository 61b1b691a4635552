from services.common.migrate import run_env
from services.triage.models import metadata

run_env(metadata)

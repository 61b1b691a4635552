from services.common.migrate import run_env
from services.triage.models import metadata
import services.triage.transfer_models  # noqa: F401,E402 — the transfer tables share that metadata

run_env(metadata)

from services.common.migrate import run_env
from services.intake.models import metadata
import services.intake.qr_models  # noqa: F401,E402 — its table shares that metadata

run_env(metadata)

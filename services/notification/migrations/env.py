from services.common.migrate import run_env
from services.notification.models import metadata
import services.notification.rating_models  # noqa: F401,E402 — its table shares that metadata

run_env(metadata)

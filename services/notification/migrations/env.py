from services.common.migrate import run_env
from services.notification.models import metadata

run_env(metadata)

from __future__ import annotations

from functools import lru_cache

from services.common.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    service_name: str = "notification"


@lru_cache
def get_settings() -> NotificationSettings:
    return NotificationSettings()

from __future__ import annotations

from functools import lru_cache

from services.common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"


@lru_cache
def get_settings() -> IntakeSettings:
    return IntakeSettings()

from __future__ import annotations

from functools import lru_cache

from services.common.settings import ServiceSettings


class AccountabilitySettings(ServiceSettings):
    service_name: str = "accountability"


@lru_cache
def get_settings() -> AccountabilitySettings:
    return AccountabilitySettings()

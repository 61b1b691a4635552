from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from services.common.settings import ServiceSettings


class AccountabilitySettings(ServiceSettings):
    service_name: str = "accountability"
    # How often the rectification ledger is scanned for items past their deadline.
    overdue_check_seconds: float = Field(300.0, validation_alias="ACCOUNTABILITY_OVERDUE_CHECK_SECONDS")


@lru_cache
def get_settings() -> AccountabilitySettings:
    return AccountabilitySettings()

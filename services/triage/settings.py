from __future__ import annotations

from functools import lru_cache

from services.common.settings import ServiceSettings


class TriageSettings(ServiceSettings):
    service_name: str = "triage"


@lru_cache
def get_settings() -> TriageSettings:
    return TriageSettings()

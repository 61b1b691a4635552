from __future__ import annotations

from functools import lru_cache

from services.common.settings import ServiceSettings


class EvaluationSettings(ServiceSettings):
    service_name: str = "evaluation"


@lru_cache
def get_settings() -> EvaluationSettings:
    return EvaluationSettings()

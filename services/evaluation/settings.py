from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator

from services.common.settings import ServiceSettings

DEV_VOTER_HASH_KEY = "dev-only-voter-hash-key-change-me"


class EvaluationSettings(ServiceSettings):
    service_name: str = "evaluation"
    # The HMAC key that turns a voter's phone number / WeChat openid into the one-ballot-per-voter key.
    # Whoever holds it can test a guessed phone number, so it lives in a Secret, never in the database.
    voter_hash_key: str = Field(DEV_VOTER_HASH_KEY, validation_alias="EVALUATION_VOTER_HASH_KEY")
    ballot_batch_max: int = Field(10_000, validation_alias="EVALUATION_BALLOT_BATCH_MAX")

    @model_validator(mode="after")
    def _refuse_dev_key_in_production(self) -> "EvaluationSettings":
        if self.environment == "production" and (
            self.voter_hash_key == DEV_VOTER_HASH_KEY or len(self.voter_hash_key) < 32
        ):
            raise ValueError("EVALUATION_VOTER_HASH_KEY must be set (≥ 32 characters) in production")
        return self


@lru_cache
def get_settings() -> EvaluationSettings:
    return EvaluationSettings()

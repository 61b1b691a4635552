from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator

from services.common.crypto import KeyRing
from services.common.settings import ServiceSettings

DEV_VOTER_HASH_KEY = "dev-only-voter-hash-key-change-me"


class EvaluationSettings(ServiceSettings):
    service_name: str = "evaluation"
    # The HMAC key that turns a voter's phone number / WeChat openid into the one-ballot-per-voter key.
    # Whoever holds it can test a guessed phone number, so it lives in a Secret, never in the database.
    voter_hash_key: str = Field(DEV_VOTER_HASH_KEY, validation_alias="EVALUATION_VOTER_HASH_KEY")
    ballot_batch_max: int = Field(10_000, validation_alias="EVALUATION_BALLOT_BATCH_MAX")
    # Seals the phone number and one-time code for notification's SMS (the same ring intake uses for
    # reporters' contacts); without it codes cannot be sent and web voting is closed.
    contact_keyring: str = Field("", validation_alias="CONTACT_KEYRING")
    contact_keyring_file: Path | None = Field(None, validation_alias="CONTACT_KEYRING_FILE")
    code_ttl_seconds: int = Field(300, validation_alias="EVALUATION_CODE_TTL_SECONDS")
    code_max_attempts: int = Field(5, validation_alias="EVALUATION_CODE_MAX_ATTEMPTS")
    code_interval_seconds: int = Field(60, validation_alias="EVALUATION_CODE_INTERVAL_SECONDS")  # per phone
    codes_per_phone_per_day: int = Field(5, validation_alias="EVALUATION_CODES_PER_PHONE_PER_DAY")
    codes_per_client_per_hour: int = Field(30, validation_alias="EVALUATION_CODES_PER_CLIENT_PER_HOUR")

    @model_validator(mode="after")
    def _refuse_dev_key_in_production(self) -> EvaluationSettings:
        if self.environment == "production" and (
            self.voter_hash_key == DEV_VOTER_HASH_KEY or len(self.voter_hash_key) < 32
        ):
            raise ValueError("EVALUATION_VOTER_HASH_KEY must be set (≥ 32 characters) in production")
        return self


    def keyring(self) -> KeyRing | None:
        return KeyRing.parse(self.contact_keyring.strip()) if self.contact_keyring.strip() else None


@lru_cache
def get_settings() -> EvaluationSettings:
    return EvaluationSettings()

"""Intake's settings: key rings for reporter identity and contact, attachment limits and storage,
receipt lookups, the public address the QR codes point at."""

from __future__ import annotations

import json
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from services.common.crypto import KeyRing
from services.common.settings import ServiceSettings

HotlineStage = Literal["accepted", "transferred", "merged", "set_aside", "concluded", "closed", "feedback"]


class HotlineCallback(BaseModel):
    """Where a hotline line hears what became of its tickets (热线回告): a URL, the secret the callbacks
    are signed with (HMAC-SHA256, the scheme the line signs its pushes with), and optionally which stages."""

    url: str = Field(pattern=r"^https?://")
    secret: str = Field(min_length=32)
    key_id: str = "zuofeng-intake"  # sent as X-Zuofeng-Key, so the line can rotate our secret
    stages: list[HotlineStage] | None = None  # None: every stage


# Only for development and tests; production refuses to start with it (see the validator below).
DEV_RECEIPT_LOOKUP_KEY = "zuofeng-development-receipt-lookup-key"


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"

    # 实名举报人身份 (name, phone, ID number) sealed at rest; AES-256-GCM key ring, first key current.
    identity_keyring: str = Field("", validation_alias="IDENTITY_KEYRING")
    identity_keyring_file: Path | None = Field(None, validation_alias="IDENTITY_KEYRING_FILE")
    # The reporter's contact (phone / e-mail) sealed into ClueReceived for notification.
    contact_keyring: str = Field("", validation_alias="CONTACT_KEYRING")
    contact_keyring_file: Path | None = Field(None, validation_alias="CONTACT_KEYRING_FILE")
    # How long another investigator's approval to reveal a named reporter stays usable (once).
    reveal_approval_hours: float = Field(24, gt=0, validation_alias="INTAKE_REVEAL_APPROVAL_HOURS")

    data_dir: Path = Field(Path("var/data"), validation_alias="ZUOFENG_DATA_DIR")
    attachment_store: Literal["filesystem", "s3"] = Field("filesystem", validation_alias="INTAKE_ATTACHMENT_STORE")
    attachment_max_bytes: int = Field(20 * 1024 * 1024, validation_alias="INTAKE_ATTACHMENT_MAX_BYTES")
    attachment_max_count: int = Field(9, validation_alias="INTAKE_ATTACHMENT_MAX_COUNT")
    # Decompression bombs: an image declaring more pixels than this is refused before it is decoded, and
    # at most media_concurrency images or audio/video files are cleaned at once (bounding peak memory).
    image_max_pixels: int = Field(40_000_000, gt=0, validation_alias="INTAKE_IMAGE_MAX_PIXELS")
    media_concurrency: int = Field(2, ge=1, validation_alias="INTAKE_MEDIA_CONCURRENCY")
    # Request bodies (413 before they are buffered): any JSON body or form, and a hotline batch.
    body_max_bytes: int = Field(256 * 1024, gt=0, validation_alias="INTAKE_BODY_MAX_BYTES")
    batch_body_max_bytes: int = Field(16 * 1024 * 1024, gt=0, validation_alias="INTAKE_BATCH_BODY_MAX_BYTES")
    # S3-compatible object store (MinIO, Ceph RGW, OSS…); credentials come from the standard AWS_* variables.
    s3_endpoint_url: str | None = Field(None, validation_alias="INTAKE_S3_ENDPOINT_URL")
    s3_bucket: str = Field("zuofeng-attachments", validation_alias="INTAKE_S3_BUCKET")
    s3_prefix: str = Field("attachments/", validation_alias="INTAKE_S3_PREFIX")

    # Receipt codes: a keyed fast lookup id over a prefix of the code, plus a slow hash of the whole code.
    receipt_lookup_key: str = Field("", validation_alias="INTAKE_RECEIPT_LOOKUP_KEY")
    receipt_lookups_per_minute: int = Field(10, validation_alias="INTAKE_RECEIPT_LOOKUPS_PER_MINUTE")
    argon2_time_cost: int = Field(2, validation_alias="INTAKE_ARGON2_TIME_COST")
    argon2_memory_kib: int = Field(19456, validation_alias="INTAKE_ARGON2_MEMORY_KIB")

    public_base_url: str = Field("http://127.0.0.1:8000", validation_alias="INTAKE_PUBLIC_BASE_URL")
    # Open311 api_key values accepted on POST requests.json; empty = any non-empty key (development).
    open311_api_keys: list[str] = Field(default_factory=list, validation_alias="INTAKE_OPEN311_API_KEYS")
    # What the Open311 discovery document tells client developers.
    open311_contact: str = Field("市纪委监委作风建设监督平台", validation_alias="INTAKE_OPEN311_CONTACT")
    open311_key_service: str = Field("api_key 向平台管理员申请", validation_alias="INTAKE_OPEN311_KEY_SERVICE")

    # 热线回告: HOTLINE_CALLBACKS='{"12345": {"url": "https://…", "secret": "…"}}' (or HOTLINE_CALLBACKS_FILE).
    hotline_callbacks: dict[str, HotlineCallback] = Field(default_factory=dict, validation_alias="HOTLINE_CALLBACKS")
    hotline_callbacks_file: Path | None = Field(None, validation_alias="HOTLINE_CALLBACKS_FILE")
    callback_max_attempts: int = Field(10, validation_alias="INTAKE_CALLBACK_MAX_ATTEMPTS")
    callback_backoff_seconds: float = Field(5.0, validation_alias="INTAKE_CALLBACK_BACKOFF_SECONDS")
    callback_backoff_max_seconds: float = Field(3600.0, validation_alias="INTAKE_CALLBACK_BACKOFF_MAX_SECONDS")
    callback_poll_seconds: float = Field(2.0, validation_alias="INTAKE_CALLBACK_POLL_SECONDS")
    callback_timeout_seconds: float = Field(10.0, validation_alias="INTAKE_CALLBACK_TIMEOUT_SECONDS")
    callback_lease_seconds: float = Field(60.0, validation_alias="INTAKE_CALLBACK_LEASE_SECONDS")
    # Open311's agency_responsible while the commission handles a report itself (not transferred).
    supervising_agency_name: str = Field("市纪委监委", validation_alias="INTAKE_SUPERVISING_AGENCY_NAME")

    @model_validator(mode="after")
    def _read_hotline_callbacks(self) -> IntakeSettings:
        # The kernel's generic ``*_file`` reader may already have put the file's text here.
        raw: object = self.hotline_callbacks
        if isinstance(raw, str):
            raw = json.loads(raw)
        elif not raw and self.hotline_callbacks_file is not None:
            raw = json.loads(Path(self.hotline_callbacks_file).read_text(encoding="utf-8"))
        self.hotline_callbacks = {str(k): HotlineCallback.model_validate(v) for k, v in dict(raw).items()}  # type: ignore[call-overload]
        if self.environment == "production":
            plain = [line for line, c in self.hotline_callbacks.items() if not c.url.startswith("https://")]
            if plain:
                raise ValueError(f"hotline callbacks must use https in production: {plain}")
        return self

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> IntakeSettings:
        if self.environment == "production":
            if not self.identity_keyring or not self.contact_keyring:
                raise ValueError("IDENTITY_KEYRING and CONTACT_KEYRING must be set in production")
            if not self.receipt_lookup_key or self.receipt_lookup_key == DEV_RECEIPT_LOOKUP_KEY:
                raise ValueError("INTAKE_RECEIPT_LOOKUP_KEY must be set in production, and not to the "
                                 "development constant")
            # Empty means "any non-empty api_key" (development): in production anyone could post.
            if not [key for key in self.open311_api_keys if key.strip()]:
                raise ValueError("INTAKE_OPEN311_API_KEYS must list the Open311 clients' keys in production")
        return self

    @cached_property
    def identity_ring(self) -> KeyRing | None:
        return KeyRing.parse(self.identity_keyring.strip()) if self.identity_keyring.strip() else None

    @cached_property
    def contact_ring(self) -> KeyRing | None:
        return KeyRing.parse(self.contact_keyring.strip()) if self.contact_keyring.strip() else None

    @cached_property
    def receipt_key(self) -> bytes:
        return (self.receipt_lookup_key or DEV_RECEIPT_LOOKUP_KEY).encode()


@lru_cache
def get_settings() -> IntakeSettings:
    return IntakeSettings()

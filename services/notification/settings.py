"""Notification's settings: channels (SMTP, SMS and WeChat webhooks), rate limits, deadlines, the office."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator

from services.common.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    service_name: str = "notification"

    # Reporter contacts arrive sealed by intake under this shared key ring (``kid:base64key,…``).
    contact_keyring: str = Field("", validation_alias="CONTACT_KEYRING")
    contact_keyring_file: Path | None = Field(None, validation_alias="CONTACT_KEYRING_FILE")

    # E-mail over SMTP.
    smtp_host: str = Field("127.0.0.1", validation_alias="NOTIFICATION_SMTP_HOST")
    smtp_port: int = Field(1025, validation_alias="NOTIFICATION_SMTP_PORT")
    smtp_from: str = Field("noreply@zuofeng.example", validation_alias="NOTIFICATION_SMTP_FROM")
    smtp_username: str = Field("", validation_alias="NOTIFICATION_SMTP_USERNAME")
    smtp_password: str = Field("", validation_alias="NOTIFICATION_SMTP_PASSWORD")
    smtp_starttls: bool = Field(False, validation_alias="NOTIFICATION_SMTP_STARTTLS")
    smtp_use_tls: bool = Field(False, validation_alias="NOTIFICATION_SMTP_USE_TLS")
    smtp_timeout_seconds: float = Field(10.0, validation_alias="NOTIFICATION_SMTP_TIMEOUT_SECONDS")

    # SMS and WeChat template messages through the providers' HTTP webhooks.
    sms_webhook_url: str = Field("", validation_alias="NOTIFICATION_SMS_WEBHOOK_URL")
    sms_provider: str = Field("generic", validation_alias="NOTIFICATION_SMS_PROVIDER")
    sms_sign_name: str = Field("作风监督", validation_alias="NOTIFICATION_SMS_SIGN_NAME")
    sms_template_code: str = Field("ZF_NOTICE", validation_alias="NOTIFICATION_SMS_TEMPLATE_CODE")
    wechat_webhook_url: str = Field("", validation_alias="NOTIFICATION_WECHAT_WEBHOOK_URL")
    wechat_provider: str = Field("official_account", validation_alias="NOTIFICATION_WECHAT_PROVIDER")
    wechat_template_id: str = Field("", validation_alias="NOTIFICATION_WECHAT_TEMPLATE_ID")
    webhook_token: str = Field("", validation_alias="NOTIFICATION_WEBHOOK_TOKEN")
    webhook_timeout_seconds: float = Field(10.0, validation_alias="NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS")

    # Delivery worker: messages per second per channel (token bucket), retries with exponential backoff.
    rate_limits: dict[str, float] = Field(
        default_factory=lambda: {"email": 20.0, "sms": 10.0, "wechat": 20.0, "inbox": 500.0},
        validation_alias="NOTIFICATION_RATE_LIMITS",
    )
    delivery_max_attempts: int = Field(6, validation_alias="NOTIFICATION_DELIVERY_MAX_ATTEMPTS")
    delivery_backoff_seconds: float = Field(5.0, validation_alias="NOTIFICATION_DELIVERY_BACKOFF_SECONDS")
    delivery_backoff_max_seconds: float = Field(3600.0, validation_alias="NOTIFICATION_DELIVERY_BACKOFF_MAX_SECONDS")
    delivery_poll_seconds: float = Field(1.0, validation_alias="NOTIFICATION_DELIVERY_POLL_SECONDS")
    delivery_batch_size: int = Field(100, validation_alias="NOTIFICATION_DELIVERY_BATCH_SIZE")
    delivery_lease_seconds: float = Field(120.0, validation_alias="NOTIFICATION_DELIVERY_LEASE_SECONDS")

    # 督查督办: remind a unit this many working days before its deadline; escalate this many after it.
    remind_working_days_before: int = Field(1, validation_alias="NOTIFICATION_REMIND_WORKING_DAYS_BEFORE")
    escalate_working_days_after: int = Field(1, validation_alias="NOTIFICATION_ESCALATE_WORKING_DAYS_AFTER")
    schedule_poll_seconds: float = Field(300.0, validation_alias="NOTIFICATION_SCHEDULE_POLL_SECONDS")

    # The supervising office (督办室) that escalations go to.
    supervising_office_name: str = Field("市纪委监委作风建设督办室", validation_alias="NOTIFICATION_OFFICE_NAME")
    supervising_office_email: str = Field("", validation_alias="NOTIFICATION_OFFICE_EMAIL")
    supervising_office_phone: str = Field("", validation_alias="NOTIFICATION_OFFICE_PHONE")
    supervising_office_unit_id: str = Field("", validation_alias="NOTIFICATION_OFFICE_UNIT_ID")
    # Official contacts of units (not people reporting): {"unit-id": {"email": …, "phone": …, "wechat_openid": …}}.
    unit_contacts: dict[str, dict[str, str]] = Field(
        default_factory=dict, validation_alias="NOTIFICATION_UNIT_CONTACTS"
    )

    # Reporter satisfaction (满意度回访): where the rating link points, and how long it stays valid.
    public_base_url: str = Field("http://127.0.0.1:8000", validation_alias="PUBLIC_BASE_URL")
    rating_valid_days: int = Field(30, validation_alias="NOTIFICATION_RATING_VALID_DAYS")
    # 回访提醒: remind a reporter once if the handling is still unrated this many working days later.
    rating_remind_working_days: int = Field(3, validation_alias="NOTIFICATION_RATING_REMIND_WORKING_DAYS")

    @model_validator(mode="after")
    def _named_reporters_need_the_key_ring(self) -> NotificationSettings:
        # Without it a named reporter would silently get no SMS or e-mail (R-NO-1): refuse to start.
        if self.environment == "production" and not self.contact_keyring:
            raise ValueError("CONTACT_KEYRING (or CONTACT_KEYRING_FILE) must be set in production")
        return self


@lru_cache
def get_settings() -> NotificationSettings:
    return NotificationSettings()

"""One settings class per service, all from the environment (12-factor)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_DATABASE_URL = "postgresql+asyncpg://zuofeng:zuofeng@127.0.0.1:55432/zuofeng"
# ``zuofeng dev-keys`` writes this line above every PEM it makes (RFC 7468 explanatory text, which PEM
# readers skip), so a development key is recognisable wherever it is pasted or mounted.
DEV_KEY_MARKER = "zuofeng development key: refused when ZUOFENG_ENV=production"
# The staff token issuer of ``zuofeng dev-token``.
DEV_STAFF_ISSUER = "zuofeng-dev-idp"


def is_development_key(material: str) -> bool:
    return DEV_KEY_MARKER in material


def development_key_ids(keyring_spec: str) -> list[str]:
    """Key ids in a key-ring spec (``kid:base64,…``) that ``zuofeng dev-keys`` would write (``dev…``)."""
    kids = [part.strip().partition(":")[0] for part in keyring_spec.split(",") if part.strip()]
    return [kid for kid in kids if kid.lower().startswith("dev")]


class ServiceSettings(BaseSettings):
    """Settings every service has. A service subclasses it and adds its own fields.

    Environment variables are read without a prefix for the shared infrastructure (``DATABASE_URL``,
    ``KAFKA_BOOTSTRAP_SERVERS``) so one ``.env`` serves the whole suite; service-specific fields use a
    ``<SERVICE>_`` prefix declared by the subclass.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias="ZUOFENG_ENV"
    )
    database_url: str = Field(DEV_DATABASE_URL, validation_alias="DATABASE_URL")
    db_pool_size: int = Field(10, validation_alias="DB_POOL_SIZE")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    # How clients reach the brokers: PLAINTEXT locally; in Kubernetes SASL_SSL with SCRAM-SHA-512, each
    # service as its own KafkaUser (ACLs on its own topics and groups), the cluster CA from a mounted file.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", validation_alias="KAFKA_SASL_MECHANISM"
    )
    kafka_sasl_username: str = Field("", validation_alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: str = Field("", validation_alias="KAFKA_SASL_PASSWORD")
    kafka_ssl_cafile: Path | None = Field(None, validation_alias="KAFKA_SSL_CAFILE")
    # Prepended to every topic and consumer group, so test runs sharing one broker never see each other.
    topic_prefix: str = Field("", validation_alias="KAFKA_TOPIC_PREFIX")
    topic_partitions: int = Field(3, validation_alias="KAFKA_TOPIC_PARTITIONS")
    topic_replication: int = Field(1, validation_alias="KAFKA_TOPIC_REPLICATION")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # Ed25519 keys (PEM) for the gateway-signed identity token. Services need only the public key; while
    # the gateway's key rotates, INTERNAL_TOKEN_PUBLIC_KEY holds the old and the new one, one PEM after the other.
    internal_token_public_key: str = Field("", validation_alias="INTERNAL_TOKEN_PUBLIC_KEY")
    internal_token_private_key: str = Field("", validation_alias="INTERNAL_TOKEN_PRIVATE_KEY")
    # The same keys may be given as files (Kubernetes Secrets mounted as volumes, local dev keys).
    internal_token_public_key_file: Path | None = Field(None, validation_alias="INTERNAL_TOKEN_PUBLIC_KEY_FILE")
    internal_token_private_key_file: Path | None = Field(
        None, validation_alias="INTERNAL_TOKEN_PRIVATE_KEY_FILE"
    )
    internal_token_ttl_seconds: int = Field(60, validation_alias="INTERNAL_TOKEN_TTL_SECONDS")
    # Consumer loop tuning.
    consumer_max_retries: int = Field(3, validation_alias="CONSUMER_MAX_RETRIES")
    consumer_retry_backoff_ms: int = Field(200, validation_alias="CONSUMER_RETRY_BACKOFF_MS")
    # While the database or the broker is away the consumer holds its stream and retries after a backoff
    # doubling from the first to the second figure: the cap bounds how long it takes to notice their return.
    consumer_hold_initial_ms: int = Field(500, validation_alias="CONSUMER_HOLD_INITIAL_MS")
    consumer_hold_max_ms: int = Field(5000, validation_alias="CONSUMER_HOLD_MAX_MS")
    outbox_batch_size: int = Field(500, validation_alias="OUTBOX_BATCH_SIZE")
    outbox_poll_seconds: float = Field(1.0, validation_alias="OUTBOX_POLL_SECONDS")
    # A service started without Kafka (e.g. migrations only, unit tests) sets this false.
    kafka_enabled: bool = Field(True, validation_alias="KAFKA_ENABLED")
    # Performance tuning (bench/results/e2e.md). A pooled connection idle longer than this is pinged before
    # use; one in steady use is not (SQLAlchemy's pre-ping costs BEGIN + ";" + ROLLBACK on every checkout).
    db_ping_idle_seconds: float = Field(10.0, validation_alias="DB_PING_IDLE_SECONDS")
    # Consumers commit handled offsets at most this often (and whenever the topic goes quiet): each commit is
    # a write to __consumer_offsets; the inbox makes the larger replay after a crash harmless.
    consumer_commit_interval_ms: int = Field(1000, validation_alias="CONSUMER_COMMIT_INTERVAL_MS")
    # HMAC keys for the audit chain (services/common/audit.py), ``kid:base64key,…``, the first current; keep
    # old keys listed after a rotation, their entries still verify. Development uses a fixed dev key.
    audit_keyring: str = Field("", validation_alias="AUDIT_KEYRING")
    audit_keyring_file: Path | None = Field(None, validation_alias="AUDIT_KEYRING_FILE")
    # How often each service notes its audit chain's head in audit_checkpoints (truncation evidence).
    audit_checkpoint_seconds: float = Field(300.0, gt=0, validation_alias="AUDIT_CHECKPOINT_SECONDS")

    @model_validator(mode="after")
    def _read_key_files(self) -> ServiceSettings:
        for field_name in type(self).model_fields:
            if field_name.endswith("_file") and (path := getattr(self, field_name)) is not None:
                target = field_name.removesuffix("_file")
                if target in type(self).model_fields and not getattr(self, target):
                    setattr(self, target, Path(path).read_text(encoding="utf-8"))
        return self

    @model_validator(mode="after")
    def _refuse_missing_keys_in_production(self) -> ServiceSettings:
        if self.environment == "production" and not self.internal_token_public_key:
            raise ValueError("INTERNAL_TOKEN_PUBLIC_KEY must be set in production")
        if self.internal_token_public_key:
            from .auth import verification_keys  # auth needs settings' neighbours, not the reverse

            # A damaged key bundle fails the start, not every request.
            if not verification_keys(self.internal_token_public_key):
                raise ValueError("INTERNAL_TOKEN_PUBLIC_KEY holds no PEM public key")
        if self.environment == "production" and "zuofeng:zuofeng@" in self.database_url:
            raise ValueError("the development database password may not be used in production")
        if self.environment == "production" and (is_development_key(self.internal_token_public_key)
                                                 or is_development_key(self.internal_token_private_key)):
            raise ValueError("a key made by `zuofeng dev-keys` may not be used in production "
                             "(INTERNAL_TOKEN_PUBLIC_KEY / INTERNAL_TOKEN_PRIVATE_KEY)")
        if self.environment == "production":
            # Every service's key rings (identity, contact), whatever the subclass calls them.
            for name in type(self).model_fields:
                value = getattr(self, name)
                if name.endswith("_keyring") and isinstance(value, str) and (dev := development_key_ids(value)):
                    raise ValueError(f"{name.upper()} holds development keys {dev} (made by `zuofeng dev-keys`); "
                                     "refused in production")
        return self

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> ServiceSettings:
        if self.kafka_enabled and self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError("KAFKA_SECURITY_PROTOCOL=SASL_… needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        return self

    @cached_property
    def audit_keys(self):
        """The audit chain's keys. A service fails its start without them in production (app.py), or with
        the development key; the gateway, which keeps no audit log, never asks."""
        from .audit import DEV_AUDIT_KEYRING, AuditKeys

        if self.environment == "production" and self.audit_keyring.strip() in ("", DEV_AUDIT_KEYRING):
            raise ValueError("AUDIT_KEYRING must be set (and not to the development key) in production")
        return AuditKeys.parse(self.audit_keyring.strip() or DEV_AUDIT_KEYRING)

    @cached_property
    def asyncpg_dsn(self) -> str:
        """The URL as asyncpg itself wants it (for LISTEN/NOTIFY outside SQLAlchemy)."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

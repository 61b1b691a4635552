from __future__ import annotations

import json
from typing import Literal
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator

from services.common.settings import DEV_STAFF_ISSUER, ServiceSettings, is_development_key
from services.common.suite import SERVICES

# Symmetric algorithms would let anyone holding the verification key mint tokens; "none" is no signature.
_ASYMMETRIC = {"EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}


def _default_upstreams() -> dict[str, str]:
    return {name: f"http://127.0.0.1:{port}" for name, port in SERVICES.items()}


def _default_rate_limits() -> dict[str, str]:
    # Per client address, per gateway replica (see docs/security.md); `limits` notation.
    return {
        "qr-report": "10/minute",
        "qr-page": "60/minute",
        "receipt": "10/minute",
        "rating": "20/minute",
        "ballot": "30/minute",
        "ballot-code": "5/minute",
        "ballot-page": "60/minute",
        "bulletin": "120/minute",
        "results": "120/minute",
        "catalog": "60/minute",
        "open311-report": "10/minute",
        "open311-read": "120/minute",
    }


def _default_body_limits() -> dict[str, int]:
    # Bytes per route group (the rate-limit group of the policy rule; "default" for every other route).
    # A QR report carries up to 9 attachments of 20 MiB (intake's own limits); the rest are small forms.
    mib = 1024 * 1024
    return {
        "qr-report": 9 * 20 * mib + mib,
        "inspection-evidence": 9 * 20 * mib + mib,  # an inspection visit's photos, audio and video, as a QR report
        "ballot": 64 * 1024,
        "open311-report": 64 * 1024,
        "default": 16 * mib,
    }


class HotlineKey(BaseModel):
    """One machine client's API key for signed requests (HMAC-SHA256):

    - ``kind="hotline"``: a hotline system, bound to the one line (12388/12345/12380) it may push to;
    - ``kind="service"``: an SMS or WeChat ballot gateway relaying citizens' ballots to evaluation.
    """

    secret: str = Field(min_length=32)
    kind: Literal["hotline", "service"] = "hotline"
    line: str | None = None

    @model_validator(mode="after")
    def _line_only_for_hotlines(self) -> HotlineKey:
        if self.kind == "hotline" and not self.line:
            raise ValueError("a hotline key must name its line")
        if self.kind == "service" and self.line:
            raise ValueError("a service key has no hotline line")
        return self


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    # Service base URLs, e.g. GATEWAY_UPSTREAMS='{"intake": "http://intake:8000", ...}'.
    upstreams: dict[str, str] = Field(default_factory=_default_upstreams, validation_alias="GATEWAY_UPSTREAMS")
    upstream_timeout_seconds: float = Field(30.0, validation_alias="GATEWAY_UPSTREAM_TIMEOUT_SECONDS")
    upstream_connect_timeout_seconds: float = Field(2.0, validation_alias="GATEWAY_UPSTREAM_CONNECT_TIMEOUT_SECONDS")
    # How long a request may wait for a free pooled connection before the gateway answers 503.
    upstream_pool_timeout_seconds: float = Field(5.0, validation_alias="GATEWAY_UPSTREAM_POOL_TIMEOUT_SECONDS")
    # Idle pooled connections are dropped before the services' own keep-alive timeout (uvicorn: 5 s), so
    # the gateway never sends on a connection the service is closing at that moment (a spurious 502).
    upstream_keepalive_seconds: float = Field(4.0, validation_alias="GATEWAY_UPSTREAM_KEEPALIVE_SECONDS")
    upstream_pool_shards: int = Field(8, ge=1, validation_alias="GATEWAY_UPSTREAM_POOL_SHARDS")
    max_connections_per_upstream: int = Field(200, validation_alias="GATEWAY_MAX_CONNECTIONS")
    # Services whose readiness gates the gateway's /readyz (default: none). The gateway's readiness is its
    # own: a route to a service that is down answers its own 502/503 problem, so one service's outage never
    # takes the whole public entry (every other service's routes) out of rotation. List a service here only
    # if the gateway is of no use without it.
    readiness_services: list[str] = Field(default_factory=list, validation_alias="GATEWAY_READINESS_SERVICES")
    # Staff bearer tokens: asymmetric JWTs from the city's identity provider, from a PEM or a JWKS URL.
    staff_jwt_public_key: str = Field("", validation_alias="STAFF_JWT_PUBLIC_KEY")
    staff_jwt_public_key_file: Path | None = Field(None, validation_alias="STAFF_JWT_PUBLIC_KEY_FILE")
    staff_jwks_url: str = Field("", validation_alias="STAFF_JWKS_URL")
    staff_jwks_cache_seconds: int = Field(300, validation_alias="STAFF_JWKS_CACHE_SECONDS")
    staff_jwt_issuer: str = Field(DEV_STAFF_ISSUER, validation_alias="STAFF_JWT_ISSUER")
    staff_jwt_audience: str = Field("zuofeng", validation_alias="STAFF_JWT_AUDIENCE")
    staff_jwt_algorithms: list[str] = Field(["EdDSA", "ES256", "RS256"], validation_alias="STAFF_JWT_ALGORITHMS")
    staff_jwt_leeway_seconds: int = Field(30, validation_alias="STAFF_JWT_LEEWAY_SECONDS")
    # Hotline systems: HOTLINE_KEYS='{"key-id": {"secret": "…", "line": "12345"}}' (or HOTLINE_KEYS_FILE).
    hotline_keys: dict[str, HotlineKey] = Field(default_factory=dict, validation_alias="HOTLINE_KEYS")
    hotline_keys_file: Path | None = Field(None, validation_alias="HOTLINE_KEYS_FILE")
    hotline_window_seconds: int = Field(300, validation_alias="HOTLINE_WINDOW_SECONDS")
    hotline_nonce_capacity: int = Field(200_000, validation_alias="HOTLINE_NONCE_CAPACITY")
    hotline_max_body_bytes: int = Field(16 * 1024 * 1024, validation_alias="HOTLINE_MAX_BODY_BYTES")
    # Public endpoints' limits per client (group → "N/period"), and where counters live.
    rate_limits: dict[str, str] = Field(default_factory=_default_rate_limits, validation_alias="GATEWAY_RATE_LIMITS")
    rate_limit_storage: str = Field("async+memory://", validation_alias="GATEWAY_RATE_LIMIT_STORAGE")
    # Request body limits per route group (413 above them), GATEWAY_BODY_LIMITS='{"ballot": 65536, …}'.
    body_limits: dict[str, int] = Field(default_factory=_default_body_limits, validation_alias="GATEWAY_BODY_LIMITS")
    # A Redis shared by every gateway replica: rate-limit counters and hotline nonces live there when set
    # (deploy/local/redis.sh locally); without it each replica counts and remembers on its own.
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    # Proxies (CIDRs) whose X-Forwarded-For the gateway believes, e.g. the ingress controller's pod range.
    trusted_proxies: list[str] = Field(default_factory=list, validation_alias="GATEWAY_TRUSTED_PROXIES")
    openapi_cache_seconds: float = Field(30.0, validation_alias="GATEWAY_OPENAPI_CACHE_SECONDS")

    @field_validator("staff_jwt_algorithms")
    @classmethod
    def _only_asymmetric(cls, algorithms: list[str]) -> list[str]:
        refused = [a for a in algorithms if a not in _ASYMMETRIC]
        if refused:
            raise ValueError(f"staff tokens must use asymmetric algorithms; refused: {refused}")
        return algorithms

    @field_validator("upstreams")
    @classmethod
    def _base_urls_only(cls, upstreams: dict[str, str]) -> dict[str, str]:
        # The gateway appends the caller's path as checked by its policy; a base path would change it.
        for name, url in upstreams.items():
            rest = url.split("://", 1)[-1]
            if "/" in rest.rstrip("/") or "?" in rest:
                raise ValueError(f"upstream {name!r} must be a base URL without a path: {url}")
        return {name: url.rstrip("/") for name, url in upstreams.items()}

    @field_validator("body_limits")
    @classmethod
    def _over_the_defaults(cls, limits: dict[str, int]) -> dict[str, int]:
        # Setting one group must not drop the others to the default (a QR upload would then be refused).
        return {**_default_body_limits(), **limits}

    def body_limit(self, group: str | None) -> int:
        return self.body_limits.get(group or "default", self.body_limits["default"])

    @model_validator(mode="after")
    def _refuse_an_unarmed_gateway_in_production(self) -> GatewaySettings:
        if self.environment == "production":
            if not self.internal_token_private_key:
                raise ValueError("INTERNAL_TOKEN_PRIVATE_KEY must be set in production")
            if not (self.staff_jwt_public_key or self.staff_jwks_url):
                raise ValueError("STAFF_JWT_PUBLIC_KEY or STAFF_JWKS_URL must be set in production")
            # `zuofeng dev-token` mints tokens for this issuer with a key anyone running dev-keys holds.
            if self.staff_jwt_issuer == DEV_STAFF_ISSUER:
                raise ValueError(f"STAFF_JWT_ISSUER must be the city's identity provider in production, "
                                 f"not the development issuer {DEV_STAFF_ISSUER!r}")
            if is_development_key(self.staff_jwt_public_key):
                raise ValueError("STAFF_JWT_PUBLIC_KEY is a key made by `zuofeng dev-keys`; refused in production")
            # Behind an ingress every citizen shares its address: without trusted proxies one city's voters
            # and QR reporters would share one rate limit. With several replicas, limits and nonces must be
            # shared too.
            if not self.trusted_proxies:
                raise ValueError("GATEWAY_TRUSTED_PROXIES must be set in production (the ingress's CIDRs)")
            if not self.redis_url and self.rate_limit_storage.startswith("async+memory"):
                raise ValueError("REDIS_URL must be set in production (rate limits and nonces across replicas)")
        return self

    def limit_storage_uri(self) -> str:
        """Where rate-limit counters live: REDIS_URL when set (unless a storage URI was given explicitly)."""
        if self.redis_url and self.rate_limit_storage.startswith("async+memory"):
            return "async+" + self.redis_url
        return self.rate_limit_storage

    @model_validator(mode="after")
    def _read_hotline_keys_file(self) -> GatewaySettings:
        # The kernel's generic ``*_file`` reader may already have put the file's text here.
        raw: object = self.hotline_keys
        if isinstance(raw, str):
            raw = json.loads(raw)
        elif not raw and self.hotline_keys_file is not None:
            raw = json.loads(Path(self.hotline_keys_file).read_text(encoding="utf-8"))
        self.hotline_keys = {k: HotlineKey.model_validate(v) for k, v in dict(raw).items()}  # type: ignore[call-overload]
        return self


@lru_cache
def get_settings() -> GatewaySettings:
    return GatewaySettings()

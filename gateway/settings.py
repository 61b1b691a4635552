from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field

from services.common.settings import ServiceSettings
from services.common.suite import SERVICES


def _default_upstreams() -> dict[str, str]:
    return {name: f"http://127.0.0.1:{port}" for name, port in SERVICES.items()}


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    # Service base URLs, e.g. GATEWAY_UPSTREAMS='{"intake": "http://intake:8000", ...}'.
    upstreams: dict[str, str] = Field(default_factory=_default_upstreams, validation_alias="GATEWAY_UPSTREAMS")
    upstream_timeout_seconds: float = Field(30.0, validation_alias="GATEWAY_UPSTREAM_TIMEOUT_SECONDS")
    upstream_connect_timeout_seconds: float = Field(2.0, validation_alias="GATEWAY_UPSTREAM_CONNECT_TIMEOUT_SECONDS")
    max_connections_per_upstream: int = Field(200, validation_alias="GATEWAY_MAX_CONNECTIONS")
    # Staff bearer tokens: asymmetric JWTs from the city's identity provider.
    staff_jwt_public_key: str = Field("", validation_alias="STAFF_JWT_PUBLIC_KEY")
    staff_jwt_public_key_file: Path | None = Field(None, validation_alias="STAFF_JWT_PUBLIC_KEY_FILE")
    staff_jwt_issuer: str = Field("zuofeng-dev-idp", validation_alias="STAFF_JWT_ISSUER")
    staff_jwt_audience: str = Field("zuofeng", validation_alias="STAFF_JWT_AUDIENCE")
    staff_jwt_algorithms: list[str] = Field(["EdDSA", "ES256", "RS256"], validation_alias="STAFF_JWT_ALGORITHMS")


@lru_cache
def get_settings() -> GatewaySettings:
    return GatewaySettings()

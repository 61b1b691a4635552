"""Who is calling: staff with a bearer JWT, or the public. Hotline signatures come with the security issue."""

from __future__ import annotations

import jwt
from fastapi import Request

from services.common.auth import ROLES, Principal
from services.common.errors import Problem

from .settings import GatewaySettings


def staff_principal(token: str, settings: GatewaySettings, client: str | None) -> Principal:
    if not settings.staff_jwt_public_key:
        raise Problem(401, "Staff sign-in is not configured on this gateway.", slug="unauthenticated")
    try:
        claims = jwt.decode(
            token,
            settings.staff_jwt_public_key,
            algorithms=settings.staff_jwt_algorithms,
            audience=settings.staff_jwt_audience,
            issuer=settings.staff_jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Problem(401, "The bearer token has expired.", slug="token-expired",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc
    except jwt.PyJWTError as exc:
        raise Problem(401, "The bearer token is not valid.", slug="token-invalid",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc
    roles = frozenset(r for r in claims.get("roles", ()) if r in ROLES)
    unit_id = claims.get("unit")
    if "unit_handler" in roles and not unit_id:
        raise Problem(403, "A unit handler's token must name its unit.", slug="forbidden")
    return Principal(kind="staff", subject=str(claims["sub"]), roles=roles, unit_id=unit_id, client=client)


def authenticate(request: Request, settings: GatewaySettings) -> Principal:
    client = request.client.host if request.client else None
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token:
        return staff_principal(token.strip(), settings, client)
    if authorization:
        raise Problem(401, "Unsupported authorization scheme; use Bearer.", slug="unauthenticated")
    return Principal(kind="public", subject="anonymous", client=client)

"""Who is calling: staff with a bearer JWT, a hotline system with a signed request, or the public."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import time
from collections import OrderedDict

import jwt
from fastapi import Request

from services.common.auth import ROLES, Principal
from services.common.errors import Problem

from .edge import bounded, check_declared
from .hotline import KEY_HEADER, HotlineVerifier, NonceCache, RedisNonceCache
from .settings import GatewaySettings

_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class _Lru(OrderedDict):
    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.capacity:
            self.popitem(last=False)


class StaffVerifier:
    """Checks staff bearer JWTs: signature (asymmetric only), issuer, audience, expiry.

    Keys come from a PEM in settings or from the identity provider's JWKS URL, fetched by PyJWT's
    ``PyJWKClient`` (key set cached for ``staff_jwks_cache_seconds``; an unknown ``kid`` refetches, at most
    once per cooldown). A verified token is remembered until it expires (bounded LRU), so a client that
    reuses its token pays the signature check once, not per request.
    """

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.jwks = (
            jwt.PyJWKClient(settings.staff_jwks_url, cache_keys=True, lifespan=settings.staff_jwks_cache_seconds,
                            timeout=5)
            if settings.staff_jwks_url else None
        )
        self._verified: _Lru = _Lru(10_000)

    async def _key(self, token: str):
        if self.jwks is None:
            if not self.settings.staff_jwt_public_key:
                raise Problem(401, "本网关尚未配置工作人员登录。", slug="unauthenticated")
            return self.settings.staff_jwt_public_key
        try:
            # PyJWKClient fetches with blocking urllib; keep that off the event loop.
            return (await asyncio.to_thread(self.jwks.get_signing_key_from_jwt, token)).key
        except jwt.PyJWKClientConnectionError as exc:
            raise Problem(503, "暂时无法获取身份认证服务的公钥，请稍后重试。", slug="jwks-unavailable",
                          headers={"Retry-After": "5"}) from exc
        except jwt.PyJWTError as exc:
            raise Problem(401, "登录令牌无效，请重新登录。", slug="token-invalid",
                          headers=_BEARER_CHALLENGE) from exc

    async def principal(self, token: str, client: str | None) -> Principal:
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None and cached[1] > now:
            return dataclasses.replace(cached[0], client=client)
        key = await self._key(token)
        settings = self.settings
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=settings.staff_jwt_algorithms,
                audience=settings.staff_jwt_audience,
                issuer=settings.staff_jwt_issuer,
                leeway=settings.staff_jwt_leeway_seconds,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Problem(401, "登录令牌已过期，请重新登录。", slug="token-expired",
                          headers=_BEARER_CHALLENGE) from exc
        except jwt.PyJWTError as exc:
            raise Problem(401, "登录令牌无效，请重新登录。", slug="token-invalid",
                          headers=_BEARER_CHALLENGE) from exc
        roles = frozenset(r for r in claims.get("roles") or () if r in ROLES)
        unit_id = claims.get("unit")
        if "unit_handler" in roles and not (isinstance(unit_id, str) and unit_id):
            raise Problem(403, "单位经办人的登录令牌须注明所属单位。", slug="unit-missing")
        principal = Principal(kind="staff", subject=str(claims["sub"]), roles=roles,
                              unit_id=unit_id if isinstance(unit_id, str) else None)
        self._verified.put(token, (principal, float(claims["exp"]) + settings.staff_jwt_leeway_seconds))
        return dataclasses.replace(principal, client=client)


class Authenticator:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.staff = StaffVerifier(settings)
        self.hotline = HotlineVerifier(
            keys=settings.hotline_keys,
            window_seconds=settings.hotline_window_seconds,
            nonces=RedisNonceCache(settings.redis_url) if settings.redis_url
            else NonceCache(settings.hotline_nonce_capacity),
        )
        self._trusted = [ipaddress.ip_network(cidr, strict=False) for cidr in settings.trusted_proxies]
        # The staff console's sessions (gateway/console_auth.py), set by the app when OIDC_ISSUER is.
        self.console = None

    def client_address(self, request: Request) -> str | None:
        """The caller's address; behind a trusted proxy, the right-most untrusted X-Forwarded-For hop."""
        peer = request.client.host if request.client else None
        if not self._trusted or peer is None or not self._is_trusted(peer):
            return peer
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop
        return peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._trusted)

    async def authenticate(self, request: Request, target: str) -> tuple[Principal, bytes | None]:
        """The principal, and the body when it had to be read to check a signature; ``target`` is the
        path and query exactly as sent (and as forwarded)."""
        client = self.client_address(request)
        authorization = request.headers.get("authorization", "")
        signed = KEY_HEADER in request.headers
        if authorization and signed:
            raise Problem(400, "请只使用登录令牌或热线签名中的一种，不能同时使用。",
                          slug="ambiguous-credentials")
        if signed:
            # Key, header shapes and clock first: an unknown key must not make the gateway buffer 16 MiB.
            self.hotline.precheck(request.headers)
            body = await self._bounded_body(request)
            principal = await self.hotline.averify(method=request.method, target=target, headers=request.headers,
                                            body=body, client=client)
            return principal, body
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return await self.staff.principal(token.strip(), client), None
        if authorization:
            raise Problem(401, "不支持的认证方式，请使用 Bearer 令牌。", slug="unauthenticated",
                          headers={"WWW-Authenticate": "Bearer"})
        # The console's session cookie stands for a bearer token on the API (never on public pages).
        if self.console is not None and target.startswith("/api/v1/"):
            principal = await self.console.cookie_principal(request, client)
            if principal is not None:
                return principal, None
        return Principal(kind="public", subject="anonymous", client=client), None

    async def _bounded_body(self, request: Request) -> bytes:
        limit = self.settings.hotline_max_body_bytes
        check_declared(request.headers, limit)
        return b"".join([chunk async for chunk in bounded(request.stream(), limit)])

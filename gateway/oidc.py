"""The staff console's OpenID Connect provider, as the gateway (a confidential client) talks to it:
discovery, the authorization request with PKCE, the code and refresh grants, id_token verification, and
mapping the provider's role and unit claims onto the suite's roles."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Mapping
from urllib.parse import quote_plus, urlencode

import httpx
import jwt

from services.common.auth import ROLES
from services.common.errors import Problem

from .settings import GatewaySettings

_ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


def pkce_challenge(verifier: str) -> str:
    """S256 (RFC 7636 §4.2): base64url of SHA-256 of the verifier, without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def claim_at(claims: Mapping[str, object], dotted: str) -> object:
    """``realm_access.roles`` → claims["realm_access"]["roles"]; a claim whose own name holds the dots
    (some providers use URLs as claim names) is found too."""
    if dotted in claims:
        return claims[dotted]
    value: object = claims
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def map_roles(value: object, role_map: Mapping[str, str]) -> frozenset[str]:
    """The suite's roles among a provider's role or group names; anything else is dropped.

    A name maps through ``role_map`` first, then counts as itself if it is one of the suite's roles. Group
    claims often carry paths (``/zuofeng/triage``): the last segment is tried as well."""
    if isinstance(value, str):
        names = value.replace(",", " ").split()
    elif isinstance(value, list | tuple):
        names = [v for v in value if isinstance(v, str)]
    else:
        return frozenset()
    roles = set()
    for name in names:
        for candidate in (name, name.rstrip("/").rsplit("/", 1)[-1]):
            mapped = role_map.get(candidate, candidate)
            if mapped in ROLES:
                roles.add(mapped)
                break
    return frozenset(roles)


def map_unit(value: object) -> str | None:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value.strip() or None if isinstance(value, str) else None


def identity_from_claims(claims: Mapping[str, object], settings: GatewaySettings) -> dict[str, object]:
    """What the console session keeps of a verified token's claims."""
    username = claims.get("preferred_username") or claims.get("sub")
    return {
        "sub": str(claims["sub"]),
        "username": str(username),
        "name": str(claims.get("name") or username),
        "roles": sorted(map_roles(claim_at(claims, settings.oidc_roles_claim), settings.oidc_role_map)),
        "unit_id": map_unit(claim_at(claims, settings.oidc_unit_claim)),
    }


class ProviderError(Exception):
    """The provider refused a grant (invalid_grant and the like): the user must sign in again."""


class OidcProvider:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.http = httpx.AsyncClient(timeout=10.0, trust_env=False, follow_redirects=False)
        self._metadata: dict | None = None
        self._metadata_until = 0.0
        self._jwks: jwt.PyJWKClient | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    def _unavailable(self, exc: Exception | None = None) -> Problem:
        return Problem(503, "统一身份认证服务暂时无法访问，请稍后重试。", slug="idp-unavailable",
                       headers={"Retry-After": "5"}, title="身份认证服务不可用")

    async def metadata(self) -> dict:
        """The discovery document, cached for an hour; its issuer must be the configured one exactly."""
        if self._metadata is not None and self._metadata_until > time.monotonic():
            return self._metadata
        try:
            response = await self.http.get(f"{self.issuer}/.well-known/openid-configuration")
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise self._unavailable(exc) from exc
        if document.get("issuer", "").rstrip("/") != self.issuer:
            raise Problem(502, "身份认证服务的发现文档与配置的 OIDC_ISSUER 不一致。", slug="idp-misconfigured")
        self._metadata = document
        self._metadata_until = time.monotonic() + 3600
        if self._jwks is None or self._jwks.uri != document["jwks_uri"]:
            self._jwks = jwt.PyJWKClient(document["jwks_uri"], cache_keys=True, lifespan=300, timeout=5)
        return document

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        document = await self.metadata()
        query = {
            "response_type": "code",
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": redirect_uri,
            "scope": self.settings.oidc_scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        return f"{document['authorization_endpoint']}?{urlencode(query)}"

    async def _token_request(self, form: dict[str, str]) -> dict:
        document = await self.metadata()
        # client_secret_basic (RFC 6749 §2.3.1: id and secret form-urlencoded before base64).
        auth = httpx.BasicAuth(_form(self.settings.oidc_client_id), _form(self.settings.oidc_client_secret.strip()))
        try:
            response = await self.http.post(document["token_endpoint"], data=form, auth=auth)
        except httpx.HTTPError as exc:
            raise self._unavailable(exc) from exc
        if response.status_code in (400, 401):
            raise ProviderError(response.text[:300])
        if response.status_code != 200:
            raise self._unavailable()
        return response.json()

    async def exchange(self, *, code: str, redirect_uri: str, verifier: str) -> dict:
        return await self._token_request({"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": redirect_uri, "code_verifier": verifier})

    async def refresh(self, refresh_token: str) -> dict:
        return await self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def verify_id_token(self, id_token: str, *, nonce: str | None) -> dict:
        """Signature (the provider's JWKS, asymmetric algorithms only), iss, aud, azp, exp and the nonce."""
        document = await self.metadata()
        offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in _ASYMMETRIC]
        jwks = self._jwks
        if jwks is None:  # metadata() sets it; only a discovery document without jwks_uri leaves it unset
            raise Problem(502, "身份认证服务的发现文档没有 jwks_uri。", slug="idp-misconfigured")
        try:
            key = (await asyncio.to_thread(jwks.get_signing_key_from_jwt, id_token)).key
            claims = jwt.decode(id_token, key, algorithms=algorithms, audience=self.settings.oidc_client_id,
                                issuer=self.issuer, leeway=30,
                                options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        except jwt.PyJWKClientConnectionError as exc:
            raise self._unavailable(exc) from exc
        except jwt.PyJWTError as exc:
            raise Problem(401, "身份认证服务返回的身份令牌无效，请重新登录。", slug="id-token-invalid") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.settings.oidc_client_id:
            raise Problem(401, "身份令牌不是签发给本系统的，请重新登录。", slug="id-token-invalid")
        if nonce is not None and claims.get("nonce") != nonce:
            raise Problem(401, "身份令牌与本次登录请求不符（nonce），请重新登录。", slug="id-token-invalid")
        return claims

    async def userinfo(self, access_token: str) -> dict:
        document = await self.metadata()
        if not document.get("userinfo_endpoint"):
            return {}
        try:
            response = await self.http.get(document["userinfo_endpoint"],
                                           headers={"authorization": f"Bearer {access_token}"})
        except httpx.HTTPError:
            return {}
        return response.json() if response.status_code == 200 else {}

    async def end_session_url(self, *, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        document = await self.metadata()
        endpoint = document.get("end_session_endpoint")
        if not endpoint:
            return None
        query = {"client_id": self.settings.oidc_client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{endpoint}?{urlencode(query)}"


def _form(value: str) -> str:
    return quote_plus(value)

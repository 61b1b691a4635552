"""Identity as the gateway vouches for it.

The gateway authenticates callers (staff JWTs, hotline signatures, or nobody for public endpoints) and
forwards a short-lived Ed25519-signed token in ``X-Zuofeng-Identity``. Services hold only the public key,
so a compromised service cannot mint identities, and a direct call without a valid token is refused.

Tokens name their signing key (``kid``, a fingerprint of the public key) and services accept a bundle of
public keys, so the gateway's key rotates without a window of refused requests: add the new public key
to the services, then switch the gateway, then drop the old one (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request

from .errors import Problem

IDENTITY_HEADER = "x-zuofeng-identity"
AUDIENCE = "zuofeng-services"
ISSUER = "zuofeng-gateway"

Role = Literal[
    "triage_officer", "investigator", "org_officer", "unit_handler", "evaluation_admin", "auditor", "admin"
]
ROLES: tuple[str, ...] = (
    "triage_officer",
    "investigator",
    "org_officer",
    "unit_handler",
    "evaluation_admin",
    "auditor",
    "admin",
)
PrincipalKind = Literal["staff", "hotline", "public", "service"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``unit_id`` binds a unit handler to one unit; ``line`` names a hotline system."""

    kind: PrincipalKind
    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    unit_id: str | None = None
    line: str | None = None
    client: str | None = None  # the caller's address as the gateway saw it, for rate limits and audit

    def has_role(self, *roles: str) -> bool:
        return "admin" in self.roles or any(r in self.roles for r in roles)

    def claims(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "sub": self.subject,
            "roles": sorted(self.roles),
            "unit": self.unit_id,
            "line": self.line,
            "client": self.client,
        }

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        return cls(
            kind=claims["kind"],
            subject=str(claims["sub"]),
            roles=frozenset(claims.get("roles") or ()),
            unit_id=claims.get("unit"),
            line=claims.get("line"),
            client=claims.get("client"),
        )


def generate_keypair() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh Ed25519 key, for development and tests."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


_PEM_BLOCK = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


# Parsing a PEM costs more than verifying a signature; settings hold the same strings for the process's
# life, so each is parsed once.
@lru_cache(maxsize=8)
def _signing_key(private_key_pem: str) -> tuple[Ed25519PrivateKey, str]:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the internal token key must be an Ed25519 key")
    return key, key_id(key.public_key())


@lru_cache(maxsize=8)
def verification_keys(public_keys_pem: str) -> dict[str, Ed25519PublicKey]:
    """Key id → key, for every PEM block in ``public_keys_pem`` (one key, or several while rotating)."""
    keys: dict[str, Ed25519PublicKey] = {}
    for block in _PEM_BLOCK.findall(public_keys_pem):
        key = serialization.load_pem_public_key(block.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("internal token public keys must be Ed25519 keys")
        keys[key_id(key)] = key
    return keys


def mint_internal_token(principal: Principal, private_key_pem: str, ttl_seconds: int = 60) -> str:
    key, kid = _signing_key(private_key_pem)
    now = int(time.time())
    payload = {**principal.claims(), "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid})


class _VerifiedTokens:
    """Tokens already verified against one key bundle, until they expire.

    The gateway reuses a principal's token for half its lifetime, so a service sees the same few tokens
    over and over; an Ed25519 check per request was 0.3–0.6 ms of intake's ~4 ms of CPU. Only the exact
    token string verified before is a hit, and only until its ``exp``."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[1] <= time.time():
            del self._entries[token]
            return None
        return entry[0]

    def put(self, token: str, principal: Principal, expires: float) -> None:
        self._entries[token] = (principal, expires)
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)


@lru_cache(maxsize=8)
def _verified_for(public_keys_pem: str) -> _VerifiedTokens:
    return _VerifiedTokens()


def verify_internal_token(token: str, public_keys_pem: str) -> Principal:
    """The principal a token vouches for, if one of ``public_keys_pem`` signed it and it is current."""
    verified = _verified_for(public_keys_pem)
    if (principal := verified.get(token)) is not None:
        return principal
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = verification_keys(public_keys_pem).get(kid) if isinstance(kid, str) else None
        if key is None:
            raise Problem(401, "The forwarded identity is signed with a key this service does not trust.",
                          slug="identity-invalid")
        claims = jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Problem(401, "The forwarded identity has expired.", slug="identity-expired") from exc
    except jwt.PyJWTError as exc:
        raise Problem(401, "The forwarded identity is not valid.", slug="identity-invalid") from exc
    principal = Principal.from_claims(claims)
    verified.put(token, principal, float(claims["exp"]))
    return principal


async def current_principal(request: Request) -> Principal:
    token = request.headers.get(IDENTITY_HEADER)
    if not token:
        raise Problem(401, "Call this service through the gateway.", slug="identity-missing")
    principal = verify_internal_token(token, request.app.state.settings.internal_token_public_key)
    from .scope import check_role_combination  # scope builds on this module

    check_role_combination(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str, admin_passes: bool = True):
    """A dependency that lets through staff holding any of ``roles`` (admin too, unless ``admin_passes``
    is False: for what only the named roles may ever do, such as revealing a reporter)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        allowed = principal.has_role(*roles) if admin_passes else any(r in principal.roles for r in roles)
        if principal.kind != "staff" or not allowed:
            raise Problem(403, f"This needs one of the roles: {', '.join(roles)}.", slug="forbidden-role")
        return principal

    return Depends(dependency)


def require_kind(*kinds: str):
    """A dependency that lets through principals of the given kinds (e.g. only hotline systems)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.kind not in kinds:
            raise Problem(403, f"This endpoint is for: {', '.join(kinds)}.", slug="forbidden-kind")
        return principal

    return Depends(dependency)

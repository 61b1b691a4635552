"""Staff bearer tokens: signature, issuer, audience, expiry and algorithm are all checked."""

from __future__ import annotations

import base64
import json
import threading
import asyncio
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from pydantic import ValidationError

from gateway.auth import StaffVerifier
from gateway.settings import GatewaySettings
from services.common.auth import generate_keypair
from services.common.errors import Problem

PRIVATE, PUBLIC = generate_keypair()
OTHER_PRIVATE, _ = generate_keypair()


def settings(**overrides) -> GatewaySettings:
    return GatewaySettings(staff_jwt_public_key=PUBLIC, staff_jwt_leeway_seconds=0, **overrides)


def token(key=PRIVATE, algorithm="EdDSA", headers=None, **overrides) -> str:
    now = int(time.time())
    claims = {"sub": "u1", "roles": ["investigator"], "iss": "zuofeng-dev-idp", "aud": "zuofeng",
              "iat": now, "exp": now + 600, **overrides}
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


async def refused(slug: str, verifier: StaffVerifier, raw: str, status: int = 401) -> None:
    with pytest.raises(Problem) as caught:
        await verifier.principal(raw, None)
    assert (caught.value.status, caught.value.slug) == (status, slug)


async def test_a_valid_token_becomes_a_staff_principal_with_known_roles_only():
    principal = await StaffVerifier(settings()).principal(token(roles=["investigator", "emperor"]), "10.1.1.1")
    assert principal.kind == "staff" and principal.subject == "u1"
    assert principal.roles == frozenset({"investigator"}) and principal.client == "10.1.1.1"


async def test_an_expired_token_is_refused():
    now = int(time.time())
    await refused("token-expired", StaffVerifier(settings()), token(iat=now - 700, exp=now - 100))


@pytest.mark.parametrize("claims", [{"iss": "evil-idp"}, {"aud": "someone-else"}, {"exp": None}, {"sub": None}])
async def test_wrong_issuer_audience_or_missing_claims_are_refused(claims):
    await refused("token-invalid", StaffVerifier(settings()), token(**claims))


async def test_a_token_signed_by_another_key_is_refused():
    await refused("token-invalid", StaffVerifier(settings()), token(key=OTHER_PRIVATE))


async def test_alg_none_is_refused():
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    payload = jwt.decode(token(), options={"verify_signature": False})
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=")
    await refused("token-invalid", StaffVerifier(settings()), f"{header.decode()}.{body.decode()}.")


async def test_hmac_with_the_public_key_as_secret_is_refused():
    """Algorithm confusion: an HS256 token 'signed' with the (public) verification key."""
    forged = jwt.api_jws.PyJWS()._algorithms["HS256"]
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(
        json.dumps(jwt.decode(token(), options={"verify_signature": False})).encode()).rstrip(b"=")
    signing_input = header + b"." + payload
    mac = forged.sign(signing_input, PUBLIC.encode())
    raw = (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()
    await refused("token-invalid", StaffVerifier(settings()), raw)


def test_settings_refuse_symmetric_or_none_algorithms():
    for algorithms in (["HS256"], ["none"], ["EdDSA", "HS512"]):
        with pytest.raises(ValidationError):
            GatewaySettings(staff_jwt_algorithms=algorithms)


async def test_a_unit_handler_token_must_name_its_unit():
    verifier = StaffVerifier(settings())
    await refused("unit-missing", verifier, token(roles=["unit_handler"]), status=403)
    principal = await verifier.principal(token(roles=["unit_handler"], unit="unit-7"), None)
    assert principal.unit_id == "unit-7"


async def test_a_verified_token_is_remembered_only_until_it_expires():
    verifier = StaffVerifier(settings())
    now = int(time.time())
    raw = token(iat=now, exp=now + 2)
    assert (await verifier.principal(raw, "a")).client == "a"
    assert (await verifier.principal(raw, "b")).client == "b"  # served from the cache, with this caller
    await asyncio.sleep(2.1)
    await refused("token-expired", verifier, raw)


@pytest.fixture
def jwks_server():
    """The identity provider's JWKS endpoint, served for real on loopback."""
    ec_key = generate_private_key(SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    jwk.update(kid="idp-2026", use="sig", alg="ES256")
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            body = json.dumps({"keys": [jwk]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", ec_key, hits
    server.shutdown()


async def test_keys_from_a_jwks_url_are_fetched_once_and_cached(jwks_server):
    url, ec_key, hits = jwks_server
    verifier = StaffVerifier(GatewaySettings(staff_jwks_url=url, staff_jwt_public_key=""))
    for subject in ("a", "b", "c"):
        raw = token(key=ec_key, algorithm="ES256", headers={"kid": "idp-2026"}, sub=subject)
        assert (await verifier.principal(raw, None)).subject == subject
    assert len(hits) == 1
    unknown_kid = token(key=ec_key, algorithm="ES256", headers={"kid": "retired"})
    await refused("token-invalid", verifier, unknown_kid)
    await refused("token-invalid", verifier, token(algorithm="EdDSA", headers={"kid": "idp-2026"}))


def test_a_production_gateway_refuses_to_start_without_its_keys():
    base = {"environment": "production", "internal_token_public_key": PUBLIC,
            "database_url": "postgresql+asyncpg://gw:s3cret@db/zuofeng", "staff_jwt_issuer": "https://idp.example"}
    with pytest.raises(ValidationError, match="INTERNAL_TOKEN_PRIVATE_KEY"):
        GatewaySettings(**base, staff_jwt_public_key=PUBLIC)
    with pytest.raises(ValidationError, match="STAFF_JWT_PUBLIC_KEY or STAFF_JWKS_URL"):
        GatewaySettings(**base, internal_token_private_key=PRIVATE)
    armed = {"internal_token_private_key": PRIVATE, "staff_jwks_url": "https://idp/jwks"}
    with pytest.raises(ValidationError, match="GATEWAY_TRUSTED_PROXIES"):
        GatewaySettings(**base, **armed, redis_url="redis://redis:6379/0")
    with pytest.raises(ValidationError, match="REDIS_URL"):
        GatewaySettings(**base, **armed, trusted_proxies=["10.0.0.0/8"])
    assert GatewaySettings(**base, **armed, trusted_proxies=["10.0.0.0/8"], redis_url="redis://redis:6379/0")

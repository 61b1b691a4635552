"""The gateway at its edge, against a stand-in upstream: headers, ids, trace, policy, limits, failures."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request

from gateway.app import create_app
from gateway.hotline import sign
from gateway.openapi import merge
from gateway.settings import GatewaySettings
from services.common.auth import generate_keypair, verify_internal_token

INTERNAL_PRIVATE, INTERNAL_PUBLIC = generate_keypair()
STAFF_PRIVATE, STAFF_PUBLIC = generate_keypair()
SECRET = "h" * 48


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT"])
    async def echo(path: str, request: Request):
        return {"path": "/" + path, "query": request.url.query, "headers": dict(request.headers),
                "body": (await request.body()).decode()}

    return app


def bearer(*roles: str, **claims) -> dict[str, str]:
    now = int(time.time())
    payload = {"sub": "s1", "roles": list(roles), "iss": "zuofeng-dev-idp", "aud": "zuofeng", "iat": now,
               "exp": now + 600, **claims}
    return {"authorization": "Bearer " + jwt.encode(payload, STAFF_PRIVATE, algorithm="EdDSA")}


def gateway_settings(**overrides) -> GatewaySettings:
    values = dict(
        internal_token_private_key=INTERNAL_PRIVATE, internal_token_public_key=INTERNAL_PUBLIC,
        staff_jwt_public_key=STAFF_PUBLIC, upstreams={"intake": "http://intake.test", "triage": "http://triage.test"},
        hotline_keys={"k1": {"secret": SECRET, "line": "12345"}}, rate_limits={"receipt": "3/minute"},
    )
    return GatewaySettings(**{**values, **overrides})


@pytest.fixture
async def gateway():
    app = create_app(gateway_settings())
    async with LifespanManager(app) as manager:
        await app.state.http.aclose()
        upstream = httpx.ASGITransport(app=echo_app())
        app.state.http = httpx.AsyncClient(mounts={"http://intake.test": upstream, "http://triage.test": upstream})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app, client=("198.51.100.7", 1234)),
                                     base_url="http://gw.test") as client:
            yield client
        await app.state.http.aclose()


async def test_forwarded_identity_is_minted_by_the_gateway_never_taken_from_the_caller(gateway):
    forged = {"x-zuofeng-identity": "forged", "x-zuofeng-anything": "x", **bearer("triage_officer")}
    response = await gateway.get("/api/v1/triage/clues?limit=5", headers=forged)
    assert response.status_code == 200, response.text
    seen = response.json()["headers"]
    assert "authorization" not in seen and "x-zuofeng-anything" not in seen
    principal = verify_internal_token(seen["x-zuofeng-identity"], INTERNAL_PUBLIC)
    assert (principal.kind, principal.subject, principal.roles) == ("staff", "s1", frozenset({"triage_officer"}))
    assert principal.client == "198.51.100.7"
    assert response.json()["query"] == "limit=5"


async def test_request_id_and_trace_follow_the_request(gateway):
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await gateway.get("/api/v1/triage/clues",
                                 headers={"x-request-id": "req-42", "traceparent": parent, **bearer("admin")})
    seen = response.json()["headers"]
    assert seen["x-request-id"] == "req-42"
    assert seen["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert seen["traceparent"].split("-")[2] != "00f067aa0ba902b7"
    assert response.headers.get_list("x-request-id") == ["req-42"]
    assert len(response.headers.get_list("traceparent")) == 1


async def test_a_request_id_that_could_inject_into_logs_is_replaced(gateway):
    response = await gateway.get("/api/v1/triage/clues", headers={"x-request-id": "a b\tc", **bearer("admin")})
    assert response.headers["x-request-id"] != "a b\tc"


async def test_anonymous_callers_need_a_token_for_staff_endpoints(gateway):
    response = await gateway.get("/api/v1/triage/clues")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_signed_hotline_request_reaches_only_its_own_feed(gateway):
    body = b'{"external_id": "E-1", "text": "t"}'
    path = "/api/v1/intake/feeds/12345/reports"
    ok = await gateway.post(path, content=body, headers=sign("k1", SECRET, "POST", path, body))
    assert ok.status_code == 200, ok.text
    principal = verify_internal_token(ok.json()["headers"]["x-zuofeng-identity"], INTERNAL_PUBLIC)
    assert (principal.kind, principal.line) == ("hotline", "12345")
    assert ok.json()["body"] == body.decode()
    assert not any(k.startswith("x-zuofeng-") and k != "x-zuofeng-identity" for k in ok.json()["headers"])
    other_line = "/api/v1/intake/feeds/12388/reports"
    response = await gateway.post(other_line, content=body, headers=sign("k1", SECRET, "POST", other_line, body))
    assert (response.status_code, response.json()["type"]) == (403, "https://zuofeng.dev/problems/forbidden-line")
    elsewhere = "/api/v1/triage/clues"
    response = await gateway.get(elsewhere, headers=sign("k1", SECRET, "GET", elsewhere))
    assert response.status_code == 403
    replay = await gateway.post(path, content=body, headers=sign("k1", SECRET, "POST", path, body, nonce="n" * 20))
    assert replay.status_code == 200
    replay = await gateway.post(path, content=body, headers=sign("k1", SECRET, "POST", path, body, nonce="n" * 20))
    assert (replay.status_code, replay.json()["type"]) == (401, "https://zuofeng.dev/problems/signature-replayed")
    tampered = await gateway.post(path, content=body + b" ", headers=sign("k1", SECRET, "POST", path, body))
    assert tampered.status_code == 401


async def test_public_endpoints_are_rate_limited_per_client_with_retry_after(gateway):
    for _ in range(3):
        assert (await gateway.get("/api/v1/intake/receipts/R-abc")).status_code == 200
    limited = await gateway.get("/api/v1/intake/receipts/R-abc")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["type"] == "https://zuofeng.dev/problems/rate-limited"


async def test_unknown_services_are_not_found(gateway):
    assert (await gateway.get("/api/v1/nowhere/x", headers=bearer("admin"))).status_code == 404


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_an_unreachable_service_is_a_503_problem_and_the_gateway_stays_ready():
    app = create_app(gateway_settings(upstreams={"triage": f"http://127.0.0.1:{_closed_port()}"}))
    async with LifespanManager(app) as manager, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://gw.test") as client:
        response = await client.get("/api/v1/triage/clues", headers=bearer("admin"))
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert response.json()["type"] == "https://zuofeng.dev/problems/service-unavailable"
        assert response.json()["service"] == "triage"
        # The other services' routes keep working, so the gateway stays in rotation; the body says why
        # triage's routes fail.
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["services"]["triage"].startswith("unreachable")
        assert (await client.get("/healthz")).status_code == 200


async def test_a_service_named_in_the_readiness_gate_makes_the_gateway_unready_when_down():
    app = create_app(gateway_settings(upstreams={"triage": f"http://127.0.0.1:{_closed_port()}"},
                                      readiness_services=["triage"]))
    async with LifespanManager(app) as manager, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://gw.test") as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"


async def test_a_service_that_does_not_answer_in_time_is_a_504_problem():
    async def silent(reader, writer):
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    app = create_app(gateway_settings(upstreams={"triage": f"http://127.0.0.1:{port}"},
                                      upstream_timeout_seconds=0.3))
    try:
        async with LifespanManager(app) as manager, httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://gw.test") as client:
            started = time.monotonic()
            response = await client.get("/api/v1/triage/clues", headers=bearer("admin"))
            assert response.status_code == 504 and time.monotonic() - started < 2
            assert response.headers["content-type"] == "application/problem+json"
    finally:
        server.close()


async def test_the_internal_token_is_reused_per_principal_for_a_while(gateway):
    first = (await gateway.get("/api/v1/triage/clues", headers=bearer("admin"))).json()["headers"]
    again = (await gateway.get("/api/v1/triage/clues", headers=bearer("admin"))).json()["headers"]
    other = (await gateway.get("/api/v1/triage/clues", headers=bearer("auditor"))).json()["headers"]
    assert first["x-zuofeng-identity"] == again["x-zuofeng-identity"] != other["x-zuofeng-identity"]


def test_merged_openapi_keeps_every_path_renames_clashes_and_states_security():
    def doc(path: str, schema: dict) -> dict:
        return {"openapi": "3.1.0", "paths": {path: {"get": {"responses": {"200": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}}}},
            "components": {"schemas": {"Item": schema}}}

    merged = merge({"intake": doc("/api/v1/intake/receipts/{code}", {"type": "object"}),
                    "triage": doc("/api/v1/triage/clues", {"type": "string"})})
    assert set(merged["paths"]) == {"/api/v1/intake/receipts/{code}", "/api/v1/triage/clues"}
    triage_ref = merged["paths"]["/api/v1/triage/clues"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["$ref"]
    assert triage_ref == "#/components/schemas/TriageItem"
    assert merged["components"]["schemas"]["TriageItem"] == {"type": "string"}
    assert merged["paths"]["/api/v1/triage/clues"]["get"]["security"] == [{"staffBearer": []}]
    receipt = merged["paths"]["/api/v1/intake/receipts/{code}"]["get"]
    assert {} in receipt["security"] and "429" in receipt["responses"]


async def test_the_gateway_never_keeps_a_services_cookies_for_other_callers():
    def cookie_app() -> FastAPI:
        app = FastAPI()

        @app.get("/api/v1/triage/{path:path}")
        async def handler(path: str, request: Request):
            from fastapi.responses import JSONResponse

            response = JSONResponse({"cookie": request.headers.get("cookie")})
            response.set_cookie("session", "alice-secret")
            return response

        return app

    app = create_app(gateway_settings())
    async with LifespanManager(app) as manager:
        # The production client, pointed at the stand-in through its own transport stack.
        app.state.http._transport = httpx.ASGITransport(app=cookie_app())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app),
                                     base_url="http://gw.test") as client:
            first = await client.get("/api/v1/triage/a", headers=bearer("admin"))
            assert first.headers["set-cookie"].startswith("session=alice-secret")
            client.cookies.clear()
            second = await client.get("/api/v1/triage/b", headers=bearer("auditor"))
            assert second.json()["cookie"] is None


def test_the_client_address_comes_from_a_trusted_proxy_only():
    from starlette.requests import Request as StarletteRequest

    from gateway.auth import Authenticator

    def request(peer: str, forwarded: str | None) -> StarletteRequest:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return StarletteRequest({"type": "http", "client": (peer, 1), "headers": headers})

    behind_ingress = Authenticator(gateway_settings(trusted_proxies=["10.0.0.0/8"]))
    # The right-most hop the trusted proxy saw; a client-chosen left-most entry is ignored.
    assert behind_ingress.client_address(request("10.1.2.3", "6.6.6.6, 203.0.113.9")) == "203.0.113.9"
    assert behind_ingress.client_address(request("10.1.2.3", "203.0.113.9, 10.4.4.4")) == "203.0.113.9"
    # A caller that is not a trusted proxy cannot choose its address.
    assert behind_ingress.client_address(request("198.51.100.1", "203.0.113.9")) == "198.51.100.1"
    direct = Authenticator(gateway_settings())
    assert direct.client_address(request("10.1.2.3", "203.0.113.9")) == "10.1.2.3"


def test_the_merged_openapi_is_one_a_client_generator_can_use():
    """Problems as the server answers them, readable unique operationIds, no two classes of one name."""
    import json as _json
    import re as _re
    from importlib import import_module

    from services.common.suite import SERVICES

    merged = merge({s: import_module(f"services.{s}.app").create_app().openapi() for s in SERVICES})
    schemas = merged["components"]["schemas"]
    text = _json.dumps(merged)
    assert "HTTPValidationError" not in text
    ids = []
    for path, item in merged["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if "422" in responses:
                assert list(responses["422"]["content"]) == ["application/problem+json"], (path, method)
            if "{" in path:
                assert "404" in responses, (path, method)
            ids.append(operation["operationId"])
            assert _re.fullmatch(r"[a-z][A-Za-z0-9]*", operation["operationId"]) and "Api" not in operation[
                "operationId"], operation["operationId"]
    assert len(ids) == len(set(ids))
    titles = [schema.get("title", name) for name, schema in schemas.items()]
    assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)
    # Triage's clue list points at triage's clue, not at intake's of the same name.
    triage_list = next(s for n, s in schemas.items() if n.endswith("ClueList"))
    assert triage_list["properties"]["items"]["items"]["$ref"] == "#/components/schemas/TriageClueRead"
    for schema in schemas.values():
        for ref in _re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', _json.dumps(schema)):
            assert ref in schemas
    for path_item in merged["paths"].values():
        for ref in _re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', _json.dumps(path_item)):
            assert ref in schemas

"""Security through the real suite: the authorisation matrix, unit scoping, the identity header, and a
schemathesis run over the gateway's aggregated OpenAPI (no 5xx)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
import secrets
import uuid
from dataclasses import dataclass

import httpx
import pytest
from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from sqlalchemy import insert

from gateway.app import create_app
from gateway.hotline import sign
from gateway.settings import GatewaySettings
from services.common.auth import ROLES, Principal, generate_keypair, mint_internal_token
from services.common.suite import SERVICES
from services.triage.models import clues as triage_clues

# Keys that would carry a reporter's identity; only investigators (and admin) may ever see them.
IDENTITY_KEYS = {"reporter", "reporter_name", "reporter_phone", "reporter_id_number", "phone", "mobile",
                 "id_number", "id_card", "identity", "email"}
IDENTITY_VIEWERS = {"investigator", "admin"}
HOTLINE_SECRETS = {"hl-12345": ("12345", "a" * 48), "hl-12388": ("12388", "b" * 48)}
SERVICE_SECRETS = {"sms-gateway": "c" * 48}  # an SMS ballot gateway (kind "service")
STAFF = frozenset(ROLES)


@pytest.fixture(scope="module")
async def gateway(suite, settings_kwargs, keys):
    """A gateway over the suite's running services, with hotline keys configured."""
    settings = GatewaySettings(
        **settings_kwargs,
        upstreams={name: f"http://{name}.test" for name in SERVICES},
        staff_jwt_public_key=keys["staff_public"],
        hotline_keys={k: {"line": line, "secret": secret} for k, (line, secret) in HOTLINE_SECRETS.items()}
        | {k: {"kind": "service", "secret": secret} for k, secret in SERVICE_SECRETS.items()},
        rate_limits={},
    )
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        await app.state.http.aclose()
        app.state.http = httpx.AsyncClient(
            mounts={f"http://{n}.test": httpx.ASGITransport(app=suite.apps[n]) for n in SERVICES})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app),
                                     base_url="http://gateway.test") as client:
            yield client
        await app.state.http.aclose()


def a_report() -> dict:
    return {"external_id": f"M-{secrets.token_hex(6)}", "text": "窗口人员推诿扯皮，群众反复跑腿。",
            "subject": "某街道便民服务中心"}


@dataclass(frozen=True)
class Family:
    """One endpoint family: a representative request and who may make it."""

    name: str
    method: str
    path: str
    allowed: frozenset[str]
    body: object = None  # a callable giving a fresh JSON body


# Identities: every staff role, the public, two hotline systems (one of them the path's own line) and an
# SMS ballot gateway.
IDENTITIES = (*ROLES, "public", "hotline:12345", "hotline:12388", "service:sms-gateway")
EVERYONE = frozenset(IDENTITIES)
UNKNOWN = "01a20000-0000-7000-8000-000000000000"  # a well-formed id nothing has: allowed callers get 404


def a_staff_report() -> dict:
    return {"channel": "petition", "text": "来信反映某所窗口推诿扯皮。"}


# One representative request per endpoint family and who gets past authorisation (anything but 401/403;
# a 404 or 422 for an allowed caller means authorisation let it through to the handler).
MATRIX: tuple[Family, ...] = (
    Family("intake hotline feed", "POST", "/api/v1/intake/feeds/12345/reports",
           frozenset({"triage_officer", "hotline:12345"}), a_report),
    Family("intake staff channels", "POST", "/api/v1/intake/reports",
           frozenset({"triage_officer", "investigator", "org_officer", "admin"}), a_staff_report),
    Family("intake posters", "GET", "/api/v1/intake/posters",
           frozenset({"triage_officer", "investigator", "org_officer", "auditor", "unit_handler", "admin"})),
    Family("intake identity reveal", "POST", f"/api/v1/intake/clues/{UNKNOWN}/identity:reveal",
           frozenset({"investigator"}), lambda: {"reason": "立案审查需要核实举报人身份"}),
    Family("intake identity reveal approval", "POST", f"/api/v1/intake/clues/{UNKNOWN}/identity:approvals",
           frozenset({"investigator"}), lambda: {"investigator": "inv-1", "case_number": "AC-1",
                                                 "reason": "立案审查需要核实举报人身份"}),
    Family("intake receipt lookup (public)", "GET", "/api/v1/intake/receipts/R-unknown", STAFF | {"public"}),
    # The organization department sees the queue and sheet of its own matters (12380, 选人用人; R-AC-10).
    Family("triage clues", "GET", "/api/v1/triage/clues?limit=1",
           frozenset({"triage_officer", "investigator", "org_officer", "auditor", "unit_handler", "admin"})),
    Family("triage taxonomy", "GET", "/api/v1/triage/taxonomy", STAFF),
    Family("triage classify preview", "POST", "/api/v1/triage/classify",
           frozenset({"triage_officer", "admin", "hotline:12345", "hotline:12388"}),
           lambda: {"text": "窗口人员推诿扯皮，群众反复跑腿。"}),
    Family("triage daily sheet", "GET", "/api/v1/triage/daily-sheets/2001-01-01",
           frozenset({"triage_officer", "investigator", "org_officer", "auditor", "admin"})),
    Family("triage daily run (job)", "GET", "/api/v1/triage/daily-runs/00000000-0000-4000-8000-000000000000",
           frozenset({"triage_officer", "investigator", "org_officer", "auditor", "admin"})),
    Family("accountability cases", "GET", "/api/v1/accountability/cases?limit=1",
           frozenset({"investigator", "org_officer", "auditor", "unit_handler", "admin"})),
    Family("accountability opening a case", "POST", "/api/v1/accountability/cases",
           frozenset({"investigator", "org_officer", "admin"}), dict),
    Family("accountability stats", "GET", "/api/v1/accountability/stats",
           frozenset({"investigator", "org_officer", "auditor", "admin"})),
    Family("accountability proposals", "GET", "/api/v1/accountability/proposals",
           frozenset({"investigator", "org_officer", "auditor", "admin"})),
    Family("accountability deciding a proposal", "POST", f"/api/v1/accountability/proposals/{UNKNOWN}/decision",
           frozenset({"investigator", "org_officer", "admin"}), lambda: {"decision": "decline", "reason": "不予采纳"}),
    Family("accountability import", "POST", "/api/v1/accountability/imports",
           frozenset({"investigator", "org_officer", "admin"}), lambda: {"cases": [{"ref": "x"}]}),
    Family("accountability 四风 report", "GET", "/api/v1/accountability/reports/four-winds/2001-01",
           frozenset({"investigator", "auditor", "admin"})),
    Family("evaluation campaign creation", "POST", "/api/v1/evaluation/campaigns",
           frozenset({"evaluation_admin", "admin"}), dict),
    Family("evaluation rankings (public once published)", "GET",
           f"/api/v1/evaluation/campaigns/{UNKNOWN}/rankings", STAFF | {"public"}),
    Family("evaluation ballot batches", "POST", f"/api/v1/evaluation/campaigns/{UNKNOWN}/ballots:batch",
           frozenset({"service:sms-gateway"}), lambda: {"ballots": []}),
    Family("notification unit inbox", "GET", "/api/v1/notification/inbox", frozenset({"unit_handler", "admin"})),
    Family("notification deliveries", "GET", "/api/v1/notification/deliveries", frozenset({"auditor", "admin"})),
    Family("notification bulletins (public)", "GET", "/api/v1/notification/bulletins", STAFF | {"public"}),
    # Gateway-level: a route no rule opens is staff-only, whatever the service does (no such route → 404).
    Family("gateway: staff-only by default", "GET", "/api/v1/accountability/no-such-route", STAFF),
)


def identity_keys_in(node: object) -> set[str]:
    if isinstance(node, dict):
        return {k for k in node if k in IDENTITY_KEYS and node[k]} | {
            found for v in node.values() for found in identity_keys_in(v)}
    if isinstance(node, list):
        return {found for v in node for found in identity_keys_in(v)}
    return set()


def credentials(identity: str, method: str, path: str, body: bytes, ids) -> dict[str, str]:
    if identity == "public":
        return {}
    if identity.startswith("service:"):
        key = identity.split(":")[1]
        return sign(key, SERVICE_SECRETS[key], method, path, body)
    if identity.startswith("hotline:"):
        line = identity.split(":")[1]
        key = next(k for k, (owner, _) in HOTLINE_SECRETS.items() if owner == line)
        return sign(key, HOTLINE_SECRETS[key][1], method, path, body)
    return ids.bearer(identity, unit="unit-a" if identity == "unit_handler" else None)


@pytest.mark.parametrize("family", MATRIX, ids=lambda f: f.name)
async def test_authorisation_matrix(gateway, ids, family):
    outcomes = {}
    for identity in IDENTITIES:
        body = json.dumps(family.body(), ensure_ascii=False).encode() if family.body else b""
        headers = {"content-type": "application/json", **credentials(identity, family.method, family.path, body, ids)}
        response = await gateway.request(family.method, family.path, content=body or None, headers=headers)
        assert response.status_code < 500, (identity, response.text)
        outcomes[identity] = response.status_code
        if identity not in IDENTITY_VIEWERS and "json" in response.headers.get("content-type", ""):
            leaked = identity_keys_in(response.json())
            assert not leaked, f"{family.name}: {identity} saw reporter identity fields {leaked}"
    wrong = {i: s for i, s in outcomes.items() if (s not in (401, 403)) != (i in family.allowed)}
    assert not wrong, f"{family.name}: unexpected outcomes {wrong} (all: {outcomes})"


async def test_unit_handlers_see_only_their_own_units_clues(suite, gateway, ids):
    mine, theirs = f"unit-{secrets.token_hex(3)}", f"unit-{secrets.token_hex(3)}"
    async with suite.apps["triage"].state.sessions() as session, session.begin():
        for unit in (mine, mine, theirs, None):
            await session.execute(insert(triage_clues).values(
                id=uuid.uuid4(), tracking_number=f"ZF-S-{secrets.token_hex(4)}", channel="hotline_12345",
                text="scoping", unit_id=unit, received_at=datetime.now(UTC), state="triaged",
                decision="transfer", routed_unit_id=unit))
    response = await gateway.get("/api/v1/triage/clues?limit=500", headers=ids.bearer("unit_handler", unit=mine))
    assert response.status_code == 200, response.text
    units = {c.get("unit_id") for c in response.json()["items"]}
    assert units == {mine}
    officer = await gateway.get("/api/v1/triage/clues?limit=500", headers=ids.bearer("triage_officer"))
    assert {mine, theirs} <= {c.get("unit_id") for c in officer.json()["items"]}
    unbound = await gateway.get("/api/v1/triage/clues", headers=ids.bearer("unit_handler"))
    assert unbound.status_code == 403


async def test_an_identity_header_from_outside_is_never_trusted(gateway, keys):
    """Even a genuinely signed admin identity (say, leaked from inside) is stripped at the gateway."""
    leaked = mint_internal_token(Principal(kind="staff", subject="mallory", roles=frozenset({"admin"})),
                                 keys["internal_private"])
    response = await gateway.get("/api/v1/triage/clues", headers={"x-zuofeng-identity": leaked})
    assert response.status_code == 401
    feed = await gateway.post("/api/v1/intake/feeds/12345/reports", json=a_report(),
                              headers={"X-Zuofeng-Identity": leaked})
    assert feed.status_code == 403


async def test_services_refuse_calls_without_a_valid_gateway_identity(suite, keys):
    stranger_private, _ = generate_keypair()
    admin = Principal(kind="staff", subject="x", roles=frozenset({"admin"}))
    cases = {
        "missing": {},
        "garbage": {"x-zuofeng-identity": "not-a-token"},
        "wrong key": {"x-zuofeng-identity": mint_internal_token(admin, stranger_private)},
        "expired": {"x-zuofeng-identity": mint_internal_token(admin, keys["internal_private"], ttl_seconds=-60)},
    }
    for name, headers in cases.items():
        for client, method, path in ((suite.triage, "GET", "/api/v1/triage/clues"),
                                     (suite.intake, "POST", "/api/v1/intake/feeds/12345/reports")):
            response = await client.request(method, path, headers=headers,
                                            json=a_report() if method == "POST" else None)
            assert response.status_code == 401, (name, path, response.status_code)


async def test_the_aggregated_openapi_covers_every_service_and_docs_are_served(gateway):
    document = (await gateway.get("/openapi.json")).json()
    assert "/api/v1/intake/feeds/{line}/reports" in document["paths"]
    assert "/api/v1/triage/clues" in document["paths"]
    assert "x-zuofeng-unavailable" not in document
    assert set(document["components"]["securitySchemes"]) == {"staffBearer", "hotlineKey"}
    docs = await gateway.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    ready = await gateway.get("/readyz")
    assert ready.status_code == 200 and set(ready.json()["services"]) == set(SERVICES)


@pytest.mark.filterwarnings("ignore:Do not use the `random` module")  # inside schemathesis
async def test_schemathesis_finds_no_server_error_through_the_gateway(gateway, ids):
    """Property-based requests from the aggregated OpenAPI, as an admin and anonymously: never a 5xx."""
    from schemathesis.openapi import from_dict

    schema = from_dict((await gateway.get("/openapi.json")).json())
    loop = asyncio.get_running_loop()
    failures: list[str] = []

    def run() -> int:
        count = 0
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @hypothesis_settings(max_examples=15, deadline=None, database=None, derandomize=True,
                                 phases=[Phase.explicit, Phase.generate],
                                 suppress_health_check=list(HealthCheck))
            def check(case):
                nonlocal count
                kwargs = case.as_transport_kwargs(base_url="http://gateway.test")
                for auth in (ids.bearer("admin"), {}):
                    headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "connection"}
                    request = gateway.request(
                        kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers={**headers, **auth},
                        json=kwargs.get("json"), content=kwargs.get("data") if isinstance(kwargs.get("data"), (bytes, str)) else None,
                        files=kwargs.get("files"))
                    response = asyncio.run_coroutine_threadsafe(request, loop).result(timeout=30)
                    count += 1
                    if response.status_code >= 500:
                        failures.append(f"{operation.label} → {response.status_code}: {response.text[:200]}")  # noqa: B023 — check() runs within this iteration

            check()
        return count

    count = await asyncio.to_thread(run)
    assert count > 0
    assert not failures, failures[:5]

"""The staff console's sign-in against a real Keycloak (deploy/local/keycloak.sh, realm zuofeng): the login
form driven like a browser, the session cookie on the API with CSRF on writes, a unit handler's scope, and
what must be refused (a tampered, expired or ended session, an open redirect, a login from another browser).
Skipped, saying why, only if Keycloak cannot be started on this machine."""

from __future__ import annotations

import json
import secrets
import time
from contextlib import aclosing
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from .console_helper import (
    DIRECTORY,
    DIRECTORY_IDS,
    ISSUER,
    UNIT_A,
    UNIT_B,
    browser,
    console_gateway,
    idp_login_redirect,
    session_key,
    sign_in,
)
from .directory_helper import imported_units
from .test_unit_scope import a_routed_pair


@pytest.fixture(scope="module")
async def console(suite, settings_kwargs, keys):
    async with console_gateway(suite, settings_kwargs, keys) as gateway:
        yield gateway


async def session_of(client: httpx.AsyncClient) -> dict:
    response = await client.get("/console/session")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("username", "role", "label"), [
    ("triage", "triage_officer", "线索分办员"),
    ("investigator", "investigator", "纪检监察调查员"),
])
async def test_staff_sign_in_through_keycloak_and_use_the_api_with_the_cookie(console, username, role, label):
    async with browser(console) as first:
        start = await first.get("/console/login", params={"next": "/console/cases?page=2"})
    # Authorization Code with PKCE S256, state and nonce, to the realm's own endpoint.
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert start.headers["location"].startswith(f"{ISSUER}/protocol/openid-connect/auth?")
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43 and query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [f"{console.url}/console/callback"]

    client, landed = await sign_in(console, username, "/console/cases?page=2")
    async with aclosing(client):
        assert landed.headers["location"] == "/console/cases?page=2"
        cookie = next(v for k, v in landed.headers.multi_items() if k == "set-cookie" and v.startswith("zf_session="))
        attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "path", "samesite"} <= attributes and "path=/" in cookie.lower()
        assert "samesite=lax" in cookie.lower()
        me = await session_of(client)
        assert me["username"] == username and me["roles"] == [role] and me["role_labels"] == {role: label}
        assert me["unit_id"] is None and me["unit_name"] is None and me["subject"] and me["name"]
        assert len(me["csrf_token"]) >= 32

        # A read with the cookie alone is the signed-in user.
        units = await client.get("/api/v1/triage/units", params={"limit": 1})
        assert units.status_code == 200, units.text
        # A write without the CSRF token is refused before any service sees it; with it, it is the user's.
        report = {"channel": "petition", "text": f"区政务大厅窗口推诿扯皮，群众反复跑腿 {secrets.token_hex(3)}",
                  "issue_receipt": False}
        refused = await client.post("/api/v1/intake/reports", json=report)
        assert refused.status_code == 403 and refused.json()["type"].endswith("/csrf-invalid")
        assert "CSRF" in refused.json()["detail"] and "请" in refused.json()["detail"]
        forged = await client.post("/api/v1/intake/reports", json=report, headers={"x-csrf-token": "x" * 43})
        assert forged.status_code == 403
        made = await client.post("/api/v1/intake/reports", json=report, headers={"x-csrf-token": me["csrf_token"]})
        assert made.status_code == 201, made.text  # both roles record reports (intake's STAFF_INTAKE_ROLES)


async def test_a_unit_handler_session_is_bound_to_its_unit(console, suite, ids):
    present = await suite.gateway.get(f"/api/v1/triage/units/{UNIT_A}", headers=ids.bearer("admin"))
    if present.status_code == 200:
        await _scoped(console, suite, ids)
    else:
        async with imported_units(suite, ids, DIRECTORY, DIRECTORY_IDS):
            await _scoped(console, suite, ids)


async def _scoped(console, suite, ids):
    transferred, kept = await a_routed_pair(suite, ids, UNIT_A)
    a, _ = await sign_in(console, "unit-a")
    b, _ = await sign_in(console, "unit-b")
    async with aclosing(a), aclosing(b):
        me = await session_of(a)
        assert me["roles"] == ["unit_handler"] and me["unit_id"] == UNIT_A and me["unit_name"] == "市社会保险中心"
        assert (await session_of(b))["unit_id"] == UNIT_B
        listed = await a.get("/api/v1/triage/clues", params={"limit": 500})
        assert listed.status_code == 200, listed.text
        assert [c["id"] for c in listed.json()["items"]] == [transferred["id"]]
        assert (await a.get(f"/api/v1/triage/clues/{kept['id']}")).status_code == 404
        seen = await a.get(f"/api/v1/intake/clues/{transferred['id']}")
        assert seen.status_code == 200 and not {"anonymous", "recorded_by"} & seen.json().keys()
        # The other unit's handler sees neither.
        other = await b.get("/api/v1/triage/clues", params={"limit": 500})
        assert other.status_code == 200 and transferred["id"] not in other.text and kept["id"] not in other.text
        assert (await b.get(f"/api/v1/intake/clues/{transferred['id']}")).status_code == 404


async def test_tampered_expired_and_ended_sessions_are_refused(console):
    client, _ = await sign_in(console, "leader")
    async with aclosing(client):
        me = await session_of(client)
        assert me["roles"] == ["auditor"]
        real = client.cookies["zf_session"]

        for fake in (real[:-2] + ("AA" if not real.endswith("AA") else "BB"), secrets.token_urlsafe(32)):
            stranger = browser(console)
            stranger.cookies.set("zf_session", fake, domain="127.0.0.1")
            async with stranger:
                for path in ("/console/session", "/api/v1/triage/units"):
                    refused = await stranger.get(path)
                    assert refused.status_code == 401, refused.text
                    assert refused.json()["type"].endswith("/session-expired") and "重新登录" in refused.json()["detail"]

        # Past the 8-hour limit (its start moved back in the real store): refused, and forgotten.
        key = session_key(client)
        stored = json.loads(await console.redis.get(key))
        await console.redis.set(key, json.dumps({**stored, "created": time.time() - 9 * 3600}), ex=600)
        assert (await client.get("/api/v1/triage/units")).status_code == 401
        assert await console.redis.get(key) is None

    # Signed out: the cookie is dead, and Keycloak's end-session URL brings the browser back to the console.
    client, _ = await sign_in(console, "evaluation")
    async with aclosing(client):
        me = await session_of(client)
        assert (await client.post("/console/logout")).status_code == 403
        out = await client.post("/console/logout", headers={"x-csrf-token": me["csrf_token"]})
        assert out.status_code == 200, out.text
        url = out.json()["logout_url"]
        assert url.startswith(f"{ISSUER}/protocol/openid-connect/logout?") and "id_token_hint=" in url
        assert (await client.get("/console/session")).status_code == 401
        idp = await client.get(url)
        assert idp.status_code == 302 and idp.headers["location"] == f"{console.url}/console/", idp.text[:300]


async def test_the_session_refreshes_its_roles_at_keycloak(console):
    client, _ = await sign_in(console, "organization")
    async with aclosing(client):
        key = session_key(client)
        stored = json.loads(await console.redis.get(key))
        # Due for its refresh: the gateway uses the refresh token (a real grant) and carries on.
        await console.redis.set(key, json.dumps({**stored, "refresh_at": time.time() - 1}), ex=600)
        assert (await client.get("/api/v1/triage/units", params={"limit": 1})).status_code == 200
        refreshed = json.loads(await console.redis.get(key))
        assert refreshed["refresh_at"] > time.time() and refreshed["roles"] == ["org_officer"]
        # A refresh token the provider no longer honours ends the session.
        await console.redis.set(key, json.dumps({**refreshed, "refresh_at": time.time() - 1,
                                                 "refresh_token": "revoked"}), ex=600)
        assert (await client.get("/console/session")).status_code == 401


@pytest.mark.parametrize("next_path", [
    "https://evil.example/console/", "//evil.example/console/", "/\\evil.example", "/console/../api/v1/x",
    "/console/%2e%2e/docs", "/api/v1/triage/units", "javascript:alert(1)", "/console//evil.example",
])
async def test_an_open_redirect_is_refused(console, next_path):
    async with browser(console) as client:
        refused = await client.get("/console/login", params={"next": next_path})
        assert refused.status_code == 400 and refused.json()["type"].endswith("/next-invalid"), next_path
        assert "/console/" in refused.json()["detail"]


async def test_a_callback_must_come_back_to_the_browser_that_started_it(console):
    async with browser(console) as victim, browser(console) as attacker:
        start = await attacker.get("/console/login", params={"next": "/console/"})
        back = await idp_login_redirect(attacker, "admin", start)
        # The attacker's code and state, delivered to another browser (login CSRF): refused.
        refused = await victim.get(back.headers["location"])
        assert refused.status_code == 400 and refused.json()["type"].endswith("/login-invalid")
        assert "zf_session" not in victim.cookies
        # A state the gateway never issued, or one already used: refused.
        query = parse_qs(urlsplit(back.headers["location"]).query)
        unknown = await attacker.get("/console/callback", params={"code": query["code"][0], "state": "nope"})
        assert unknown.status_code == 400 and unknown.json()["type"].endswith("/login-expired")
        # The state was used up by the victim's refused try: one state, one attempt.
        again = await attacker.get(back.headers["location"])
        assert again.status_code == 400

"""The console sign-in's parts that need no provider: claim mapping for Keycloak, `roles` and `groups`
providers, the `next` check, the cookies kept from the services, the settings, and the built console's
serving (SPA fallback, caching, CSP, the page shown before `make console`)."""

from __future__ import annotations

import json
import secrets
import time

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request

from gateway.app import create_app
from gateway.console_auth import ConsoleAuth, safe_next, without_console_cookies
from gateway.oidc import claim_at, identity_from_claims, map_roles, map_unit, pkce_challenge
from gateway.settings import GatewaySettings
from services.common.auth import generate_keypair, verify_internal_token
from services.common.errors import Problem

PRIVATE, PUBLIC = generate_keypair()


def settings(**values) -> GatewaySettings:
    return GatewaySettings(environment="test", internal_token_private_key=PRIVATE, internal_token_public_key=PUBLIC,
                           rate_limits={}, **values)


def test_pkce_s256_matches_rfc_7636_appendix_b():
    assert pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_keycloak_realm_roles_and_the_unit_attribute_are_mapped():
    claims = {"sub": "u1", "preferred_username": "unit-a", "name": "孙丽", "unit": "dt-rsj-sb",
              "realm_access": {"roles": ["unit_handler", "offline_access", "default-roles-zuofeng"]}}
    identity = identity_from_claims(claims, settings())
    assert identity == {"sub": "u1", "username": "unit-a", "name": "孙丽", "roles": ["unit_handler"],
                        "unit_id": "dt-rsj-sb"}


def test_roles_from_a_flat_roles_claim_renamed_by_the_role_map():
    config = settings(oidc_roles_claim="roles", oidc_role_map={"zf-triage": "triage_officer", "zf-lead": "auditor"})
    identity = identity_from_claims({"sub": "u2", "roles": ["zf-triage", "zf-lead", "investigator", "other"]}, config)
    # Mapped names, suite names as themselves; the rest dropped. No name claim: the username (here sub).
    assert identity["roles"] == ["auditor", "investigator", "triage_officer"]
    assert identity["name"] == identity["username"] == "u2" and identity["unit_id"] is None


def test_roles_from_group_paths_and_a_unit_claim_given_as_a_list():
    config = settings(oidc_roles_claim="groups", oidc_unit_claim="attributes.unit",
                      oidc_role_map={"evaluation-office": "evaluation_admin"})
    claims = {"sub": "u3", "groups": ["/zuofeng/evaluation-office", "/zuofeng/staff"],
              "attributes": {"unit": ["dt-zjj-wy"]}}
    identity = identity_from_claims(claims, config)
    assert identity["roles"] == ["evaluation_admin"] and identity["unit_id"] == "dt-zjj-wy"


def test_claim_paths_and_odd_shapes():
    assert claim_at({"https://idp/roles": ["admin"]}, "https://idp/roles") == ["admin"]
    assert claim_at({"a": {"b": 1}}, "a.c") is None and claim_at({"a": 1}, "a.b") is None
    assert map_roles("triage_officer, admin", {}) == {"triage_officer", "admin"}
    assert map_roles(None, {}) == frozenset() and map_roles({"admin": True}, {}) == frozenset()
    assert map_unit(["a", "b"]) is None and map_unit(" ") is None and map_unit(7) is None


def test_a_role_map_into_roles_the_suite_lacks_is_refused():
    with pytest.raises(ValueError, match="OIDC_ROLE_MAP"):
        settings(oidc_role_map={"x": "superuser"})


def test_mixed_unit_and_commission_roles_and_no_roles_cannot_sign_in():
    for identity, slug in (({"sub": "m", "roles": ["triage_officer", "unit_handler"], "unit_id": "u"},
                            "forbidden-role-combination"),
                           ({"sub": "n", "roles": ["unit_handler"], "unit_id": None}, "unit-missing"),
                           ({"sub": "o", "roles": [], "unit_id": None}, "forbidden-role")):
        with pytest.raises(Problem) as refused:
            ConsoleAuth._admissible(identity)
        assert refused.value.status == 403 and refused.value.slug == slug


@pytest.mark.parametrize("value", [
    "https://evil.example/", "//evil.example", "/\\evil.example", "/console/../docs", "/console/%2E%2E/docs",
    "/console//evil.example", "/api/v1/triage/units", "/consolex", "javascript:alert(1)", "/console/\nx",
    "/console/" + "a" * 2100,
])
def test_next_outside_the_console_is_refused(value):
    with pytest.raises(Problem) as refused:
        safe_next(value)
    assert refused.value.status == 400 and refused.value.slug == "next-invalid"


def test_next_inside_the_console_is_kept():
    assert safe_next(None) == safe_next("") == "/console/"
    assert safe_next("/console") == "/console/"
    assert safe_next("/console?tab=2") == "/console/?tab=2"
    assert safe_next("/console/cases/c-1?tab=persons#p2") == "/console/cases/c-1?tab=persons#p2"


def test_the_console_cookies_never_reach_a_service():
    assert without_console_cookies("zf_session=abc; lang=zh; zf_login=x") == "lang=zh"
    assert without_console_cookies("zf_session=abc") == ""
    assert without_console_cookies("a=1;b=2") == "a=1;b=2"


def test_production_refuses_an_insecure_console():
    base = {"environment": "production", "internal_token_private_key": PRIVATE, "internal_token_public_key": PUBLIC,
            "staff_jwks_url": "https://idp/jwks", "staff_jwt_issuer": "https://idp", "trusted_proxies": ["10.0.0.0/8"],
            "redis_url": "redis://r:6379/0", "database_url": "postgresql+asyncpg://svc:s3cret@db/zuofeng"}
    GatewaySettings(**base, oidc_issuer="https://idp/realms/city", oidc_client_secret="s" * 32)
    for bad, message in (({"console_cookie_secure": False}, "CONSOLE_COOKIE_SECURE"),
                         ({"oidc_issuer": "http://idp/realms/city"}, "https"),
                         ({"oidc_client_secret": ""}, "OIDC_CLIENT_SECRET")):
        values = {"oidc_issuer": "https://idp/realms/city", "oidc_client_secret": "s" * 32, **bad}
        with pytest.raises(ValueError, match=message):
            GatewaySettings(**base, **values)


def client_for(dist) -> httpx.AsyncClient:
    app = create_app(settings(console_dist=dist))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")


async def test_the_built_console_is_served_as_a_single_page_app(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>工作台</title><div id=app></div>", encoding="utf-8")
    (tmp_path / "assets" / "index-3f2a1b.js").write_text("console.log(1)", encoding="utf-8")
    (tmp_path / "favicon.ico").write_bytes(b"\x00\x00\x01\x00")
    (tmp_path.parent / "secret.txt").write_text("outside", encoding="utf-8")
    async with client_for(tmp_path) as client:
        index = await client.get("/console/")
        assert index.status_code == 200 and "工作台" in index.text and index.headers["cache-control"] == "no-cache"
        csp = index.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "http" not in csp
        asset = await client.get("/console/assets/index-3f2a1b.js")
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        assert asset.headers["content-type"].startswith(("text/javascript", "application/javascript"))
        assert (await client.get("/console/favicon.ico")).headers["cache-control"] == "no-cache"
        # The app's own routes fall back to index.html; a missing asset does not.
        deep = await client.get("/console/cases/c-1/persons")
        assert deep.status_code == 200 and "工作台" in deep.text
        assert (await client.get("/console/assets/gone-123.js")).status_code == 404
        assert (await client.get("/console")).headers["location"] == "/console/"
        # Nothing outside the dist folder, however spelled.
        for sneaky in ("/console/..%2fsecret.txt", "/console/%2e%2e/secret.txt"):
            response = await client.get(sneaky)
            assert "outside" not in response.text
        # The sign-in paths are never the SPA (OIDC off here: they say so).
        for path in ("/console/login", "/console/callback", "/console/session"):
            off = await client.get(path)
            assert off.status_code == 404 and off.json()["type"].endswith("/console-sign-in-off")
        assert (await client.get("/console/logout")).status_code == 405


async def test_an_unbuilt_console_says_so_in_chinese(tmp_path):
    async with client_for(tmp_path / "missing") as client:
        page = await client.get("/console/anything")
        assert page.status_code == 503 and "make console" in page.text and "尚未构建" in page.text


async def test_a_refused_sign_in_is_a_chinese_page_for_a_browser_and_a_problem_for_others():
    app = create_app(settings(oidc_issuer="http://127.0.0.1:9/realms/none", oidc_client_secret="s"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client:
        page = await client.get("/console/callback", headers={"accept": "text/html,application/xhtml+xml"})
        assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
        assert "登录请求无效" in page.text and 'href="/console/login"' in page.text
        problem = await client.get("/console/login", params={"next": "//evil.example"})
        assert problem.status_code == 400 and problem.json()["type"].endswith("/next-invalid")
        # <script> in a provider's error_description is text on the page, never markup.
        hostile = await client.get("/console/callback", params={"error": "x", "error_description": "<script>x</script>"},
                                   headers={"accept": "text/html"})
        assert hostile.status_code == 401 and "<script>" not in hostile.text and "&lt;script&gt;" in hostile.text


async def test_a_session_cookie_is_forwarded_as_the_signed_identity_and_never_itself():
    upstream = FastAPI()

    @upstream.api_route("/{path:path}", methods=["GET", "POST"])
    async def echo(path: str, request: Request):
        return {"headers": dict(request.headers)}

    # Sessions in memory (no REDIS_URL): one stored as the callback would, without a provider round trip.
    app = create_app(settings(oidc_issuer="http://127.0.0.1:9/realms/none", oidc_client_secret="s",
                              upstreams={"triage": "http://triage.test"}))
    async with LifespanManager(app) as manager:
        await app.state.http.aclose()
        app.state.http = httpx.AsyncClient(mounts={"http://triage.test": httpx.ASGITransport(app=upstream)})
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session = {"sub": "u-1", "username": "unit-a", "name": "孙丽", "roles": ["unit_handler"], "unit_id": "dt-rsj-sb",
                   "unit_name": None, "csrf": csrf, "id_token": None, "refresh_token": None,
                   "created": time.time(), "refresh_at": time.time() + 300}
        await app.state.console._save(sid, session)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://gw.test",
                                     cookies={"zf_session": sid, "lang": "zh"}) as client:
            forwarded = await client.get("/api/v1/triage/clues")
            assert forwarded.status_code == 200, forwarded.text
            seen = forwarded.json()["headers"]
            principal = verify_internal_token(seen["x-zuofeng-identity"], PUBLIC)
            assert (principal.kind, principal.subject, principal.roles, principal.unit_id) == (
                "staff", "u-1", frozenset({"unit_handler"}), "dt-rsj-sb")
            assert sid not in json.dumps(seen) and "zf_session" not in seen.get("cookie", "")
            assert seen["cookie"] == "lang=zh"
            refused = await client.post("/api/v1/triage/clues", json={})
            assert refused.status_code == 403 and refused.json()["type"].endswith("/csrf-invalid")
            allowed = await client.post("/api/v1/triage/clues", json={}, headers={"x-csrf-token": csrf})
            assert allowed.status_code == 200
            assert (await client.get("/console/session")).json()["unit_id"] == "dt-rsj-sb"
        await app.state.http.aclose()

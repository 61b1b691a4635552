"""The staff console in a real headless Chromium, signed in through the local Keycloak's login form.

These tests need the built console (`make console`), Debian's chromium and the Keycloak that
deploy/local starts (127.0.0.1:58080, realm ``zuofeng`` with a user per role); each is skipped with the
reason when missing. They run last: they import the unit directory, which some integration tests must
find empty."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.common.suite import SERVICES

from ..support import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DIST = ROOT / "console" / "dist"
ARTIFACTS = ROOT / "tests" / "artifacts" / "console"
KEYCLOAK = os.environ.get("ZF_TEST_KEYCLOAK", "http://127.0.0.1:58080")
REALM = f"{KEYCLOAK}/realms/zuofeng"
# The realm's confidential client (deploy/local/keycloak/zuofeng-realm.json): a development secret.
CLIENT_SECRET = os.environ.get("ZF_TEST_OIDC_SECRET", "zuofeng-console-dev-secret")

# The realm's local users (deploy/local/keycloak/zuofeng-realm.json).
USERS = {
    "triage": "zuofeng-triage", "investigator": "zuofeng-investigator", "evaluation": "zuofeng-evaluation",
    "leader": "zuofeng-leader", "unit-a": "zuofeng-unit-a", "unit-b": "zuofeng-unit-b",
}


def pytest_collection_modifyitems(session, config, items):
    browser = [i for i in items if "/browser/" in str(i.fspath)]
    for item in browser:
        item.add_marker(pytest.mark.integration)
    items[:] = [i for i in items if i not in browser] + browser


def _keycloak_up() -> bool:
    try:
        return httpx.get(f"{REALM}/.well-known/openid-configuration", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def needs():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (deploy/local/install-deps.sh)")
    if not (DIST / "index.html").exists():
        pytest.skip("the console is not built (make console)")
    if not _keycloak_up():
        pytest.skip(f"Keycloak is not running at {KEYCLOAK} (deploy/local/infra.sh up starts it)")


@pytest.fixture(scope="module")
async def console(needs, suite, settings_kwargs, keys):
    """The gateway on a real loopback socket, with the console's OIDC sign-in against the local Keycloak."""
    settings = GatewaySettings(**settings_kwargs, upstreams={n: f"http://{n}.test" for n in SERVICES},
                               staff_jwt_public_key=keys["staff_public"], rate_limits={},
                               oidc_issuer=REALM, oidc_client_secret=CLIENT_SECRET,
                               console_cookie_secure=False, console_dist=DIST)
    app = create_app(settings)
    async with LifespanManager(app):
        await app.state.http.aclose()
        app.state.http = httpx.AsyncClient(
            mounts={f"http://{n}.test": httpx.ASGITransport(app=suite.apps[n]) for n in SERVICES})
        async with LoopbackServer(app) as server:
            yield server.base_url
        await app.state.http.aclose()


@pytest.fixture(scope="module")
async def browser(needs):
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        await chromium.close()


class Signed:
    """A browser context signed in as one local user; `shot(name)` keeps a screenshot of the page."""

    def __init__(self, context, page, base: str):
        self.context, self.page, self.base = context, page, base

    async def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
async def sign_in(console, browser):
    contexts = []

    async def _sign_in(username: str, path: str = "/console/") -> Signed:
        context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        contexts.append(context)
        page = await context.new_page()
        await page.goto(f"{console}{path}")
        # Not signed in: the console sends the browser to /console/login, which redirects to Keycloak.
        await page.wait_for_selector("#username", timeout=30000)
        await page.fill("#username", username)
        await page.fill("#password", USERS[username])
        await page.click("#kc-login")
        await page.wait_for_selector("[data-test=who]", timeout=30000)
        return Signed(context, page, console)

    yield _sign_in
    for context in contexts:
        await context.close()

"""The console's sign-in for tests: the local Keycloak (started or reused, or the test skipped saying why), a
gateway with OIDC on a real loopback port forwarding to the in-process suite, and a browser-like httpx
client that signs in through Keycloak's login form as one of the realm's users."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import subprocess
from contextlib import asynccontextmanager
from types import SimpleNamespace

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.common.suite import SERVICES

from ..support import REPO, LoopbackServer

ISSUER = "http://127.0.0.1:58080/realms/zuofeng"
SECRET = "zuofeng-console-dev-secret"  # deploy/local/keycloak/zuofeng-realm.json (local development only)
# The realm's users: password zuofeng-<user>. unit-a and unit-b carry ids of the Datong demo directory.
USERS = {
    "triage": "triage_officer", "investigator": "investigator", "organization": "org_officer",
    "evaluation": "evaluation_admin", "leader": "auditor", "admin": "admin",
    "unit-a": "unit_handler", "unit-b": "unit_handler",
}
UNIT_A, UNIT_B = "dt-rsj-sb", "dt-zjj-wy"
# The two units (with their parents) for tests/integration/directory_helper.imported_units.
DIRECTORY = """
regions:
  - id: dt
    name: 大同市市直
    agencies:
      - {id: dt-rsj, name: 大同市人力资源和社会保障局, category: 机关科室,
         sections: [{id: dt-rsj-sb, name: 市社会保险中心, category: 基层站所}]}
      - {id: dt-zjj, name: 大同市住房和城乡建设局, category: 机关科室,
         sections: [{id: dt-zjj-wy, name: 物业管理科, category: 机关科室}]}
""".encode()
DIRECTORY_IDS = ("dt", "dt-rsj", "dt-zjj", UNIT_A, UNIT_B)


def realm_answers() -> bool:
    try:
        return httpx.get(f"{ISSUER}/.well-known/openid-configuration", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_keycloak() -> str:
    """The realm's issuer, once Keycloak answers (deploy/local/keycloak.sh up); else the test is skipped."""
    if not realm_answers():
        try:
            subprocess.run(["bash", str(REPO / "deploy/local/keycloak.sh"), "up"], check=True, timeout=480,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"Keycloak could not be started (deploy/local/keycloak.sh up): {exc}; "
                        f"{getattr(exc, 'stderr', '') or ''}"[-600:])
    if not realm_answers():
        pytest.skip("Keycloak runs but serves no realm 'zuofeng' on 127.0.0.1:58080")
    return ISSUER


def local_redis() -> str:
    out = subprocess.run(["bash", str(REPO / "deploy/local/redis.sh"), "up"], check=True, capture_output=True,
                         text=True)
    return out.stdout.strip().splitlines()[-1]


@asynccontextmanager
async def console_gateway(suite, settings_kwargs: dict, keys: dict, **settings):
    """A gateway with the console's sign-in, on a real loopback port (Keycloak redirects the browser back to
    it), forwarding to the in-process services; sessions in the real Redis. ``settings`` override the
    gateway's (e.g. ``console_dist`` for a built console). Yields ``.app``, ``.url`` and ``.redis``."""
    # In threads: the in-process services share this event loop while Keycloak starts (a minute or more).
    issuer = await asyncio.to_thread(ensure_keycloak)
    values = {
        **settings_kwargs, "upstreams": {n: f"http://{n}.test" for n in SERVICES},
        "staff_jwt_public_key": keys["staff_public"], "rate_limits": {},
        "redis_url": await asyncio.to_thread(local_redis),
        "oidc_issuer": issuer, "oidc_client_secret": SECRET, "console_cookie_secure": False,
        **settings,
    }
    gateway = create_app(GatewaySettings(**values))
    async with LifespanManager(gateway) as manager:
        await gateway.state.http.aclose()
        gateway.state.http = httpx.AsyncClient(
            mounts={f"http://{n}.test": httpx.ASGITransport(app=suite.apps[n]) for n in SERVICES})
        try:
            async with LoopbackServer(manager.app) as server:
                yield SimpleNamespace(app=gateway, url=server.base_url,
                                      redis=gateway.state.authenticator.hotline.nonces.client)
        finally:
            await gateway.state.http.aclose()


class LoopbackBrowser(httpx.AsyncBaseTransport):
    """Real sockets, with one browser rule http.cookiejar lacks: http://127.0.0.1 is a secure context, so a
    ``Secure`` cookie (Keycloak sets its own so) is sent back to it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.host in ("127.0.0.1", "localhost"):
            response.headers = httpx.Headers([
                (k, re.sub(r";\s*Secure(?=;|$)", "", v, flags=re.IGNORECASE) if k.lower() == "set-cookie" else v)
                for k, v in response.headers.multi_items()])
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def browser(console) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=console.url, transport=LoopbackBrowser(), timeout=60)


async def idp_login_redirect(client: httpx.AsyncClient, username: str, start: httpx.Response) -> httpx.Response:
    """From the gateway's 302 to Keycloak, through its login form, to Keycloak's 302 back to the callback."""
    assert start.status_code == 302, start.text
    page = await client.get(start.headers["location"])
    assert page.status_code == 200, page.text[:500]
    action = html.unescape(re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page.text).group(1))
    back = await client.post(action, data={"username": username, "password": f"zuofeng-{username}",
                                           "credentialId": ""})
    assert back.status_code == 302, back.text[:500]
    return back


async def sign_in(console, username: str, next_path: str = "/console/") -> tuple[httpx.AsyncClient, httpx.Response]:
    """A signed-in client (close it: ``async with contextlib.aclosing(client)``) and the callback's answer."""
    client = browser(console)
    start = await client.get("/console/login", params={"next": next_path})
    back = await idp_login_redirect(client, username, start)
    assert back.headers["location"].startswith(f"{console.url}/console/callback?")
    landed = await client.get(back.headers["location"])
    assert landed.status_code == 302, landed.text
    return client, landed


def session_key(client: httpx.AsyncClient) -> str:
    """The Redis key of the client's session (the SHA-256 of its cookie, as the gateway stores it)."""
    return "zuofeng:console:session:" + hashlib.sha256(client.cookies["zf_session"].encode()).hexdigest()

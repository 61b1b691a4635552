"""Two gateway replicas sharing a real Redis (Debian's redis-server, via deploy/local/redis.sh or REDIS_URL):
one client's rate limit and one signed request's nonce hold across both, and the client is the address
behind the trusted proxy, not the ingress's."""

from __future__ import annotations

import os
import secrets
import subprocess

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.hotline import sign
from gateway.settings import GatewaySettings

from ..support import REPO

SECRET = "r" * 48


@pytest.fixture(scope="module")
def redis_url() -> str:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    out = subprocess.run(["bash", str(REPO / "deploy/local/redis.sh"), "up"], check=True, capture_output=True,
                         text=True)
    return out.stdout.strip().splitlines()[-1]


async def replica(settings_kwargs, keys, redis_url, ingress: str):
    settings = GatewaySettings(
        **settings_kwargs, upstreams={"evaluation": "http://127.0.0.1:1"}, staff_jwt_public_key=keys["staff_public"],
        hotline_keys={"sms-platform": {"kind": "service", "secret": SECRET}},
        rate_limits={"ballot-code": "3/minute"}, redis_url=redis_url, trusted_proxies=[f"{ingress}/32"])
    app = create_app(settings)
    manager = LifespanManager(app)
    await manager.__aenter__()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app, client=(ingress, 40000)),
                               base_url="http://gateway.test")
    return manager, client


async def test_limits_and_nonces_hold_across_replicas(settings_kwargs, keys, redis_url):
    ingress = "10.250.0.1"  # every request arrives from the ingress controller
    a_mgr, a = await replica(settings_kwargs, keys, redis_url, ingress)
    b_mgr, b = await replica(settings_kwargs, keys, redis_url, ingress)
    try:
        citizen = f"203.0.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
        neighbour = f"198.51.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
        path = f"/api/v1/evaluation/campaigns/{secrets.token_hex(4)}/verification-codes"

        async def ask(client, who):
            r = await client.post(path, json={"phone": "13800138000"}, headers={"x-forwarded-for": who})
            return r.status_code

        # 3 a minute per citizen, counted in Redis: replicas A, B, A pass (upstream down: 5xx), B refuses.
        assert [await ask(c, citizen) != 429 for c in (a, b, a)] == [True, True, True]
        assert await ask(b, citizen) == 429
        assert await ask(a, citizen) == 429
        # Another citizen behind the same ingress has a limit of its own.
        assert await ask(b, neighbour) != 429
        # A signed request replayed to the other replica is refused there.
        batch = f"/api/v1/evaluation/campaigns/{secrets.token_hex(4)}/ballots:batch"
        headers = {"content-type": "application/json", **sign("sms-platform", SECRET, "POST", batch, b"{}")}
        first = await a.post(batch, content=b"{}", headers=headers)
        assert first.status_code != 401, first.text
        replay = await b.post(batch, content=b"{}", headers=headers)
        assert replay.status_code == 401 and replay.json()["type"].endswith("/signature-replayed")
    finally:
        for client, mgr in ((a, a_mgr), (b, b_mgr)):
            await client.aclose()
            await mgr.__aexit__(None, None, None)


async def test_a_redis_outage_lets_public_requests_through_but_refuses_signed_ones(settings_kwargs, keys):
    # Nothing listens on port 1: the store is down from the start.
    mgr, client = await replica(settings_kwargs, keys, "redis://127.0.0.1:1/0", "10.250.0.2")
    try:
        path = f"/api/v1/evaluation/campaigns/{secrets.token_hex(4)}/verification-codes"
        for _ in range(5):  # over the 3/minute limit, yet never 429 nor a gateway error of its own
            r = await client.post(path, json={"phone": "13800138000"}, headers={"x-forwarded-for": "203.0.113.9"})
            assert r.status_code not in (429, 500), r.text
        batch = f"/api/v1/evaluation/campaigns/{secrets.token_hex(4)}/ballots:batch"
        headers = {"content-type": "application/json", **sign("sms-platform", SECRET, "POST", batch, b"{}")}
        r = await client.post(batch, content=b"{}", headers=headers)
        assert r.status_code == 503 and r.json()["type"].endswith("/nonce-store-down")
    finally:
        await client.aclose()
        await mgr.__aexit__(None, None, None)

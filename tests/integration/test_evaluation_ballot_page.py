"""The citizens' ballot page in a real headless Chromium (Debian's, with Noto CJK), through a real gateway
served over HTTP: no JavaScript, SMS verification, one ballot, opinions to the unit."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.common.suite import SERVICES

from ..support import LoopbackServer
from .test_evaluation_trust import API, act, new_campaign

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / ".run" / "screenshots"


@pytest.fixture(scope="module")
async def site(suite, settings_kwargs, keys):
    """The gateway on a real socket (Chromium needs one), over the suite's in-process services."""
    settings = GatewaySettings(**settings_kwargs, upstreams={n: f"http://{n}.test" for n in SERVICES},
                               staff_jwt_public_key=keys["staff_public"], rate_limits={})
    app = create_app(settings)
    async with LifespanManager(app):
        await app.state.http.aclose()
        app.state.http = httpx.AsyncClient(
            mounts={f"http://{n}.test": httpx.ASGITransport(app=suite.apps[n]) for n in SERVICES})
        async with LoopbackServer(app) as server, httpx.AsyncClient(base_url=server.base_url) as client:
            yield server.base_url, client
        await app.state.http.aclose()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (install-deps.sh)")
async def test_a_citizen_votes_on_a_phone_without_javascript(site, ids, settings_kwargs, keys):
    from playwright.async_api import async_playwright

    base, http = site
    tag = secrets.token_hex(3)
    units = [{"unit_id": f"H5{tag}-{i}", "name": name, "category": cat} for i, (name, cat) in enumerate(
        [("市行政审批局", "机关科室"), ("市不动产登记中心", "机关科室"), ("城东派出所", "基层站所")])]
    cid = await new_campaign(http, ids, units, categories=["机关科室", "基层站所"], min_ballots=1,
                             name="鄂州市2026年万人评机关")
    draft = await http.get(f"/vote/{cid}")
    assert draft.status_code == 404 and "没有这项测评" in draft.text  # a draft is not shown to the public
    await act(http, ids, cid, "open")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        context = await browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False,
                                            locale="zh-CN", device_scale_factor=1, is_mobile=True)
        page = await context.new_page()
        response = await page.goto(f"{base}/vote/{cid}")
        assert response.status == 200
        assert await page.locator("h1").inner_text() == "鄂州市2026年万人评机关"
        assert await page.get_by_text("市不动产登记中心").count() == 1
        # Step 1: the code by SMS (read here from the sealed event, as notification would).
        await page.fill("#phone-code", "138 0013 8001")
        await page.get_by_role("button", name="获取短信验证码").click()
        assert "验证码已发送" in await page.get_by_role("status").inner_text()
        code = await _code(settings_kwargs, keys, cid)
        # Step 2: rate two units, one opinion, submit.
        await page.fill("#code", code)
        await page.check('input[name="r1"][value="5"]')
        await page.check('input[name="r3"][value="2"]')
        await page.fill("#o3", "夜间出警较慢, 希望改进。")
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "vote-390.png"), full_page=True)
        await page.get_by_role("button", name="提交评议").click()
        assert "投票成功" in await page.get_by_role("status").inner_text()
        await page.screenshot(path=str(SHOTS / "vote-done-390.png"))
        # The same phone again, written differently: refused on the page, in Chinese.
        await page.goto(f"{base}/vote/{cid}")
        await page.fill("#phone", "+86 13800138001")
        await page.fill("#code", code)
        await page.check('input[name="r2"][value="1"]')
        await page.get_by_role("button", name="提交评议").click()
        assert "验证码不正确或已失效" in await page.get_by_role("alert").inner_text()
        await browser.close()
    preview = (await http.get(f"{API}/campaigns/{cid}/rankings", headers=ids.bearer("auditor"))).json()
    counted = {u["unit_id"]: u["ballots"] for c in preview["categories"] for u in c["ranking"]}
    assert counted == {units[0]["unit_id"]: 1, units[2]["unit_id"]: 1}
    opinions = (await http.get(f"{API}/campaigns/{cid}/opinions",
                               headers=ids.bearer("unit_handler", unit=units[2]["unit_id"]))).json()
    assert [o["text"] for o in opinions["items"]] == ["夜间出警较慢, 希望改进。"]


async def _code(settings_kwargs, keys, cid):
    import orjson

    from services.common.contracts.evaluation import VoterCodeRequested
    from services.common.crypto import KeyRing, Sealed

    from .test_evaluation_trust import kafka_event
    ring = KeyRing.parse(keys["contact_keyring"])

    def mine(data):
        if data["campaign_id"] != cid:
            return None
        s = data["sealed"]
        return orjson.loads(ring.open(Sealed.from_text(s["kid"], s["nonce"], s["ciphertext"]), b"voter-code"))
    return (await kafka_event(settings_kwargs, VoterCodeRequested, mine))["code"]

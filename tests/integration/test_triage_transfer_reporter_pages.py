"""The citizen's pages in a real headless browser (Debian's chromium through Playwright), at a phone's
width, through the gateway served on a real socket: the QR form (Post/Redirect/Get), the receipt, the
lookup page with the outcome and the rating link, and the rating page. Screenshots go to
``.run/screenshots/`` (or ``ZUOFENG_SCREENSHOTS_DIR``) for a person to look at.

Named after triage's modules so that it runs after ``test_triage_daily`` (which must be the first to touch
the unit directory) in a whole run."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.intake.models import clues

from ..support import REPO, LoopbackServer, eventually
from .test_triage_transfer_loop import UNIT, directory, transferred, unit_files

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Under the git-ignored .run/ (the copies in docs/screenshots/ were taken this way): a run dirties nothing.
SHOTS = Path(os.environ.get("ZUOFENG_SCREENSHOTS_DIR") or REPO / ".run" / "screenshots")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (deploy/local/install-deps.sh installs it)")


@pytest.fixture
async def gateway_url(suite):
    async with LoopbackServer(suite.apps["gateway"]) as server:
        yield server.base_url


@pytest.fixture
async def phone():
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                            java_script_enabled=False)
        yield await context.new_page()
        await browser.close()


async def clue_count(suite, poster_code: str) -> int:
    async with suite.apps["intake"].state.sessions() as session:
        return await session.scalar(select(func.count()).select_from(clues).where(clues.c.poster_code == poster_code))


async def test_a_citizen_reports_follows_and_rates_on_a_phone(suite, ids, gateway_url, phone):
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 — a local directory, once
    await directory(suite, ids)
    poster = (await suite.gateway.post("/api/v1/intake/posters", headers=ids.bearer("triage_officer"), json={
        "unit_id": UNIT, "place": "南关街道便民服务中心一楼大厅", "title": "作风问题随手拍"})).json()

    # The QR page: where the report goes, said truthfully; a one-time form token.
    await phone.goto(f"{gateway_url}/qr/{poster['code']}")
    page_text = await phone.inner_text("body")
    assert "纪委监委作风建设监督平台" in page_text and "直接转交该地点的责任单位" not in page_text
    await phone.screenshot(path=SHOTS / "qr-report.png", full_page=True)
    await phone.fill("#text", "大厅窗口工作人员上班时间玩手机，群众排队半小时无人办理。")
    await phone.click("button[type=submit]")
    assert re.search(rf"/qr/{poster['code']}/done/[\w-]+$", phone.url), phone.url
    code = (await phone.inner_text("#receipt-code")).strip()
    tracking = (await phone.inner_text("#tracking-number")).strip()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){4}", code) and "已受理" not in await phone.inner_text("body")
    await phone.screenshot(path=SHOTS / "qr-done.png", full_page=True)

    # Reloading the receipt files nothing again (Post/Redirect/Get), and still shows the same receipt.
    assert await clue_count(suite, poster["code"]) == 1
    await phone.reload()
    assert (await phone.inner_text("#tracking-number")).strip() == tracking
    assert await clue_count(suite, poster["code"]) == 1
    # The same form sent again (the back button, a double tap) lands on the same receipt.
    token = phone.url.rsplit("/", 1)[1]
    again = await suite.gateway.post(f"/api/v1/intake/qr/{poster['code']}/reports", headers={"accept": "text/html"},
                                     data={"text": "同一份表单再次提交", "form_token": token})
    assert again.status_code == 303 and again.headers["location"].endswith(f"/done/{token}")
    assert await clue_count(suite, poster["code"]) == 1

    # The lookup page, from the receipt's link: the status by the code.
    await phone.click("text=办理进度查询")
    await phone.fill("#code", code)
    await phone.click("button[type=submit]")
    assert (await phone.inner_text("#status-label")).strip() == "已登记"

    # The clue goes the transfer's way back; the lookup page then shows the outcome and the rating link.
    async with suite.apps["intake"].state.sessions() as session:
        clue_id = str(await session.scalar(select(clues.c.id).where(clues.c.poster_code == poster["code"])))
    await transferred(suite, ids, clue_id)
    assert (await unit_files(suite, ids, clue_id)).status_code == 201
    accepted = await suite.gateway.post(f"/api/v1/triage/transfers/{clue_id}/review",
                                        headers=ids.bearer("triage_officer"),
                                        json={"decision": "accept", "outcome_summary": "已对当事人批评教育，调整窗口值守。"})
    assert accepted.status_code == 200, accepted.text

    async def rated_link_shown():
        await phone.goto(f"{gateway_url}/api/v1/intake/receipts")
        await phone.fill("#code", code)
        await phone.click("button[type=submit]")
        return await phone.locator("a", has_text="点击评价").count()
    await eventually(rated_link_shown, timeout=30, interval=0.5)
    assert (await phone.inner_text("#status-label")).strip() == "已办结（有调查结论）"
    assert "调整窗口值守" in await phone.inner_text("#outcome")
    await phone.screenshot(path=SHOTS / "receipt-lookup.png", full_page=True)

    # The rating page, public, without JavaScript: choose, comment, submit; a reload shows the thanks.
    # The link is on the public base URL (PUBLIC_BASE_URL); here the gateway listens on a port of its own.
    href = await phone.locator("a", has_text="点击评价").get_attribute("href")
    path = re.sub(r"^https?://[^/]+", "", href)
    assert path.startswith("/api/v1/notification/ratings/"), href
    await phone.goto(gateway_url + path)
    await phone.screenshot(path=SHOTS / "rating.png", full_page=True)
    await phone.check("input[name=rating][value='4']")
    await phone.fill("#comment", "处理及时，态度改善")
    await phone.click("button[type=submit]")
    thanks = await phone.inner_text("#rating-thanks")
    assert "感谢您的评价" in thanks and "满意" in thanks and "处理及时" in thanks
    await phone.reload()
    assert "感谢您的评价" in await phone.inner_text("#rating-thanks")
    await phone.screenshot(path=SHOTS / "rating-done.png", full_page=True)

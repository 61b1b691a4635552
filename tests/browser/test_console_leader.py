"""领导: the dashboard, signed in through Keycloak as the local auditor."""

from __future__ import annotations

import os
import shutil

from .conftest import ROOT


async def test_the_leader_signs_in_and_sees_the_dashboard(sign_in):
    leader = await sign_in("leader")
    page = leader.page
    await leader.shot("dashboard-first")
    await page.wait_for_selector("[data-test=kpis]", timeout=20000)
    assert page.url.endswith("/console/dashboard"), page.url  # the role's home page
    who = await page.locator("[data-test=who]").inner_text()
    assert "领导" in who and "auditor" not in who  # the role's label, never its code
    assert await page.get_by_text("单位 × 问题类型 热力图").count() == 1
    # The charts are drawn (ECharts canvases), the KPI cards carry Chinese titles.
    await page.wait_for_selector(".chart canvas", timeout=15000)
    assert await page.locator(".chart canvas").count() >= 2
    assert await page.get_by_text("按期办结率(%)").count() == 1
    # The side menu offers the leader's pages only: no triage queue, no case workbench.
    menu = await page.locator(".el-aside").inner_text()
    assert "领导驾驶舱" in menu and "线索队列" not in menu and "案件列表" not in menu
    # A page of another role is refused in the console too (and the API refuses it anyway).
    await page.goto(f"{leader.base}/console/triage/queue")
    await page.wait_for_selector("text=无权访问")
    await page.goto(f"{leader.base}/console/dashboard")
    await page.wait_for_selector(".chart canvas")
    path = await leader.shot("dashboard")
    if os.environ.get("CONSOLE_README_SHOTS"):  # refresh the README's picture on request, not on every run
        shutil.copy(path, ROOT / "docs" / "img" / "console-dashboard.png")

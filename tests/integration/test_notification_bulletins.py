"""Bulletins and notices through the gateway, played as the officer, the units and the public: publication
scope (unit / sector / citywide), Chinese labels instead of codes, the monthly bulletin reviewed and
published by an officer, and what the docs call public being public — without internal addresses."""

from __future__ import annotations

import secrets
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from services.common.contracts.accountability import RectificationAssigned, TypicalCasePublished
from services.common.contracts.evaluation import CategoryResult, Consequence, RankedUnit, ResultsPublished
from services.common.contracts.triage import DailySheetCount, DailySheetPublished
from services.common.db import session_scope
from services.notification import service
from services.notification.models import units

from ..support import eventually
from .directory_helper import imported_units

API = "/api/v1/notification"
UNITS_YAML = """
regions:
  - id: bs
    name: 通报测试区
    agencies:
      - {id: bs-zjj, name: 通报测试区住建局, category: 机关科室,
         sections: [{id: bs-zjj-wy, name: 物业管理科, category: 机关科室}, {id: bs-zjj-zj, name: 质监站, category: 基层站所}]}
      - {id: bs-cgj, name: 通报测试区城管局, category: 机关科室}
""".encode()
ALL_UNITS = ("bs-zjj", "bs-zjj-wy", "bs-zjj-zj", "bs-cgj")


async def publish_as(suite, name: str, *contracts) -> None:
    app = suite.apps[name]
    async with session_scope(app.state.sessions) as session:
        await app.state.outbox.publish_many(session, list(contracts))


@pytest.fixture(scope="module")
async def directory(suite, ids):
    async with imported_units(suite, ids, UNITS_YAML, ("bs", *ALL_UNITS)):
        await eventually(_known(suite))
        yield


def _known(suite):
    async def known():
        async with suite.apps["notification"].state.sessions() as session:
            rows = (await session.execute(select(units.c.unit_id, units.c.level)
                                          .where(units.c.unit_id.in_(ALL_UNITS)))).all()
        return len(rows) == len(ALL_UNITS) and all(r.level for r in rows)

    return known


async def inbox(suite, ids, unit: str) -> list[dict]:
    response = await suite.gateway.get(f"{API}/inbox", headers=ids.bearer("unit_handler", unit=unit))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def public_titles(suite) -> set[str]:
    response = await suite.gateway.get(f"{API}/bulletins", params={"limit": 500})
    assert response.status_code == 200, response.text
    return {b["title"] for b in response.json()["items"]}


async def test_a_bulletin_reaches_only_the_audience_its_scope_allows(suite, ids, directory):
    tag = secrets.token_hex(3)
    unit_scope = f"关于物业管理科科员张某某推诿扯皮问题的通报{tag}"
    sector_scope = f"关于质监站站长李某某作风问题的通报{tag}"
    citywide = f"关于某区城管局吃拿卡要问题的通报{tag}"
    now = datetime.now(UTC)
    await publish_as(suite, "accountability",
                     TypicalCasePublished(case_id=uuid.uuid4(), title=unit_scope, scope="unit", unit_id="bs-zjj-wy",
                                          body="经查，科员张某某推诿扯皮，主要负责人王某某负有领导责任。", published_at=now),
                     TypicalCasePublished(case_id=uuid.uuid4(), title=sector_scope, scope="sector",
                                          unit_id="bs-zjj-zj", body="站长李某某被诫勉谈话。", published_at=now),
                     TypicalCasePublished(case_id=uuid.uuid4(), title=citywide, scope="citywide", unit_id="bs-cgj",
                                          body="经查属实，已作出处理。", published_at=now))

    async def delivered():
        titles = {u: {m["title"] for m in await inbox(suite, ids, u)} for u in ALL_UNITS}
        tree = ("bs-zjj", "bs-zjj-wy", "bs-zjj-zj")
        return titles if all(any(sector_scope in t for t in titles[u]) for u in tree) and \
            any(unit_scope in t for t in titles["bs-zjj-wy"]) else None

    titles = await eventually(delivered, timeout=30)
    assert await eventually(lambda: _has(suite, citywide))
    public = await public_titles(suite)
    assert unit_scope not in public and sector_scope not in public, "scoped notices are never public"
    assert f"单位内通报：{unit_scope}" in titles["bs-zjj-wy"]
    assert not any(unit_scope in t for u in ("bs-zjj", "bs-zjj-zj", "bs-cgj") for t in titles[u])
    for member in ("bs-zjj", "bs-zjj-wy", "bs-zjj-zj"):  # the agency's whole tree, and no other agency
        assert f"系统内通报：{sector_scope}" in titles[member], member
    assert not any(sector_scope in t for t in titles["bs-cgj"])
    [notice] = [m for m in await inbox(suite, ids, "bs-zjj-wy") if unit_scope in m["title"]]
    assert "王某某" in notice["body"] and "不得对外公开" in notice["body"]


async def _has(suite, title: str) -> bool:
    return title in await public_titles(suite)


async def test_units_read_labels_not_codes(suite, ids, directory):
    clue = await suite.gateway.post("/api/v1/intake/reports", headers=ids.bearer("triage_officer"),
                                    json={"channel": "petition", "text": "物业管理科对群众诉求推诿扯皮、踢皮球"})
    clue_id = clue.json()["id"]

    async def triage_has_it():
        r = await suite.gateway.get(f"/api/v1/triage/clues/{clue_id}", headers=ids.bearer("triage_officer"))
        return r.status_code == 200

    await eventually(triage_has_it)
    moved = await suite.gateway.patch(f"/api/v1/triage/clues/{clue_id}", headers=ids.bearer("triage_officer"), json={
        "decision": "transfer", "unit_id": "bs-cgj", "type_code": "buck_passing", "reason": "转城管局办理"})
    assert moved.status_code == 200, moved.text
    case_id = uuid.uuid4()
    await publish_as(suite, "accountability", RectificationAssigned(
        rectification_id=uuid.uuid4(), case_id=case_id, case_number="ZFA-2026-0042", unit_id="bs-cgj",
        task="建立首问负责制", deadline=date.today() + timedelta(days=30)))
    ranking = [RankedUnit(unit_id="bs-cgj", unit_name="通报测试区城管局", rank=1, score=95.0, grade="excellent")]
    await publish_as(suite, "evaluation", ResultsPublished(
        campaign_id=uuid.uuid4(), name=f"万人评机关{secrets.token_hex(2)}", period="2026", published_at=datetime.now(UTC),
        categories=[CategoryResult(category="机关科室", ranking=ranking, top_ten=["bs-cgj"], bottom_ten=[])],
        consequences=[Consequence(kind="exemplar", unit_id="bs-cgj", unit_name="通报测试区城管局",
                                  reason="评议位列十优满意单位")]))

    async def messages():
        items = await inbox(suite, ids, "bs-cgj")
        by = {m["template"]: m for m in items}
        wanted = {"unit/transfer_assigned", "unit/rectification_assigned", "unit/consequence"}
        return by if wanted <= set(by) else None

    by = await eventually(messages, timeout=30)
    transfer = by["unit/transfer_assigned"]["body"]
    assert "问题类型：中梗阻/踢皮球" in transfer and "buck_passing" not in transfer
    rectification = by["unit/rectification_assigned"]
    assert "ZFA-2026-0042" in rectification["title"] and "案件（编号：ZFA-2026-0042）" in rectification["body"]
    exemplar = by["unit/consequence"]["body"]
    assert "通报表扬" in exemplar and "整改" not in exemplar


async def test_the_monthly_bulletin_waits_for_an_officer_to_publish_it(suite, ids):
    month = date(2025, 3, 1)  # a month no other test touches
    await publish_as(suite, "triage", DailySheetPublished(
        run_date=date(2025, 3, 4), total=15, published_at=datetime(2025, 3, 4, 10, tzinfo=UTC),
        by_type=[DailySheetCount(key="buck_passing", count=9), DailySheetCount(key="lawless", count=6)]))
    app = suite.apps["notification"]

    async def sheet_kept():
        async with session_scope(app.state.sessions) as session:
            return await service.compose_monthly_bulletin(session, month=month, published_at=datetime.now(UTC))

    assert await eventually(sheet_kept)
    assert "2025年3月作风建设监督通报" not in await public_titles(suite), "a draft is not published"
    denied = await suite.gateway.get(f"{API}/bulletins/drafts", headers=ids.bearer("unit_handler", unit="bs-cgj"))
    assert denied.status_code == 403
    anonymous = await suite.gateway.get(f"{API}/bulletins/drafts")
    assert anonymous.status_code in (401, 403)
    drafts = await suite.gateway.get(f"{API}/bulletins/drafts", headers=ids.bearer("triage_officer"))
    assert drafts.status_code == 200, drafts.text
    [draft] = [d for d in drafts.json()["items"] if d["period"] == "2025-03"]
    assert draft["status"] == "draft"
    assert "其中中梗阻/踢皮球9件、不讲法纪乱办事6件" in draft["body"] and "buck_passing" not in draft["body"]
    hidden = await suite.gateway.get(f"{API}/bulletins/{draft['id']}")
    assert hidden.status_code == 404
    reviewed = draft["body"] + "\n各单位要引以为戒。"
    published = await suite.gateway.post(f"{API}/bulletins/{draft['id']}:publish", json={"body": reviewed},
                                         headers=ids.bearer("triage_officer"))
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published" and published.json()["body"] == reviewed
    again = await suite.gateway.post(f"{API}/bulletins/{draft['id']}:publish", headers=ids.bearer("triage_officer"))
    assert again.status_code == 404 and "待审核" in again.json()["detail"]
    public = await suite.gateway.get(f"{API}/bulletins/{draft['id']}")
    assert public.status_code == 200 and public.json()["body"] == reviewed


async def test_what_the_docs_call_public_is_public_and_names_only_public_addresses(suite):
    catalog = await suite.gateway.get("/api/v1/intake/catalog")
    assert catalog.status_code == 200, catalog.text
    assert {"code": "transferred", "label": "转办"} in catalog.json()["hotline_stages"]
    enumerations = await suite.gateway.get(f"{API}/enumerations")
    assert enumerations.status_code == 200 and enumerations.json()["publication_scopes"]["unit"] == "单位内通报"
    atom = await suite.gateway.get(f"{API}/bulletins", params={"format": "atom"})
    assert atom.status_code == 200
    base = suite.apps["notification"].state.settings.public_base_url.rstrip("/")
    self_link = ET.fromstring(atom.content).find("{http://www.w3.org/2005/Atom}link").get("href")
    assert self_link == f"{base}{API}/bulletins?format=atom"
    slashed = await suite.gateway.get(f"{API}/bulletins/")
    assert slashed.status_code in (307, 308)
    assert slashed.headers["location"] == f"{API}/bulletins", slashed.headers["location"]
    assert "notification.test" not in atom.text and "127.0.0.1:81" not in atom.text

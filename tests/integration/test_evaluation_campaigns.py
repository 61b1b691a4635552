"""万人评机关 end to end on real PostgreSQL and Kafka: an Ezhou-like campaign (four categories, 十优/十差 by
hand-computed expectation), a Jintan-like campaign of 100 key sections, ballots, stuffing, publication."""

from __future__ import annotations

import math
import random
import secrets
import uuid
from datetime import UTC, datetime
from fractions import Fraction

import orjson
from aiokafka import AIOKafkaConsumer

from services.common.auth import Principal
from services.common.contracts.evaluation import ResultsPublished
from services.evaluation.domain import EZHOU_CATEGORIES

from ..support import eventually

API = "/api/v1/evaluation"


# These campaigns check ranking at scale; they name the rules they assert (never every seed's at once).
ALL_RULES = ["unqualified_yellow_card", "consecutive_unqualified_recall", "veto_recall", "last_ranked_principals",
             "key_section_bottom_three", "exemplars"]


def gateway_identity(ids):
    return ids.internal(Principal(kind="service", subject="service:sms-gateway"))


async def create_campaign(suite, ids, **body) -> str:
    body.setdefault("name", f"万人评机关 {secrets.token_hex(3)}")
    body.setdefault("rule_preset", "custom")
    body.setdefault("rules", ALL_RULES)
    body.setdefault("min_ballots", 1)
    body.setdefault("series", f"series-{secrets.token_hex(4)}")
    body.setdefault("year", 2026)
    r = await suite.gateway.post(f"{API}/campaigns", json=body, headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def act(suite, ids, cid, action, expect=200):
    r = await suite.gateway.post(f"{API}/campaigns/{cid}/transitions", json={"action": action},
                                 headers=ids.bearer("evaluation_admin"))
    assert r.status_code == expect, r.text
    return r.json()


async def post_batch(suite, ids, cid, ballots):
    """As an SMS/WeChat platform (service key; the signed path through the gateway is test_evaluation_trust's)."""
    r = await suite.evaluation.post(f"{API}/campaigns/{cid}/ballots:batch", json={"ballots": ballots},
                                    headers=gateway_identity(ids))
    assert r.status_code == 200, r.text
    return r.json()


async def post_scores(suite, ids, cid, source, scorer, scores):
    r = await suite.gateway.post(f"{API}/campaigns/{cid}/scores",
                                 json={"source": source, "scorer": scorer, "scores": scores},
                                 headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 200, r.text


def expected_ranking(unit_ids, marks, entered, weights):
    """The expectation by plain arithmetic from the raw inputs (not the service's scoring code):
    citizen = (mean mark − 1) × 25; entered sources = mean of scorers; data = 100 (no events);
    composite = Σ weight × score over present sources ÷ Σ those weights, exact, 四舍五入 to 2 decimals;
    order: composite desc, citizen desc, ballot marks desc, unit id asc."""
    def q(x):  # half up to 2 decimals, exactly
        return Fraction(math.floor(x * 100 + Fraction(1, 2)), 100)

    rows = []
    for u in unit_ids:
        scores = {"data": Fraction(100)}
        if marks[u]:
            scores["citizen"] = (Fraction(sum(marks[u]), len(marks[u])) - 1) * 25
        for source, by_scorer in entered.items():
            values = [Fraction(repr(s[u])) for s in by_scorer.values() if u in s]
            if values:
                scores[source] = sum(values) / len(values)
        present = {s: Fraction(repr(w)) for s, w in weights.items() if w > 0 and s in scores}
        composite = q(sum(scores[s] * w for s, w in present.items()) / sum(present.values()))
        rows.append((-composite, -q(scores.get("citizen", Fraction(-1))), -len(marks[u]), u, float(composite)))
    rows.sort()
    return [(r[3], r[4]) for r in rows]


def expected_grade(score, vetoed):
    grade = ("excellent" if score >= 90 else "qualified" if score >= 75
             else "basically_qualified" if score >= 60 else "unqualified")
    return "qualified" if vetoed and grade == "excellent" else grade


async def results_event(settings_kwargs, campaign_id: str) -> dict:
    consumer = AIOKafkaConsumer(
        ResultsPublished.topic(settings_kwargs["topic_prefix"]),
        bootstrap_servers=settings_kwargs["kafka_bootstrap_servers"], group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        async def probe():
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                for record in records:
                    data = orjson.loads(record.value)["data"]
                    if data["campaign_id"] == campaign_id:
                        return data
            return None
        return await eventually(probe, timeout=30)
    finally:
        await consumer.stop()


async def test_ezhou_campaign_publishes_ten_best_and_ten_worst_per_category(suite, ids, settings_kwargs):
    rng = random.Random(2019)
    cid = await create_campaign(suite, ids, name="鄂州市2026年万人评机关")
    units = {c: [f"E{k}-{i:02d}" for i in range(26)] for k, c in enumerate(EZHOU_CATEGORIES)}
    quality = {u: rng.uniform(1.4, 4.9) for us in units.values() for u in us}
    payload = [{"unit_id": u, "name": f"{c}{i:02d}号", "category": c}
               for c, us in units.items() for i, u in enumerate(us)]
    r = await suite.gateway.post(f"{API}/campaigns/{cid}/units", json={"units": payload},
                                 headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 200 and r.json()["units"] == 104, r.text
    await act(suite, ids, cid, "open")

    all_units = list(quality)
    marks: dict[str, list[int]] = {u: [] for u in all_units}
    ballots = []
    for v in range(400):
        rated = rng.sample(all_units, 8)
        ratings = {u: max(1, min(5, round(quality[u] + rng.uniform(-1, 1)))) for u in rated}
        for u, m in ratings.items():
            marks[u].append(m)
        ballots.append({"voter": f"1390000{v:04d}", "channel": rng.choice(["sms", "wechat"]),
                        "source": f"cell-{v % 50}", "ratings": ratings})
    receipt = await post_batch(suite, ids, cid, ballots)
    assert receipt == {"accepted": 400, "duplicates": [], "rejected": []}
    # The same voters again (spelled differently) and one unknown unit: nothing more is counted.
    again = await post_batch(suite, ids, cid, [
        {"voter": "+86 139-0000-0001", "channel": "sms", "ratings": {all_units[0]: 1}},
        {"voter": "13900009999", "channel": "sms", "ratings": {"nobody": 5}}])
    assert again["accepted"] == 0 and again["duplicates"] == [0]
    assert again["rejected"][0]["index"] == 1 and "nobody" in again["rejected"][0]["reason"]

    entered = {"department": {}, "deputies": {}, "rectification": {}}
    for source, scorers in (("department", ["市发改委", "市财政局"]), ("deputies", ["人大代表组"]),
                            ("rectification", ["督查考评办"])):
        for scorer in scorers:
            scores = {u: round(min(100, max(0, 25 * (quality[u] - 1) + rng.uniform(-8, 8))), 1) for u in all_units}
            entered[source][scorer] = scores
            await post_scores(suite, ids, cid, source, scorer, scores)

    weights = {"citizen": 0.4, "data": 0.2, "department": 0.2, "rectification": 0.1, "deputies": 0.1}
    expectations = {c: expected_ranking(us, marks, entered, weights) for c, us in units.items()}
    vetoed = expectations[EZHOU_CATEGORIES[0]][0][0]  # the best unit of 机关科室 is hit by a veto
    r = await suite.gateway.put(f"{API}/campaigns/{cid}/units/{vetoed}/veto", json={"reason": "严重违纪案件"},
                                headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 204, r.text

    # Not published yet: the public sees nothing, the office sees a preview.
    assert (await suite.gateway.get(f"{API}/campaigns/{cid}/rankings")).status_code == 404
    await act(suite, ids, cid, "close")
    late = await suite.evaluation.post(f"{API}/campaigns/{cid}/ballots", headers=gateway_identity(ids), json={
        "voter": "13700000000", "channel": "sms", "ratings": {all_units[0]: 5}})
    assert late.status_code == 409 and late.json()["type"].endswith("/campaign-state")
    await act(suite, ids, cid, "publish")

    r = await suite.gateway.get(f"{API}/campaigns/{cid}/rankings")
    assert r.status_code == 200, r.text
    published = r.json()
    assert [c["category"] for c in published["categories"]] == EZHOU_CATEGORIES
    for cat in published["categories"]:
        expected = expectations[cat["category"]]
        assert [(u["unit_id"], u["score"]) for u in cat["ranking"]] == expected
        assert cat["top_ten"] == [u for u, _ in expected[:10]]
        assert cat["bottom_ten"] == [u for u, _ in expected[-10:]]
        for u in cat["ranking"]:
            assert u["grade"] == expected_grade(u["score"], u["unit_id"] == vetoed), u
    first = published["categories"][0]["ranking"][0]
    assert first["unit_id"] == vetoed and first["vetoed"] and first["grade"] == "qualified"

    kinds = {(c["kind"], c["unit_id"]) for c in published["consequences"]}
    for cat in published["categories"]:
        assert ("last_ranked_unit", cat["ranking"][-1]["unit_id"]) in kinds
        for u in cat["ranking"]:
            assert (("yellow_card", u["unit_id"]) in kinds) == (u["grade"] == "unqualified")
    assert ("recall_management", vetoed) in kinds and ("exemplar", vetoed) not in kinds
    assert any(k == "yellow_card" for k, _ in kinds)

    event = await results_event(settings_kwargs, cid)
    assert [c["top_ten"] for c in event["categories"]] == [c["top_ten"] for c in published["categories"]]
    assert len(event["consequences"]) == len(published["consequences"])

    svg = await suite.gateway.get(f"{API}/campaigns/{cid}/rankings.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.count("<title>") == 104 and "十优满意单位" in svg.text
    csv = await suite.gateway.get(f"{API}/campaigns/{cid}/rankings.csv")
    assert csv.status_code == 200 and len(csv.text.strip().splitlines()) == 105
    # A closed (published) campaign's ballots are final.
    r = await suite.evaluation.post(f"{API}/campaigns/{cid}/ballots:batch", json={"ballots": [
        {"voter": "13600000000", "channel": "sms", "ratings": {all_units[0]: 5}}]}, headers=gateway_identity(ids))
    assert r.status_code == 409


async def jintan_campaign(suite, ids, *, series, year, quality, rng):
    cid = await create_campaign(suite, ids, name=f"金坛{year}重点科室评议", series=series, year=year,
                                categories=["重点科室"], weights={"citizen": 0.6, "department": 0.4},
                                exemplars_per_category=2)
    sections = list(quality)
    r = await suite.gateway.post(f"{API}/campaigns/{cid}/units", json={"units": [
        {"unit_id": s, "name": f"重点科室{s}", "category": "重点科室", "key_section": True} for s in sections]},
        headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 200, r.text
    await act(suite, ids, cid, "open")
    ballots = [{"voter": f"wx-{year}-{v}", "channel": "wechat", "source": f"app-{v % 30}",
                "ratings": {s: max(1, min(5, round(quality[s] + rng.uniform(-0.6, 0.6))))
                            for s in rng.sample(sections, 6)}} for v in range(500)]
    assert (await post_batch(suite, ids, cid, ballots))["accepted"] == 500
    await post_scores(suite, ids, cid, "department", "市优化办",
                      {s: round(25 * (quality[s] - 1), 1) for s in sections})
    await act(suite, ids, cid, "close")
    await act(suite, ids, cid, "publish")
    r = await suite.gateway.get(f"{API}/campaigns/{cid}/rankings")
    assert r.status_code == 200
    return r.json()


async def test_jintan_key_sections_hold_the_last_and_bottom_three_to_account(suite, ids):
    rng = random.Random(2010)
    series = f"金坛重点科室-{secrets.token_hex(3)}"
    quality = {f"K{i:03d}": 1.2 + 3.7 * i / 99 for i in range(100)}  # K000 is worst, K099 best
    first = await jintan_campaign(suite, ids, series=series, year=2025, quality=quality, rng=rng)
    (cat,) = first["categories"]
    assert len(cat["ranking"]) == 100 and len(cat["top_ten"]) == 10 and len(cat["bottom_ten"]) == 10
    bottom_three = [u["unit_id"] for u in cat["ranking"][-3:]]
    kinds = {(c["kind"], c["unit_id"]) for c in first["consequences"]}
    assert {u for k, u in kinds if k == "bottom_three_section"} == set(bottom_three)
    assert {u for k, u in kinds if k == "last_ranked_unit"} == {cat["ranking"][-1]["unit_id"]}
    assert len({u for k, u in kinds if k == "exemplar"}) == 2
    unqualified_before = {u["unit_id"] for u in cat["ranking"] if u["grade"] == "unqualified"}
    assert unqualified_before and not {u for k, u in kinds if k == "recall_management"}

    second = await jintan_campaign(suite, ids, series=series, year=2026, quality=quality, rng=rng)
    (cat2,) = second["categories"]
    unqualified_now = {u["unit_id"] for u in cat2["ranking"] if u["grade"] == "unqualified"}
    recalled = {c["unit_id"] for c in second["consequences"] if c["kind"] == "recall_management"}
    assert recalled == unqualified_before & unqualified_now and recalled  # 连续两次不合格 → 召回管理


async def test_one_ballot_per_voter_from_the_public_and_gateways(suite, ids):
    cid = await create_campaign(suite, ids, categories=["机关科室"])
    await suite.gateway.post(f"{API}/campaigns/{cid}/units", json={"units": [
        {"unit_id": "U1", "name": "窗口一", "category": "机关科室"}]}, headers=ids.bearer("evaluation_admin"))
    gateway = gateway_identity(ids)
    vote = f"{API}/campaigns/{cid}/ballots"
    draft_vote = await suite.evaluation.post(vote, headers=gateway,
                                             json={"voter": "13800000001", "channel": "sms", "ratings": {"U1": 5}})
    assert draft_vote.status_code == 409
    await act(suite, ids, cid, "open")
    first = await suite.evaluation.post(vote, headers=gateway,
                                        json={"voter": "13800000001", "channel": "sms", "ratings": {"U1": 5}})
    assert first.status_code == 201, first.text
    again = await suite.evaluation.post(vote, headers=gateway,
                                        json={"voter": "138 0000 0001", "channel": "sms", "ratings": {"U1": 1}})
    assert again.status_code == 409 and again.json()["type"].endswith("/already-voted")
    off_scale = await suite.evaluation.post(vote, headers=gateway,
                                            json={"voter": "13800000002", "channel": "sms", "ratings": {"U1": 9}})
    assert off_scale.status_code == 422
    # The public cannot post batches; an SMS gateway (kind "service") can.
    public_batch = await suite.gateway.post(f"{API}/campaigns/{cid}/ballots:batch", json={"ballots": [
        {"voter": "13800000003", "ratings": {"U1": 4}}]})
    assert public_batch.status_code == 401  # batches need a signed gateway key
    sms = await suite.evaluation.post(f"{API}/campaigns/{cid}/ballots:batch", headers=gateway, json={"ballots": [
        {"voter": "13800000003", "channel": "sms", "ratings": {"U1": 4}}]})
    assert sms.status_code == 200 and sms.json()["accepted"] == 1
    too_many = await suite.evaluation.post(f"{API}/campaigns/{cid}/ballots:batch", headers=gateway, json={
        "ballots": [{"voter": f"1380001{i:04d}", "ratings": {"U1": 3}} for i in range(10_001)]})
    assert too_many.status_code == 413
    # The voter's number is nowhere in the database.
    sessions = suite.apps["evaluation"].state.sessions
    async with sessions() as session:
        dump = (await session.execute(__import__("sqlalchemy").text(
            "SELECT string_agg(b::text, '') FROM evaluation.ballots b"))).scalar()
    assert "13800000001" not in dump and "13800000003" not in dump
    preview = await suite.gateway.get(f"{API}/campaigns/{cid}/rankings", headers=ids.bearer("evaluation_admin"))
    assert preview.json()["categories"][0]["ranking"][0]["ballots"] == 2


async def test_stuffing_is_quarantined_with_reasons_and_reviewable(suite, ids):
    cid = await create_campaign(suite, ids, categories=["基层站所"], weights={"citizen": 1.0},
                                stuffing_rules={"burst_window_seconds": 60, "burst_max": 5,
                                                "pattern_window_seconds": 300, "pattern_max": 10,
                                                "pattern_min_units": 3})
    await suite.gateway.post(f"{API}/campaigns/{cid}/units", json={"units": [
        {"unit_id": f"S{i}", "name": f"站所{i}", "category": "基层站所"} for i in range(4)]},
        headers=ids.bearer("evaluation_admin"))
    await act(suite, ids, cid, "open")
    now = datetime.now(UTC).isoformat()
    rng = random.Random(7)
    honest = [{"voter": f"1370000{i:04d}", "channel": "sms", "source": f"cell-{i}", "submitted_at": now,
               "ratings": {f"S{j}": rng.randint(2, 4) for j in range(4) if rng.random() < 0.7} or {"S0": 3}}
              for i in range(40)]
    burst = [{"voter": f"1371000{i:04d}", "channel": "sms", "source": "bot-farm", "submitted_at": now,
              "ratings": {"S1": 5}} for i in range(8)]
    wave = [{"voter": f"1372000{i:04d}", "channel": "sms", "source": f"w-{i}", "submitted_at": now,
             "ratings": {"S0": 1, "S1": 5, "S2": 1}} for i in range(12)]
    assert (await post_batch(suite, ids, cid, honest + burst + wave))["accepted"] == 60

    r = await suite.gateway.post(f"{API}/campaigns/{cid}/ballots:scan", headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 200 and r.json()["quarantined"] == 20, r.text
    page = await suite.gateway.get(f"{API}/campaigns/{cid}/ballots", params={"limit": 15},
                                   headers=ids.bearer("auditor"))
    rest = await suite.gateway.get(f"{API}/campaigns/{cid}/ballots",
                                   params={"cursor": page.json()["next_cursor"]}, headers=ids.bearer("auditor"))
    items = page.json()["items"] + rest.json()["items"]
    assert len(items) == 20 and rest.json()["next_cursor"] is None
    assert sum("同一来源集中投票" in i["reasons"][0] for i in items) == 8
    assert sum("相同评分集中出现" in i["reasons"][0] for i in items) == 12
    assert all("voter" not in i for i in items)

    released, rejected = items[0]["id"], items[1]["id"]
    for ballot, decision in ((released, "count"), (rejected, "reject")):
        r = await suite.gateway.post(f"{API}/campaigns/{cid}/ballots/{ballot}/review",
                                     json={"decision": decision}, headers=ids.bearer("evaluation_admin"))
        assert r.status_code == 200, r.text
    assert (await suite.gateway.post(f"{API}/campaigns/{cid}/ballots/{released}/review", json={"decision": "count"},
                                     headers=ids.bearer("auditor"))).status_code == 403
    # Closing scans again; reviewed ballots stay as decided.
    await act(suite, ids, cid, "close")
    preview = (await suite.gateway.get(f"{API}/campaigns/{cid}/rankings",
                                       headers=ids.bearer("evaluation_admin"))).json()
    counted_marks = sum(u["ballots"] for u in preview["categories"][0]["ranking"])
    honest_marks = sum(len(b["ratings"]) for b in honest)
    released_marks = len(items[0]["ratings"])
    assert counted_marks == honest_marks + released_marks


async def test_only_the_evaluation_office_runs_campaigns_and_drafts_stay_private(suite, ids):
    body = {"name": "未授权", "series": f"auth-{secrets.token_hex(3)}", "year": 2026}
    assert (await suite.gateway.post(f"{API}/campaigns", json=body)).status_code == 401  # sign in first
    for role in ("auditor", "investigator"):
        r = await suite.gateway.post(f"{API}/campaigns", json=body, headers=ids.bearer(role))
        assert r.status_code == 403, role
    r = await suite.gateway.post(f"{API}/campaigns", json=body, headers=ids.bearer("unit_handler", unit="U1"))
    assert r.status_code == 403
    cid = await create_campaign(suite, ids, categories=["机关科室"])
    assert (await suite.gateway.get(f"{API}/campaigns/{cid}")).status_code == 404
    assert (await suite.gateway.get(f"{API}/campaigns/{cid}", headers=ids.bearer("auditor"))).status_code == 200
    public_list = (await suite.gateway.get(f"{API}/campaigns", params={"state": "draft"})).json()
    assert cid not in [c["id"] for c in public_list["items"]]
    bad = await suite.gateway.post(f"{API}/campaigns", headers=ids.bearer("evaluation_admin"), json={
        **body, "thresholds": {"excellent": 70, "qualified": 80, "basically_qualified": 60}})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    unknown = await suite.gateway.post(f"{API}/campaigns/{cid}/units", headers=ids.bearer("evaluation_admin"),
                                       json={"units": [{"unit_id": "X", "name": "X", "category": "不存在"}]})
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("/unknown-category")
    # Publishing a draft skips the states in between: refused by the transition table.
    await act(suite, ids, cid, "publish", expect=409)


async def test_a_rolled_back_batch_leaves_nothing_and_the_next_batch_on_that_connection_works(suite, ids,
                                                                                               settings_kwargs):
    from sqlalchemy.ext.asyncio import create_async_engine

    from services.common.db import create_session_factory
    from services.evaluation import service
    from services.evaluation.schemas import BallotIn

    cid = await create_campaign(suite, ids, categories=["机关科室"])
    await suite.gateway.post(f"{API}/campaigns/{cid}/units", json={"units": [
        {"unit_id": "R1", "name": "窗口", "category": "机关科室"}]}, headers=ids.bearer("evaluation_admin"))
    await act(suite, ids, cid, "open")
    # One connection only, so the second transaction reuses the first one's connection and its caches.
    engine = create_async_engine(settings_kwargs["database_url"], pool_size=1, max_overflow=0)
    sessions = create_session_factory(engine)
    ballot = [BallotIn(voter="13500000000", channel="sms", ratings={"R1": 4})]
    origin = service.Origin("gateway", name="service:sms-gateway")
    try:
        class Abort(Exception):
            pass

        try:
            async with sessions() as session, session.begin():
                receipt = await service.ingest_ballots(session, campaign_id=uuid.UUID(cid), ballots_in=ballot,
                                                       key=b"k" * 32, origin=origin)
                assert receipt["accepted"] == 1
                raise Abort
        except Abort:
            pass
        async with sessions() as session, session.begin():
            receipt = await service.ingest_ballots(session, campaign_id=uuid.UUID(cid), ballots_in=ballot,
                                                   key=b"k" * 32, origin=origin)
        assert receipt["accepted"] == 1  # the rolled-back ballot was never stored
    finally:
        await engine.dispose()
    preview = await suite.gateway.get(f"{API}/campaigns/{cid}/rankings", headers=ids.bearer("auditor"))
    assert preview.json()["categories"][0]["ranking"][0]["ballots"] == 1

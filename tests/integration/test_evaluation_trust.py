"""Issue 17 through the real gateway, PostgreSQL and Kafka: one ballot per verified voter, rules per campaign,
exact scores. An Ezhou and a Jintan campaign are checked against ranks, grades and proposals computed by hand
(in the comments), including a unit at exactly 89.995."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from sqlalchemy import text

from gateway.app import create_app
from gateway.hotline import sign
from gateway.settings import GatewaySettings
from services.common.contracts.evaluation import ResultsPublished, VoterCodeRequested
from services.common.crypto import KeyRing, Sealed
from services.common.suite import SERVICES
from services.evaluation import service

from ..support import eventually

API = "/api/v1/evaluation"
PLATFORMS = {"sms-platform": "s" * 48, "wechat-platform": "w" * 48}  # service-kind gateway keys


@pytest.fixture(scope="module")
async def gw(suite, settings_kwargs, keys):
    """A gateway over the suite's services with the SMS and WeChat platforms' service keys."""
    settings = GatewaySettings(
        **settings_kwargs, upstreams={name: f"http://{name}.test" for name in SERVICES},
        staff_jwt_public_key=keys["staff_public"],
        hotline_keys={k: {"kind": "service", "secret": v} for k, v in PLATFORMS.items()}, rate_limits={})
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        await app.state.http.aclose()
        app.state.http = httpx.AsyncClient(
            mounts={f"http://{n}.test": httpx.ASGITransport(app=suite.apps[n]) for n in SERVICES})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app),
                                     base_url="http://gateway.test") as client:
            yield client
        await app.state.http.aclose()


async def platform_post(gw, platform: str, path: str, body) -> httpx.Response:
    raw = orjson.dumps(body)
    return await gw.post(path, content=raw, headers={
        "content-type": "application/json", **sign(platform, PLATFORMS[platform], "POST", path, raw)})


async def new_campaign(gw, ids, units, **body) -> str:
    body = {"name": f"测评 {secrets.token_hex(3)}", "series": f"s-{secrets.token_hex(4)}", "year": 2026, **body}
    r = await gw.post(f"{API}/campaigns", json=body, headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = await gw.post(f"{API}/campaigns/{cid}/units", json={"units": units}, headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 200, r.text
    return cid


async def act(gw, ids, cid, action):
    r = await gw.post(f"{API}/campaigns/{cid}/transitions", json={"action": action},
                      headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 200, r.text
    return r.json()


async def scores(gw, ids, cid, source, scorer, values):
    r = await gw.post(f"{API}/campaigns/{cid}/scores", json={"source": source, "scorer": scorer, "scores": values},
                      headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 200, r.text


def phone(n: int) -> str:
    return f"139{n:08d}"


def ballots_from_marks(marks: dict[str, list[int]], voter, channel="sms") -> list[dict]:
    """Voter j gives every unit its j-th mark, so each unit's marks are exactly those listed."""
    most = max(len(m) for m in marks.values())
    return [{"voter": voter(j), "channel": channel,
             "ratings": {u: m[j] for u, m in marks.items() if j < len(m)}} for j in range(most)]


async def kafka_event(settings_kwargs, contract, match) -> dict:
    consumer = AIOKafkaConsumer(contract.topic(settings_kwargs["topic_prefix"]),
                                bootstrap_servers=settings_kwargs["kafka_bootstrap_servers"], group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        async def probe():
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for record in records:
                    data = orjson.loads(record.value)["data"]
                    found = match(data)
                    if found:
                        return found if isinstance(found, dict) else data
            return None
        return await eventually(probe, timeout=30)
    finally:
        await consumer.stop()


def table(results) -> list[tuple]:
    return [(u["unit_id"], u["rank"], u["score_text"], u["grade_label"])
            for c in results["categories"] for u in c["ranking"]]


def proposals(results) -> set[tuple]:
    return {(c["kind"], c["unit_id"], tuple(c["grounds"])) for c in results["consequences"]}


async def test_ezhou_quarterly_assessment_and_poll_produce_the_hand_computed_results(gw, ids, suite,
                                                                                      settings_kwargs):
    tag = secrets.token_hex(3)
    A, B, C, D, E, F, G = (f"EZ{tag}-{x}" for x in "ABCDEFG")
    units = [{"unit_id": u, "name": f"鄂州{u[-1]}局", "category": "机关科室"} for u in (A, B, C, D, E, F, G)]
    year = 2031  # a year of its own: 不合格 bars 优秀 across every campaign of the year
    sessions = suite.apps["evaluation"].state.sessions

    async def overdue(unit, month):  # what accountability's rectification-overdue event records
        async with sessions() as session, session.begin():
            await service.put_fact(session, key=f"overdue:{uuid.uuid4()}", unit_id=unit,
                                   kind="overdue_rectification", value=1, occurred_on=datetime(year, month, 1).date())

    # 1. The quarterly 作风建设 assessment: its own instrument, scores entered, grades at 90/75/60.
    #    G has a rectification overdue in Q1 (整改不到位 → yellow card).
    series = f"鄂州季度考核-{tag}"
    q1 = await new_campaign(gw, ids, [u for u in units if u["unit_id"] in (A, D, E, G)], instrument="assessment",
                            quarter=1, year=year, rule_preset="ezhou", categories=["机关科室"],
                            name="鄂州作风建设2031年一季度考核", series=series, weights={"department": 1.0})
    await overdue(G, 2)
    await act(gw, ids, q1, "open")
    r = await platform_post(gw, "sms-platform", f"{API}/campaigns/{q1}/ballots:batch",
                            {"ballots": [{"voter": phone(1), "channel": "sms", "ratings": {E: 5}}]})
    assert r.status_code == 409 and "不接受投票" in r.json()["detail"]
    await scores(gw, ids, q1, "department", "市督查考评办", {E: 55.0, D: 70.0, G: 80.0})  # A: none → 数据不足
    await act(gw, ids, q1, "close")
    await act(gw, ids, q1, "publish")
    q1_results = (await gw.get(f"{API}/campaigns/{q1}/rankings")).json()
    assert table(q1_results) == [(G, 1, "80.00", "合格"), (D, 2, "70.00", "基本合格"), (E, 3, "55.00", "不合格")]
    assert [u["unit_id"] for u in q1_results["categories"][0]["insufficient_data"]] == [A]
    assert q1_results["categories"][0]["top_ten"] == [] and q1_results["instrument_label"].startswith("作风建设")
    assert proposals(q1_results) == {("yellow_card", E, ("unqualified",)),
                                     ("yellow_card", G, ("rectification_not_done",))}

    # 2. The public poll (万人评机关) under Ezhou's rules. Hand computation, citizen = (mean − 1) × 25,
    #    composite = 0.5 × citizen + 0.5 × department, 四舍五入 to 2 decimals:
    #    B: 5,5,5 → 100; 95 → 97.50, vetoed → 合格 (never 优秀), proposal: recall (一票否决)
    #    E: 5,5,5,5 → 100; 92 → 96.00, 不合格 in Q1 → 合格 (当年不得评为优秀)
    #    A: 4,4,5,5,5 → 90; 89.99 → 89.995 exactly → 90.00 优秀 (floats gave 89.99 合格)
    #    C: 4,4,4 → 75; 80 → 77.50 合格; an overdue rectification → yellow card (整改不到位)
    #    D: 2,2,3 → 33.333…; 50 → 41.666… → 41.67 不合格 → yellow card
    #    F: one ballot (min 3) → 数据不足: no rank, no grade, no proposal
    #    Top/bottom: 5 ranked → 2 each: [B, E] and [C, D]. Jintan's last-place rule does not run here.
    poll = await new_campaign(gw, ids, [u for u in units if u["unit_id"] != G], year=year, rule_preset="ezhou", categories=["机关科室"],
                              name="鄂州市2031年万人评机关", weights={"citizen": 0.5, "department": 0.5},
                              min_ballots=3)
    await act(gw, ids, poll, "open")
    marks = {B: [5, 5, 5], E: [5, 5, 5, 5], A: [4, 4, 5, 5, 5], C: [4, 4, 4], D: [2, 2, 3], F: [1]}
    receipt = await platform_post(gw, "sms-platform", f"{API}/campaigns/{poll}/ballots:batch",
                                  {"ballots": ballots_from_marks(marks, lambda j: phone(1000 + j))})
    assert receipt.status_code == 200 and receipt.json()["accepted"] == 5, receipt.text
    await scores(gw, ids, poll, "department", "市直部门评议", {B: 95.0, E: 92.0, A: 89.99, C: 80.0, D: 50.0})
    r = await gw.put(f"{API}/campaigns/{poll}/units/{B}/veto", json={"reason": "发生重大安全生产责任事故"},
                     headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 204
    await overdue(C, 5)
    await act(gw, ids, poll, "close")
    await act(gw, ids, poll, "publish")
    results = (await gw.get(f"{API}/campaigns/{poll}/rankings")).json()
    assert table(results) == [(B, 1, "97.50", "合格"), (E, 2, "96.00", "合格"), (A, 3, "90.00", "优秀"),
                              (C, 4, "77.50", "合格"), (D, 5, "41.67", "不合格")]
    (cat,) = results["categories"]
    assert cat["top_ten"] == [B, E] and cat["bottom_ten"] == [C, D]
    assert [(u["unit_id"], u["grade_label"]) for u in cat["insufficient_data"]] == [(F, "数据不足")]
    assert proposals(results) == {("recall_management", B, ("vetoed",)), ("yellow_card", D, ("unqualified",)),
                                  ("yellow_card", C, ("rectification_not_done",))}
    recall = next(c for c in results["consequences"] if c["kind"] == "recall_management")
    assert "一票否决" in recall["title"] and "连续" not in recall["title"]
    assert results["rule_set"]["preset"] == "ezhou" and results["rule_set"]["preset_label"].startswith("鄂州")
    assert "四舍五入" in results["rounding"]
    campaign = (await gw.get(f"{API}/campaigns/{poll}")).json()
    assert campaign["rule_set"] == results["rule_set"] and campaign["min_ballots"] == 3

    event = await kafka_event(settings_kwargs, ResultsPublished, lambda d: d["campaign_id"] == poll)
    assert event["rule_set"]["preset"] == "ezhou" and event["categories"][0]["insufficient_data"] == [F]
    assert {(c["kind"], c["unit_id"]) for c in event["consequences"]} == {
        ("recall_management", B), ("yellow_card", D), ("yellow_card", C)}
    assert all(c["title"] and c["held_to_account"] for c in event["consequences"])

    # 3. Q2 of the assessment series: E 不合格 again → yellow card and recall (连续两次); G still has an overdue
    #    rectification after its Q1 yellow card → yellow card and recall (no improvement); D 76.00 合格.
    q2 = await new_campaign(gw, ids, [u for u in units if u["unit_id"] in (D, E, G)], instrument="assessment",
                            quarter=2, year=year, rule_preset="ezhou", categories=["机关科室"],
                            name="鄂州作风建设2031年二季度考核", series=series, weights={"department": 1.0})
    await overdue(G, 5)
    await act(gw, ids, q2, "open")
    await scores(gw, ids, q2, "department", "市督查考评办", {E: 58.0, D: 76.0, G: 85.0})
    await act(gw, ids, q2, "close")
    await act(gw, ids, q2, "publish")
    q2_results = (await gw.get(f"{API}/campaigns/{q2}/rankings")).json()
    assert table(q2_results) == [(G, 1, "85.00", "合格"), (D, 2, "76.00", "合格"), (E, 3, "58.00", "不合格")]
    assert proposals(q2_results) == {
        ("yellow_card", E, ("unqualified",)), ("recall_management", E, ("consecutive_unqualified",)),
        ("yellow_card", G, ("rectification_not_done",)), ("recall_management", G, ("no_improvement",))}
    titles = {c["unit_id"]: c["title"] for c in q2_results["consequences"] if c["kind"] == "recall_management"}
    assert titles[E].startswith("连续两次") and "无起色" in titles[G]


async def test_jintan_campaign_ranks_key_sections_among_key_sections(gw, ids):
    tag = secrets.token_hex(3)
    plain = [f"JT{tag}-P{i}" for i in (1, 2, 3)]
    sections = [f"JT{tag}-K{i}" for i in (1, 2, 3, 4, 5, 6)]
    units = [{"unit_id": u, "name": f"市级部门{u[-2:]}", "category": "市级机关"} for u in plain] + [
        {"unit_id": u, "name": f"重点科室{u[-2:]}", "category": "市级机关", "key_section": True} for u in sections]
    # Citizen only: P1 5,5 → 100; K1 5,4 → 87.50; K2 4,4 → 75.00; K3 3,4 → 62.50; K4 3,3 → 50.00;
    # K5 2,3 → 37.50; P3 2,2 → 25.00; P2 1,2 → 12.50; K6 one ballot → 数据不足.
    # Last of the category: P2 → 党政主要负责人. Key sections among key sections: K3, K4, K5 (over the whole
    # category only K5 would have been in the bottom three). Ezhou's yellow cards do not run here.
    cid = await new_campaign(gw, ids, units, rule_preset="jintan", categories=["市级机关"], weights={"citizen": 1.0},
                             min_ballots=2, name="金坛市2026年重点科室评议")
    await act(gw, ids, cid, "open")
    P1, P2, P3 = plain
    K1, K2, K3, K4, K5, K6 = sections
    marks = {P1: [5, 5], K1: [5, 4], K2: [4, 4], K3: [3, 4], K4: [3, 3], K5: [2, 3], P3: [2, 2], P2: [1, 2], K6: [1]}
    r = await platform_post(gw, "wechat-platform", f"{API}/campaigns/{cid}/ballots:batch",
                            {"ballots": ballots_from_marks(marks, lambda j: f"oJT{tag}{j}", channel="wechat")})
    assert r.status_code == 200 and r.json()["accepted"] == 2, r.text
    await act(gw, ids, cid, "close")
    await act(gw, ids, cid, "publish")
    results = (await gw.get(f"{API}/campaigns/{cid}/rankings")).json()
    assert table(results) == [(P1, 1, "100.00", "优秀"), (K1, 2, "87.50", "合格"), (K2, 3, "75.00", "合格"),
                              (K3, 4, "62.50", "基本合格"), (K4, 5, "50.00", "不合格"), (K5, 6, "37.50", "不合格"),
                              (P3, 7, "25.00", "不合格"), (P2, 8, "12.50", "不合格")]
    ranks = {u["unit_id"]: u["key_section_rank"] for u in results["categories"][0]["ranking"] if u["key_section"]}
    assert ranks == {K1: 1, K2: 2, K3: 3, K4: 4, K5: 5}
    assert proposals(results) == {("last_ranked_unit", P2, ("last_ranked",)),
                                  ("bottom_three_section", K3, ("key_section_bottom_three",)),
                                  ("bottom_three_section", K4, ("key_section_bottom_three",)),
                                  ("bottom_three_section", K5, ("key_section_bottom_three",))}
    last = next(c for c in results["consequences"] if c["kind"] == "last_ranked_unit")
    assert last["held_to_account"] == "党政主要负责人"
    assert results["rule_set"]["preset"] == "jintan"


async def open_poll(gw, ids, n_units=2, **body) -> tuple[str, list[str]]:
    tag = secrets.token_hex(3)
    ids_ = [f"V{tag}-{i}" for i in range(n_units)]
    cid = await new_campaign(gw, ids, [{"unit_id": u, "name": f"窗口{i}", "category": "机关科室"}
                                       for i, u in enumerate(ids_)], categories=["机关科室"], min_ballots=1, **body)
    await act(gw, ids, cid, "open")
    return cid, ids_


async def sms_code(gw, settings_kwargs, keys, cid, number, e164) -> str:
    """Ask for a code as a citizen, then read it the way notification would: from the sealed event."""
    r = await gw.post(f"{API}/campaigns/{cid}/verification-codes", json={"phone": number})
    assert r.status_code == 202, r.text
    ring = KeyRing.parse(keys["contact_keyring"])

    def mine(data):
        if data["campaign_id"] != cid:
            return None
        s = data["sealed"]
        plain = orjson.loads(ring.open(Sealed.from_text(s["kid"], s["nonce"], s["ciphertext"]), b"voter-code"))
        return plain if plain["phone"] == e164 else None
    return (await kafka_event(settings_kwargs, VoterCodeRequested, mine))["code"]


async def test_web_ballots_need_a_verified_phone_and_the_server_sets_source_channel_and_time(
        gw, ids, suite, settings_kwargs, keys):
    cid, (u0, u1) = await open_poll(gw, ids)
    vote = f"{API}/campaigns/{cid}/ballots"
    # Invented voters from one client: no code, no ballot (25 attempts, all refused).
    for i in range(25):
        r = await gw.post(vote, json={"voter": phone(5000 + i), "ratings": {u0: 1}})
        assert r.status_code == 422 and r.json()["type"].endswith("/code-required")
    # Re-labelled or back-dated: the client may not set source, channel or time.
    for extra in ({"source": f"cell-{secrets.token_hex(2)}"}, {"channel": "sms"},
                  {"submitted_at": (datetime.now(UTC) - timedelta(minutes=6)).isoformat()}):
        r = await gw.post(vote, json={"voter": "13800138000", "code": "000000", "ratings": {u0: 1}, **extra})
        assert r.status_code == 422 and "服务器设定" in r.json()["detail"], extra
    code = await sms_code(gw, settings_kwargs, keys, cid, "+86 138-0013-8000", "+8613800138000")

    async def sms_queued():
        async with suite.apps["notification"].state.sessions() as session:
            return (await session.execute(text(
                "SELECT channel, recipient, body FROM notification.deliveries "
                "WHERE template = 'evaluation/voter-code' AND body LIKE :c"), {"c": f"%{code}%"})).first()
    sms = await eventually(sms_queued)  # notification turns the event into one SMS to the sealed phone
    assert sms.channel == "sms" and sms.recipient.startswith("voter:") and "13800138000" not in sms.recipient
    assert (await gw.post(f"{API}/campaigns/{cid}/verification-codes",
                          json={"phone": "13800138000"})).status_code == 429  # one code a minute per phone
    wrong = await gw.post(vote, json={"voter": "13800138000", "code": "999999" if code != "999999" else "111111",
                                      "ratings": {u0: 5}})
    assert wrong.status_code == 422 and wrong.json()["type"].endswith("/code-invalid")
    ok = await gw.post(vote, json={"voter": "８６１３８００１３８０００", "code": code, "ratings": {u0: 5, u1: 2},
                                   "opinions": {u0: "窗口办事效率高, 但排队时间长。"}})
    assert ok.status_code == 201, ok.text
    reuse = await gw.post(vote, json={"voter": "13800138000", "code": code, "ratings": {u0: 5}})
    assert reuse.status_code == 422  # single use
    # The same voter by SMS, typed every other way: already voted.
    for variant in ("8613800138000", "008613800138000", "(138)00138000", "+86 138-0013-8000"):
        r = await platform_post(gw, "sms-platform", f"{API}/campaigns/{cid}/ballots:batch",
                                {"ballots": [{"voter": variant, "channel": "sms", "ratings": {u0: 1}}]})
        assert r.status_code == 200 and r.json()["duplicates"] == [0], (variant, r.text)
    async with suite.apps["evaluation"].state.sessions() as session:
        row = (await session.execute(text(
            "SELECT channel, source, submitted_at FROM evaluation.ballots WHERE campaign_id = :c"), {"c": cid})).one()
        codes = (await session.execute(text(
            "SELECT string_agg(code_hash::text || voter_hash::text, '') FROM evaluation.voter_codes "
            "WHERE campaign_id = :c"), {"c": cid})).scalar()
    assert row.channel == "web" and row.source == "127.0.0.1"
    assert abs(row.submitted_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert code not in codes and "13800138000" not in codes  # codes and phones only as keyed hashes
    # Opinions reach the unit (its own only) and the office.
    mine = await gw.get(f"{API}/campaigns/{cid}/opinions", headers=ids.bearer("unit_handler", unit=u0))
    assert [o["text"] for o in mine.json()["items"]] == ["窗口办事效率高, 但排队时间长。"]
    other = await gw.get(f"{API}/campaigns/{cid}/opinions", params={"unit_id": u0},
                         headers=ids.bearer("unit_handler", unit=u1))
    assert other.status_code == 403
    assert (await gw.get(f"{API}/campaigns/{cid}/opinions")).status_code == 401


async def test_platform_ballots_are_checked_and_the_office_cannot_inject(gw, ids, suite):
    cid, (u0, u1) = await open_poll(gw, ids, stuffing_rules={"burst_window_seconds": 60, "burst_max": 5,
                                                             "pattern_window_seconds": 300, "pattern_max": 50,
                                                             "pattern_min_units": 3})
    batch = f"{API}/campaigns/{cid}/ballots:batch"
    # The office's token is refused for batches, the public too.
    office = await gw.post(batch, json={"ballots": [{"voter": phone(1), "channel": "sms", "ratings": {u0: 1}}]},
                           headers=ids.bearer("evaluation_admin"))
    assert office.status_code == 403 and "服务密钥" in office.json()["detail"]
    assert (await gw.post(batch, json={"ballots": []})).status_code == 401
    before_open = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    r = await platform_post(gw, "sms-platform", batch, {"ballots": [
        {"voter": "12345", "channel": "sms", "ratings": {u0: 1}},  # invented: not a phone number
        {"voter": phone(2), "channel": "sms", "submitted_at": before_open, "ratings": {u0: 1}},  # back-dated
        {"voter": phone(3), "channel": "web", "ratings": {u0: 1}},  # re-labelled as web
        {"voter": phone(4), "channel": "sms", "ratings": {u0: 4}},
    ]})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["accepted"] == 1 and [x["index"] for x in got["rejected"]] == [0, 1, 2]
    assert "早于测评开始" in got["rejected"][1]["reason"]
    # 20 ballots through one SMS cell within a minute: quarantined on scan, source named by the platform.
    r = await platform_post(gw, "sms-platform", batch, {"ballots": [
        {"voter": phone(100 + i), "channel": "sms", "source": "cell-7", "ratings": {u1: 1}} for i in range(20)]})
    assert r.json()["accepted"] == 20
    r = await gw.post(f"{API}/campaigns/{cid}/ballots:scan", headers=ids.bearer("evaluation_admin"))
    assert r.json()["quarantined"] == 20
    page = (await gw.get(f"{API}/campaigns/{cid}/ballots", headers=ids.bearer("auditor"))).json()
    assert {i["source"] for i in page["items"]} == {"service:sms-platform/cell-7"}
    # An office import of paper ballots: audited (who, file hash, count), shown, quarantined until reviewed.
    raw = orjson.dumps({"file_name": "纸质问卷-第1批.json", "ballots": [
        {"voter": phone(900 + i), "ratings": {u1: 5}} for i in range(30)]})
    r = await gw.post(f"{API}/campaigns/{cid}/ballots:import", content=raw,
                      headers={"content-type": "application/json", **ids.bearer("evaluation_admin", subject="李考评")})
    assert r.status_code == 201, r.text
    assert r.json()["file_sha256"] == hashlib.sha256(raw).hexdigest() and r.json()["accepted"] == 30
    campaign = (await gw.get(f"{API}/campaigns/{cid}", headers=ids.bearer("auditor"))).json()
    (imp,) = campaign["imports"]
    assert (imp["imported_by"], imp["ballots"], imp["file_sha256"]) == ("李考评", 30, hashlib.sha256(raw).hexdigest())
    (public_view,) = (await gw.get(f"{API}/campaigns/{cid}")).json()["imports"]
    assert public_view["ballots"] == 30 and "imported_by" not in public_view
    csv_text = (await gw.get(f"{API}/campaigns/{cid}/rankings.csv", headers=ids.bearer("auditor"))).text
    assert f"{u1}," in csv_text and "数据不足" in csv_text  # the unit with no counted ballot, listed as such
    preview = (await gw.get(f"{API}/campaigns/{cid}/rankings", headers=ids.bearer("auditor"))).json()
    counted = {u["unit_id"]: u["ballots"] for u in preview["categories"][0]["ranking"]}
    assert counted.get(u1, 0) == 0 and counted[u0] == 1  # neither the burst nor the import counts yet
    async with suite.apps["evaluation"].state.sessions() as session:
        audited = (await session.execute(text(
            "SELECT actor, details FROM evaluation.audit_log WHERE action = 'ballots.import' AND entity_id = :c"),
            {"c": cid})).one()
    assert audited.actor == "李考评" and audited.details["ballots"] == 30

"""The daily run as the office lives it, through the gateway on real Kafka and PostgreSQL: an early run
leaves the day open, re-runs issue sheet versions, runs are jobs, a missed cut-off is caught up at
start-up, and 即查即办 clues are screened on arrival. The clock is injected: nothing here depends on the
time of day the tests run at."""

from __future__ import annotations

import random
import secrets
import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy import update

from services.common.contracts.triage import ClueTriaged
from services.triage.daily_run import SHANGHAI
from services.triage.models import clues
from services.triage.runs import catch_up, fail_abandoned, queue_run

from ..support import eventually
from .test_triage_daily import post, read_topic, run_through_gateway, triage_clue

IDLE = "{n}号窗口的工作人员上班时间一直在玩手机打游戏，群众排队等了一个多小时也不理，编号{tag}。"
ENTERPRISE = "我公司在开发区的厂房项目报建手续被区住建局压了三个月，反复要求补材料，企业损失很大。编号{tag}。"


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)


async def arrived_at(suite, ids, text: str, at: datetime) -> dict:
    """A clue posted through intake, arriving in triage; then dated to ``at`` (the test's own day)."""
    clue = await post(suite, ids, "12345", text)
    await eventually(lambda: triage_clue(suite, ids, clue["id"]))
    async with suite.apps["triage"].state.sessions() as session:
        await session.execute(update(clues).where(clues.c.id == uuid.UUID(clue["id"])).values(received_at=at))
        await session.commit()
    return clue


async def test_an_early_run_leaves_the_day_open_and_the_catch_up_takes_the_rest(suite, ids):
    day = date(2025, 1, 6) + timedelta(days=random.SystemRandom().randrange(300))  # this test's own day
    state = suite.apps["triage"].state
    morning = await arrived_at(suite, ids, IDLE.format(n=3, tag=secrets.token_hex(3)), local(day, 9))
    afternoon = await arrived_at(suite, ids, IDLE.format(n=5, tag=secrets.token_hex(3)), local(day, 15))
    try:
        state.clock = lambda: local(day, 10)  # an officer runs the day at 10:00, before the 17:30 cut-off
        early = await run_through_gateway(suite, ids, day.isoformat())
    finally:
        state.clock = None
    assert early["version"] == 1 and not early["closes_day"] and early["total"] == 1
    assert datetime.fromisoformat(early["window_end"]) == local(day, 10)
    assert (await triage_clue(suite, ids, morning["id"]))["run_date"] == day.isoformat()
    later = await triage_clue(suite, ids, afternoon["id"])
    assert later["state"] == "pending" and later["run_date"] is None  # not closed out to tomorrow

    # the service was down at the cut-off: at start-up the next morning it runs the missed day
    job = await catch_up(state.sessions, state.settings, now=local(day + timedelta(days=1), 8))
    assert job is not None and job["kind"] == "catch_up" and job["state"] == "done" and job["total"] == 1
    sheet = (await suite.gateway.get(f"/api/v1/triage/daily-sheets/{day}", headers=ids.bearer("auditor"))).json()
    assert sheet["version"] == 2 and sheet["closes_day"] and sheet["total"] == 2
    assert datetime.fromisoformat(sheet["window_end"]) == local(day, 17, 30)
    assert (await triage_clue(suite, ids, afternoon["id"]))["run_date"] == day.isoformat()
    # nothing missed any more: a second start-up runs nothing
    assert await catch_up(state.sessions, state.settings, now=local(day + timedelta(days=1), 9)) is None
    first = await suite.gateway.get(f"/api/v1/triage/daily-sheets/{day}", params={"version": 1},
                                    headers=ids.bearer("auditor"))
    assert first.json()["total"] == 1 and first.json()["version"] == 1  # the older version stays readable
    missing = await suite.gateway.get(f"/api/v1/triage/daily-sheets/{day}", params={"version": 9},
                                      headers=ids.bearer("auditor"))
    assert missing.status_code == 404 and "第9版" in missing.json()["detail"]


async def test_a_run_is_a_job_only_officers_start_and_staff_follow(suite, ids):
    refused = await suite.gateway.post("/api/v1/triage/daily-runs", json={}, headers=ids.bearer("investigator"))
    assert refused.status_code == 403
    unknown = await suite.gateway.get(f"/api/v1/triage/daily-runs/{uuid.uuid4()}", headers=ids.bearer("auditor"))
    assert unknown.status_code == 404 and "没有这个每日梳理运行任务" in unknown.json()["detail"]
    hidden = await suite.gateway.get(f"/api/v1/triage/daily-runs/{uuid.uuid4()}",
                                     headers=ids.bearer("unit_handler", unit="dt-pc-ng"))
    assert hidden.status_code == 403


async def test_enterprise_clues_are_screened_on_arrival_not_at_the_cut_off(suite, ids, infra):
    clue = await post(suite, ids, "12345", ENTERPRISE.format(tag=secrets.token_hex(3)))

    async def screened():
        got = await triage_clue(suite, ids, clue["id"])
        return got if got and got["state"] != "pending" else None

    got = await eventually(screened)
    assert got["enterprise_related"] and got["run_date"] is None  # screened; on a sheet at the next run
    # 涉企 goes to an officer: accepted with its fast-lane deadline, or held for review; never set aside or
    # auto-transferred
    assert (got["decision"], got["state"]) in (("accept", "triaged"), (None, "review"))
    assert got["deadline"] or got["state"] == "review"
    # its clue-triaged event is out before any run
    prefix, bootstrap = infra["KAFKA_TOPIC_PREFIX"], infra["KAFKA_BOOTSTRAP_SERVERS"]
    events = await read_topic(bootstrap, ClueTriaged.topic(prefix),
                              lambda seen: clue["id"] in {e["data"]["clue_id"] for e in seen})
    assert [e["data"]["enterprise_related"] for e in events if e["data"]["clue_id"] == clue["id"]] == [True]
    # and the run whose window covers it lists it on the day's sheet, without screening it again
    day = date(2024, 1, 8) + timedelta(days=random.SystemRandom().randrange(300))
    state = suite.apps["triage"].state
    async with state.sessions() as session:
        await session.execute(update(clues).where(clues.c.id == uuid.UUID(clue["id"]))
                              .values(received_at=local(day, 9)))
        await session.commit()
    try:
        state.clock = lambda: local(day, 11)
        sheet = await run_through_gateway(suite, ids, day.isoformat())
    finally:
        state.clock = None
    assert sheet["total"] == 1 and {e["key"] for e in sheet["by_channel"]} == {"hotline_12345"}
    listed = await triage_clue(suite, ids, clue["id"])
    assert listed["run_date"] == day.isoformat() and listed["decision"] == got["decision"]
    # an ordinary clue still waits for the run
    plain = await post(suite, ids, "12345", IDLE.format(n=8, tag=secrets.token_hex(3)))
    waiting = await eventually(lambda: triage_clue(suite, ids, plain["id"]))
    assert waiting["state"] == "pending"


async def test_a_run_left_behind_by_a_stopped_replica_is_marked_failed_at_start_up(suite, ids):
    state = suite.apps["triage"].state
    day = date(2023, 1, 9) + timedelta(days=random.SystemRandom().randrange(300))
    job = await queue_run(state.sessions, run_date=day, kind="on_demand", triggered_by="officer-1",
                          now=local(day, 10))
    fresh = await queue_run(state.sessions, run_date=day, kind="on_demand", triggered_by="officer-2",
                            now=local(day + timedelta(days=1), 9, 50))
    assert await fail_abandoned(state.sessions, now=local(day + timedelta(days=1), 10)) == 1
    got = (await suite.gateway.get(f"/api/v1/triage/daily-runs/{job['id']}", headers=ids.bearer("auditor"))).json()
    assert got["state"] == "failed" and "运行中断" in got["error"] and got["sheet"] is None
    recent = (await suite.gateway.get(f"/api/v1/triage/daily-runs/{fresh['id']}",
                                      headers=ids.bearer("auditor"))).json()
    assert recent["state"] == "queued"  # younger than an hour: it may still be starting somewhere

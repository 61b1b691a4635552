"""大数据评议 from other services' events on the real broker: the unit directory, complaints, substantiated
cases, overdue rectifications, reporter ratings, and 取消评先评优 (Wenzhou's rule: no 优秀, but no veto)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime

from aiokafka import AIOKafkaProducer

from services.common.auth import Principal
from services.common.contracts.accountability import CaseConcluded, RectificationOverdue, UnitAwardIneligible
from services.common.contracts.notification import FeedbackReceived
from services.common.contracts.triage import ClueTriaged, UnitUpserted

from ..support import eventually

API = "/api/v1/evaluation"


async def test_events_from_other_services_become_data_scores_and_vetoes(suite, ids, settings_kwargs):
    tag = secrets.token_hex(3)
    category = f"公共服务企业-{tag}"
    water, power, gas = f"water-{tag}", f"power-{tag}", f"gas-{tag}"
    at = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)
    clue = [uuid.uuid4() for _ in range(4)]
    events = [
        UnitUpserted(unit_id=water, name="自来水公司", level="agency", category=category),
        UnitUpserted(unit_id=power, name="供电公司", level="agency", category=category),
        UnitUpserted(unit_id=gas, name="燃气公司", level="agency", category=category),
        # Water: three complaints (one merged duplicate does not count), one substantiated case, one overdue
        # rectification, two reporter ratings (2 and 4).
        *[ClueTriaged(clue_id=c, tracking_number=f"ZF-{i}", run_date=date(2026, 5, 6), unit_id=water,
                      decision="accept", received_at=at) for i, c in enumerate(clue[:3])],
        ClueTriaged(clue_id=clue[3], tracking_number="ZF-9", run_date=date(2026, 5, 6), unit_id=water,
                    decision="merge", received_at=at),
        CaseConcluded(case_id=uuid.uuid4(), case_number="AC-1", unit_id=water, finding="substantiated",
                      outcome_summary="属实", concluded_at=at),
        CaseConcluded(case_id=uuid.uuid4(), case_number="AC-2", unit_id=water, finding="unfounded",
                      outcome_summary="不属实", concluded_at=at),
        RectificationOverdue(rectification_id=uuid.uuid4(), case_id=uuid.uuid4(), unit_id=water, task="整改",
                             deadline=date(2026, 5, 1), detected_at=at),
        FeedbackReceived(clue_id=clue[0], unit_id=water, rating=2, received_at=at),
        FeedbackReceived(clue_id=clue[1], unit_id=water, rating=4, received_at=at),
        # A complaint from another year does not count in 2026.
        ClueTriaged(clue_id=uuid.uuid4(), tracking_number="ZF-old", run_date=date(2025, 5, 6), unit_id=power,
                    decision="transfer", received_at=datetime(2025, 5, 6, tzinfo=UTC)),
        # Gas lost its award eligibility for 2026: 一票否决.
        UnitAwardIneligible(unit_id=gas, year=2026, case_id=uuid.uuid4(), reason="严重案件"),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=settings_kwargs["kafka_bootstrap_servers"])
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(event.topic(settings_kwargs["topic_prefix"]),
                                         value=event.to_cloudevent().to_bytes(), key=event.key().encode())
    finally:
        await producer.stop()

    r = await suite.gateway.post(f"{API}/campaigns", json={
        "name": f"数据评议 {tag}", "series": f"data-{tag}", "year": 2026, "categories": [category],
        "weights": {"data": 1.0}, "exemplars_per_category": 1, "rule_preset": "wenzhou", "min_ballots": 1},
        headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]

    async def imported():
        r = await suite.gateway.post(f"{API}/campaigns/{cid}/units:import-directory",
                                     headers=ids.bearer("evaluation_admin"))
        return r.json()["units"] == 3

    await eventually(imported)
    # One ballot each (the citizen weight is 0 here): a unit nobody rated would have no result at all.
    r = await suite.gateway.post(f"{API}/campaigns/{cid}/transitions", json={"action": "open"},
                                 headers=ids.bearer("evaluation_admin"))
    assert r.status_code == 200
    r = await suite.evaluation.post(
        f"{API}/campaigns/{cid}/ballots:batch",
        headers=ids.internal(Principal(kind="service", subject="service:sms-gateway")),
        json={"ballots": [{"voter": f"1360000000{i}", "channel": "sms", "ratings": {u: 3}}
                          for i, u in enumerate((water, power, gas))]})
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text

    expected_water = round(0.7 * (100 - 3 * 1 - 5 - 3) + 0.3 * (3 - 1) * 25, 2)  # 77.8

    async def scored():
        r = await suite.gateway.get(f"{API}/campaigns/{cid}/rankings", headers=ids.bearer("auditor"))
        ranking = {u["unit_id"]: u for u in r.json()["categories"][0]["ranking"]}
        if ranking[water]["score"] == expected_water and ranking[gas]["no_excellent_reasons"]:
            return ranking
        return None

    ranking = await eventually(scored)
    assert ranking[power]["score"] == 100.0 and ranking[power]["grade"] == "excellent"
    assert ranking[gas]["score"] == 100.0 and ranking[gas]["grade"] == "qualified"
    assert "取消年度综合类评先评优资格" in ranking[gas]["no_excellent_reasons"][0] and not ranking[gas]["vetoed"]
    assert ranking[water]["grade"] == "qualified"
    # Ties at 100: the documented rule (citizen score, then ballots: equal here) falls to the unit id.
    assert [u for u in ranking if ranking[u]["score"] == 100.0] == sorted([gas, power])

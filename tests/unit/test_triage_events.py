"""The daily run's hand-built clue-triaged payloads decode to exactly the contract the model would give."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from services.common.contracts.triage import ClueTriaged
from services.common.events import CloudEvent
from services.triage.daily_run import clue_triaged, clue_triaged_payload
from services.triage.screen import ClueInput, Outcome
from services.triage.taxonomy import default_taxonomy


def an_outcome(**overrides) -> Outcome:
    clue = ClueInput(id=uuid.uuid4(), tracking_number="ZF-20261120-0001", channel="qr_code", subject=None,
                     text="窗口人员索要好处费，故意刁难。", unit_id=None, enterprise_related=False,
                     received_at=datetime(2026, 11, 20, 1, 2, 3, tzinfo=UTC))
    values = dict(clue=clue, classification=default_taxonomy().classify(clue.text), triggers=["approval_complaint"],
                  enterprise=True, routed_unit_id="dt-spj-qydj", route_reason="rule", decision="accept",
                  reason="五必查：服务对象反映的审批问题", deadline=date(2026, 11, 27), merged_into=uuid.uuid4())
    return Outcome(**(values | overrides))


def test_fast_payload_matches_the_contract():
    for outcome in (an_outcome(), an_outcome(merged_into=None, deadline=None, routed_unit_id=None)):
        raw = clue_triaged_payload(outcome, date(2026, 11, 20), now=datetime.now(UTC).isoformat(), traceparent=None)
        envelope = CloudEvent.from_bytes(raw)
        assert envelope.type == ClueTriaged.event_type() and envelope.subject == str(outcome.clue.id)
        assert ClueTriaged.from_cloudevent(envelope) == clue_triaged(outcome, date(2026, 11, 20))

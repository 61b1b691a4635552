"""The transfer loop's pure rules: its state table, who may act, what counts as in time."""

from __future__ import annotations

from datetime import date

import pytest

from services.common.auth import Principal
from services.common.contracts.transfers import TransferConcluded
from services.common.errors import Problem
from services.triage import transfer_rules as rules
from services.triage.transfer_schemas import TransferReview


def staff(*roles: str, unit: str | None = None) -> Principal:
    return Principal(kind="staff", subject="t", roles=frozenset(roles), unit_id=unit)


def test_a_result_is_filed_then_accepted_or_returned_and_a_concluded_transfer_takes_nothing_more():
    assert rules.next_state("assigned", "file") == "filed"
    assert rules.next_state("filed", "return") == "returned"
    assert rules.next_state("returned", "file") == "filed"
    assert rules.next_state("filed", "accept") == "concluded"
    for state, action in (("assigned", "accept"), ("returned", "return"), ("concluded", "file"),
                          ("concluded", "return")):
        with pytest.raises(Problem) as refused:
            rules.next_state(state, action)
        assert refused.value.status == 409 and rules.STATE_LABELS[state] in refused.value.detail


def test_on_time_means_on_or_before_the_deadline_day():
    assert rules.on_time(date(2026, 12, 4), date(2026, 12, 4))
    assert not rules.on_time(date(2026, 12, 4), date(2026, 12, 7))
    assert rules.on_time(None, date(2026, 12, 7))


def test_only_a_handler_of_the_unit_files_and_officers_read_every_unit():
    rules.ensure_handles_unit(staff("unit_handler", unit="u1"), "u1")
    for who in (staff("unit_handler", unit="u2"), staff("triage_officer"), staff("unit_handler")):
        with pytest.raises(Problem) as refused:
            rules.ensure_handles_unit(who, "u1")
        assert refused.value.status == 404
    assert rules.may_see_unit(staff("auditor"), "u1") and not rules.may_see_unit(staff("unit_handler", unit="u2"), "u1")


def test_a_return_needs_a_reason_and_an_acceptance_the_words_for_the_reporter():
    with pytest.raises(ValueError, match="理由"):
        TransferReview(decision="return")
    with pytest.raises(ValueError, match="告知投诉人"):
        TransferReview(decision="accept", reason="好")
    assert TransferReview(decision="accept", outcome_summary="已整改").decision == "accept"


def test_the_conclusion_event_is_keyed_by_the_clue():
    assert TransferConcluded.event_type() == "zuofeng.triage.transfer-concluded.v1"
    assert TransferConcluded.key_field == "clue_id"

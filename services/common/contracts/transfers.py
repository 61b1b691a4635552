"""Events of the transfer's way back (转办 → 办理结果 → 审核 → 反馈), produced by triage.

Triage owns the clue's decisions, so it owns the review of a unit's result too; notification turns these
events into the unit's notices, the deadline it watches and the reporter's feedback, intake into the
status the receipt page shows. Keyed by the clue, so one clue's rounds stay in order.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from .base import EventContract, Id

TransferFinding = Literal["substantiated", "partly_substantiated", "unfounded"]  # 属实 / 部分属实 / 不属实


class TransferResultFiled(EventContract):
    """办理结果报送: the unit filed its result for the current round; the officer reviews it next."""

    service: ClassVar[str] = "triage"
    event: ClassVar[str] = "transfer-result-filed"
    key_field: ClassVar[str] = "clue_id"

    clue_id: Id
    result_id: Id
    tracking_number: str
    unit_id: str
    round: int
    deadline: date | None = None
    on_time: bool
    filed_at: datetime


class TransferReturned(EventContract):
    """退回重办: the officer returned the result; the unit redoes it by a new deadline (working days)."""

    service: ClassVar[str] = "triage"
    event: ClassVar[str] = "transfer-returned"
    key_field: ClassVar[str] = "clue_id"

    clue_id: Id
    result_id: Id
    tracking_number: str
    unit_id: str
    round: int  # the round the unit now works on
    reason: str  # addressed to the unit, never to the reporter
    deadline: date
    working_days: int
    returned_at: datetime


class TransferConcluded(EventContract):
    """审核通过、办结: the officer accepted the result; the reporter is told the outcome and asked to rate."""

    service: ClassVar[str] = "triage"
    event: ClassVar[str] = "transfer-concluded"
    key_field: ClassVar[str] = "clue_id"

    clue_id: Id
    result_id: Id
    tracking_number: str
    unit_id: str
    finding: TransferFinding | None = None
    outcome_summary: str  # wording fit for the reporter: no names of persons handled
    on_time: bool
    rounds: int
    concluded_at: datetime

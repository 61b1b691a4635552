"""Request and response bodies of the transfer's way back."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from services.common.contracts.transfers import TransferFinding


class EvidenceRead(BaseModel):
    index: int
    name: str
    media_type: str
    size: int


class TransferResultFields(BaseModel):
    """办理结果: what was done, what was found, who is responsible (the form fields of the multipart body)."""

    actions: str = Field(min_length=2, max_length=20000, description="办理情况")
    findings: str = Field(min_length=2, max_length=20000, description="核查结论")
    finding: TransferFinding | None = Field(None, description="属实 / 部分属实 / 不属实")
    responsible: str = Field(min_length=1, max_length=200, description="责任人（姓名、职务）")


class TransferResultRead(BaseModel):
    id: uuid.UUID
    round: int
    actions: str
    findings: str
    finding: str | None = None
    finding_label: str | None = None
    responsible: str
    evidence: list[EvidenceRead] = []
    filed_by: str
    filed_at: datetime
    deadline: date | None = None
    on_time: bool
    review: str | None = None
    review_label: str | None = None
    review_reason: str | None = None
    outcome_summary: str | None = None
    reviewed_at: datetime | None = None


class TransferRead(BaseModel):
    clue_id: uuid.UUID
    tracking_number: str
    unit_id: str
    state: str
    state_label: str
    round: int
    deadline: date | None = None
    returns: int = 0
    text: str
    subject: str | None = None
    place: str | None = None
    received_at: datetime
    concluded_at: datetime | None = None
    results: list[TransferResultRead] = []


class TransferList(BaseModel):
    items: list[TransferRead]
    next_cursor: str | None = None


class TransferReview(BaseModel):
    """审核: accept the result (the clue is concluded and the reporter told) or return it (退回重办)."""

    decision: Literal["accept", "return"]
    reason: str | None = Field(None, max_length=2000, description="退回理由（退回时必填，告知承办单位）")
    outcome_summary: str | None = Field(
        None, max_length=2000, description="告知投诉人的办理结果（通过时必填；不写被处理人员姓名）")

    @model_validator(mode="after")
    def _what_each_decision_needs(self) -> TransferReview:
        if self.decision == "return" and not (self.reason and len(self.reason.strip()) >= 2):
            raise ValueError("退回重办须写明理由（reason）")
        if self.decision == "accept" and not (self.outcome_summary and len(self.outcome_summary.strip()) >= 2):
            raise ValueError("审核通过须写明告知投诉人的办理结果（outcome_summary）")
        return self


class TransferUnitCount(BaseModel):
    unit_id: str
    transfers: int
    results_filed: int
    on_time: int
    late: int
    returned: int
    concluded: int


class TransferStats(BaseModel):
    """转办统计: transfers made, results filed on time or late, returns, conclusions, still overdue."""

    since: date
    until: date
    transfers: int
    results_filed: int
    on_time: int
    late: int
    returned: int
    concluded: int
    overdue_open: int
    on_time_rate: float | None = None
    by_unit: list[TransferUnitCount] = []
    labels: dict[str, str] = {}

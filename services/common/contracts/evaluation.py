"""Events the evaluation service produces."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel

from .base import EventContract, Id

Grade = Literal["excellent", "qualified", "basically_qualified", "unqualified"]  # 优秀/合格/基本合格/不合格
ConsequenceKind = Literal[
    "yellow_card", "recall_management", "last_ranked_unit", "bottom_three_section", "exemplar"
]


class RankedUnit(BaseModel):
    unit_id: str
    unit_name: str
    rank: int
    score: float
    grade: Grade
    vetoed: bool = False


class CategoryResult(BaseModel):
    category: str
    ranking: list[RankedUnit]
    top_ten: list[str]  # unit ids, 十优满意单位
    bottom_ten: list[str]  # unit ids, 十差不满意单位
    # Units without enough ballots (数据不足): no rank, no grade, no consequence (R-EV-8).
    insufficient_data: list[str] = []


class Consequence(BaseModel):
    """A proposal to accountability (处理建议), never a decided measure (R-AC-14)."""

    kind: ConsequenceKind
    unit_id: str
    unit_name: str
    reason: str
    # What the proposal's case title should say: why (e.g. 被一票否决 …, not 连续两次不合格). Additive.
    title: str | None = None
    # Who is held to account, in words (党政主要负责人, 主要负责人, 科室负责人 …).
    held_to_account: str | None = None
    # The campaign rules' grounds it stands on (unqualified, vetoed, consecutive_unqualified, last_ranked …).
    grounds: list[str] = []


class RuleRef(BaseModel):
    code: str
    label: str


class RuleSet(BaseModel):
    preset: str  # ezhou | jintan | wenzhou | custom
    preset_label: str
    rules: list[RuleRef]


class ResultsPublished(EventContract):
    service: ClassVar[str] = "evaluation"
    event: ClassVar[str] = "results-published"
    key_field: ClassVar[str] = "campaign_id"

    campaign_id: Id
    name: str
    period: str  # "2026" or "2026-Q3"
    published_at: datetime
    categories: list[CategoryResult]
    consequences: list[Consequence] = []
    instrument: str = "poll"  # poll (万人评机关) | assessment (作风建设季度考核)
    rule_set: RuleSet | None = None  # the campaign's own rules, shown with the results (R-EV-7)


class SealedText(BaseModel):
    kid: str
    nonce: str  # base64
    ciphertext: str  # base64


class VoterCodeRequested(EventContract):
    """A web voter asked for a one-time code: notification sends it by SMS (R-EV-3). The phone number and the
    code travel sealed with the contact key ring (associated data ``voter-code``), never in clear."""

    service: ClassVar[str] = "evaluation"
    event: ClassVar[str] = "voter-code-requested"
    key_field: ClassVar[str] = "campaign_id"

    campaign_id: Id
    campaign_name: str
    sealed: SealedText  # {"phone": E.164, "code": "123456"}
    expires_at: datetime

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


class Consequence(BaseModel):
    kind: ConsequenceKind
    unit_id: str
    unit_name: str
    reason: str


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

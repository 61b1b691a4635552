"""Request and response bodies of the evaluation API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from . import domain

Source = Literal["citizen", "enterprise", "deputies", "department", "rectification", "data"]
EnteredSource = Literal["enterprise", "deputies", "department", "rectification"]
Channel = Literal["web", "sms", "wechat"]
Mark = Annotated[int, Field(ge=domain.SCALE_MIN, le=domain.SCALE_MAX)]


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    excellent: float = Field(domain.DEFAULT_THRESHOLDS["excellent"], ge=0, le=100)
    qualified: float = Field(domain.DEFAULT_THRESHOLDS["qualified"], ge=0, le=100)
    basically_qualified: float = Field(domain.DEFAULT_THRESHOLDS["basically_qualified"], ge=0, le=100)

    @model_validator(mode="after")
    def _descending(self) -> "Thresholds":
        if not self.excellent > self.qualified > self.basically_qualified:
            raise ValueError("thresholds must fall: excellent > qualified > basically_qualified")
        return self


class StuffingRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    burst_window_seconds: int = Field(domain.DEFAULT_STUFFING_RULES["burst_window_seconds"], ge=1, le=86400)
    burst_max: int = Field(domain.DEFAULT_STUFFING_RULES["burst_max"], ge=1)
    pattern_window_seconds: int = Field(domain.DEFAULT_STUFFING_RULES["pattern_window_seconds"], ge=1, le=86400)
    pattern_max: int = Field(domain.DEFAULT_STUFFING_RULES["pattern_max"], ge=1)
    pattern_min_units: int = Field(domain.DEFAULT_STUFFING_RULES["pattern_min_units"], ge=1)


class IndicatorRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    complaint_penalty: float = Field(domain.DEFAULT_INDICATOR_RULES["complaint_penalty"], ge=0)
    substantiated_penalty: float = Field(domain.DEFAULT_INDICATOR_RULES["substantiated_penalty"], ge=0)
    overdue_rectification_penalty: float = Field(
        domain.DEFAULT_INDICATOR_RULES["overdue_rectification_penalty"], ge=0)
    feedback_share: float = Field(domain.DEFAULT_INDICATOR_RULES["feedback_share"], ge=0, le=1)


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    series: str = Field("万人评机关", min_length=1, max_length=100,
                        description="Campaigns of one series follow each other (连续两次不合格)")
    year: int = Field(ge=2000, le=2100)
    quarter: int | None = Field(None, ge=1, le=4)
    categories: list[str] = Field(default_factory=lambda: list(domain.EZHOU_CATEGORIES), min_length=1,
                                  max_length=50)
    weights: dict[Source, float] = Field(default_factory=lambda: dict(domain.DEFAULT_WEIGHTS))
    thresholds: Thresholds = Field(default_factory=Thresholds)
    veto_rules: list[Literal["award_ineligible"]] = Field(default_factory=lambda: list(domain.DEFAULT_VETO_RULES))
    stuffing_rules: StuffingRules = Field(default_factory=StuffingRules)
    indicator_rules: IndicatorRules = Field(default_factory=IndicatorRules)
    top_n: int = Field(10, ge=1, le=50)
    exemplars_per_category: int = Field(3, ge=0, le=20)

    @model_validator(mode="after")
    def _check(self) -> "CampaignCreate":
        if len(set(self.categories)) != len(self.categories) or any(not c.strip() for c in self.categories):
            raise ValueError("categories must be distinct and non-empty")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        return self


class CampaignRead(BaseModel):
    id: uuid.UUID
    name: str
    series: str
    year: int
    quarter: int | None
    period: str
    state: str
    categories: list[str]
    weights: dict[str, float]
    thresholds: dict[str, float]
    veto_rules: list[str]
    stuffing_rules: dict[str, float]
    indicator_rules: dict[str, float]
    top_n: int
    exemplars_per_category: int
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    published_at: datetime | None


class CampaignPage(BaseModel):
    items: list[CampaignRead]
    next_cursor: str | None


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    unit_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=100)
    key_section: bool = Field(False, description="重点科室 (Jintan): bottom three → section head to account")


class UnitsAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    units: list[UnitIn] = Field(min_length=1, max_length=5000)


class UnitRead(BaseModel):
    unit_id: str
    name: str
    category: str
    key_section: bool


class BallotIn(BaseModel):
    """One voter's ballot: a mark on the fixed 1–5 scale for each unit they rate."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    voter: str = Field(min_length=3, max_length=128,
                       description="Phone number or WeChat openid; only its keyed hash is kept")
    channel: Channel = "web"
    source: str | None = Field(None, max_length=128,
                               description="Where it came from (SMS gateway cell, WeChat app, client address)")
    submitted_at: datetime | None = None
    # Checked in pydantic-core, not in a Python validator: a batch holds 10,000 of these.
    ratings: dict[str, Mark] = Field(min_length=1, max_length=500, description="unit id → mark (1–5)")


class BallotBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ballots: list[BallotIn] = Field(min_length=1)


BATCH_ADAPTER = TypeAdapter(BallotBatch)


class BallotRejection(BaseModel):
    index: int
    reason: str


class BallotReceipt(BaseModel):
    accepted: int
    duplicates: list[int] = Field(description="indexes of ballots from voters who already voted")
    rejected: list[BallotRejection]


class QuarantinedBallot(BaseModel):
    id: int
    channel: str
    source: str | None
    submitted_at: datetime
    status: str
    reasons: list[str]
    ratings: dict[str, int]


class QuarantinePage(BaseModel):
    items: list[QuarantinedBallot]
    next_cursor: str | None


class StuffingScan(BaseModel):
    quarantined: int


class BallotReview(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["count", "reject"]
    note: str | None = Field(None, max_length=1000)


class ScoresIn(BaseModel):
    """Scores of one scorer (a business department, a deputy, the rectification review) on 0–100."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    source: EnteredSource
    scorer: str = Field(min_length=1, max_length=200)
    scores: dict[str, float] = Field(min_length=1, max_length=5000)

    @model_validator(mode="after")
    def _range(self) -> "ScoresIn":
        if any(not 0 <= v <= 100 for v in self.scores.values()):
            raise ValueError("scores are on 0–100")
        return self


class VetoIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(min_length=1, max_length=1000)


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["open", "close", "publish"]

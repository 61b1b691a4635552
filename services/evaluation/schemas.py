"""Request and response bodies of the evaluation API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from . import domain

Source = Literal["citizen", "enterprise", "deputies", "department", "rectification", "data"]
EnteredSource = Literal["enterprise", "deputies", "department", "rectification"]
Channel = Literal["web", "sms", "wechat"]
Mark = Annotated[int, Field(ge=domain.SCALE_MIN, le=domain.SCALE_MAX)]
if TYPE_CHECKING:  # the rule codes are read from domain.RULES at run time, which a checker cannot follow
    RuleCode = str
else:
    RuleCode = Literal[tuple(domain.RULES)]


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    excellent: float = Field(domain.DEFAULT_THRESHOLDS["excellent"], ge=0, le=100)
    qualified: float = Field(domain.DEFAULT_THRESHOLDS["qualified"], ge=0, le=100)
    basically_qualified: float = Field(domain.DEFAULT_THRESHOLDS["basically_qualified"], ge=0, le=100)

    @model_validator(mode="after")
    def _descending(self) -> Thresholds:
        if not self.excellent > self.qualified > self.basically_qualified:
            raise ValueError("等次分数线须依次降低: 优秀 > 合格 > 基本合格")
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
    weights: dict[Source, float] = Field(
        default_factory=lambda: cast(dict[Source, float], dict(domain.DEFAULT_WEIGHTS)))
    thresholds: Thresholds = Field(default_factory=Thresholds)
    veto_rules: list[Literal["award_ineligible"]] = Field(
        default_factory=list, description="Deprecated: award_ineligible here is read as the rule "
                                          "award_ineligible_no_excellent (award loss is not a veto)")
    instrument: Literal["poll", "assessment"] = Field(
        "poll", description="poll: 万人评机关 (ranks, 十优/十差); assessment: Ezhou's quarterly 作风建设 综合考核")
    rule_preset: Literal["ezhou", "jintan", "wenzhou", "custom"] = Field(
        "ezhou", description="The seed whose consequence rules this campaign applies; custom: ``rules``")
    rules: list[RuleCode] | None = Field(None, description="Only with rule_preset custom")
    min_ballots: int = Field(domain.DEFAULT_MIN_BALLOTS, ge=1, le=100_000,
                             description="Counted marks a unit needs for a result; fewer: 数据不足")
    stuffing_rules: StuffingRules = Field(default_factory=StuffingRules)
    indicator_rules: IndicatorRules = Field(default_factory=IndicatorRules)
    top_n: int = Field(10, ge=1, le=50)
    exemplars_per_category: int = Field(3, ge=0, le=20)

    @model_validator(mode="after")
    def _check(self) -> CampaignCreate:
        if len(set(self.categories)) != len(self.categories) or any(not c.strip() for c in self.categories):
            raise ValueError("类别不能重复或为空")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("权重不能为负数, 也不能全为 0")
        if self.rules is not None and self.rule_preset != "custom":
            raise ValueError("只有自定义规则集(rule_preset custom)才能列出 rules; 预设规则集自带规则")
        if self.instrument == "assessment" and self.quarter is None:
            raise ValueError("作风建设综合考核按季度进行: 请填写季度(quarter)")
        return self

    def rule_set(self) -> dict:
        rules = list(self.rules or [])
        if "award_ineligible" in self.veto_rules and self.rule_preset == "custom":
            rules.append("award_ineligible_no_excellent")
        return domain.rule_set(self.rule_preset, rules)


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
    instrument: str
    instrument_label: str = ""
    rule_set: dict
    min_ballots: int
    stuffing_rules: dict[str, float]
    indicator_rules: dict[str, float]
    top_n: int
    exemplars_per_category: int
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    published_at: datetime | None
    imports: list[dict] = Field(default_factory=list, description="Office imports: who, file hash, count")

    @model_validator(mode="after")
    def _labels(self) -> CampaignRead:
        self.instrument_label = domain.INSTRUMENTS.get(self.instrument, self.instrument)
        return self


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
                       description="Phone number (any usual form; normalised to E.164) or, from the WeChat "
                                   "gateway, the openid; only its keyed hash is kept")
    channel: Channel | None = Field(None, description="Gateways only (sms, wechat); the web is always web")
    source: str | None = Field(None, max_length=128,
                               description="Gateways only: the cell or app it came through (prefixed with the "
                                           "gateway's key id); web ballots get the client address")
    submitted_at: datetime | None = Field(None, description="Gateways only, within the voting period; web "
                                                           "ballots are timed by the server")
    code: str | None = Field(None, max_length=12, description="Web: the one-time SMS code")
    # Checked in pydantic-core, not in a Python validator: a batch holds 10,000 of these.
    ratings: dict[str, Mark] = Field(min_length=1, max_length=500, description="unit id → mark (1–5)")
    opinions: dict[str, Annotated[str, Field(max_length=500)]] | None = Field(
        None, max_length=50, description="unit id → the voter's written opinion (意见和建议)")


class BallotBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ballots: list[BallotIn] = Field(min_length=1)


BATCH_ADAPTER = TypeAdapter(BallotBatch)


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    phone: str = Field(min_length=5, max_length=40, description="手机号码")


class BallotImport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file_name: str | None = Field(None, max_length=200)
    ballots: list[BallotIn] = Field(min_length=1)


IMPORT_ADAPTER = TypeAdapter(BallotImport)


class BallotRejection(BaseModel):
    index: int
    reason: str


class BallotReceipt(BaseModel):
    accepted: int
    duplicates: list[int] = Field(description="indexes of ballots from voters who already voted")
    rejected: list[BallotRejection]


class ImportReceipt(BallotReceipt):
    import_id: str = Field(description="The import's id (shown on the campaign)")
    file_sha256: str = Field(description="SHA-256 of the file as received")


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
    def _range(self) -> ScoresIn:
        if any(not 0 <= v <= 100 for v in self.scores.values()):
            raise ValueError("分数须在 0–100 之间")
        return self


class VetoIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(min_length=1, max_length=1000)


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["open", "close", "publish"]

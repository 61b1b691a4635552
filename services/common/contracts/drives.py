"""Events of campaign drives and their tasks (专项行动、重点工作任务), produced by evaluation (R-SU-2).

The 督查考评办 hands tasks to a lead unit (牵头单位) and responsible units (责任单位) with a deadline
(完成时限); notification tells each unit, watches the deadline, reminds before it and escalates after."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel

from .base import EventContract, Id


class DriveTaskAssigned(EventContract):
    """任务交办: a task of a drive with its lead and responsible units and its deadline."""

    service: ClassVar[str] = "evaluation"
    event: ClassVar[str] = "drive-task-assigned"
    key_field: ClassVar[str] = "task_id"

    task_id: Id
    drive_id: Id
    drive_title: str
    phase: str | None = None
    title: str
    lead_unit: str
    responsible_units: list[str]
    deadline: date
    handed_down_from: str | None = None  # 巡视反馈意见 / 专项督察通报 the task was handed down from
    assigned_at: datetime


class DriveTaskReported(EventContract):
    """进展报送: a unit reported progress on a task; ``done`` closes its part (no more reminders)."""

    service: ClassVar[str] = "evaluation"
    event: ClassVar[str] = "drive-task-reported"
    key_field: ClassVar[str] = "task_id"

    task_id: Id
    unit_id: str
    done: bool
    reported_at: datetime


class SelfCheckReferred(EventContract):
    """整改问题移送: a review found a self-inspection item's rectification 敷衍、表面 or 虚假 and refers it to the
    commission or the organization department, which receives it as a proposal (never a decided measure)."""

    service: ClassVar[str] = "evaluation"
    event: ClassVar[str] = "self-check-referred"
    key_field: ClassVar[str] = "item_id"

    item_id: Id
    unit_id: str
    level_label: str
    problem: str
    responsible: str
    verdict: Literal["perfunctory", "superficial", "false"]
    verdict_label: str
    review_label: str
    refer_to: Literal["commission", "organization"]
    referred_at: datetime
    review_id: Id | None = None  # the review round (大检查 / 回头看) that found it, when taken in one


class FeedbackHandedDown(EventContract):
    """交办: a higher level's feedback (巡视反馈意见, 专项督察通报) was registered and its items handed down as
    drive tasks (each also travels as ``drive-task-assigned``, which notification watches)."""

    service: ClassVar[str] = "evaluation"
    event: ClassVar[str] = "feedback-handed-down"
    key_field: ClassVar[str] = "document_id"

    document_id: Id
    kind: Literal["inspection_tour", "supervision", "other"]
    kind_label: str
    title: str
    issued_by: str
    drive_id: Id
    task_ids: list[Id]
    units: list[str]
    handed_down_at: datetime


class ReviewUnitCount(BaseModel):
    unit_id: str
    items: int
    signed_off: int
    returned: int
    pending: int
    verdicts: dict[str, int] = {}  # Chinese label (敷衍整改 …) → how many


class SelfCheckReviewClosed(EventContract):
    """A review round (九月大检查 / 十二月回头看) closed: per unit, what it signed off and returned; notification
    drafts the round's 通报 for review. Referrals are not counted here: they are the bodies' business."""

    service: ClassVar[str] = "evaluation"
    event: ClassVar[str] = "self-check-review-closed"
    key_field: ClassVar[str] = "review_id"

    review_id: Id
    kind: Literal["september_check", "december_lookback"]
    title: str
    units: list[ReviewUnitCount]
    closed_at: datetime

"""Events of the key-project register (重点项目), produced by triage (R-SU-5).

A phone check whose answer is bad (故意刁难、推诿拖延、吃拿卡要) travels as ``key-project-checked`` with
``problems``; intake turns it into a clue on channel ``project_check`` (kept by the commission), and triage
links that clue to the project when it arrives. The owner's telephone number never leaves triage."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from .base import EventContract, Id

ProjectLevel = Literal["provincial", "city", "county"]
CheckProblem = Literal["obstruction", "delay", "extortion", "other"]


class KeyProjectRegistered(EventContract):
    """重点项目登记: a key project with its leader and team (四个一) and the units involved in approval."""

    service: ClassVar[str] = "triage"
    event: ClassVar[str] = "key-project-registered"
    key_field: ClassVar[str] = "project_id"

    project_id: Id
    code: str
    name: str
    level: ProjectLevel
    leader: str
    approval_units: list[str]
    registered_at: datetime


class KeyProjectChecked(EventContract):
    """电话询问: a phone check with the project's owner was logged; ``problems`` empty means all was well."""

    service: ClassVar[str] = "triage"
    event: ClassVar[str] = "key-project-checked"
    key_field: ClassVar[str] = "check_id"

    check_id: Id
    project_id: Id
    project_code: str
    project_name: str
    checked_at: datetime
    problems: list[CheckProblem] = []
    unit_id: str | None = None  # the approval unit the owner named, if any
    account: str | None = None  # what the owner said, as logged (no name or number of the owner)


ProjectTrigger = Literal["project_slow", "investor_withdrawal", "investment_approval_service",
                         "over_budget_schedule"]


class KeyProjectTriggerRaised(EventContract):
    """A clue naming a registered key project raised a project 五必查 trigger (项目迟迟不落地, 投资业主撤回投资,
    招商引资项目审批服务不到位, 政府投资项目严重双超): the trigger's record names the project. Once per clue and
    project; the clue's text stays with the clue (only its tracking number travels)."""

    service: ClassVar[str] = "triage"
    event: ClassVar[str] = "key-project-trigger-raised"
    key_field: ClassVar[str] = "project_id"

    clue_id: Id
    tracking_number: str
    project_id: Id
    project_code: str
    project_name: str
    matched: str  # the name, alias or register number the clue used
    triggers: list[ProjectTrigger]
    records: list[str]  # in Chinese, one per trigger: 五必查·项目迟迟不落地：重点项目“…”（编号）
    raised_at: datetime

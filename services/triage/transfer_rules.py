"""Pure rules of the transfer's way back: its states, who may act, whether a result came in time."""

from __future__ import annotations

from datetime import date

from services.common.auth import Principal
from services.common.errors import Problem

# assigned → filed (the unit files its result) → concluded (accepted) or returned (退回重办) → filed …
TRANSITIONS: dict[str, dict[str, str]] = {
    "assigned": {"file": "filed"},
    "returned": {"file": "filed"},
    "filed": {"accept": "concluded", "return": "returned"},
    "concluded": {},
}
STATE_LABELS: dict[str, str] = {
    "assigned": "待办理", "filed": "办理结果待审核", "returned": "已退回重办", "concluded": "已办结",
}
FINDING_LABELS: dict[str, str] = {"substantiated": "属实", "partly_substantiated": "部分属实", "unfounded": "不属实"}
ACTION_LABELS: dict[str, str] = {"file": "报送办理结果", "accept": "审核通过", "return": "退回重办"}


def next_state(state: str, action: str) -> str:
    target = TRANSITIONS.get(state, {}).get(action)
    if target is None:
        raise Problem(409, f"该转办线索当前“{STATE_LABELS.get(state, state)}”，不能{ACTION_LABELS[action]}。",
                      slug="transfer-state", state=state)
    return target


def on_time(deadline: date | None, filed_on: date) -> bool:
    """In time when filed on or before the deadline day (the deadline counts working days already)."""
    return deadline is None or filed_on <= deadline


def ensure_handles_unit(principal: Principal, unit_id: str) -> None:
    """A unit handler acts only on what was transferred to its own unit. The one place this loop checks
    it, so that it can follow the suite's common unit-scope rule. Not the unit: 404, as if absent."""
    if "unit_handler" not in principal.roles or principal.unit_id != unit_id:
        raise Problem(404, "没有这条转办线索。", slug="transfer-not-found")


def may_see_unit(principal: Principal, unit_id: str) -> bool:
    """Officers and auditors see every transfer; a unit handler only its own unit's."""
    if principal.roles & {"triage_officer", "investigator", "auditor", "admin"}:
        return True
    return "unit_handler" in principal.roles and principal.unit_id == unit_id

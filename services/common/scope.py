"""What a unit handler (事权单位经办人) may see: the one scope rule every service applies.

The unit complained about must never learn what the commission keeps for itself. So a unit handler sees
only what was transferred (转办) to its own unit, and of cases only those past their decision (处理决定),
shown as the decision and the rectification items addressed to the unit. Everything else answers 404, as
if it did not exist, so that not even a record's existence leaks.

The rule binds whenever ``unit_handler`` is among a token's roles, whatever else it carries: a check of
``roles == {"unit_handler"}`` failed open for a handler who also held another role. A unit handler is
on the unit's side of the table and every other role is the commission's, so a token holding both is
refused outright (403) rather than guessed at (see :func:`check_role_combination`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from .auth import CurrentPrincipal, Principal
from .errors import Problem

UNIT_ROLE = "unit_handler"
# Fields about the reporter or about how the commission recorded the report: never shown to a unit.
UNIT_HIDDEN_FIELDS: frozenset[str] = frozenset({"anonymous", "recorded_by"})
# Case states that lie past the decision. ``closed`` only when the case was decided before closing (a
# substantiated finding leads only to a decision), not when it was dismissed or found unfounded.
DECIDED_STATES: frozenset[str] = frozenset({"decided", "rectifying"})
DECIDED_FINDINGS: frozenset[str] = frozenset({"substantiated", "partly_substantiated"})


def check_role_combination(principal: Principal) -> None:
    """Refuse a staff token whose roles cannot be held together (unit side and commission side)."""
    if principal.kind != "staff" or UNIT_ROLE not in principal.roles:
        return
    others = sorted(principal.roles - {UNIT_ROLE})
    if others:
        raise Problem(403, f"事权单位经办人（unit_handler）不能同时持有委机关角色：{'、'.join(others)}。"
                           "请使用只含一种身份的令牌。", slug="forbidden-role-combination")
    if not principal.unit_id:
        raise Problem(403, "事权单位经办人的令牌必须写明所属单位。", slug="unit-missing")


@dataclass(frozen=True, slots=True)
class Scope:
    """``unit_id`` is the unit a handler is bound to; None for commission staff, who are not unit-bound."""

    unit_id: str | None = None

    @property
    def unit_bound(self) -> bool:
        return self.unit_id is not None

    def sees_clue(self, unit_id: str | None, *, transferred: bool) -> bool:
        """A clue: only one transferred (转办) to the handler's own unit."""
        return not self.unit_bound or (transferred and unit_id == self.unit_id)

    def sees_case(self, unit_id: str | None, *, state: str, finding: str | None) -> bool:
        """A case: only the handler's unit's, and only once it is decided."""
        return not self.unit_bound or (unit_id == self.unit_id and case_is_decided(state, finding))

    def sees_unit_record(self, unit_id: str | None) -> bool:
        """A record addressed to a unit as such (a poster, a rectification item, an inbox message)."""
        return not self.unit_bound or unit_id == self.unit_id

    def require(self, visible: bool, what: str = "记录") -> None:
        if not visible:
            raise Problem(404, f"没有这条{what}。", slug="not-found")

    def redact(self, fields: dict[str, Any], hidden: Iterable[str] = UNIT_HIDDEN_FIELDS) -> dict[str, Any]:
        """``fields`` without what a unit may not read (for the commission's staff, unchanged)."""
        if not self.unit_bound:
            return fields
        hidden = frozenset(hidden)
        return {k: v for k, v in fields.items() if k not in hidden}


def case_is_decided(state: str, finding: str | None) -> bool:
    return state in DECIDED_STATES or (state == "closed" and finding in DECIDED_FINDINGS)


def scope_of(principal: Principal) -> Scope:
    check_role_combination(principal)
    if principal.kind == "staff" and UNIT_ROLE in principal.roles:
        return Scope(principal.unit_id)
    return Scope()


async def current_scope(principal: CurrentPrincipal) -> Scope:
    return scope_of(principal)


CurrentScope = Annotated[Scope, Depends(current_scope)]

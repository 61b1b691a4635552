"""Who decides what (R-AC-10): the one rule, shared by triage's queue and accountability's cases.

The commission (市纪委监委, role ``investigator``) leads accountability and decides 党纪处分 and 政务处分; the
organization department (市委组织部, role ``org_officer``) decides 组织处理 and receives the 12380 line's
clues and every 选人用人 problem (000: 问责工作由市纪委牵头, 市委组织部等有关部门配合; 002: 市委组织部牵头,
市纪委监委配合). Each body sees the queue for its own matters; ``admin`` sees both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from .auth import Principal

Body = Literal["commission", "organization"]
BODIES: dict[str, str] = {"commission": "市纪委监委", "organization": "市委组织部"}
BODY_ROLE: dict[str, str] = {"commission": "investigator", "organization": "org_officer"}

# The organization department's own line, and the problem tag (triage's or an officer's) of 选人用人.
ORGANIZATION_CHANNELS = frozenset({"hotline_12380"})
ORGANIZATION_TAGS = frozenset({"personnel_selection"})  # 选人用人


def competent_body(*, channel: str | None = None, tags: Iterable[str] = ()) -> Body:
    """The body whose queue a clue (or a case opened from it) belongs to."""
    if channel in ORGANIZATION_CHANNELS or ORGANIZATION_TAGS.intersection(tags):
        return "organization"
    return "commission"


def bodies_of(principal: Principal) -> frozenset[str] | None:
    """The bodies whose matters this caller handles; None means every body (admin, auditor, triage officer)."""
    if principal.has_role("admin", "auditor", "triage_officer"):
        return None
    return frozenset(body for body, role in BODY_ROLE.items() if role in principal.roles)

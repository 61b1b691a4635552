"""Who may reach which path at all, as data. Services still authorise each route by role; this table is
the gateway's coarse first check, so a service route that forgot its own check is not thereby public.

- ``public``: anyone, anonymous included (rate limited per client under ``limit``);
- ``feed``: hotline systems (only for their own line) and staff;
- everything else: staff only. Anonymous callers get 401.

Machine clients with signed requests reach only the rules that name their kind in ``machines``: hotline
keys their own line's feed, service keys (SMS/WeChat ballot gateways) the ballot endpoints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from services.common.auth import KIND_LABELS, Principal
from services.common.errors import Problem

Audience = Literal["public", "feed", "staff"]


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    audience: Audience
    limit: str | None = None  # the rate-limit group (GatewaySettings.rate_limits) for anonymous callers
    machines: frozenset[str] = frozenset()  # signed-request client kinds admitted besides the audience


def _rule(methods: str, pattern: str, audience: Audience, limit: str | None = None, machines: str = "") -> Rule:
    return Rule(frozenset(methods.split()), re.compile(pattern), audience, limit, frozenset(machines.split()))


_SEGMENT = r"[^/]+"
RULES: tuple[Rule, ...] = (
    # Pushes, and the status pull by the line's own ticket id (热线回告).
    _rule("GET HEAD POST", rf"^/api/v1/intake/feeds/(?P<line>{_SEGMENT})/reports(:batch|/{_SEGMENT})?$", "feed",
          machines="hotline"),
    _rule("POST", rf"^/api/v1/intake/qr/{_SEGMENT}/reports$", "public", "qr-report"),
    _rule("GET HEAD", rf"^/qr/{_SEGMENT}(/.*)?$", "public", "qr-page"),
    _rule("GET HEAD", rf"^/api/v1/intake/receipts/{_SEGMENT}$", "public", "receipt"),
    _rule("POST", rf"^/api/v1/evaluation/campaigns/{_SEGMENT}/ballots$", "public", "ballot", machines="service"),
    # A web voter's one-time SMS code; evaluation limits per phone too, in its database (shared by replicas).
    _rule("POST", rf"^/api/v1/evaluation/campaigns/{_SEGMENT}/verification-codes$", "public", "ballot-code"),
    # The citizens' ballot page (H5, no JavaScript): the page, the code request and the ballot form.
    _rule("GET HEAD", rf"^/vote/{_SEGMENT}$", "public", "ballot-page"),
    _rule("POST", rf"^/vote/{_SEGMENT}/code$", "public", "ballot-code"),
    _rule("POST", rf"^/vote/{_SEGMENT}$", "public", "ballot"),
    _rule("POST", rf"^/api/v1/evaluation/campaigns/{_SEGMENT}/ballots:batch$", "staff", machines="service"),
    # Published campaigns and their rankings (十优/十差) are public; evaluation hides drafts itself.
    _rule("GET HEAD", r"^/api/v1/evaluation/(enumerations|campaigns)$", "public", "results"),
    _rule("GET HEAD", rf"^/api/v1/evaluation/campaigns/{_SEGMENT}(/rankings(\.svg|\.csv|\.xlsx)?)?$", "public",
          "results"),
    _rule("GET HEAD", r"^/api/v1/notification/bulletins(\.atom|\.json)?(/.*)?$", "public", "bulletin"),
    # The enumerations the docs offer to anyone (channels, statuses, stages and their Chinese labels).
    _rule("GET HEAD", r"^/api/v1/(intake/catalog|notification/enumerations)$", "public", "catalog"),
    # The rating link sent by SMS / e-mail: its token is the authorisation; the page and its form post.
    _rule("GET HEAD POST", rf"^/api/v1/notification/ratings/{_SEGMENT}$", "public", "rating"),
    # The citizens' lookup page (办理进度查询): the form, and its answer (the code in the body, not the URL).
    _rule("GET HEAD POST", r"^/api/v1/intake/receipts$", "public", "receipt"),
    _rule("POST", r"^/open311/v2/requests\.(json|xml)$", "public", "open311-report"),
    _rule("GET HEAD", r"^/open311/v2/(services|requests|tokens)(/.*)?(\.json|\.xml)?$", "public", "open311-read"),
    # Accountability (issue 16), staff only and never a machine key: the proposals queue and its decisions,
    # the import (JSON, xlsx, the template), the ageing view, the 四风 report, follow-ups. The service checks
    # the role and the body (commission / organization department) on each.
    _rule("GET HEAD POST", r"^/api/v1/accountability/proposals(/[^/]+(/decision)?)?$", "staff"),
    _rule("GET HEAD POST", r"^/api/v1/accountability/imports(/xlsx|/template\.xlsx)?$", "staff"),
    _rule("GET HEAD", r"^/api/v1/accountability/(ageing|follow-ups|reports/four-winds/[^/]+)$", "staff"),
    # Inspections (issue 20), staff only and never a machine key: a covert visit's plan must not reach the unit
    # it targets (intake refuses unit handlers on every one). Visits carry on-site evidence, hence the group.
    _rule("POST", rf"^/api/v1/intake/inspections/plans/{_SEGMENT}/visits$", "staff", "inspection-evidence"),
    _rule("GET HEAD POST PUT", r"^/api/v1/intake/inspections/(themes|plans|walk-ins|stats)(\.csv|/.*)?$", "staff"),
    # Key projects (重点项目, issue 20): register, phone checks, links and the project view; triage checks roles.
    _rule("GET HEAD POST PATCH", r"^/api/v1/triage/projects(/.*)?$", "staff"),
    # Campaign drives and their tasks (issue 20): the 督查考评办 and the units' own tasks; never public.
    _rule("GET HEAD POST", r"^/api/v1/evaluation/(drives|self-checks|reviews|feedback)(/.*)?$", "staff"),
    _rule("GET HEAD", r"^/open311/(v2/)?discovery\.(json|xml)$", "public", "open311-read"),
    # 预分类 for the systems that feed clues in (hotline integrators), besides triage officers; never public.
    _rule("POST", r"^/api/v1/triage/classify$", "staff", machines="hotline"),
)


def rule_for(method: str, path: str) -> Rule | None:
    for rule in RULES:
        if method in rule.methods and rule.pattern.match(path):
            return rule
    return None


def feed_line(path: str) -> str | None:
    match = RULES[0].pattern.match(path)
    return match.group("line") if match else None


def admit(principal: Principal, method: str, path: str) -> Rule | None:
    """Refuse callers who may not reach ``path`` at all; return the matching rule (None: staff only)."""
    rule = rule_for(method, path)
    audience = rule.audience if rule else "staff"
    if principal.kind in ("hotline", "service"):
        if rule is None or principal.kind not in rule.machines:
            raise Problem(403, f"{KIND_LABELS.get(principal.kind, principal.kind)}密钥不能调用此接口。",
                          slug="forbidden-kind")
        if principal.kind == "hotline" and rule is RULES[0] and feed_line(path) != principal.line:
            raise Problem(403, f"此密钥只能推送 {principal.line} 热线的数据。", slug="forbidden-line")
        return rule
    if principal.kind == "public":
        if audience == "feed":
            # Not 401: the feed's credential is a request signature, which has no HTTP auth challenge.
            raise Problem(403, "热线推送须携带签名（X-Zuofeng-Key、-Timestamp、-Nonce、-Signature）"
                               "或工作人员登录令牌。",
                          slug="signature-required")
        if audience == "staff":
            raise Problem(401, "请先登录：此接口需要工作人员登录令牌。", slug="unauthenticated",
                          headers={"WWW-Authenticate": "Bearer"})
    return rule

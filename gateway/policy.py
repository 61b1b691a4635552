"""Who may reach which path at all, as data. Services still authorise each route by role; this table is
the gateway's coarse first check, so a service route that forgot its own check is not thereby public.

- ``public``: anyone, anonymous included (rate limited per client under ``limit``);
- ``feed``: hotline systems (only for their own line) and staff;
- everything else: staff only. Anonymous callers get 401; hotline keys work nowhere but their feed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from services.common.auth import Principal
from services.common.errors import Problem

Audience = Literal["public", "feed", "staff"]


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    audience: Audience
    limit: str | None = None  # the rate-limit group (GatewaySettings.rate_limits) for anonymous callers


def _rule(methods: str, pattern: str, audience: Audience, limit: str | None = None) -> Rule:
    return Rule(frozenset(methods.split()), re.compile(pattern), audience, limit)


_SEGMENT = r"[^/]+"
RULES: tuple[Rule, ...] = (
    _rule("POST", rf"^/api/v1/intake/feeds/(?P<line>{_SEGMENT})/reports(:batch)?$", "feed"),
    _rule("POST", rf"^/api/v1/intake/qr/{_SEGMENT}/reports$", "public", "qr-report"),
    _rule("GET HEAD", rf"^/qr/{_SEGMENT}(/.*)?$", "public", "qr-page"),
    _rule("GET HEAD", rf"^/api/v1/intake/receipts/{_SEGMENT}$", "public", "receipt"),
    _rule("POST", rf"^/api/v1/evaluation/campaigns/{_SEGMENT}/ballots$", "public", "ballot"),
    _rule("GET HEAD", r"^/api/v1/notification/bulletins(\.atom|\.json)?(/.*)?$", "public", "bulletin"),
    _rule("POST", r"^/open311/v2/requests\.json$", "public", "open311-report"),
    _rule("GET HEAD", r"^/open311/v2/(services|requests)(/.*)?(\.json|\.xml)?$", "public", "open311-read"),
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
    if principal.kind == "hotline":
        if audience != "feed":
            raise Problem(403, "Hotline keys may only push to their feed.", slug="forbidden-kind")
        if feed_line(path) != principal.line:
            raise Problem(403, f"This key may push to line {principal.line} only.", slug="forbidden-line")
        return rule
    if principal.kind == "public":
        if audience == "feed":
            # Not 401: the feed's credential is a request signature, which has no HTTP auth challenge.
            raise Problem(403, "Hotline feeds need a signed request (X-Zuofeng-Key, -Timestamp, -Nonce, "
                               "-Signature) or a staff token.", slug="signature-required")
        if audience == "staff":
            raise Problem(401, "Sign in: this endpoint needs a staff bearer token.", slug="unauthenticated",
                          headers={"WWW-Authenticate": "Bearer"})
    return rule

"""Rendering messages from the Jinja2 templates in ``templates/`` (Chinese text).

Each template defines a ``subject`` and a ``body`` block, so one file holds one message and its title.
Plain text (SMS, e-mail text part, inbox): no HTML autoescaping; unknown variables are errors, not blanks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from .catalog import DEADLINE_KINDS, FINDINGS, GRADES, TRIAGE_DECISIONS

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


def _cn_date(value: date | str) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return f"{value.year}年{value.month}月{value.day}日"


def _cn_datetime(value: datetime) -> str:
    local = value.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日{local:%H:%M}"


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("services.notification", "templates"),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=False,
    )
    env.filters.update(
        cn_date=_cn_date,
        cn_datetime=_cn_datetime,
        decision_text=lambda v: TRIAGE_DECISIONS.get(v, v),
        finding_text=lambda v: FINDINGS.get(v, v),
        grade_text=lambda v: GRADES.get(v, v),
        deadline_kind=lambda v: DEADLINE_KINDS.get(v, v),
    )
    return env


def render(name: str, /, **context: object) -> Rendered:
    """Render ``templates/<name>.j2`` (e.g. ``reporter/received``) into a subject and a body."""
    template = environment().get_template(f"{name}.j2")
    ctx = template.new_context(context)
    subject = "".join(template.blocks["subject"](ctx)).strip()
    body = "".join(template.blocks["body"](ctx)).strip()
    return Rendered(subject=subject, body=body)


# Mainland mobile numbers, ID card numbers, e-mail addresses: never in anything published.
_IDENTITY_PATTERNS = (
    re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),
    re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"),
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
)


def redact_identity(text: str) -> str:
    """Defence in depth for public bulletins: producers already strip identity; this catches slips."""
    for pattern in _IDENTITY_PATTERNS:
        text = pattern.sub("[已隐去]", text)
    return text

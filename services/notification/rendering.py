"""Rendering messages from the Jinja2 templates in ``templates/`` (Chinese text).

Each template defines a ``subject`` and a ``body`` block, so one file holds one message and its title.
Plain text (SMS, e-mail text part, inbox): no HTML autoescaping; unknown variables are errors, not blanks.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from services.common.calendar import SHANGHAI

from .catalog import DEADLINE_KINDS, FINDINGS, GRADES, TRIAGE_DECISIONS


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
        autoescape=False,  # noqa: S701 — the templates are plain-text subjects and bodies, not HTML
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


# Mainland mobile numbers, ID card numbers, e-mail addresses: never in anything published. Matched on
# the NFKC form (full-width digits and ＠ become ASCII), with one separator allowed between digits, as
# people write them: "138 1234 5678", "138-1234-5678", "110101 19900307 123X".
_SEP = r"[\s\-_.·\u2010-\u2015]?"
_IDENTITY_PATTERNS = (
    re.compile(rf"(?<![\d])1{_SEP}[3-9](?:{_SEP}\d){{9}}(?!{_SEP}\d)"),
    re.compile(rf"(?<![\d])\d(?:{_SEP}\d){{16}}{_SEP}[\dXx](?![\dXx])"),
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
)
REDACTED = "[已隐去]"


def redact_identity(text: str) -> str:
    """Defence in depth for public bulletins: producers already strip identity; this catches slips.

    The patterns run over the NFKC form, but the replacement is made in the original text, so the rest
    of it (full-width punctuation included) is published exactly as written."""
    origin: list[int] = []  # index in ``text`` of each character of the normalised form
    parts = []
    for index, char in enumerate(text):
        normal = unicodedata.normalize("NFKC", char)
        parts.append(normal)
        origin.extend([index] * len(normal))
    normalised = "".join(parts)
    spans = sorted((origin[m.start()], origin[m.end() - 1] + 1)
                   for pattern in _IDENTITY_PATTERNS for m in pattern.finditer(normalised) if m.end() > m.start())
    out, cursor = [], 0
    for start, end in spans:
        if end <= cursor:
            continue
        out.append(text[cursor:max(start, cursor)])
        if start >= cursor:
            out.append(REDACTED)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)

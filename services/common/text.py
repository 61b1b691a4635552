"""Text PostgreSQL can store: refuse it at the edge, as a clear 422, instead of a 500 from the database.

PostgreSQL's ``text`` and ``jsonb`` refuse the NUL character (``\\x00``, ``\\u0000`` in JSON), and a lone
UTF-16 surrogate (``\\ud800`` is valid JSON, but not encodable as UTF-8) fails before the driver can send it.
Either one inside a single hotline ticket used to fail the whole batch's statement. Request schemas inherit
:class:`StorableModel`, which checks every string field (nested models and lists included) and reports
the field in pydantic's usual error shape; values outside a schema (path segments, query filters) go
through :func:`ensure_storable`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, field_validator
from pydantic_core import PydanticCustomError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MESSAGE = "含有无法保存的字符（如 NUL 空字符或残缺的 Unicode 代理项），请删除后重试"


def unstorable_in(errors: Iterable[dict[str, Any]]) -> bool:
    """Whether validation errors (in the problem's ``errors`` shape) name unstorable text; pydantic itself
    refuses a lone surrogate in a ``str`` field (``string_unicode``)."""
    return any(e.get("type") in ("unstorable_text", "string_unicode") for e in errors)


def is_storable(value: str) -> bool:
    return _UNSTORABLE.search(value) is None


def scrub(value: str) -> str:
    """``value`` with unstorable characters replaced by U+FFFD: for echoing a field name or key back."""
    return _UNSTORABLE.sub("\ufffd", value)


def _check(value: Any) -> None:
    if isinstance(value, str):
        if not is_storable(value):
            raise PydanticCustomError("unstorable_text", MESSAGE)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _check(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key)
            _check(item)


class StorableModel(BaseModel):
    """A request body whose every string can be stored in PostgreSQL (see the module's docstring)."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        _check(value)  # nested StorableModels check their own fields
        return value


def ensure_storable(value: str | None, *, name: str, where: str = "query") -> None:
    """Refuse a path segment or filter the database could not compare (422 problem+json)."""
    from .errors import Problem  # errors uses this module for validation answers

    if value is not None and not is_storable(value):
        raise Problem(422, f"参数 {name} {MESSAGE}。", slug="validation",
                      errors=[{"loc": [where, name], "msg": MESSAGE, "type": "unstorable_text"}])

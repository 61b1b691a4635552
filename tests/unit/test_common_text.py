"""services.common.text: what PostgreSQL cannot store is refused before it gets there."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.common.errors import Problem
from services.common.text import MESSAGE, StorableModel, ensure_storable, is_storable, scrub


class Inner(StorableModel):
    name: str | None = None


class Outer(StorableModel):
    text: str
    tags: list[str] = []
    extra: dict[str, str] = {}
    inner: Inner | None = None


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b", "\udfff"])
def test_nul_and_lone_surrogates_are_unstorable_anywhere_in_a_body(bad):
    assert not is_storable(bad) and is_storable(scrub(bad))
    for body in ({"text": bad}, {"text": "ok", "tags": ["x", bad]}, {"text": "ok", "extra": {bad: "v"}},
                 {"text": "ok", "inner": {"name": bad}}):
        with pytest.raises(ValidationError) as refused:
            Outer.model_validate(body)
        assert any((e["type"], e["msg"]) == ("unstorable_text", MESSAGE) or e["type"] == "string_unicode"
                   for e in refused.value.errors())


def test_ordinary_text_passes_untouched():
    body = {"text": "窗口推诿 \t\n😀", "tags": ["a"], "extra": {"k": "v"}, "inner": {"name": "张三"}}
    assert Outer.model_validate(body).model_dump() == body


def test_filters_and_path_values_are_a_422_problem():
    ensure_storable(None, name="cursor")
    ensure_storable("abc", name="cursor")
    with pytest.raises(Problem) as refused:
        ensure_storable("a\x00", name="cursor")
    assert refused.value.status == 422 and "cursor" in refused.value.detail and "无法保存" in refused.value.detail

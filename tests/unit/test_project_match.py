"""The key-project matcher (R-SU-5): names, aliases and register numbers, longest phrase wins."""

import uuid

from services.triage.project_match import ProjectMatcher

A, B = uuid.uuid4(), uuid.uuid4()
ROWS = [
    {"id": A, "code": "DT-2017-S-001", "name": "大同市某新能源产业园项目", "aliases": ["新能源产业园"]},
    {"id": B, "code": "88", "name": "御河大桥", "aliases": ["桥"]},
]


def test_a_project_is_named_once_by_its_longest_phrase():
    matcher = ProjectMatcher.build(ROWS)
    [m] = matcher.match("大同市某新能源产业园项目（新能源产业园）迟迟未开工")
    assert m.project_id == A and m.matched == "大同市某新能源产业园项目"
    [m] = matcher.match("编号DT-2017-S-001的项目")
    assert m.matched == "DT-2017-S-001"


def test_short_codes_and_aliases_never_match_ordinary_text():
    matcher = ProjectMatcher.build(ROWS)
    assert matcher.match("88号楼旁边的桥坏了") == []
    assert [m.project_id for m in matcher.match("御河大桥工程拖了两年")] == [B]


def test_an_empty_register_matches_nothing():
    assert ProjectMatcher.build([]).match("任何文字") == []

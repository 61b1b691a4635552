"""``consumer.rounds``: how a poll is cut for a set handler (each key once per round, each key in order)."""

from services.common.consumer import rounds


def test_each_key_appears_once_per_round_and_keeps_its_order():
    items = [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("a", 3), ("b", 2)]
    cut = rounds(items, key=lambda item: item[0])
    assert cut == [[("a", 1), ("b", 1), ("c", 1)], [("a", 2), ("b", 2)], [("a", 3)]]
    for part in cut:
        assert len({k for k, _ in part}) == len(part)
    assert [n for part in cut for k, n in part if k == "a"] == [1, 2, 3]


def test_distinct_keys_make_one_round_in_the_polled_order():
    assert rounds([3, 1, 2], key=lambda n: n) == [[3, 1, 2]]
    assert rounds([], key=lambda n: n) == []

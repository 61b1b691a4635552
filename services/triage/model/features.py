"""Features of a clue's text, identical at training and at run time.

Character n-grams (1–3) over a normalised text: each digit becomes ``0`` (an amount or a window number says
little, that there is one says something), full-width forms fold to half-width, latin is lower-cased.
Optionally jieba words, prefixed ``w:`` so they never collide with a character n-gram. Whether the words
earn their cost is measured by ``train`` (``--words``), not assumed.
"""

from __future__ import annotations

from functools import lru_cache

def _table() -> dict[int, str]:
    table = {c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}  # full-width ASCII → half-width
    table |= {ord(c): c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    table |= {c + 0xFEE0: chr(c).lower() for c in range(ord("A"), ord("Z") + 1)}
    table |= {ord(c): "0" for c in "0123456789０１２３４５６７８９"}
    table |= {ord(c): " " for c in "\t\n\r\u3000\xa0"}
    return table


_TABLE = _table()


def normalise(text: str) -> str:
    """Character for character (the same length as ``text``), so evidence found in the normalised text
    points at the citizen's own words."""
    return text.translate(_TABLE)


def char_ngrams(text: str, low: int = 1, high: int = 3) -> list[str]:
    n = len(text)
    return [text[i : i + k] for k in range(low, high + 1) for i in range(n - k + 1)]


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # the dictionary ships inside the package: nothing is downloaded
    return jieba


def words(text: str) -> list[str]:
    return ["w:" + w for w in _jieba().lcut(text, HMM=False) if len(w) > 1 and not w.isspace()]


def analyse(text: str, *, use_words: bool = False) -> list[str]:
    """The feature names of one text (with repeats: their counts are the term frequencies)."""
    norm = normalise(text)
    grams = char_ngrams(norm)
    if use_words:
        grams += words(norm)
    return grams

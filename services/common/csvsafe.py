"""CSV that a spreadsheet opens as data, never as formulas (CSV/formula injection, OWASP).

A cell that begins with ``= + - @`` (or a tab or carriage return, which some programs skip before
reading one of those) is run as a formula by Excel, WPS and LibreOffice. Text that reaches a CSV here —
unit ids, names, veto reasons — can come from outside, so such a cell is prefixed with an apostrophe,
which those programs show as text and do not print. Numbers (``-1.5``) are left as they are.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_TRIGGERS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` with every cell neutralised; the same ``writerow``/``writerows``."""

    def __init__(self, out, **kwargs: Any) -> None:
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out, **kwargs: Any) -> SafeWriter:
    return SafeWriter(out, **kwargs)

"""Named public holidays (元旦、春节、清明、五一、端午、中秋、国庆) from the working-day calendar's data.

Inspections check conduct around holidays (节日期间明察暗访, R-SU-1), so a plan names the holiday and takes
its dates from the same file the deadlines use (``data/holidays-cn.yaml``), never from a second list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

from .calendar import DEFAULT_CALENDAR

# What people call them, and the calendar's names that contain them (2025 has 国庆节、中秋节 as one period).
HOLIDAYS: dict[str, str] = {"元旦": "元旦", "春节": "春节", "清明": "清明", "五一": "劳动节", "端午": "端午",
                            "中秋": "中秋", "国庆": "国庆"}


@dataclass(frozen=True, slots=True)
class Holiday:
    name: str
    first: date
    last: date

    def around(self, margin: int = 3) -> tuple[date, date]:
        """The holiday and a few days either side: the eve of a holiday is checked as much as the days off."""
        return self.first - timedelta(days=margin), self.last + timedelta(days=margin)


@lru_cache
def holidays(path: Path = DEFAULT_CALENDAR) -> tuple[Holiday, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = []
    for year in (data.get("years") or {}).values():
        for entry in year.get("holidays", []):
            if isinstance(entry, dict) and entry.get("name"):
                found.append(Holiday(str(entry["name"]), date.fromisoformat(str(entry["from"])),
                                     date.fromisoformat(str(entry["to"]))))
    return tuple(sorted(found, key=lambda h: h.first))


def find(name: str, year: int) -> Holiday | None:
    """The holiday called ``name`` (元旦 … 国庆) in ``year``, or None if the calendar does not have it."""
    word = HOLIDAYS.get(name)
    if word is None:
        return None
    return next((h for h in holidays() if word in h.name and h.first.year == year), None)


def overlapping(start: date, end: date) -> Holiday | None:
    """The first holiday whose period (with its margin) overlaps ``start``..``end``."""
    for h in holidays():
        first, last = h.around()
        if first <= end and start <= last:
            return h
    return None

"""Working days (工作日) from a holiday calendar held as data, for deadlines, reminders and escalation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

# The city's time zone: working days, cut-offs, run dates and what a person reads are all in city time.
SHANGHAI = ZoneInfo("Asia/Shanghai")

DEFAULT_CALENDAR = Path(__file__).parent / "data" / "holidays-cn.yaml"


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[date]  # weekdays off (法定节假日)
    workdays: frozenset[date]  # weekend days worked instead (调休上班)

    @classmethod
    def load(cls, path: Path = DEFAULT_CALENDAR) -> WorkCalendar:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        holidays: set[date] = set()
        workdays: set[date] = set()
        for year in data["years"].values():
            for entry in year.get("holidays", []):
                holidays.update(_expand(entry))
            for entry in year.get("workdays", []):
                workdays.update(_expand(entry))
        return cls(frozenset(holidays), frozenset(workdays))

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = start
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if ``end`` is earlier)."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(1 for n in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(days=n)))


def _expand(entry) -> list[date]:
    if isinstance(entry, date):
        return [entry]
    if isinstance(entry, str):
        entry = {"from": entry, "to": entry}
    first, last = date.fromisoformat(str(entry["from"])), date.fromisoformat(str(entry["to"]))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@lru_cache
def default_calendar() -> WorkCalendar:
    return WorkCalendar.load()

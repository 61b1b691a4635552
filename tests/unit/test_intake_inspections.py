"""Inspection rules without I/O: holidays from the calendar's data, plan dates, result states."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from services.common import holidays
from services.common.errors import Problem
from services.intake.inspections import PlanInput, plan_dates, plan_state


def test_every_named_holiday_is_found_in_the_calendar_data():
    for name in ("元旦", "春节", "清明", "五一", "端午", "中秋", "国庆"):
        assert holidays.find(name, 2026) is not None, name
    assert holidays.find("中秋", 2025).name == "国庆节、中秋节"  # one period that year
    assert holidays.find("中秋", 2026).first == date(2026, 9, 25)


def test_a_holiday_plan_takes_the_next_holiday_with_its_eve_and_refuses_other_dates():
    plan = PlanInput(kind="open", target_units=["u"], team=["a"], leader="a", holiday="元旦")
    starts_on, ends_on, name = plan_dates(plan, on=date(2026, 12, 1))
    assert (starts_on, ends_on, name) == (date(2026, 12, 29), date(2027, 1, 6), "元旦")
    with pytest.raises(Problem) as refused:
        plan_dates(PlanInput(kind="open", target_units=["u"], team=["a"], leader="a", holiday="国庆",
                             starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 5)), on=date(2026, 1, 1))
    assert refused.value.status == 422
    # Dates alone: a plan over a holiday is recognised as a holiday check.
    plain = PlanInput(kind="open", target_units=["u"], team=["a"], leader="a", starts_on=date(2026, 10, 2),
                      ends_on=date(2026, 10, 3))
    assert plan_dates(plain, on=date(2026, 9, 1))[2] == "国庆节"


def test_result_states_follow_the_deadline():
    plan = SimpleNamespace(starts_on=date(2026, 5, 1), ends_on=date(2026, 5, 5), report_due=date(2026, 5, 12),
                           reported_on=None)
    assert [plan_state(plan, d) for d in (date(2026, 4, 30), date(2026, 5, 3), date(2026, 5, 10),
                                          date(2026, 5, 13))] == ["planned", "under_way", "awaiting_report", "overdue"]
    assert plan_state(SimpleNamespace(**{**vars(plan), "reported_on": date(2026, 5, 14)}), date(2026, 6, 1)) == \
        "reported_late"

"""Regulatory clocks of the controlled-substance ledger as pure date rules (issue 13, rule 8).

Worked examples, each citing its source (../shared/domain/controlled-substances.md sections 4, 6 and 9).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical.ledger import (
    ClockState,
    LedgerError,
    federal_holidays,
    inventory_deadline,
    is_business_day,
    loss_deadlines,
    may_destroy,
    next_business_day,
    retained_until,
    years_after,
)

# --- Biennial ledger: 21 CFR 1304.11(b), (c) ------------------------------------------------------------------


def test_biennial_inventory_is_due_two_years_after_the_last() -> None:
    # 1304.11(c): "at least every two years" after the previous ledger: taken 2026-03-02, due by 2028-03-02.
    clock = inventory_deadline(last_inventory_on=date(2026, 3, 2), first_activity_on=None, today=date(2027, 1, 5))
    assert (clock.what, clock.due_on, clock.state) == ("Biennial inventory", date(2028, 3, 2), ClockState.DUE)
    assert "1304.11(c)" in clock.source and clock.days_left == (date(2028, 3, 2) - date(2027, 1, 5)).days
    late = inventory_deadline(last_inventory_on=date(2026, 3, 2), first_activity_on=None, today=date(2028, 3, 3))
    assert late.state is ClockState.OVERDUE and late.days_left == -1


def test_a_leap_day_inventory_is_due_on_28_february() -> None:
    assert inventory_deadline(
        last_inventory_on=date(2028, 2, 29), first_activity_on=None, today=date(2028, 3, 1)
    ).due_on == (date(2030, 2, 28))


def test_without_any_inventory_the_initial_one_was_due_when_activity_began() -> None:
    # 1304.11(b): an initial inventory on the day the registrant first dispenses or administers.
    clock = inventory_deadline(last_inventory_on=None, first_activity_on=date(2026, 11, 2), today=date(2026, 12, 4))
    assert (clock.what, clock.due_on, clock.state) == ("Initial inventory", date(2026, 11, 2), ClockState.OVERDUE)
    assert "1304.11(b)" in clock.source


# --- Theft or loss: 21 CFR 1301.76(b), Form 106 within 45 days (88 FR 40707) -----------------------------------


def test_loss_discovered_on_a_friday_needs_notice_by_monday_and_form_106_in_45_days() -> None:
    friday = date(2026, 12, 4)
    notice, form = loss_deadlines(friday, today=friday)
    assert notice.due_on == date(2026, 12, 7) and "1301.76(b)" in notice.source
    assert form.due_on == date(2027, 1, 18) and "45 days" in form.source
    assert notice.state is form.state is ClockState.DUE


def test_the_business_day_skips_a_federal_holiday() -> None:
    # Discovered Wednesday 2026-11-25: Thursday is Thanksgiving (5 U.S.C. 6103(a)), so notice is due Friday.
    notice, _ = loss_deadlines(date(2026, 11, 25), today=date(2026, 11, 25))
    assert notice.due_on == date(2026, 11, 27)
    # Discovered Thursday 2026-12-24: Christmas is Friday, then the weekend: due Monday 2026-12-28.
    assert next_business_day(date(2026, 12, 24)) == date(2026, 12, 28)


def test_late_and_done_clocks() -> None:
    notice, form = loss_deadlines(
        date(2026, 10, 1), today=date(2026, 12, 4), notice_on=date(2026, 10, 2), form_106_on=None
    )
    assert notice.state is ClockState.DONE and notice.days_left is None
    assert form.due_on == date(2026, 11, 15) and form.state is ClockState.OVERDUE and form.days_left == -19


@pytest.mark.parametrize(
    ("year", "day", "name"),
    [
        (2026, date(2026, 7, 3), "Independence Day"),  # 4 July 2026 is a Saturday: observed Friday
        (2027, date(2027, 6, 18), "Juneteenth National Independence Day"),  # Saturday 19 June
        (2027, date(2027, 12, 24), "Christmas Day"),  # Saturday 25 December
        (2027, date(2027, 12, 31), "New Year's Day (observed)"),  # 1 January 2028 is a Saturday
        (2026, date(2026, 1, 19), "Birthday of Martin Luther King, Jr."),
        (2026, date(2026, 5, 25), "Memorial Day"),
        (2026, date(2026, 11, 26), "Thanksgiving Day"),
        (2020, date(2020, 1, 1), "New Year's Day"),
    ],
)
def test_federal_holidays_as_observed(year: int, day: date, name: str) -> None:
    assert federal_holidays(year)[day] == name


def test_juneteenth_only_from_2021() -> None:
    assert date(2020, 6, 19) not in federal_holidays(2020) and date(2021, 6, 18) in federal_holidays(2021)
    assert len(federal_holidays(2026)) == 11


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_the_next_business_day_is_soon_and_open(day: date) -> None:
    following = next_business_day(day)
    assert day < following <= day + timedelta(days=5) and is_business_day(following)
    assert all(not is_business_day(day + timedelta(days=n)) for n in range(1, (following - day).days))


# --- Retention: 21 CFR 1304.04(a) --------------------------------------------------------------------------------


def test_records_are_kept_at_least_two_years() -> None:
    assert retained_until(date(2026, 12, 4)) == date(2028, 12, 4)
    assert not may_destroy(date(2026, 12, 4), today=date(2028, 12, 3))
    assert may_destroy(date(2026, 12, 4), today=date(2028, 12, 4))
    # A clinic may keep them longer (policy default 5 years), never shorter.
    assert retained_until(date(2026, 12, 4), policy_years=5) == date(2031, 12, 4)
    with pytest.raises(LedgerError, match=r"at least 2 years \(21 CFR 1304.04\(a\)"):
        retained_until(date(2026, 12, 4), policy_years=1)


@given(st.dates(max_value=date(9000, 1, 1)), st.integers(min_value=0, max_value=20))
def test_years_after_is_the_same_day_or_28_february(day: date, years: int) -> None:
    later = years_after(day, years)
    assert later.year == day.year + years
    assert (later.month, later.day) == (day.month, day.day) or (day.month, day.day, later.day) == (2, 29, 28)

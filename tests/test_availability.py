"""Availability rules (kapclinic/clinical/availability.py): pure, in milliseconds."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapclinic.clinical.availability import (
    KIND_NEEDS,
    BookingLengths,
    Grid,
    Resource,
    WeeklyHours,
    booking_minutes,
    clashes,
    crowded,
    dosing_session_minutes,
    free_windows,
    holder_busy,
    merged,
    minus,
    next_free_starts,
    on_grid,
    overlap,
    place_needed,
    rule_text,
)
from kapclinic.clinical.monitoring import MonitoringPolicy
from kapclinic.roles import Role

NY = ZoneInfo("America/New_York")
WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
MONDAY = date(2026, 12, 7)  # a Monday


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NY)


def nine_to_five(key: str, **kwargs: object) -> Resource:
    return Resource(key, hours=[WeeklyHours(WEEKDAYS, time(9), time(17), since=date(2026, 1, 1))], **kwargs)  # type: ignore[arg-type]


# --- Recurrence follows RFC 5545, through dateutil ------------------------------------------------------------


def test_weekday_hours_skip_the_weekend() -> None:
    windows = WeeklyHours(WEEKDAYS, time(9), time(17), since=date(2026, 1, 1)).windows(
        MONDAY, MONDAY + timedelta(days=6), NY
    )
    assert [w[0].date() for w in windows] == [MONDAY + timedelta(days=d) for d in range(5)]
    assert all(w[0].hour == 9 and w[1].hour == 17 for w in windows)


def test_every_other_friday_counts_its_weeks_from_the_anchor() -> None:
    fridays = WeeklyHours("FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", time(8), time(12), since=date(2026, 12, 4)).windows(
        date(2026, 12, 1), date(2026, 12, 31), NY
    )
    assert [w[0].day for w in fridays] == [4, 18]


def test_the_first_monday_of_each_month() -> None:
    firsts = WeeklyHours("FREQ=MONTHLY;BYDAY=1MO", time(13), time(15), since=date(2026, 1, 1)).windows(
        date(2027, 1, 1), date(2027, 3, 31), NY
    )
    assert [w[0].date() for w in firsts] == [date(2027, 1, 4), date(2027, 2, 1), date(2027, 3, 1)]


def test_hours_that_changed_stop_on_their_last_day() -> None:
    old = WeeklyHours(WEEKDAYS, time(9), time(17), since=date(2026, 1, 1), until=MONDAY + timedelta(days=1))
    assert [w[0].date() for w in old.windows(MONDAY, MONDAY + timedelta(days=4), NY)] == [
        MONDAY,
        MONDAY + timedelta(days=1),
    ]
    assert old.windows(MONDAY + timedelta(days=2), MONDAY + timedelta(days=4), NY) == []


def test_hours_keep_the_wall_clock_across_daylight_saving() -> None:
    # 2027-03-14: New York moves to daylight time; 9:00 is 14:00 UTC before and 13:00 UTC after.
    windows = WeeklyHours("FREQ=DAILY", time(9), time(17), since=date(2027, 3, 1)).windows(
        date(2027, 3, 13), date(2027, 3, 15), NY
    )
    utc_hours = [w[0].astimezone(ZoneInfo("UTC")).hour for w in windows]
    assert utc_hours == [14, 13, 13]
    assert all(w[0].hour == 9 for w in windows)


@pytest.mark.parametrize(
    ("rule", "starts", "ends", "message"),
    [
        ("FREQ=WEEKLY;BYDAY=MO", time(17), time(9), "end after they start"),
        ("DTSTART:20260101T090000\nRRULE:FREQ=DAILY", time(9), time(17), "without DTSTART"),
        ("FREQ=SOMETIMES", time(9), time(17), "Not an iCalendar recurrence rule"),
        ("FREQ=WEEKLY;BYDAY=XX", time(9), time(17), "Not an iCalendar recurrence rule"),
    ],
)
def test_a_malformed_rule_is_refused(rule: str, starts: time, ends: time, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WeeklyHours(rule, starts, ends, since=date(2026, 1, 1))


# --- Interval arithmetic -------------------------------------------------------------------------------------

BASE = datetime(2026, 12, 7, tzinfo=NY)
moments = st.integers(min_value=0, max_value=24 * 60).map(lambda m: BASE + timedelta(minutes=m))
intervals = st.lists(st.tuples(moments, moments).map(lambda p: (min(p), max(p))), max_size=8)


def covered(spans: list[tuple[datetime, datetime]], minute: datetime) -> bool:
    return any(b <= minute < e for b, e in spans)


@settings(max_examples=200, deadline=None)
@given(intervals, intervals, moments)
def test_minus_and_overlap_agree_with_minute_by_minute_membership(
    a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]], minute: datetime
) -> None:
    assert covered(minus(a, b), minute) == (covered(a, minute) and not covered(b, minute))
    assert covered(overlap(a, b), minute) == (covered(a, minute) and covered(b, minute))
    assert covered(merged(a), minute) == covered(a, minute)


@settings(max_examples=200, deadline=None)
@given(intervals)
def test_merged_intervals_are_sorted_and_apart(a: list[tuple[datetime, datetime]]) -> None:
    out = merged(a)
    assert all(b < e for b, e in out)
    assert all(out[i][1] < out[i + 1][0] for i in range(len(out) - 1))


@settings(max_examples=200, deadline=None)
@given(intervals, moments, st.integers(min_value=1, max_value=4))
def test_crowded_is_where_at_least_so_many_run_at_once_minute_by_minute(
    a: list[tuple[datetime, datetime]], minute: datetime, at_once: int
) -> None:
    running = sum(1 for b, e in a if b <= minute < e)
    assert covered(crowded(a, at_once), minute) == (running >= at_once)


def test_a_nurse_holds_three_dosing_sessions_at_once_but_nothing_beside_another_kind() -> None:
    assert KIND_NEEDS["dosing"].at_once == 3
    day = MONDAY
    sessions = [(at(day, 9), at(day, 12), "dosing"), (at(day, 10), at(day, 13), "dosing")]
    assert holder_busy(sessions, "dosing") == []
    third = [*sessions, (at(day, 11), at(day, 14), "dosing")]
    assert holder_busy(third, "dosing") == [(at(day, 11), at(day, 12))]
    # For another kind every session keeps the nurse, and an appointment keeps her from a session.
    assert holder_busy(sessions, "consultation") == [(at(day, 9), at(day, 13))]
    assert holder_busy([(at(day, 15), at(day, 16), "consultation")], "dosing") == [(at(day, 15), at(day, 16))]
    with pytest.raises(ValueError):
        crowded([], 0)


def test_a_booking_ending_at_ten_leaves_ten_free() -> None:
    busy = [(at(MONDAY, 9), at(MONDAY, 10))]
    assert clashes(at(MONDAY, 10), at(MONDAY, 11), busy) == []
    assert clashes(at(MONDAY, 9, 30), at(MONDAY, 10, 30), busy) == busy


# --- Free windows and next free times ----------------------------------------------------------------------


def test_free_windows_take_out_time_off_closures_and_bookings() -> None:
    nurse = nine_to_five(
        "nurse",
        time_off=[(at(MONDAY, 12), at(MONDAY, 13))],
        busy=[(at(MONDAY, 9), at(MONDAY, 10))],
    )
    closure = [(at(MONDAY + timedelta(days=1), 0), at(MONDAY + timedelta(days=2), 0))]  # Tuesday closed
    windows = free_windows(nurse, MONDAY, MONDAY + timedelta(days=1), NY, closure)
    assert windows == [(at(MONDAY, 10), at(MONDAY, 12)), (at(MONDAY, 13), at(MONDAY, 17))]


def test_next_free_starts_need_every_resource_free_for_the_whole_length() -> None:
    nurse = nine_to_five("nurse", busy=[(at(MONDAY, 9), at(MONDAY, 11))])
    chair = Resource(
        "chair-1",
        hours=[WeeklyHours(WEEKDAYS, time(8), time(18), since=date(2026, 1, 1))],
        busy=[(at(MONDAY, 12), at(MONDAY, 14))],
    )
    starts = next_free_starts([nurse, chair], minutes=60, wanted=at(MONDAY, 8), zone=NY, count=4)
    # 11:00 is the first time both are free; an hour from 11:15 would run into the chair's 12:00 booking.
    assert starts == [at(MONDAY, 11), at(MONDAY, 14), at(MONDAY, 14, 15), at(MONDAY, 14, 30)]


def test_next_free_starts_move_to_the_next_open_day_and_respect_not_before() -> None:
    nurse = nine_to_five("nurse")
    friday_late = at(MONDAY + timedelta(days=4), 16, 30)
    assert next_free_starts([nurse], minutes=60, wanted=friday_late, zone=NY, count=1) == [
        at(MONDAY + timedelta(days=7), 9)
    ]
    grid = Grid(step_minutes=30, not_before=at(MONDAY, 10, 5))
    assert next_free_starts([nurse], minutes=30, wanted=at(MONDAY, 9), zone=NY, grid=grid, count=2) == [
        at(MONDAY, 10, 30),
        at(MONDAY, 11),
    ]


def test_no_free_time_in_the_window_gives_none_and_no_resource_gives_none() -> None:
    away = nine_to_five("nurse", time_off=[(at(MONDAY, 0), at(MONDAY + timedelta(days=30), 0))])
    assert next_free_starts([away], minutes=30, wanted=at(MONDAY, 9), zone=NY) == []
    assert next_free_starts([], minutes=30, wanted=at(MONDAY, 9), zone=NY) == []


@settings(max_examples=100, deadline=None)
@given(intervals, st.integers(min_value=15, max_value=240))
def test_every_offered_start_is_free_for_its_whole_length(busy: list[tuple[datetime, datetime]], minutes: int) -> None:
    nurse = nine_to_five("nurse", busy=busy)
    for start in next_free_starts([nurse], minutes=minutes, wanted=BASE, zone=NY, count=5):
        end = start + timedelta(minutes=minutes)
        assert clashes(start, end, busy) == []
        assert time(9) <= start.timetz().replace(tzinfo=None) and end.timetz().replace(tzinfo=None) <= time(17)
        assert start.minute % 15 == 0


def test_on_grid_rounds_up() -> None:
    assert on_grid(at(MONDAY, 10, 7), 15) == at(MONDAY, 10, 15)
    assert on_grid(at(MONDAY, 10, 15), 15) == at(MONDAY, 10, 15)
    assert on_grid(at(MONDAY, 10, 15).replace(second=1), 15) == at(MONDAY, 10, 30)


# --- Lengths ---------------------------------------------------------------------------------------------------


def test_a_spravato_session_holds_the_label_observation() -> None:
    # check-in 20 + dose 10 + at least 2 hours (Spravato PI 5.1; monitoring.md section 6) + discharge 15
    assert booking_minutes("dosing", route="intranasal") == 20 + 10 + 120 + 15


def test_an_iv_session_counts_its_infusion_then_observation_from_its_end() -> None:
    assert booking_minutes("dosing", route="iv") == 20 + 40 + 30 + 15
    assert booking_minutes("dosing", route="iv", infusion_minutes=60) == 20 + 60 + 30 + 15


def test_lengths_follow_the_clinics_monitoring_policy() -> None:
    longer = BookingLengths(monitoring=MonitoringPolicy(observation_minutes_im=180))
    assert booking_minutes("dosing", route="im", lengths=longer) == 20 + 10 + 180 + 15
    assert booking_minutes("integration") == 50


def test_an_iv_session_needs_a_chair_a_video_visit_no_place() -> None:
    assert place_needed("dosing", route="iv") == "chair"
    assert place_needed("dosing", route="intranasal") == "room"
    assert place_needed("integration", video=True) == ""
    assert place_needed("evaluation") == "room"


def test_who_holds_each_kind() -> None:
    assert KIND_NEEDS["evaluation"].held_by == (Role.PRESCRIBER,)
    assert Role.COORDINATOR in KIND_NEEDS["consultation"].held_by
    assert Role.COORDINATOR not in KIND_NEEDS["integration"].held_by
    assert KIND_NEEDS["dosing"].held_by == (Role.NURSE,)
    assert KIND_NEEDS["dosing"].on_site == (Role.PRESCRIBER,)


@pytest.mark.parametrize(
    ("kind", "route", "message"),
    [("dosing", None, "route"), ("dosing", "oral", "Unknown route"), ("massage", None, "Unknown kind")],
)
def test_unknown_kinds_and_routes_are_refused(kind: str, route: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        booking_minutes(kind, route=route)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "Mon to Fri"),
        ("FREQ=WEEKLY;BYDAY=FR,MO", "Mon, Fri"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", "every other week: Fri"),
        ("FREQ=DAILY", "every day"),
        ("FREQ=MONTHLY;BYDAY=1MO", "FREQ=MONTHLY;BYDAY=1MO"),
        ("FREQ=WEEKLY;BYDAY=MO;COUNT=3", "FREQ=WEEKLY;BYDAY=MO;COUNT=3"),
    ],
)
def test_rules_in_words(rule: str, words: str) -> None:
    assert rule_text(rule) == words


def test_a_dosing_session_is_booked_for_the_plan_but_never_shorter_than_its_route_needs() -> None:
    needed = booking_minutes("dosing", route="iv")
    assert dosing_session_minutes(180, route="iv") == max(180, needed)
    assert dosing_session_minutes(30, route="iv") == needed
    assert dosing_session_minutes(30, route="intranasal") == booking_minutes("dosing", route="intranasal")

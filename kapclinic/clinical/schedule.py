"""When measures are due: the follow-up schedule of ../shared/domain/outcomes.md (baseline, before each
dosing session, end of course, then 1, 3 and 6 months after). Plain Python, no Django."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

# A measure may be answered this many days before its due date and still count for it [policy].
EARLY_WINDOW_DAYS = 3
# After this many days past due it is overdue (on the coordinator's list) [policy].
OVERDUE_AFTER_DAYS = 7
FOLLOW_UP_MONTHS = (1, 3, 6)


@dataclass(frozen=True)
class Milestone:
    label: str
    due_on: date


def add_months(day: date, months: int) -> date:
    """Return the same day `months` later, or the month's last day when it has no such day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def standard_schedule(*, baseline_on: date, course_end_on: date) -> list[Milestone]:
    """Return the milestones of a standard course: baseline, end of course, and follow-ups after it."""
    if course_end_on < baseline_on:
        raise ValueError("The course cannot end before its baseline.")
    milestones = [Milestone("Baseline", baseline_on), Milestone("End of course", course_end_on)]
    milestones += [
        Milestone(f"{months} month{'s' if months > 1 else ''} after the course", add_months(course_end_on, months))
        for months in FOLLOW_UP_MONTHS
    ]
    return milestones


def status_on(due_on: date, today: date, *, completed: bool) -> str:
    """Return "done", "upcoming", "due" or "overdue" for a scheduled measure on `today`."""
    if completed:
        return "done"
    if today < due_on - timedelta(days=EARLY_WINDOW_DAYS):
        return "upcoming"
    if today > due_on + timedelta(days=OVERDUE_AFTER_DAYS):
        return "overdue"
    return "due"


def counts_for(due_on: date, answered_on: date) -> bool:
    """Return whether a response given on `answered_on` fulfils a measure due on `due_on`."""
    return answered_on >= due_on - timedelta(days=EARLY_WINDOW_DAYS)


# Course frequencies (dosing.md section 7), keyed by the plan's `interval_days`: the gaps between sessions in
# turn, and the sessions per week the dosing policy's weekly limits are checked against.
@dataclass(frozen=True)
class Frequency:
    label: str
    gaps: tuple[int, ...]
    per_week: float


FREQUENCIES = {
    3: Frequency("Twice weekly (e.g. Monday and Thursday)", (3, 4), 2),
    2: Frequency("Three times weekly (e.g. Monday, Wednesday, Friday)", (2, 2, 3), 3),
    7: Frequency("Weekly", (7,), 1),
    14: Frequency("Every 2 weeks", (14,), 0.5),
}


def session_dates(first: date, count: int, interval_days: int) -> list[date]:
    """The dates of a course of `count` sessions from `first`, in the frequency's pattern of gaps."""
    frequency = FREQUENCIES.get(interval_days)
    gaps = frequency.gaps if frequency else (interval_days,)
    dates, day = [], first
    for n in range(count):
        dates.append(day)
        day += timedelta(days=gaps[n % len(gaps)])
    return dates

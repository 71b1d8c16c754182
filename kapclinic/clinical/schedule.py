"""When measures are due: the follow-up schedule of ../shared/domain/outcomes.md (baseline, before each
dosing session, end of course, then 1, 3 and 6 months after). Plain Python, no Django."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
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
    milestones += [Milestone(follow_up_label(months), add_months(course_end_on, months)) for months in FOLLOW_UP_MONTHS]
    return milestones


def follow_up_label(months: int) -> str:
    """Return the label of the follow-up `months` after the course ("1 month after the course")."""
    return f"{months} month{'s' if months > 1 else ''} after the course"


FOLLOW_UP_BY_LABEL = {follow_up_label(months): months for months in FOLLOW_UP_MONTHS}


def follow_up_due_on(*, label: str, due_on: date, session_days: Iterable[date]) -> date:
    """Return when a measure is due, counting a follow-up from the course's real end.

    outcomes.md section 1: follow-ups are "1, 3, 6 months after course". A follow-up was dated from the end the
    course had when it was scheduled; a dosing session after that day (the course ran longer, or a new course
    began) means the course ends later, so the follow-up is due `months` after its last session, never earlier
    than first set. Any other measure keeps its date.
    """
    months = FOLLOW_UP_BY_LABEL.get(label)
    if months is None:
        return due_on
    planned_end = add_months(due_on, -months)
    later = [day for day in session_days if day > planned_end]
    return max(due_on, add_months(max(later), months)) if later else due_on


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
    """Return whether a response given on `answered_on` fulfils a measure due on `due_on`.

    Every open measure of the questionnaire it counts for is fulfilled by the one answer: two schedules asking
    for the same questionnaire in the same days (a pre-session PHQ-9 and a follow-up) need one answer [policy].
    """
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


# Measurement completeness (issue 19 item 4): a scheduled measure is answered on time when it comes in before it
# turns overdue (OVERDUE_AFTER_DAYS past its due date) [policy: the same line as the coordinator's overdue list].
TIMELINESS = ("on_time", "late", "overdue", "open")


def timeliness(due_on: date, answered_on: date | None, today: date) -> str:
    """Return "on_time", "late" (answered after it turned overdue), "overdue" (never answered and past the line)
    or "open" (not answered, not yet overdue: not counted for or against the clinic)."""
    line = due_on + timedelta(days=OVERDUE_AFTER_DAYS)
    if answered_on is not None:
        return "on_time" if answered_on <= line else "late"
    return "overdue" if today > line else "open"

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

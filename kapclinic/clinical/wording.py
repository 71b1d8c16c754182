"""How the clinic writes a day and a time, in pages, messages and summaries alike (issue 13, defect 10).

"Dec 4, 2026" and "Dec 4, 2026, 14:05": month as a word, so no reader takes 12/04 for April 12.
The caller passes a local date-time; this module knows nothing of time zones or Django.
"""

from __future__ import annotations

from datetime import date, datetime


def day_text(day: date) -> str:
    """Return "Dec 4, 2026"."""
    return f"{day:%b} {day.day}, {day.year}"


def day_time_text(moment: datetime) -> str:
    """Return "Dec 4, 2026, 14:05"."""
    return f"{day_text(moment)}, {moment:%H:%M}"


def weekday_day_text(day: date) -> str:
    """Return "Fri, Dec 4, 2026" (schedules, where the day of the week matters)."""
    return f"{day:%a}, {day_text(day)}"


def weekday_time_text(moment: datetime) -> str:
    """Return "Fri, Dec 4, 2026, 14:05"."""
    return f"{moment:%a}, {day_time_text(moment)}"

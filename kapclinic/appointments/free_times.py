"""The next free start times of a staff member: plain date arithmetic, no Django (tested on its own)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta


@dataclass(frozen=True)
class OpeningHours:
    """When appointments may be offered: a start on a grid, ending by `closes`, on weekdays only."""

    opens: time = time(8, 0)
    closes: time = time(18, 0)
    step_minutes: int = 15
    weekdays_only: bool = True


def next_free_starts(
    *,
    wanted: datetime,
    minutes: int,
    busy: Iterable[tuple[datetime, datetime]],
    not_before: datetime,
    count: int = 3,
    hours: OpeningHours = OpeningHours(),
    search_days: int = 14,
) -> list[datetime]:
    """Return up to `count` starts at or after `wanted` (and `not_before`) where `minutes` fit between the busy
    intervals, within opening hours, on the grid of `hours.step_minutes`. Times keep `wanted`'s time zone."""
    if minutes <= 0 or count <= 0:
        return []
    length = timedelta(minutes=minutes)
    step = timedelta(minutes=hours.step_minutes)
    intervals = sorted(busy)
    start = _onto_grid(max(wanted, not_before), hours.step_minutes)
    found: list[datetime] = []
    limit = start + timedelta(days=search_days)
    candidate = start
    while candidate < limit and len(found) < count:
        day_open = candidate.replace(hour=hours.opens.hour, minute=hours.opens.minute, second=0, microsecond=0)
        day_close = candidate.replace(hour=hours.closes.hour, minute=hours.closes.minute, second=0, microsecond=0)
        if (hours.weekdays_only and candidate.weekday() >= 5) or candidate + length > day_close:
            candidate = day_open + timedelta(days=1)
            continue
        if candidate < day_open:
            candidate = day_open
            continue
        blocking = [end for begin, end in intervals if begin < candidate + length and end > candidate]
        if blocking:
            # Jump past the latest clash, back onto the grid.
            candidate = _onto_grid(max(candidate + step, max(blocking)), hours.step_minutes)
            continue
        found.append(candidate)
        candidate += step
    return found


def _onto_grid(moment: datetime, step_minutes: int) -> datetime:
    """Round up to the next multiple of `step_minutes` past the hour (10:07 becomes 10:15; 10:15 stays)."""
    exact = moment.replace(second=0, microsecond=0)
    if exact != moment:
        exact += timedelta(minutes=1)
    extra = exact.minute % step_minutes
    return exact + timedelta(minutes=step_minutes - extra) if extra else exact

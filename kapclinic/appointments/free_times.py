"""The next free start times of a staff member within the clinic's opening hours: the booking form's offer.

The arithmetic is kapclinic/clinical/availability.py's, which the calendar's booking engine uses too; this module
only says what an appointment's opening hours are. No Django (tested on its own).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from kapclinic.clinical import availability
from kapclinic.clinical.availability import Grid, Resource, WeeklyHours

# Any Monday before the first appointment: the weekly rule needs an anchor, and its weeks count from there.
_ANCHOR = date(2000, 1, 3)


@dataclass(frozen=True)
class OpeningHours:
    """When appointments may be offered: a start on a grid, ending by `closes`, on weekdays only."""

    opens: time = time(8, 0)
    closes: time = time(18, 0)
    step_minutes: int = 15
    weekdays_only: bool = True

    def weekly(self) -> WeeklyHours:
        rule = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR" if self.weekdays_only else "FREQ=DAILY"
        return WeeklyHours(rule, self.opens, self.closes, since=_ANCHOR)


def next_free_starts(
    *,
    wanted: datetime,
    minutes: int,
    busy: Iterable[tuple[datetime, datetime]],
    not_before: datetime,
    count: int = 3,
    hours: OpeningHours = OpeningHours(),
    search_days: int = availability.SEARCH_DAYS,
) -> list[datetime]:
    """Return up to `count` starts at or after `wanted` (and `not_before`) where `minutes` fit between the busy
    intervals, within opening hours, on the grid of `hours.step_minutes`. Times keep `wanted`'s time zone."""
    zone = wanted.tzinfo
    if zone is None:
        raise ValueError("wanted must be an aware datetime")
    staff = Resource("staff", hours=[hours.weekly()], busy=list(busy))
    return availability.next_free_starts(
        [staff],
        minutes=minutes,
        wanted=wanted,
        zone=zone,
        grid=Grid(step_minutes=hours.step_minutes, not_before=not_before),
        count=count,
        search_days=search_days,
    )

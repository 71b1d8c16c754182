"""A calendar day in the clinic's time zone as a range of instants, for filters an index can answer.

`scheduled_for__date=day` makes SQLite call a Python function on every row and PostgreSQL cast every row
(`AT TIME ZONE ...::date`): neither can use the index on the column (issue 15, item 3). A half-open range
[local midnight, next local midnight) on the timestamp itself can.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from django.utils import timezone


def day_start(day: date, zone: tzinfo | None = None) -> datetime:
    """The first instant of `day` in the clinic's time zone (TIME_ZONE), as an aware datetime.

    Safe across daylight-saving changes: the date is combined with midnight in the zone itself (never by adding
    24 hours to another midnight), so a 23- or 25-hour day ends at the next real midnight. Where a zone's clocks
    jump forward at midnight, the missing 00:00 is read with the offset before the change (zoneinfo's fold=0),
    which is the same instant as the day's first real minute.
    """
    return datetime.combine(day, time.min, tzinfo=zone or timezone.get_default_timezone())


def day_range(first: date, last: date | None = None, zone: tzinfo | None = None) -> tuple[datetime, datetime]:
    """[start, end): the instants from the start of `first` to the start of the day after `last` (default: `first`).

    Filter with `field__gte=start, field__lt=end`.
    """
    return day_start(first, zone), day_start((last or first) + timedelta(days=1), zone)

"""Who and where is free: staff working hours, places' opening hours, time off, closures and the bookings, read
from the database and handed to the pure rules of kapclinic/clinical/availability.py (issue 16, items 1 and 2)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.free_times import OpeningHours
from kapclinic.appointments.models import Appointment, AppointmentStatus, Closure, Place, TimeOff, WorkingHours
from kapclinic.clinical import availability
from kapclinic.clinical.availability import Grid, Interval, Resource, WeeklyHours
from kapclinic.clinical.wording import weekday_time_text

CLINIC_HOURS = OpeningHours()


def _hours(rows: list[WorkingHours]) -> list[WeeklyHours]:
    """The recorded blocks; none recorded means the clinic's opening hours (where next free times are offered)."""
    if not rows:
        return [CLINIC_HOURS.weekly()]
    return [WeeklyHours(row.rule, row.starts, row.ends, since=row.since, until=row.until) for row in rows]


def _booked(q: Q, start: datetime, end: datetime, ignore: int | None) -> list[Interval]:
    rows = (
        Appointment.objects.filter(
            q,
            status=AppointmentStatus.BOOKED,
            starts_at__lt=end,
            # Nothing longer than the longest booking: bounds the index range to the window, not the history.
            starts_at__gt=start - timedelta(minutes=availability.LONGEST_BOOKING_MINUTES),
            ends_at__gt=start,
        )
        .exclude(pk=ignore or 0)
        .values_list("starts_at", "ends_at")
    )
    return [(timezone.localtime(a), timezone.localtime(b)) for a, b in rows]


def _time_off(q: Q, start: datetime, end: datetime) -> list[Interval]:
    rows = TimeOff.objects.filter(q, starts_at__lt=end, ends_at__gt=start).values_list("starts_at", "ends_at")
    return [(timezone.localtime(a), timezone.localtime(b)) for a, b in rows]


def closures_between(start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
    rows = Closure.objects.filter(starts_at__lt=end, ends_at__gt=start).values_list("starts_at", "ends_at", "reason")
    return [(timezone.localtime(a), timezone.localtime(b), reason) for a, b, reason in rows]


def staff_resource(
    staff: User, start: datetime, end: datetime, *, patient_id: int | None = None, ignore: int | None = None
) -> Resource:
    """The staff member's hours, time off and bookings from `start` to `end` (and the patient's bookings, which
    a time for both must also avoid)."""
    rows = list(WorkingHours.objects.filter(user=staff))
    booked = Q(with_user=staff) | Q(patient_id=patient_id) if patient_id is not None else Q(with_user=staff)
    return Resource(
        f"staff:{staff.pk}",
        hours=_hours(rows),
        time_off=_time_off(Q(user=staff), start, end),
        busy=_booked(booked, start, end, ignore),
    )


def place_resource(place: Place, start: datetime, end: datetime, *, ignore: int | None = None) -> Resource:
    rows = list(WorkingHours.objects.filter(place=place))
    return Resource(
        f"place:{place.pk}",
        hours=_hours(rows),
        time_off=_time_off(Q(place=place), start, end),
        busy=_booked(Q(place=place), start, end, ignore),
    )


def availability_problems(
    *, staff: User, place: Place | None, starts_at: datetime, ends_at: datetime
) -> dict[str, str]:
    """Why the staff member or the place cannot have this time, apart from other bookings: a closure, outside
    working or opening hours, time off. Empty when they can."""
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    for begin, _, reason in closures_between(start, end):
        return {"starts_at": f"The clinic is closed then ({reason}, from {weekday_time_text(begin)})."}
    problems: dict[str, str] = {}
    who = staff_resource(staff, start - timedelta(days=1), end + timedelta(days=1))
    if not _fits(who, start, end, hours_recorded=WorkingHours.objects.filter(user=staff).exists()):
        problems["starts_at"] = f"{staff.display_name} is not working then (outside their hours, or away)."
    if place is not None:
        where = place_resource(place, start - timedelta(days=1), end + timedelta(days=1))
        if not _fits(where, start, end, hours_recorded=WorkingHours.objects.filter(place=place).exists()):
            problems["place"] = f"{place.name} is not open then (outside its hours, or out of use)."
    return problems


def _fits(resource: Resource, start: datetime, end: datetime, *, hours_recorded: bool) -> bool:
    """Within the resource's hours (when it has any recorded: before this, bookings were not held to hours, and
    someone with none recorded still is not) and outside its time off."""
    if availability.clashes(start, end, resource.time_off):
        return False
    if not hours_recorded:
        return True
    zone = timezone.get_current_timezone()
    windows = [w for block in resource.hours for w in block.windows(start.date(), end.date(), zone)]
    return any(begin <= start and end <= finish for begin, finish in availability.merged(windows))


def next_free_times(
    *,
    staff: User,
    minutes: int,
    wanted: datetime,
    place: Place | None = None,
    patient_id: int | None = None,
    ignore: int | None = None,
    count: int = 3,
) -> list[datetime]:
    """The next starts where the staff member, the place (if any) and the patient are all free for `minutes`,
    within hours, outside time off and closures, on the clinic's grid, not in the past."""
    local = timezone.localtime(wanted)
    start, end = local, local + timedelta(days=availability.SEARCH_DAYS + 1)
    resources = [staff_resource(staff, start, end, patient_id=patient_id, ignore=ignore)]
    if place is not None:
        resources.append(place_resource(place, start, end, ignore=ignore))
    return availability.next_free_starts(
        resources,
        minutes=minutes,
        wanted=local,
        zone=timezone.get_current_timezone(),
        closures=[(a, b) for a, b, _ in closures_between(start, end)],
        grid=Grid(step_minutes=CLINIC_HOURS.step_minutes, not_before=timezone.localtime()),
        count=count,
    )

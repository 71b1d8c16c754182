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


def booked_between(q: Q, start: datetime, end: datetime, ignore: int | None = None) -> list[Appointment]:
    """The booked appointments matching `q` that overlap `start`..`end` (without the one being moved)."""
    return list(
        Appointment.objects.filter(
            q,
            status=AppointmentStatus.BOOKED,
            starts_at__lt=end,
            # Nothing longer than the longest booking: bounds the index range to the window, not the history.
            starts_at__gt=start - timedelta(minutes=availability.LONGEST_BOOKING_MINUTES),
            ends_at__gt=start,
        )
        .exclude(pk=ignore or 0)
        .only("starts_at", "ends_at", "kind", "with_user_id", "patient_id", "place_id")
        .order_by("starts_at")
    )


def staff_busy(
    staff: User, kind: str | None, start: datetime, end: datetime, *, patient_id: int | None, ignore: int | None
) -> list[Interval]:
    """When a booking of `kind` cannot have the staff member (what they hold: clinical.availability.holder_busy)
    or the patient (any booking of theirs)."""
    booked = Q(with_user=staff) | Q(patient_id=patient_id) if patient_id is not None else Q(with_user=staff)
    rows = booked_between(booked, start, end, ignore)
    local = [(timezone.localtime(a.starts_at), timezone.localtime(a.ends_at), a) for a in rows]
    held = availability.holder_busy([(a, b, row.kind) for a, b, row in local if row.with_user_id == staff.pk], kind)
    theirs = [(a, b) for a, b, row in local if patient_id is not None and row.patient_id == patient_id]
    return availability.merged(held + theirs)


def _time_off(q: Q, start: datetime, end: datetime) -> list[Interval]:
    rows = TimeOff.objects.filter(q, starts_at__lt=end, ends_at__gt=start).values_list("starts_at", "ends_at")
    return [(timezone.localtime(a), timezone.localtime(b)) for a, b in rows]


def closures_between(start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
    rows = Closure.objects.filter(starts_at__lt=end, ends_at__gt=start).values_list("starts_at", "ends_at", "reason")
    return [(timezone.localtime(a), timezone.localtime(b), reason) for a, b, reason in rows]


def _resource(key: str, owner: Q, start: datetime, end: datetime, busy: list[Interval]) -> tuple[Resource, bool]:
    """A staff member's or a place's hours and time off from `start` to `end`, with `busy`, and whether it has
    hours recorded (`owner`: Q(user=...) or Q(place=...), as both tables name their owner)."""
    rows = list(WorkingHours.objects.filter(owner))
    return Resource(key, hours=_hours(rows), time_off=_time_off(owner, start, end), busy=busy), bool(rows)


def staff_resource(
    staff: User,
    start: datetime,
    end: datetime,
    *,
    kind: str | None = None,
    patient_id: int | None = None,
    ignore: int | None = None,
) -> Resource:
    """The staff member's hours, time off and what keeps them from a booking of `kind` from `start` to `end`
    (and the patient's bookings, which a time for both must also avoid)."""
    busy = staff_busy(staff, kind, start, end, patient_id=patient_id, ignore=ignore)
    return _resource(f"staff:{staff.pk}", Q(user=staff), start, end, busy)[0]


def place_resource(place: Place, start: datetime, end: datetime, *, ignore: int | None = None) -> Resource:
    busy = [
        (timezone.localtime(a.starts_at), timezone.localtime(a.ends_at))
        for a in booked_between(Q(place=place), start, end, ignore)
    ]
    return _resource(f"place:{place.pk}", Q(place=place), start, end, busy)[0]


def availability_problems(
    *, staff: User, place: Place | None, starts_at: datetime, ends_at: datetime
) -> dict[str, str]:
    """Why the staff member or the place cannot have this time, apart from other bookings: a closure, outside
    working or opening hours, time off. Empty when they can. (Other bookings are the caller's check, under its
    locks; they are not read here.)"""
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    for begin, _, reason in closures_between(start, end):
        return {"starts_at": f"The clinic is closed then ({reason}, from {weekday_time_text(begin)})."}
    problems: dict[str, str] = {}
    if not _fits(*_resource("staff", Q(user=staff), start, end, []), start, end):
        problems["starts_at"] = f"{staff.display_name} is not working then (outside their hours, or away)."
    if place is not None and not _fits(*_resource("place", Q(place=place), start, end, []), start, end):
        problems["place"] = f"{place.name} is not open then (outside its hours, or out of use)."
    return problems


def on_site_problems(kind: str, starts_at: datetime, ends_at: datetime) -> dict[str, str]:
    """Why a booking of `kind` cannot have this time for want of someone on site (a dosing session: a prescriber
    at work throughout, not held by it: monitoring.md section 6 asks for the prescriber at discharge). Staff with
    no hours recorded count as at work, as for the staff member booked; time off always counts."""
    needs = availability.KIND_NEEDS.get(kind)
    if needs is None or not needs.on_site:
        return {}
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    for role in needs.on_site:
        staff = list(User.objects.filter(role=role, is_active=True).only("pk"))
        if not any(_fits(*_resource("staff", Q(user=person), start, end, []), start, end) for person in staff):
            label = role.replace("_", " ")
            return {"starts_at": f"No {label} is at work then to be on site (their hours, or time off)."}
    return {}


def _fits(resource: Resource, hours_recorded: bool, start: datetime, end: datetime) -> bool:
    """Outside the resource's time off, and within its hours when it has any recorded (before hours existed,
    bookings were not held to any, and someone with none recorded still is not)."""
    if availability.clashes(start, end, resource.time_off):
        return False
    return not hours_recorded or availability.within_hours(resource.hours, start, end, timezone.get_current_timezone())


def next_free_times(
    *,
    staff: User,
    minutes: int,
    wanted: datetime,
    kind: str | None = None,
    place: Place | None = None,
    patient_id: int | None = None,
    ignore: int | None = None,
    count: int = 3,
) -> list[datetime]:
    """The next starts where the staff member, the place (if any) and the patient are all free for `minutes`,
    within hours, outside time off and closures, on the clinic's grid, not in the past."""
    local = timezone.localtime(wanted)
    start, end = local, local + timedelta(days=availability.SEARCH_DAYS + 1)
    resources = [staff_resource(staff, start, end, kind=kind, patient_id=patient_id, ignore=ignore)]
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

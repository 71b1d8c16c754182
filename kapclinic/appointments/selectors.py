"""Reads of appointments shared by the home pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from kapclinic.appointments.models import (
    Appointment,
    AppointmentChange,
    AppointmentKind,
    AppointmentStatus,
    Closure,
    Place,
    TimeOff,
    WorkingHours,
)
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record, access_events_record_many
from kapclinic.days import day_range
from kapclinic.errors import AccessDenied
from kapclinic.patients.access import on_care_team_of
from kapclinic.prepared import prepared_rows
from kapclinic.roles import Action, Role, Scope, may, scope_for


def consultations_coming(*, days: int = 1) -> list[Appointment]:
    """Return booked free consultations from the start of today for `days` days (names only; one query).

    Built and compiled once per process (kapclinic/prepared.py): the coordinator's home page asks on every load."""
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    return prepared_rows("appointments.consultations_coming", _consultations, start, start + timedelta(days=days))


def _consultations(start: datetime, end: datetime) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(
            kind=AppointmentKind.CONSULTATION,
            status=AppointmentStatus.BOOKED,
            starts_at__gte=start,
            starts_at__lt=end,
        )
        .select_related("patient", "inquiry", "with_user")
        .order_by("starts_at")
    )


def appointments_upcoming_for(*, ctx: AuditContext, days: int = 14, limit: int = 20) -> list[Appointment]:
    """The signed-in staff member's own booked appointments from the start of today for `days` days (one query,
    built and compiled once per process and `limit`: kapclinic/prepared.py).

    The list names patients: each patient shown is an audited read (the appointment is theirs with this user).
    """
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))

    def upcoming(user_id: int, first: datetime, end: datetime) -> QuerySet[Appointment]:
        return (
            Appointment.objects.filter(
                with_user_id=user_id,
                status=AppointmentStatus.BOOKED,
                starts_at__gte=first,
                starts_at__lt=end,
            )
            .select_related("patient", "inquiry")
            .order_by("starts_at")[:limit]
        )

    mine = prepared_rows(
        ("appointments.upcoming_for", limit), upcoming, ctx.user.pk, start, start + timedelta(days=days)
    )
    access_events_record_many(
        ctx=ctx,
        action="appointment.upcoming_list",
        patient_ids=sorted({a.patient_id for a in mine if a.patient_id is not None}),
    )
    return mine


# A calendar feed holds the last month (what was) and the next six (what is booked), as calendar apps keep them.
FEED_DAYS_BACK = 30
FEED_DAYS_AHEAD = 180


def appointments_for_feed(*, ctx: AuditContext) -> list[Appointment]:
    """The person's own booked appointments from FEED_DAYS_BACK days ago to FEED_DAYS_AHEAD days ahead, for their
    calendar feed: a staff member's bookings with them, or a patient's own. Each is annotated with `sequence`
    (how often it was changed) and `changed_at` (when last). One query; each patient named is an audited read."""
    user = ctx.user
    now = timezone.now()
    changes = AppointmentChange.objects.filter(appointment=OuterRef("pk")).order_by().values("appointment")
    rows = Appointment.objects.filter(
        status=AppointmentStatus.BOOKED,
        starts_at__gte=now - timedelta(days=FEED_DAYS_BACK),
        starts_at__lt=now + timedelta(days=FEED_DAYS_AHEAD),
    ).annotate(
        sequence=Coalesce(Subquery(changes.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0),
        changed_at=Subquery(changes.annotate(last=Max("at")).values("last")),
    )
    if user.role == Role.PATIENT:
        rows = rows.filter(patient__user=user).select_related("with_user", "place")
    else:
        rows = rows.filter(with_user=user).select_related("patient", "inquiry", "place")
    mine: list[Appointment] = list(rows.order_by("starts_at", "id"))
    access_events_record_many(
        ctx=ctx,
        action="appointment.feed",
        patient_ids=sorted({a.patient_id for a in mine if a.patient_id is not None}),
    )
    return mine


@dataclass(frozen=True)
class AvailabilityBoard:
    """What the availability page lists: the places, every block of hours, and time off and closures still to come."""

    places: list[Place]
    hours: list[WorkingHours]
    time_off: list[TimeOff]
    closures: list[Closure]


def availability_board() -> AvailabilityBoard:
    now = timezone.now()
    return AvailabilityBoard(
        places=list(Place.objects.select_related("in_room").order_by("-kind", "name")),  # rooms first
        hours=list(WorkingHours.objects.select_related("user", "place").order_by("user_id", "place_id", "since")),
        time_off=list(
            TimeOff.objects.filter(ends_at__gt=now).select_related("user", "place").order_by("starts_at")[:100]
        ),
        closures=list(Closure.objects.filter(ends_at__gt=now).order_by("starts_at")[:100]),
    )


@dataclass(frozen=True)
class CalendarDay:
    day: date
    appointments: list[Appointment]
    closed: list[Closure]


def calendar_week(
    *, ctx: AuditContext, first: date, days: int = 7, staff_id: int | None = None, place_id: int | None = None
) -> list[CalendarDay]:
    """The booked and past appointments of `days` days from `first`, for one staff member or one room, or all the
    user may see (roles limited to a care team: their own and their team's patients'). Three queries whatever
    the number; each patient shown is an audited read. Refused (and audited) for a role that does not book."""
    if not may(ctx.user.role, Action.APPOINTMENT_BOOK):
        access_event_record(ctx=ctx, action="appointment.calendar", outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not see the calendar.")
    start, after = day_range(first, first + timedelta(days=days - 1))
    rows = (
        Appointment.objects.filter(starts_at__gte=start, starts_at__lt=after)
        .exclude(status=AppointmentStatus.CANCELLED)
        # A dosing booking links to its session screen (DosingSession.booking, the dosing app's side of it).
        .select_related("patient", "inquiry", "with_user", "place", "dosing_session")
        .order_by("starts_at", "id")
    )
    if staff_id is not None:
        rows = rows.filter(with_user_id=staff_id)
    if place_id is not None:
        rows = rows.filter(place_id=place_id)
    if scope_for(ctx.user.role, Action.APPOINTMENT_BOOK) is Scope.TEAM:
        rows = rows.filter(Q(with_user=ctx.user) | on_care_team_of(ctx.user.pk, patient_field="patient_id"))
    shown = list(rows)
    closures = list(Closure.objects.filter(starts_at__lt=after, ends_at__gt=start).order_by("starts_at"))
    access_events_record_many(
        ctx=ctx,
        action="appointment.calendar",
        patient_ids=sorted({a.patient_id for a in shown if a.patient_id is not None}),
    )
    out = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        begin, end = day_range(day)
        out.append(
            CalendarDay(
                day=day,
                appointments=[a for a in shown if timezone.localtime(a.starts_at).date() == day],
                closed=[c for c in closures if c.starts_at < end and c.ends_at > begin],
            )
        )
    return out

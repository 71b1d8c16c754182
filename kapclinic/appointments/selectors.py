"""Reads of appointments shared by the home pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.utils import timezone

from kapclinic.appointments.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Closure,
    Place,
    TimeOff,
    WorkingHours,
)
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many


def consultations_coming(*, days: int = 1) -> list[Appointment]:
    """Return booked free consultations from the start of today for `days` days (names only; one query)."""
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    return list(
        Appointment.objects.filter(
            kind=AppointmentKind.CONSULTATION,
            status=AppointmentStatus.BOOKED,
            starts_at__gte=start,
            starts_at__lt=start + timedelta(days=days),
        )
        .select_related("patient", "inquiry", "with_user")
        .order_by("starts_at")
    )


def appointments_upcoming_for(*, ctx: AuditContext, days: int = 14, limit: int = 20) -> list[Appointment]:
    """The signed-in staff member's own booked appointments from the start of today for `days` days (one query).

    The list names patients: each patient shown is an audited read (the appointment is theirs with this user).
    """
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    mine = list(
        Appointment.objects.filter(
            with_user=ctx.user,
            status=AppointmentStatus.BOOKED,
            starts_at__gte=start,
            starts_at__lt=start + timedelta(days=days),
        )
        .select_related("patient", "inquiry")
        .order_by("starts_at")[:limit]
    )
    access_events_record_many(
        ctx=ctx,
        action="appointment.upcoming_list",
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

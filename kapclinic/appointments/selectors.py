"""Reads of appointments shared by the home pages."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone

from kapclinic.appointments.models import Appointment, AppointmentKind, AppointmentStatus


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

"""Upcoming appointments with the demo prescriber and therapist, so each sees "My appointments" filled in
(issue 13, defect 4). Booked through the booking service, as the coordinator would; every person is made up."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment, Place
from kapclinic.appointments.services import appointment_book
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.intake.models import Evaluation
from kapclinic.patients.models import Patient

INTEGRATION_SERIAL = 11  # Iris Example, discharged yesterday (kapclinic/demo/discharged.py)


def _at(days: int, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=days), time(hour, 0)))


@transaction.atomic
def clinician_appointments_ensure(staff: dict[str, User]) -> int:
    """Book an evaluation with the prescriber and an integration session with the therapist once; return how many."""
    prescriber, therapist = staff["prescriber"], staff["therapist"]
    if Appointment.objects.filter(with_user__in=[prescriber, therapist]).exists():
        return 0
    ctx = AuditContext(user=staff["coordinator"], channel="system")
    not_evaluated = (
        Patient.objects.filter(care_team__user=prescriber)
        .exclude(pk__in=Evaluation.objects.values("patient_id"))
        .order_by("pk")
        .first()
    )
    iris = Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + INTEGRATION_SERIAL))
    booked = [
        appointment_book(
            ctx=ctx,
            kind="integration",
            with_user_id=therapist.pk,
            starts_at=_at(1, 14),
            minutes=50,
            mode="in_person",
            patient_id=iris.pk,
            place_id=Place.objects.filter(name="Garden room").values_list("pk", flat=True).first(),
        )
    ]
    if not_evaluated is not None:
        booked.append(
            appointment_book(
                ctx=ctx,
                kind="evaluation",
                with_user_id=prescriber.pk,
                starts_at=_at(2, 11),
                minutes=60,
                mode="video",
                video_link="https://video.example.test/evaluation-demo",
                patient_id=not_evaluated.pk,
            )
        )
    return len(booked)

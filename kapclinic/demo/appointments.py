"""Upcoming appointments with the demo prescriber and therapist, so each sees "My appointments" filled in
(issue 13, defect 4), and a week of bookings of every kind (issue 16). Booked through the booking service, as the
coordinator would; every person is made up."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.availability import next_free_times
from kapclinic.appointments.models import Appointment, Place
from kapclinic.appointments.services import appointment_book
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.availability import booking_minutes, dosing_session_minutes
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.dosing.models import DosingSession
from kapclinic.dosing.services import session_schedule
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


# A week of every kind (issue 16, "Done when"): each booked at the first free time from its wanted hour on its day,
# so nothing clashes (the engine refuses a clash; the demo asks it for free times instead of guessing).
WEEK_DAYS = 6
WEEK_PLAN: tuple[tuple[str, str, int, str], ...] = (
    # kind, who holds it, wanted hour, room ("" for video)
    ("consultation", "coordinator", 9, ""),
    ("evaluation", "prescriber", 10, "Garden room"),
    ("preparation", "therapist", 13, ""),
    ("integration", "therapist", 15, "Garden room"),
)
VIDEO_LINK = "https://video.example.test/demo-week"
# The course patients' next dosing sessions: the nurse, and the chair (IV) or room each takes.
DOSING_PLACES = {"iv": "Chair 2", "im": "Garden room", "intranasal": "Infusion suite"}


def _first_free_on_day(
    staff: User, kind: str, minutes: int, wanted: datetime, place: Place | None, patient_id: int
) -> datetime | None:
    free = next_free_times(
        staff=staff, kind=kind, minutes=minutes, wanted=wanted, place=place, patient_id=patient_id, count=1
    )
    return free[0] if free and timezone.localtime(free[0]).date() == timezone.localtime(wanted).date() else None


@transaction.atomic
def week_of_bookings_ensure(staff: dict[str, User]) -> int:
    """Book a week of consultations, evaluations, preparation and integration sessions and the course patients'
    next dosing sessions, once; return how many were booked."""
    if Appointment.objects.filter(kind="preparation").exists():
        return 0
    ctx = AuditContext(user=staff["coordinator"], channel="system")
    places = {p.name: p for p in Place.objects.filter(active=True)}
    patients = list(
        Patient.objects.filter(mrn__startswith="K9")
        .exclude(dosing_sessions__isnull=False)
        .order_by("mrn")[: WEEK_DAYS * len(WEEK_PLAN)]
    )
    booked = 0
    for n, (day, (kind, holder, hour, room)) in enumerate(
        (d, spec) for d in range(1, WEEK_DAYS + 1) for spec in WEEK_PLAN
    ):
        if n >= len(patients):
            break
        place = places.get(room) if room else None
        minutes = booking_minutes(kind)
        when = _first_free_on_day(staff[holder], kind, minutes, _at(day, hour), place, patients[n].pk)
        if when is None:
            continue
        appointment_book(
            ctx=ctx,
            kind=kind,
            with_user_id=staff[holder].pk,
            starts_at=when,
            minutes=minutes,
            mode="in_person" if place is not None else "video",
            video_link="" if place is not None else VIDEO_LINK,
            patient_id=patients[n].pk,
            place_id=place.pk if place is not None else None,
        )
        booked += 1
    return booked + _next_dosing_sessions_book(staff, places)


def _next_dosing_sessions_book(staff: dict[str, User], places: dict[str, Place]) -> int:
    """Schedule each course patient's next proposed session within the week, at its proposed day's first free time
    from 09:00 with the demo nurse and the place its route takes."""
    prescriber = AuditContext(user=staff["prescriber"], channel="system")
    nurse = staff["nurse"]
    booked = 0
    coming = (
        DosingSession.objects.filter(
            state="proposed", scheduled_for__lt=_at(WEEK_DAYS + 1, 0), patient__mrn__startswith="K9"
        )
        .select_related("plan")
        .order_by("patient_id", "number")
    )
    seen: set[int] = set()
    for session in coming:
        if session.patient_id in seen:
            continue
        seen.add(session.patient_id)
        place = places.get(DOSING_PLACES.get(session.plan.route, "Garden room"))
        minutes = dosing_session_minutes(session.minutes, route=session.plan.route)
        wanted = _at((timezone.localtime(session.scheduled_for).date() - timezone.localdate()).days, 9)
        when = _first_free_on_day(nurse, "dosing", minutes, wanted, place, session.patient_id)
        if when is None:
            continue
        try:
            session_schedule(
                ctx=prescriber,
                session_id=session.pk,
                nurse_id=nurse.pk,
                place_id=place.pk if place else None,
                starts_at=when,
            )
        except ValidationError:
            continue  # e.g. no prescriber on site then: the demo leaves that session proposed
        booked += 1
    return booked

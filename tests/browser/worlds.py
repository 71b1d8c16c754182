"""Records the browser tests need beyond the demo, made on the live server's database through the services (as the
clinicians would have entered them) by `server_python` (tests/browser/conftest.py). Each function prints one JSON
line: what the test needs to know. Every name is made up."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment, AppointmentStatus, Place
from kapclinic.audit.context import AuditContext
from kapclinic.consent.selectors import consent_document, consent_version_latest
from kapclinic.consent.services import consent_sign
from kapclinic.dosing.models import DosingSession
from kapclinic.dosing.services import session_schedule
from kapclinic.intake.services import eligibility_decide, evaluation_save
from kapclinic.patients.services import care_team_assign, patient_register
from kapclinic.plans.services import plan_draft_create, plan_sign

# Far enough ahead to be clear of the demo's week of bookings (kapclinic/demo/appointments.py, WEEK_DAYS = 6).
RACE_DAYS_AHEAD = 10
RACE_TIME = time(10, 0)
LAST_CHAIR = "Chair 3"
TAKEN_CHAIRS = ("Chair 1", "Chair 2")
RACERS = (("Quill", "Lastchairdemo"), ("Wren", "Lastchairdemo"))
BLOCKERS = (("Tansy", "Chairholderdemo"), ("Thistle", "Chairholderdemo"))


def _staff() -> dict[str, User]:
    return {u.username: u for u in User.objects.filter(username__in=["prescriber", "nurse", "nurse2", "therapist"])}


def _ready_patient(staff: dict[str, User], given: str, family: str, born: date, day: date) -> DosingSession:
    """A patient registered, with the demo care team, evaluated, decided eligible, consented (at the clinic, the
    nurse witnessing) and with a signed IV plan whose first session is proposed at RACE_TIME on `day`."""
    prescriber = AuditContext(user=staff["prescriber"], channel="system")
    nurse = AuditContext(user=staff["nurse"], channel="system")
    patient = patient_register(
        ctx=AuditContext(user=staff["prescriber"], channel="system"),
        values={"given_name": given, "family_name": family, "birth_date": born, "sex_at_birth": "female"},
        allow_duplicate=True,
    )
    for role in ("prescriber", "nurse", "therapist"):
        care_team_assign(ctx=prescriber, patient_id=patient.pk, role=role, user_id=staff[role].pk)
    evaluation_save(
        ctx=prescriber,
        patient_id=patient.pk,
        values={
            "diagnoses": ["F33.1"],
            "height_cm": 170,
            "weight_kg": 70,
            "systolic_bp": 122,
            "diastolic_bp": 78,
            "heart_rate": 70,
            "medications": ["sertraline"],
            "allergies": [],
        },
    )
    eligibility_decide(
        ctx=prescriber,
        patient_id=patient.pk,
        decision="eligible_with_precautions",
        reason="Synthetic: findings reviewed; blood pressure rechecked before each dose.",
    )
    version = consent_version_latest(consent_document())
    assert version is not None, "the demo publishes the consent"
    consent_sign(
        ctx=nurse,
        patient_id=patient.pk,
        version_id=version.pk,
        typed_name=f"{given} {family}",
        risks_acknowledged=version.risk_codes,
        user_agent="Clinic tablet (synthetic)",
        channel="clinic",
    )
    plan = plan_draft_create(
        ctx=prescriber,
        patient_id=patient.pk,
        raw={
            "indication_code": "F33.1",
            "indication_text": "Major depressive disorder, recurrent, moderate",
            "route": "iv",
            "dose": "0.5",
            "session_count": 2,
            "interval_days": 3,
            "first_session_on": day,
            "session_time": RACE_TIME.strftime("%H:%M"),
            "session_minutes": 180,
            "therapist": staff["therapist"].pk,
            "goals": ["Walk the dog every morning"],
            "measures": ["phq9"],
            "notes": "Synthetic plan for the last-chair browser test.",
        },
    )
    plan_sign(ctx=prescriber, plan_id=plan.pk)
    return DosingSession.objects.get(plan=plan, number=1)


def last_chair_race() -> None:
    """Two racers whose first IV sessions are proposed at the same time, when every chair but LAST_CHAIR is held
    by two other patients' scheduled sessions (one with each nurse, so neither nurse is near three at once)."""
    staff = _staff()
    day = timezone.localdate() + timedelta(days=RACE_DAYS_AHEAD)
    starts = timezone.make_aware(datetime.combine(day, RACE_TIME))
    chairs = {p.name: p for p in Place.objects.filter(kind="chair", active=True)}
    assert set(chairs) == {*TAKEN_CHAIRS, LAST_CHAIR}, f"the demo has three chairs, not {sorted(chairs)}"
    for n, ((given, family), chair, nurse) in enumerate(zip(BLOCKERS, TAKEN_CHAIRS, ("nurse", "nurse2"), strict=True)):
        session = _ready_patient(staff, given, family, date(1975, 2, 1 + n), day)
        session_schedule(
            ctx=AuditContext(user=staff["prescriber"], channel="system"),
            session_id=session.pk,
            nurse_id=staff[nurse].pk,
            place_id=chairs[chair].pk,
        )
    racers = [
        _ready_patient(staff, given, family, date(1984, 6, 10 + n), day) for n, (given, family) in enumerate(RACERS)
    ]
    print(
        json.dumps(
            {
                "plans": [s.plan_id for s in racers],
                "sessions": [s.pk for s in racers],
                "patients": [s.patient_id for s in racers],
                "starts": starts.isoformat(),
                "chair": LAST_CHAIR,
            }
        )
    )


def last_chair_outcome(session_ids: list[int], starts: str) -> None:
    """The bookings of LAST_CHAIR at `starts`, and the racers' sessions as they are now."""
    when = datetime.fromisoformat(starts)
    bookings = Appointment.objects.filter(place__name=LAST_CHAIR, starts_at=when, status=AppointmentStatus.BOOKED)
    sessions: dict[str, Any] = {
        str(s.pk): {"state": s.state, "room": s.room, "booking": s.booking_id, "patient": s.patient_id}
        for s in DosingSession.objects.filter(pk__in=session_ids)
    }
    print(json.dumps({"bookings": [{"id": b.pk, "patient": b.patient_id} for b in bookings], "sessions": sessions}))

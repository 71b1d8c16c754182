"""Synthetic treatment plans and today's dosing sessions for the demo, written through the services so every
record is what the clinicians would have entered: a session in monitoring with an open hypertension alert, one
held for the prescriber, an esketamine session in recovery, and one still to come with its checklist done."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Place
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.dosing import services, session_services
from kapclinic.dosing.models import DosingSession
from kapclinic.intake.models import EligibilityDecision, Evaluation
from kapclinic.intake.services import eligibility_decide, evaluation_save
from kapclinic.ledger.models import Lot, StorageLocation
from kapclinic.ledger.services import WitnessCredentials
from kapclinic.patients.models import CareTeamMember, Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.plans.services import plan_draft_create, plan_sign

# Serials of the demo patients with a course (odd serials have the demo care team); 5 has relative findings.
COURSES: dict[int, dict[str, Any]] = {
    1: {"route": "iv", "dose": "0.5", "weight": 70, "goals": ["Get back to running on weekends", "Sleep through"]},
    5: {"route": "im", "dose": "0.5", "weight": 82, "goals": ["Feel less numb around my kids"]},
    7: {"route": "intranasal", "dose": "56", "weight": 64, "goals": ["Go back to work part time"]},
    9: {"route": "iv", "dose": "0.5", "weight": 91, "goals": ["Stop dreading mornings"]},
}
CLEAN_EVALUATION = {
    "diagnoses": ["F33.1"],
    "height_cm": 170,
    "systolic_bp": 124,
    "diastolic_bp": 78,
    "heart_rate": 70,
    "medications": ["sertraline"],
    "allergies": [],
}


def _patient(serial: int) -> Patient:
    return Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + serial))


def _team(patient: Patient, staff: dict[str, User]) -> None:
    for role in ("prescriber", "nurse", "therapist"):
        CareTeamMember.objects.get_or_create(patient=patient, role=role, defaults={"user": staff[role]})


@transaction.atomic
def dosing_demo_decide(staff: dict[str, User]) -> int:
    """Evaluate and decide eligible the demo patients with a course (before consent is signed for them)."""
    prescriber = AuditContext(user=staff["prescriber"], channel="system")
    made = 0
    for serial, course in COURSES.items():
        patient = _patient(serial)
        _team(patient, staff)
        if EligibilityDecision.objects.filter(patient=patient).exists():
            continue
        if not Evaluation.objects.filter(patient=patient).exists():
            evaluation_save(
                ctx=prescriber, patient_id=patient.pk, values={**CLEAN_EVALUATION, "weight_kg": course["weight"]}
            )
        eligibility_decide(
            ctx=prescriber,
            patient_id=patient.pk,
            decision="eligible_with_precautions",
            reason="Demo: findings reviewed with the patient; blood pressure to be rechecked before each dose.",
        )
        made += 1
    return made


def _plan(staff: dict[str, User], patient: Patient, course: dict[str, Any], first_on: Any, at: str) -> TreatmentPlan:
    prescriber = AuditContext(user=staff["prescriber"], channel="system")
    plan = plan_draft_create(
        ctx=prescriber,
        patient_id=patient.pk,
        raw={
            "indication_code": "F33.1",
            "indication_text": "Major depressive disorder, recurrent, moderate",
            "route": course["route"],
            "esketamine_indication": "trd" if course["route"] == "intranasal" else "",
            "dose": course["dose"],
            "session_count": 6 if course["route"] != "intranasal" else 8,
            "interval_days": 3,
            "first_session_on": first_on,
            "session_time": at,
            "session_minutes": 180,
            "therapist": staff["therapist"].pk,
            "goals": course["goals"],
            "measures": ["phq9", "gad7"],
            "notes": "Synthetic demo plan.",
        },
    )
    return plan_sign(ctx=prescriber, plan_id=plan.pk)


@transaction.atomic
def dosing_demo_ensure(staff: dict[str, User], password: str) -> int:
    """Plans for the course patients and today's sessions in several states; return how many sessions started."""
    if TreatmentPlan.objects.filter(patient__mrn__startswith="K9").exists():
        return 0
    now = timezone.localtime()
    soon = (now + timedelta(minutes=15)).replace(second=0, microsecond=0)
    last_slot = now.replace(hour=23, minute=30, second=0, microsecond=0)
    nurse = AuditContext(user=staff["nurse"], channel="system")
    prescriber = AuditContext(user=staff["prescriber"], channel="system")
    witness = WitnessCredentials("prescriber", password)
    safe = StorageLocation.objects.get(name="Safe (medication room)")
    # IV takes a chair, the other routes a room (kapclinic/demo/places.py); the demo nurse monitors three at once
    # (clinical.availability KIND_NEEDS), so 9 goes to the second nurse when a late load crowds it in with them.
    places = {p.name: p.pk for p in Place.objects.all()}
    where = {1: "Chair 1", 5: "Garden room", 7: "Infusion suite", 9: "Chair 2"}
    sessions: dict[int, DosingSession] = {}
    for serial, course in COURSES.items():
        patient = _patient(serial)
        # 9 waits for later today: three hours on, but never past the day's end (a demo loaded at 21:00).
        when = max(soon, min(soon + timedelta(hours=3), last_slot)) if serial == 9 else soon
        plan = _plan(staff, patient, course, when.date(), when.strftime("%H:%M"))
        first = plan.sessions.get(number=1)
        crowded = serial == 9 and when < soon + timedelta(minutes=first.minutes)
        services.session_schedule(
            ctx=nurse,
            session_id=first.pk,
            place_id=places.get(where[serial]),
            nurse_id=staff["nurse2" if crowded else "nurse"].pk,
        )
        sessions[serial] = first
    # Esketamine needs the patient's REMS enrollment before the first dose (Spravato REMS).
    session_services.rems_enrollment_record(
        ctx=prescriber, patient_id=_patient(7).pk, enrolled_on=timezone.localdate(), reference="REMS-DEMO-0007"
    )
    started = 0
    # Hours since the last food and the last drink, as the nurse asks at check-in: 5 ate three hours ago, inside the
    # ketamine fasting policy (4 h), so the pre-dose checks ask about it beside the blood pressure hold.
    fasted = {1: (8, 3), 5: (3, 2.5), 7: (5, 1)}
    for serial in (1, 5, 7):
        course = COURSES[serial]
        food_hours, liquid_hours = fasted[serial]
        session_services.session_check_in(
            ctx=nurse,
            session_id=sessions[serial].pk,
            identity_confirmed=True,
            checklist_confirmed=serial != 5,
            checklist_note="" if serial != 5 else "Ride confirmed by phone at check-in.",
            pregnancy_test="negative" if _patient(serial).sex_at_birth == "female" else "not_applicable",
            weight_kg=Decimal(course["weight"]),
            last_food_at=timezone.now() - timedelta(hours=food_hours),
            last_liquid_at=timezone.now() - timedelta(hours=liquid_hours),
            escort_confirmed=True,
            substances_today=False,
        )
        started += 1
    # 5: held for the prescriber (pre-dose 165/96).
    session_services.vital_record(
        ctx=nurse,
        session_id=sessions[5].pk,
        values={"systolic": 165, "diastolic": 96, "heart_rate": 84, "spo2": 98, "respiratory_rate": 14},
    )
    # 1 (IV, 10 mg/mL) and 7 (esketamine): cleared, ordered, given.
    for serial, lot_number in ((1, "DEMO-K10-B"), (7, "DEMO-SPR-1")):
        session = sessions[serial]
        session_services.vital_record(
            ctx=nurse,
            session_id=session.pk,
            values={"systolic": 128, "diastolic": 80, "heart_rate": 72, "spo2": 98, "respiratory_rate": 14},
        )
        lot = Lot.objects.select_related("product").get(lot_number=lot_number)
        order = session_services.dose_order_sign(ctx=prescriber, session_id=session.pk, product_id=lot.product_id)
        given = order.volume_ml if order.volume_ml is not None else order.units
        assert given is not None
        drawn = given + Decimal("0.2") if order.volume_ml is not None else given
        session_services.administration_record(
            ctx=nurse,
            session_id=session.pk,
            lot_id=lot.pk,
            location_id=safe.pk,
            started_at=timezone.now(),
            drawn=drawn,
            given=given,
            infusion_rate_ml_per_h=Decimal("60") if serial == 1 else None,
            ended_at=None if serial == 1 else timezone.now(),
            witness=witness if drawn > given else None,
        )
    # 1: a hypertensive reading during the infusion, not yet acknowledged (on the prescriber's home page).
    session_services.vital_record(
        ctx=nurse, session_id=sessions[1].pk, values={"systolic": 184, "diastolic": 104, "heart_rate": 96, "spo2": 97}
    )
    session_services.event_record(
        ctx=nurse, session_id=sessions[1].pk, kind="side_effect", code="nausea", severity="mild", note="Settled."
    )
    # 7: esketamine, in recovery; dissociation scored.
    session_services.event_record(ctx=nurse, session_id=sessions[7].pk, kind="score", code="cadss6", value="6")
    session_services.session_advance(ctx=nurse, session_id=sessions[7].pk, to="recovery")
    session_services.adverse_event_record(
        ctx=nurse,
        patient_id=_patient(1).pk,
        session_id=sessions[1].pk,
        what="Vomiting once during the infusion",
        severity="mild",
        action="Ondansetron 4 mg ODT; infusion continued.",
        outcome="Resolved within 10 minutes.",
        occurred_at=timezone.now(),
    )
    return started

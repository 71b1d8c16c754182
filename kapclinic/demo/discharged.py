"""A synthetic patient discharged from a dosing session yesterday, with no integration session since: the
therapist's "Integration sessions due" (issue 13, defect 3) has someone on it in the demo.

Serial 11 (Iris Example, on the demo care team) is evaluated, decided and consented through the services. Her
first IM session ran yesterday, and the services stamp their own step at the present moment, so that session is
written as rows with yesterday's times, each value what the pure rules return for the readings (clearance, dose,
discharge criteria); the dose is drawn from the ledger through its service at the time it was given. Every
person and word here is made up.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.clinical import dosing as dose_rules
from kapclinic.clinical import monitoring as rules
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.clinical.schedule import session_dates
from kapclinic.consent.selectors import consent_document, consent_version_latest
from kapclinic.consent.services import consent_sign
from kapclinic.demo.dosing import CLEAN_EVALUATION
from kapclinic.dosing.models import (
    Administration,
    CheckIn,
    Clearance,
    Discharge,
    DoseOrder,
    DosingSession,
    SessionState,
    SessionTransition,
    VitalSign,
)
from kapclinic.intake.services import eligibility_decide, evaluation_save
from kapclinic.ledger.models import Lot, StorageLocation
from kapclinic.ledger.services import Quantity, ledger_entry_record
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.policy import dosing_policy, monitoring_policy

SERIAL = 11
WEIGHT_KG = Decimal(68)
# (minutes after the dose, systolic, diastolic, heart rate, SpO2): the IM schedule's readings to 2 hours.
AFTER_DOSE = (
    (5, 134, 84, 80, 98),
    (15, 142, 88, 84, 97),
    (30, 138, 86, 82, 98),
    (45, 132, 82, 78, 98),
    (60, 128, 80, 76, 98),
    (90, 124, 78, 74, 99),
    (120, 122, 76, 72, 99),
)


def _reading(systolic: int, diastolic: int, heart_rate: int, spo2: int) -> rules.VitalReading:
    return rules.VitalReading(
        systolic=systolic, diastolic=diastolic, heart_rate=heart_rate, spo2=spo2, respiratory_rate=14
    )


@transaction.atomic
def discharged_demo_ensure(staff: dict[str, User]) -> int:
    """Create the discharged patient once (after the consent text is published); return the sessions written."""
    patient = Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + SERIAL))
    if TreatmentPlan.objects.filter(patient=patient).exists():
        return 0
    prescriber, nurse, therapist = staff["prescriber"], staff["nurse"], staff["therapist"]
    decide = AuditContext(user=prescriber, channel="system")
    evaluation_save(ctx=decide, patient_id=patient.pk, values={**CLEAN_EVALUATION, "weight_kg": int(WEIGHT_KG)})
    eligibility_decide(
        ctx=decide,
        patient_id=patient.pk,
        decision="eligible_with_precautions",
        reason="Demo: findings reviewed with the patient; blood pressure to be rechecked before each dose.",
        em_code="99204",  # the evaluation's visit level, chosen by total time (issue 18: its E/M line)
        em_basis="time",
        em_minutes=60,
    )
    version = consent_version_latest(consent_document())
    assert version is not None  # published by load_consent, which runs first
    consent_sign(
        ctx=AuditContext(user=nurse, channel="system", client_address="192.0.2.20"),
        patient_id=patient.pk,
        version_id=version.pk,
        typed_name=f"{patient.given_name} {patient.family_name}",
        risks_acknowledged=version.risk_codes,
        user_agent="Clinic tablet (synthetic)",
        channel="clinic",
    )
    yesterday = timezone.localdate() - timedelta(days=1)
    start = timezone.make_aware(datetime.combine(yesterday, time(9, 0)))
    plan = TreatmentPlan(
        patient=patient,
        indication_code="F33.1",
        indication_text="Major depressive disorder, recurrent, moderate",
        route="im",
        starting_dose_mg_per_kg=Decimal("0.5"),
        session_count=6,
        interval_days=3,
        first_session_on=yesterday,
        session_time=time(9, 0),
        therapist=therapist,
        goals=["Enjoy cooking for friends again"],
        measures=["phq9", "gad7"],
        notes="Synthetic demo plan.",
        dosing_policy_version=dosing_policy().version,
        created_at=start - timedelta(days=6),
        created_by=prescriber,
        updated_at=start - timedelta(days=6),
    )
    plan.signature_stamp(prescriber.pk, at=start - timedelta(days=6) + timedelta(minutes=20))
    plan.save()
    sessions = [
        DosingSession.objects.create(
            patient=patient,
            plan=plan,
            number=number,
            scheduled_for=timezone.make_aware(datetime.combine(day, time(9, 0))),
            therapist=therapist,
            state=SessionState.PROPOSED,
            created_at=plan.signed_at or start,
        )
        for number, day in enumerate(session_dates(yesterday, plan.session_count, plan.interval_days), start=1)
    ]
    _first_session(sessions[0], staff, start)
    return 1


def _first_session(session: DosingSession, staff: dict[str, User], start: datetime) -> None:
    """Session 1, yesterday: checked in, cleared, 0.5 mg/kg IM, two hours of readings, discharged home."""
    nurse, prescriber = staff["nurse"], staff["prescriber"]

    def move(to: str, at: datetime) -> None:
        SessionTransition.objects.create(session=session, from_state=session.state, to_state=to, by=nurse, at=at)
        session.state = to
        session.version += 1

    move(SessionState.SCHEDULED, start - timedelta(days=2))
    checked_in = start + timedelta(minutes=5)
    female = session.patient.sex_at_birth == "female"
    CheckIn.objects.create(
        session=session,
        identity_confirmed=True,
        checklist_confirmed=True,
        pregnancy_test="negative" if female else "not_applicable",
        weight_kg=WEIGHT_KG,
        last_food_at=start - timedelta(hours=13),
        last_liquid_at=start - timedelta(hours=3),
        escort_confirmed=True,
        substances_today=False,
        at=checked_in,
        by=nurse,
    )
    move(SessionState.CHECKED_IN, checked_in)
    measured = start + timedelta(minutes=10)
    baseline = _reading(126, 78, 72, 98)
    predose = VitalSign.objects.create(
        session=session, measured_at=measured, predose=True, recorded_at=measured, recorded_by=nurse, **asdict(baseline)
    )
    policy = monitoring_policy()
    answers = rules.CheckInAnswers(
        minutes_since_food=13 * 60 + 10,
        minutes_since_liquid=3 * 60 + 10,
        pregnancy_test="negative" if female else "not_applicable",
        pregnancy_test_required=female,
        escort_confirmed=True,
        substances_today=False,
    )
    verdict = rules.predose_clearance(baseline, route="im", check_in=answers, policy=policy)
    assert verdict.status == "clear", verdict  # the demo's readings are chosen to clear
    Clearance.objects.create(
        session=session,
        vital=predose,
        status=verdict.status,
        findings=[f.as_dict() for f in verdict.findings],
        policy_version=policy.version,
        at=measured,
        by=nurse,
    )
    move(SessionState.CLEARED, measured)
    lot = Lot.objects.select_related("product").get(lot_number="DEMO-K100-A")
    safe = StorageLocation.objects.get(name="Safe (medication room)")
    dosing = dosing_policy()
    calc = dose_rules.calculate_dose(
        dose_rules.DosePlan(route="im", starting_dose=Decimal("0.5")),
        weight_kg=WEIGHT_KG,
        concentration=lot.product.mg_per_unit,
        sex_at_birth=session.patient.sex_at_birth,
        weight_measured_on=start.date(),
        today=start.date(),
        policy=dosing,
    )
    assert not calc.hard_stops and calc.volume_ml is not None
    order = DoseOrder(
        session=session,
        route="im",
        dose_mg=calc.dose_mg,
        dose_mg_per_kg=calc.dose_mg_per_kg,
        weight_kg=calc.weight_kg,
        product=lot.product,
        volume_ml=calc.volume_ml,
        working=list(calc.working),
        policy_version=dosing.version,
    )
    order.signature_stamp(prescriber.pk, at=start + timedelta(minutes=18))
    order.save(force_insert=True)
    dosed = start + timedelta(minutes=25)
    reference = f"Dosing session {session.pk}, order {order.pk}"
    entry = ledger_entry_record(
        ctx=AuditContext(user=nurse, channel="system"),
        kind="administration",
        lot_id=lot.pk,
        location_id=safe.pk,
        quantity=Quantity(calc.volume_ml, "mL"),
        occurred_at=dosed,
        patient_id=session.patient_id,
        reference=reference,
    )
    Administration.objects.create(
        session=session,
        order=order,
        route="im",
        lot=lot,
        location=safe,
        started_at=dosed,
        drawn_mg=calc.measured_mg,
        given_mg=calc.measured_mg,
        ledger_entry=entry,
        by=nurse,
        at=dosed + timedelta(minutes=2),
    )
    move(SessionState.DOSING, dosed)
    move(SessionState.MONITORING, dosed)
    last = baseline
    for minutes, systolic, diastolic, heart_rate, spo2 in AFTER_DOSE:
        last = _reading(systolic, diastolic, heart_rate, spo2)
        assert not rules.reading_alerts(last, policy=policy)
        at = dosed + timedelta(minutes=minutes)
        VitalSign.objects.create(session=session, measured_at=at, recorded_at=at, recorded_by=nurse, **asdict(last))
    move(SessionState.RECOVERY, dosed + timedelta(minutes=100))
    left = dosed + timedelta(minutes=125)
    criteria = rules.discharge_check(
        route="im",
        minutes_since_dose=125,
        last_reading=last,
        baseline_reading=baseline,
        moaas=5,
        oriented=True,
        walks_steadily=True,
        nausea_controlled=True,
        new_suicidal_ideation=False,
        escort_present=True,
        policy=policy,
    )
    assert rules.all_met(criteria), criteria
    Discharge.objects.create(
        session=session,
        criteria=[c.as_dict() for c in criteria],
        driver_name="Rowan Example (partner)",
        at=left,
        by=nurse,
    )
    move(SessionState.DISCHARGED, left)
    session.room, session.nurse = "Room 2", nurse
    session.started_at, session.ended_at = dosed, left
    session.updated_at = left
    session.save()

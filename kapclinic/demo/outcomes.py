"""Synthetic courses for the outcome prompts (issue 19): a non-responder and a relapse, both on the demo care team.

Serial 13 had four IM doses over the last two weeks and her PHQ-9 barely moved (19 → 17): an open early
non-response prompt waits for the demo prescriber. Serial 15 finished six doses, responded (21 → 9) and has lost the
response on the last two assessments (15, 15): a relapse prompt, which the demo prescriber answered with a booster
session. The doses are rows with their past times (the services stamp the present), drawn from the ledger through
its service; the prompts are raised by the rules themselves (outcomes.services). Every person and word is made up.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.instruments import INSTRUMENTS, score
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.dosing.models import Administration, DoseOrder, DosingSession, SessionState
from kapclinic.ledger.models import Lot, StorageLocation
from kapclinic.ledger.services import Quantity, ledger_entry_record
from kapclinic.measures.models import QuestionnaireResponse, ResponseItem, ResponseSource
from kapclinic.outcomes.models import OutcomePrompt
from kapclinic.outcomes.services import prompt_act, prompts_evaluate
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.policy import dosing_policy

NON_RESPONDER = 13
RELAPSE = 15
# serial: (days ago of each dose, sessions planned, PHQ-9 totals by days ago)
COURSES: dict[int, tuple[tuple[int, ...], int, tuple[tuple[int, int], ...]]] = {
    NON_RESPONDER: ((14, 11, 7, 4), 6, ((16, 19), (2, 17))),
    RELAPSE: ((35, 32, 28, 25, 21, 18), 6, ((37, 21), (26, 9), (17, 8), (10, 15), (3, 15))),
}
DOSE_MG = Decimal("35.0")  # 0.5 mg/kg at 70 kg, IM from 100 mg/mL: 0.35 mL


def _at(days_ago: int, hour: int = 9) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate() - timedelta(days=days_ago), time(hour, 0)))


def _phq9(total: int) -> list[int]:
    answers, left = [], total
    for index in range(9):
        value = 0 if index == 8 else min(3, left)  # item 9 (self-harm) at 0: no safety flag in this demo
        answers.append(value)
        left -= value
    return answers


@transaction.atomic
def outcomes_demo_ensure(staff: dict[str, User]) -> int:
    """Create the two courses once and let the rules raise their prompts; return the prompts raised."""
    raised = 0
    for serial, (dose_days, sessions, scores) in COURSES.items():
        patient = Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + serial))
        if TreatmentPlan.objects.filter(patient=patient).exists():
            continue
        _course(patient, staff, dose_days, sessions)
        _scores(patient, staff, scores)
        raised += len(prompts_evaluate(patient_id=patient.pk))
    relapse = OutcomePrompt.objects.filter(
        patient__mrn=mrn_from_number(SYNTHETIC_MRN_BASE + RELAPSE), rule="relapse", cleared_at__isnull=True
    ).first()
    if relapse is not None:
        prompt_act(
            ctx=AuditContext(user=staff["prescriber"], channel="system"),
            prompt_id=relapse.pk,
            choice="booster",
            reason="Demo: a booster session next week, then PHQ-9 weekly for a month.",
        )
    return raised


def _course(patient: Patient, staff: dict[str, User], dose_days: tuple[int, ...], count: int) -> None:
    prescriber, nurse, therapist = staff["prescriber"], staff["nurse"], staff["therapist"]
    first = _at(dose_days[0])
    plan = TreatmentPlan(
        patient=patient,
        indication_code="F33.1",
        indication_text="Major depressive disorder, recurrent, moderate",
        route="im",
        starting_dose_mg_per_kg=Decimal("0.5"),
        session_count=count,
        interval_days=3,
        first_session_on=first.date(),
        session_time=time(9, 0),
        therapist=therapist,
        goals=["Feel like myself in the mornings"],
        measures=["phq9"],
        notes="Synthetic demo plan (outcome prompts).",
        dosing_policy_version=dosing_policy().version,
        created_at=first - timedelta(days=5),
        created_by=prescriber,
        updated_at=first - timedelta(days=5),
    )
    plan.signature_stamp(prescriber.pk, at=first - timedelta(days=4))
    plan.save()
    lot = Lot.objects.select_related("product").get(lot_number="DEMO-K100-A")
    safe = StorageLocation.objects.get(name="Safe (medication room)")
    for number in range(1, count + 1):
        given = number <= len(dose_days)
        when = _at(dose_days[number - 1]) if given else _at(-3 * (number - len(dose_days)))
        session = DosingSession.objects.create(
            patient=patient,
            plan=plan,
            number=number,
            scheduled_for=when,
            therapist=therapist,
            nurse=nurse if given else None,
            state=SessionState.DISCHARGED if given else SessionState.PROPOSED,
            started_at=when if given else None,
            ended_at=when + timedelta(hours=2) if given else None,
            created_at=plan.signed_at or first,
        )
        if given:
            _dose(session, lot, safe, staff, when + timedelta(minutes=25))


def _dose(session: DosingSession, lot: Lot, safe: StorageLocation, staff: dict[str, User], at: datetime) -> None:
    order = DoseOrder(
        session=session,
        route="im",
        dose_mg=DOSE_MG,
        dose_mg_per_kg=Decimal("0.5"),
        weight_kg=Decimal(70),
        product=lot.product,
        volume_ml=Decimal("0.35"),
        policy_version=dosing_policy().version,
    )
    order.signature_stamp(staff["prescriber"].pk, at=at - timedelta(minutes=7))
    order.save(force_insert=True)
    entry = ledger_entry_record(
        ctx=AuditContext(user=staff["nurse"], channel="system"),
        kind="administration",
        lot_id=lot.pk,
        location_id=safe.pk,
        quantity=Quantity(Decimal("0.35"), "mL"),
        occurred_at=at,
        patient_id=session.patient_id,
        reference=f"Dosing session {session.pk}, order {order.pk}",
    )
    Administration.objects.create(
        session=session,
        order=order,
        route="im",
        lot=lot,
        location=safe,
        started_at=at,
        drawn_mg=DOSE_MG,
        given_mg=DOSE_MG,
        ledger_entry=entry,
        by=staff["nurse"],
        at=at + timedelta(minutes=2),
    )


def _scores(patient: Patient, staff: dict[str, User], scores: tuple[tuple[int, int], ...]) -> None:
    instrument = INSTRUMENTS["phq9"]
    for days_ago, total in scores:
        answers = _phq9(total)
        result = score(instrument, answers)
        response = QuestionnaireResponse.objects.create(
            patient=patient,
            instrument=instrument.code,
            version=instrument.version,
            total=result.total,
            severity=result.severity or "",
            flags=list(result.flags),
            complete=result.complete,
            source=ResponseSource.PAPER,
            entered_by=staff["nurse"],
            submitted_at=_at(days_ago, hour=8),
        )
        ResponseItem.objects.bulk_create(
            ResponseItem(response=response, item=item.id, value=value)
            for item, value in zip(instrument.items, answers, strict=False)
        )

"""Synthetic courses for the outcome prompts (issue 19): a non-responder and a relapse, both on the demo care team.

Serial 13 had four IM doses over the last two weeks and her PHQ-9 barely moved (19 → 17): an open early
non-response prompt waits for the demo prescriber. Serial 15 finished six doses, responded (21 → 9) and has lost the
response on the last two assessments (15, 15): a relapse prompt, which the demo prescriber answered with a booster
session. The doses are rows with their past times (the services stamp the present), drawn from the ledger through
its service; the prompts are raised by the rules themselves (outcomes.services). Every person and word is made up.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.dosing import WEIGHT_BASED_ROUTES
from kapclinic.clinical.instruments import INSTRUMENTS, Instrument, score
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.clinical.schedule import add_months, follow_up_label
from kapclinic.demo.synthetic import synthetic_patient
from kapclinic.dosing.models import Administration, DoseOrder, DosingSession, SessionState
from kapclinic.ledger.models import Lot, StorageLocation
from kapclinic.ledger.services import Quantity, ledger_entry_record, ledger_receive
from kapclinic.measures.models import QuestionnaireResponse, ResponseItem, ResponseSource, ScheduledMeasure
from kapclinic.outcomes.models import OutcomePrompt
from kapclinic.outcomes.services import prompt_act, prompts_evaluate
from kapclinic.patients.models import CareTeamMember, Patient
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
    route = session.plan.route
    order = DoseOrder(
        session=session,
        route=route,
        dose_mg=DOSE_MG,
        dose_mg_per_kg=Decimal("0.5"),
        weight_kg=Decimal(70),
        product=lot.product,
        volume_ml=Decimal("0.35"),
        infusion_minutes=40 if route == "iv" else None,
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
        route=route,
        ended_at=at + timedelta(minutes=40) if route == "iv" else None,
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


# --- The cohort behind the dashboard (issue 19 "Done when": a few hundred synthetic courses) -------------------
#
# cohort_size() past courses (settings.KAPCLINIC_DEMO_COHORT, 240 by default), started over the last ten months, each
# on its own synthetic patient (serials from COHORT_FIRST_SERIAL, names from the synthetic lists, "Example Street"):
# remitters, responders, partial and non-responders, a few worse, some with no baseline or no end-of-course score
# (not evaluable), follow-ups at 1, 3 and 6 months (some answered late, some never), and responders who relapse.
# Seeded, so every load is the same.
#
# The scores are rows with their past times, as the courses above: `measures.services.response_submit` stamps the
# present moment, and a course months ago cannot be scored now. The prompts are then raised by the rules themselves
# (`prompts_evaluate`, what the `response_scored` signal runs), and the ones older than ten days were answered by
# the prescriber at the time. The doses come from one lot through the ledger's service, as above.

COHORT_FIRST_SERIAL = 1001
COHORT_LOT = "DEMO-K100-H"
# Twice weekly (clinical.schedule.FREQUENCIES[3]): day offsets of the six doses from the first.
COURSE_OFFSETS = (0, 3, 7, 10, 14, 17)
# (kind, weight): the end-of-course result each synthetic course is drawn to have.
KINDS = (("remission", 30), ("response", 22), ("partial", 18), ("none", 24), ("worse", 6))
INDICATIONS = (
    ("F33.1", "Major depressive disorder, recurrent, moderate", ("phq9",)),
    ("F33.2", "Major depressive disorder, recurrent, severe without psychotic features", ("phq9",)),
    ("F32.2", "Major depressive disorder, single episode, severe without psychotic features", ("phq9", "gad7")),
    ("F43.10", "Post-traumatic stress disorder, unspecified", ("phq9", "pcl5")),
)
# Follow-ups (months after the last dose) and the share answered at all.
FOLLOW_UP_ANSWERED = ((1, 0.8), (3, 0.7), (6, 0.6))


@dataclass(frozen=True)
class SyntheticCourse:
    serial: int
    first_dose_days_ago: int
    route: str
    indication: tuple[str, str, tuple[str, ...]]
    therapist: str
    # (days after the first dose, PHQ-9 total); the other instruments follow the PHQ-9's ratio to its baseline.
    scores: tuple[tuple[int, int], ...]
    # (months after the course, days from its due date the answer came, or None: never answered)
    follow_ups: tuple[tuple[int, int | None], ...]


def _end_total(kind: str, baseline: int, rng: random.Random) -> int:
    if kind == "remission":
        return rng.randint(1, 4)
    if kind == "response":
        return rng.randint(5, max(5, baseline // 2))
    if kind == "partial":
        return rng.randint(-(-baseline * 51 // 100), baseline * 74 // 100)
    if kind == "none":
        return rng.randint(baseline * 76 // 100 + 1, baseline + 2)
    return min(27, baseline + rng.randint(5, 7))


def cohort_size() -> int:
    return int(settings.KAPCLINIC_DEMO_COHORT)


def synthetic_courses(today: date) -> list[SyntheticCourse]:
    """The cohort's courses, drawn from a fixed seed (the same on every load)."""
    courses = []
    size = cohort_size()
    for index in range(size):
        rng = random.Random(19_000 + index)
        first_days_ago = 26 + index * 300 // size
        kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        baseline = rng.randint(15, 24)
        end = _end_total(kind, baseline, rng)
        last = COURSE_OFFSETS[-1]
        scores: list[tuple[int, int]] = []
        if rng.random() > 0.08:  # about 1 in 12 has no baseline: not evaluable
            scores.append((-rng.randint(1, 6), baseline))
        scores.append((COURSE_OFFSETS[3] + 1, (baseline + end) // 2 if kind != "none" else baseline - 1))
        if rng.random() > 0.07:  # about 1 in 14 has no end-of-course score
            scores.append((last + rng.randint(1, 6), end))
        responded = kind in ("remission", "response")
        durable = rng.random() < 0.65
        follow_ups: list[tuple[int, int | None]] = []
        for months, answered in FOLLOW_UP_ANSWERED:
            due = add_months(today - timedelta(days=first_days_ago - last), months)
            if due >= today:
                follow_ups.append((months, None))  # not yet due: scheduled, upcoming
                continue
            late_by = rng.choice((-2, 0, 1, 3, 5, 9, 12)) if rng.random() < answered else None
            follow_ups.append((months, late_by))
            if late_by is None or (due + timedelta(days=late_by)) >= today:
                continue
            at = (due - (today - timedelta(days=first_days_ago))).days + late_by
            if responded and not durable and months > 1:
                total = min(27, baseline * 3 // 4 + rng.randint(0, 3))  # the response lost: a relapse
            elif responded:
                total = max(0, end + rng.randint(-1, 2))
            else:
                total = min(27, max(0, end + rng.randint(-2, 2)))
            scores.append((at, total))
        courses.append(
            SyntheticCourse(
                serial=COHORT_FIRST_SERIAL + index,
                first_dose_days_ago=first_days_ago,
                route=WEIGHT_BASED_ROUTES[index % 2],  # IV and IM alternate
                indication=INDICATIONS[rng.randrange(len(INDICATIONS))],
                therapist=("therapist2", "therapist")[index % 5 == 0],
                scores=tuple(scores),
                follow_ups=tuple(follow_ups),
            )
        )
    return courses


def _answers(instrument: Instrument, total: int) -> list[int]:
    """Answers adding up to `total`, risk items at 0 (no safety flag in this demo)."""
    answers, left = [], total
    for item in instrument.items:
        top = 0 if item.id in instrument.risk_items else max(option.value for option in item.options)
        answers.append(min(top, left))
        left -= answers[-1]
    return answers


def _scaled(instrument: Instrument, phq9_total: int, phq9_baseline: int, baseline: int) -> int:
    top = sum(max(option.value for option in item.options) for item in instrument.items)
    return min(top, max(0, round(baseline * phq9_total / max(1, phq9_baseline))))


@transaction.atomic
def outcome_cohort_ensure(staff: dict[str, User]) -> int:
    """Create the cohort's patients and courses once; return the number of courses made."""
    today = timezone.localdate()
    first_mrn = mrn_from_number(SYNTHETIC_MRN_BASE + COHORT_FIRST_SERIAL)
    if Patient.objects.filter(mrn=first_mrn).exists():
        return 0
    courses = synthetic_courses(today)
    patients = _cohort_patients(courses, staff, today)
    product = Lot.objects.select_related("product").get(lot_number="DEMO-K100-A").product
    safe = StorageLocation.objects.get(name="Safe (medication room)")
    nurse = AuditContext(user=staff["nurse"], channel="system")
    ledger_receive(
        ctx=nurse,
        product_id=product.pk,
        lot_number=COHORT_LOT,
        expires_on=today + timedelta(days=500),
        supplier_name="Example Wholesale (synthetic)",
        supplier_dea_number="ZZ1111111",
        invoice_reference=f"INV-{COHORT_LOT}",
        received_on=today - timedelta(days=330),
        location_id=safe.pk,
        quantity=Quantity(str(cohort_size() * len(COURSE_OFFSETS) * 35 // 100 + 20), "mL"),
    )
    lot = Lot.objects.select_related("product").get(lot_number=COHORT_LOT)
    plans = _cohort_plans(courses, patients, staff)
    sessions = _cohort_sessions(courses, plans, staff)
    for session in sessions:
        _dose(session, lot, safe, staff, session.scheduled_for + timedelta(minutes=25))
    _cohort_scores(courses, patients, plans, staff)
    prompts: list[OutcomePrompt] = []
    for course in courses:
        prompts += prompts_evaluate(patient_id=patients[course.serial].pk)
    answered_before = timezone.now() - timedelta(days=10)
    prescriber = AuditContext(user=staff["prescriber"], channel="system")
    for prompt in prompts:
        if prompt.evidence_until < answered_before:  # the newer ones wait for the prescriber
            choice = "continue" if prompt.rule == "early_non_response" else "booster"
            prompt_act(ctx=prescriber, prompt_id=prompt.pk, choice=choice, reason="Demo: answered at the time.")
    return len(courses)


def _cohort_patients(courses: list[SyntheticCourse], staff: dict[str, User], today: date) -> dict[int, Patient]:
    made = [
        synthetic_patient(course.serial, random.Random(2026 * 100_000 + course.serial), today) for course in courses
    ]
    for patient in made:
        patient.created_by = staff["coordinator"]
        # Past patients with no phone on file: the fictional 555-01xx range holds 100 numbers, and 240 more patients
        # in it would make the registry's duplicate check flag every newcomer's phone.
        patient.phone = patient.phone_digits = ""
        patient.search_columns_fill()
    Patient.objects.bulk_create(made, batch_size=500)
    by_mrn = {p.mrn: p for p in Patient.objects.filter(mrn__in=[p.mrn for p in made])}
    patients = {course.serial: by_mrn[mrn_from_number(SYNTHETIC_MRN_BASE + course.serial)] for course in courses}
    CareTeamMember.objects.bulk_create(
        CareTeamMember(patient=patients[c.serial], user=staff[who], role=role, assigned_by=staff["coordinator"])
        for c in courses
        for role, who in (("prescriber", "prescriber"), ("nurse", "nurse2"), ("therapist", c.therapist))
    )
    return patients


def _cohort_plans(
    courses: list[SyntheticCourse], patients: dict[int, Patient], staff: dict[str, User]
) -> dict[int, TreatmentPlan]:
    prescriber = staff["prescriber"]
    plans = []
    for course in courses:
        first = _at(course.first_dose_days_ago)
        code, text, measures = course.indication
        plan = TreatmentPlan(
            patient=patients[course.serial],
            indication_code=code,
            indication_text=text,
            route=course.route,
            starting_dose_mg_per_kg=Decimal("0.5"),
            session_count=len(COURSE_OFFSETS),
            interval_days=3,
            first_session_on=first.date(),
            session_time=time(9, 0),
            therapist=staff[course.therapist],
            goals=["Feel like myself again"],
            measures=list(measures),
            notes="Synthetic demo plan (outcome cohort).",
            dosing_policy_version=dosing_policy().version,
            created_at=first - timedelta(days=5),
            created_by=prescriber,
            updated_at=first - timedelta(days=5),
        )
        plan.signature_stamp(prescriber.pk, at=first - timedelta(days=4))
        plans.append(plan)
    TreatmentPlan.objects.bulk_create(plans)
    return {course.serial: plan for course, plan in zip(courses, plans, strict=True)}


def _cohort_sessions(
    courses: list[SyntheticCourse], plans: dict[int, TreatmentPlan], staff: dict[str, User]
) -> list[DosingSession]:
    sessions = [
        DosingSession(
            patient_id=plans[course.serial].patient_id,
            plan=plans[course.serial],
            number=number,
            scheduled_for=(when := _at(course.first_dose_days_ago - offset)),
            therapist=staff[course.therapist],
            nurse=staff["nurse2"],
            state=SessionState.DISCHARGED,
            started_at=when,
            ended_at=when + timedelta(hours=2),
            created_at=plans[course.serial].signed_at or when,
        )
        for course in courses
        for number, offset in enumerate(COURSE_OFFSETS, start=1)
    ]
    return DosingSession.objects.bulk_create(sessions)


def _cohort_scores(
    courses: list[SyntheticCourse],
    patients: dict[int, Patient],
    plans: dict[int, TreatmentPlan],
    staff: dict[str, User],
) -> None:
    responses: list[QuestionnaireResponse] = []
    answers: list[list[int]] = []
    scheduled: list[tuple[ScheduledMeasure, int | None]] = []
    for course in courses:
        patient = patients[course.serial]
        first = _at(course.first_dose_days_ago)
        phq9_baseline = max(total for _, total in course.scores[:1]) if course.scores else 1
        for code in course.indication[2]:
            instrument = INSTRUMENTS[code]
            own_baseline = {"phq9": phq9_baseline, "gad7": 14, "pcl5": 52}[code]
            by_day: dict[int, int] = {}
            for offset, total in course.scores:
                value = total if code == "phq9" else _scaled(instrument, total, phq9_baseline, own_baseline)
                given = _answers(instrument, value)
                result = score(instrument, given)
                responses.append(
                    QuestionnaireResponse(
                        patient=patient,
                        instrument=code,
                        version=instrument.version,
                        total=result.total,
                        severity=result.severity or "",
                        flags=list(result.flags),
                        complete=result.complete,
                        source=ResponseSource.PAPER,
                        entered_by=staff["nurse2"],
                        submitted_at=first + timedelta(days=offset, hours=-1),
                    )
                )
                answers.append(given)
                by_day[offset] = len(responses) - 1
            scheduled += _schedule(course, patient, code, first, by_day, staff)
    QuestionnaireResponse.objects.bulk_create(responses, batch_size=500)
    ResponseItem.objects.bulk_create(
        (
            ResponseItem(response=response, item=item.id, value=value)
            for response, given in zip(responses, answers, strict=True)
            for item, value in zip(INSTRUMENTS[response.instrument].items, given, strict=False)
        ),
        batch_size=2000,
    )
    for measure, index in scheduled:
        measure.response = responses[index] if index is not None else None
    ScheduledMeasure.objects.bulk_create([m for m, _ in scheduled], batch_size=500)


def _schedule(
    course: SyntheticCourse,
    patient: Patient,
    code: str,
    first: datetime,
    by_day: dict[int, int],
    staff: dict[str, User],
) -> list[tuple[ScheduledMeasure, int | None]]:
    """The standard measures (baseline, end of course, 1/3/6 months), each with the response that answered it
    (`by_day`: the index of the course's response of `code` by days after the first dose)."""
    first_day = first.date()
    last_day = first_day + timedelta(days=COURSE_OFFSETS[-1])
    days = sorted(by_day)
    baseline = next((d for d in days if d < 0), None)
    end = next((d for d in days if COURSE_OFFSETS[-1] < d <= COURSE_OFFSETS[-1] + 7), None)
    due = [("Baseline", first_day - timedelta(days=2), baseline), ("End of course", last_day + timedelta(days=3), end)]
    for months, late_by in course.follow_ups:
        on = add_months(last_day, months)
        answered = None if late_by is None else (on + timedelta(days=late_by) - first_day).days
        due.append((follow_up_label(months), on, answered if answered in by_day else None))
    return [
        (
            ScheduledMeasure(
                patient=patient,
                instrument=code,
                label=label,
                due_on=on,
                created_by=staff["coordinator"],
                created_at=_at(course.first_dose_days_ago + 5),
            ),
            by_day[day] if day is not None else None,
        )
        for label, on, day in due
    ]

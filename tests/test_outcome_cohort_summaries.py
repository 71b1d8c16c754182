"""The cohort figures summarised in the database (issue 19 item 8) agree exactly with the outcome rules run on every
score, as `course_rows` did before: generated cohorts with the edges the windows have (a score exactly on a window's
edge, ties at the same instant, several courses per patient, corrections, month ends, a zero baseline, relapse on
consecutive and on non-consecutive assessments, missing and not-yet-due follow-ups), on each instrument."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.clinical import outcomes as rules
from kapclinic.clinical.instruments import INSTRUMENTS, Instrument
from kapclinic.clinical.registry import mrn_from_number
from kapclinic.dosing.models import Administration, DoseOrder, DosingSession
from kapclinic.dosing.selectors import course_doses
from kapclinic.ledger.models import LedgerEntry, Lot, Product, StorageLocation
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.measures.selectors import scores_by_patient
from kapclinic.outcomes.cohorts import CohortFilter, CourseRow, course_rows, figures
from kapclinic.outcomes.course_summaries import SUMMARISED
from kapclinic.patients.models import CareTeamMember, Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.plans.selectors import signed_plans
from tests.probes.records import plan_make

pytestmark = pytest.mark.django_db

TOP = {"phq9": 27, "gad7": 21, "pcl5": 80}


def reference_rows(plans: QuerySet[TreatmentPlan], instrument: Instrument, now: datetime) -> list[CourseRow]:
    """`course_rows` as it was before item 8: every dose time and every score of each course into Python, and the
    per-score rules (course_outcome, days_to_first_response, durability, relapse) on each course."""
    found = list(plans.values_list("pk", "patient_id", "route", "indication_code", "signed_by_id", "therapist_id"))
    doses = course_doses(plans)
    scores = scores_by_patient(plans.order_by().values("patient_id"), [instrument.code])
    rows = []
    for plan_id, patient_id, route, indication, prescriber_id, therapist_id in found:
        given = doses.get(plan_id)
        if given is None or not given.dose_times:
            continue
        first, last = given.dose_times[0], given.dose_times[-1]
        points = scores.get((patient_id, instrument.code), [])
        outcome = rules.course_outcome(instrument, points, first_dose=first, last_dose=last)
        days = rules.days_to_first_response(instrument, points, first) if outcome.baseline is not None else None
        rows.append(
            CourseRow(
                plan_id=plan_id,
                patient_id=patient_id,
                start=first,
                route=route,
                indication=indication,
                prescriber_id=prescriber_id,
                therapist_id=therapist_id,
                finished=given.sessions_to_come == 0,
                outcome=outcome,
                days_to_response=days,
                follow_ups=rules.durability(instrument, points, first_dose=first, course_end=last, now=now),
                relapsed=rules.relapse(instrument, points, first_dose=first).fires if outcome.response else None,
                last=last,
            )
        )
    return rows


class Clinic:
    """Courses written straight (bulk, as bench/outcomes.py does): what `course_doses` and the scores read."""

    def __init__(self, people: dict[str, User]) -> None:
        self.people = people
        self.product = Product.objects.create(
            name="Ketamine HCl injection", form="vial", mg_per_unit=100, unit="mL", units_per_container=5
        )
        self.place = StorageLocation.objects.create(name="Summary shelf")
        self.lot = Lot.objects.create(
            product=self.product,
            lot_number="SUMMARY",
            expires_on=timezone.localdate() + timedelta(days=400),
            supplier_name="Test",
            invoice_reference="T",
            received_on=timezone.localdate(),
            received_by=people["nurse"],
        )
        self.serial = 0

    def patient(self, *, team: bool = True) -> Patient:
        self.serial += 1
        patient = Patient.objects.create(
            mrn=mrn_from_number(5000 + self.serial), given_name="Summary", family_name=f"Course{self.serial}",
            birth_date=timezone.localdate().replace(year=1980),
        )  # fmt: skip
        if team:
            CareTeamMember.objects.create(patient=patient, user=self.people["prescriber"], role="prescriber")
        return patient

    def course(
        self, patient: Patient, doses: list[datetime], *, to_come: int = 0, route: str = "iv", signed: bool = True
    ) -> TreatmentPlan:
        plan = plan_make(patient, self.people, stamp=signed, measures=["phq9"], route=route)
        nurse = self.people["nurse"]
        sessions = [
            DosingSession.objects.create(patient=patient, plan=plan, number=n + 1, scheduled_for=at, state="discharged")
            for n, at in enumerate(doses)
        ]
        for n in range(to_come):
            DosingSession.objects.create(
                patient=patient, plan=plan, number=len(doses) + n + 1, state="scheduled",
                scheduled_for=timezone.now() + timedelta(days=3 * (n + 1)),
            )  # fmt: skip
        for session, at in zip(sessions, doses, strict=True):
            order = DoseOrder.objects.create(
                session=session, route="iv", dose_mg=Decimal(35), product=self.product, policy_version="test",
                signed_by=self.people["prescriber"], signed_at=at, digest="0" * 64,
            )  # fmt: skip
            entry = LedgerEntry.objects.create(
                kind="administration", lot=self.lot, location=self.place, quantity_mg=Decimal(-35),
                units=Decimal("-0.35"), balance_after_mg=Decimal(0), occurred_at=at, actor=nurse,
                patient_id=patient.pk, previous_hash="0" * 64, row_hash="0" * 64,
            )  # fmt: skip
            Administration.objects.create(
                session=session, order=order, route="iv", lot=self.lot, location=self.place, started_at=at,
                drawn_mg=Decimal(35), given_mg=Decimal(35), ledger_entry=entry, by=nurse, at=at,
            )  # fmt: skip
        return plan

    def score(self, patient: Patient, instrument: str, at: datetime, total: int) -> QuestionnaireResponse:
        return QuestionnaireResponse.objects.create(
            patient=patient, instrument=instrument, version="1", total=total, complete=True, source="paper",
            entered_by=self.people["nurse"], submitted_at=at,
        )  # fmt: skip

    def correct(self, original: QuestionnaireResponse, total: int) -> None:
        QuestionnaireResponse.objects.create(
            patient_id=original.patient_id, instrument=original.instrument, version="1", total=total, complete=True,
            source="paper", entered_by=self.people["nurse"], submitted_at=original.submitted_at,
            corrects=original, correction_reason="Transcription error",
        )  # fmt: skip


def _edges(first: datetime, last: datetime) -> list[datetime]:
    """The instants the rules' windows turn on, and a microsecond either side of some."""
    tick = timedelta(microseconds=1)
    base_from = first - rules.BASELINE_WINDOW
    end_to = last + rules.END_OF_COURSE_WINDOW
    moments = [base_from - tick, base_from, base_from + tick, first - tick, first, first + tick, last, last + tick]
    moments += [end_to - tick, end_to, end_to + tick]
    for _, low, target, high in rules.follow_up_windows(last):
        gap = timedelta(days=2, hours=3)
        moments += [low - tick, low, high, high + tick, target, target - gap, target + gap]
    return moments


def generate(clinic: Clinic, rng: random.Random, now: datetime, courses: int) -> None:
    """`courses` courses at random with their scores on every instrument, many on the windows' edges."""
    patients: list[Patient] = []
    for _ in range(courses):
        if patients and rng.random() < 0.25:
            patient = rng.choice(patients)  # a second course of the same patient
        else:
            patient = clinic.patient(team=rng.random() < 0.7)
            patients.append(patient)
        if rng.random() < 0.2:  # the last dose late on a 31st (UTC): the follow-ups clamp to month ends
            last = datetime(2026, rng.choice((1, 3, 5, 8, 10)), 31, 23, 40, 0, rng.choice((0, 123456)), tzinfo=UTC)
        else:
            last = now - timedelta(days=rng.randint(0, 300), seconds=rng.randint(0, 86399))
            last = last.replace(microsecond=rng.choice((0, rng.randint(1, 999999))))
        doses = sorted(last - timedelta(days=rng.randint(0, 30), minutes=rng.randint(0, 500)) for _ in range(5))
        doses = [*doses[: rng.randint(0, 5)], last]
        doses = sorted(set(doses))
        clinic.course(patient, doses, to_come=rng.choice((0, 0, 2)), route=rng.choice(("iv", "im")))
        first = doses[0]
        for code, top in TOP.items():
            moments = _edges(first, last)
            moments += [first + timedelta(days=rng.uniform(-40, 250)) for _ in range(rng.randint(0, 12))]
            for at in rng.sample(moments, k=min(len(moments), rng.randint(0, 14))):
                total = rng.choice((0, top, rng.randint(0, top), rng.randint(0, top // 3)))
                response = clinic.score(patient, code, at, total)
                if rng.random() < 0.15:
                    clinic.score(patient, code, at, rng.randint(0, top))  # another score at the same instant
                if rng.random() < 0.08:
                    clinic.correct(response, rng.randint(0, top))


def _director(people: dict[str, User]) -> AuditContext:
    return AuditContext(user=people["director"], channel="page")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_summarised_courses_agree_exactly_with_the_rules_on_every_score(
    personas: dict[str, User], seed: int
) -> None:
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    generate(Clinic(personas), rng, now, courses=30)
    every: list[CourseRow] = []
    for code in TOP:
        instrument = INSTRUMENTS[code]
        rows = course_rows(ctx=_director(personas), where=CohortFilter(instrument=code), now=now)
        expected = reference_rows(signed_plans(), instrument, now)
        assert len(rows) == len(expected) > 20
        for row, reference in zip(rows, expected, strict=True):
            assert row == reference, (code, row.plan_id)
        assert figures(code, rows) == figures(code, expected)
        every += expected
    # What the generated cohort holds, so the comparison covers each branch of the rules.
    statuses = {point.status for row in every for point in row.follow_ups}
    assert {"responding", "not responding", "missing", "not yet due"} <= statuses
    assert {row.relapsed for row in every} == {True, False, None}
    assert any(row.outcome.baseline is None for row in every) and any(row.outcome.complete for row in every)
    assert any(row.days_to_response is not None for row in every)


def test_a_prescriber_and_a_filter_summarise_the_same_courses_as_the_rules(personas: dict[str, User]) -> None:
    now = timezone.now().replace(microsecond=0)
    generate(Clinic(personas), random.Random(7), now, courses=24)
    ctx = AuditContext(user=personas["prescriber"], channel="page")
    rows = course_rows(ctx=ctx, where=CohortFilter(route="im"), now=now)
    team = signed_plans().filter(patient__care_team__user=personas["prescriber"], route="im")
    expected = reference_rows(team, INSTRUMENTS["phq9"], now)
    assert rows == expected and 0 < len(rows) < 24


def test_ties_edges_and_relapse_by_hand(personas: dict[str, User]) -> None:
    """Hand-made cases of the rules' corners, each compared and its answer said."""
    clinic = Clinic(personas)
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    first = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    last = datetime(2026, 1, 31, 23, 40, 0, 500000, tzinfo=UTC)
    day = timedelta(days=1)
    # Same instant baseline: 20 then 10 (the window's rule takes the lower id, 20; the time to response the
    # higher, 10); end exactly 7 days after; relapse on two consecutive non-responses after responding.
    tied = clinic.patient()
    clinic.course(tied, [first, first + 10 * day, last])
    for total in (20, 10):
        clinic.score(tied, "phq9", first - rules.BASELINE_WINDOW, total)
    for offset, total in ((3, 9), (9, 4), (15, 16), (16, 12), (20, 4)):
        clinic.score(tied, "phq9", first + offset * day, total)
    clinic.score(tied, "phq9", last + rules.END_OF_COURSE_WINDOW, 8)
    # Non-consecutive losses: responding, lost, responding, lost: no relapse. The 1-month target on 28 February.
    alternating = clinic.patient()
    clinic.course(alternating, [first, last])
    clinic.score(alternating, "phq9", first, 20)
    for offset, total in ((2, 9), (4, 15), (6, 8), (8, 15), (10, 5)):
        clinic.score(alternating, "phq9", first + offset * day, total)
    clinic.score(alternating, "phq9", last + day, 6)
    target = datetime(2026, 2, 28, 23, 40, 0, 500000, tzinfo=UTC)
    clinic.score(alternating, "phq9", target - 2 * day, 12)  # as near as the next: the earlier counts
    clinic.score(alternating, "phq9", target + 2 * day, 6)
    rows = course_rows(ctx=_director(personas), where=CohortFilter(), now=now)
    assert rows == reference_rows(signed_plans(), INSTRUMENTS["phq9"], now)
    by_patient = {row.patient_id: row for row in rows}
    assert by_patient[tied.pk].outcome.baseline == (first - rules.BASELINE_WINDOW, 20)
    assert by_patient[tied.pk].days_to_response == 9  # against 10 (days_to_first_response): 9 is not half, 4 is
    assert by_patient[tied.pk].relapsed is True
    assert by_patient[alternating.pk].relapsed is False
    assert by_patient[alternating.pk].follow_ups[0].score == (target - 2 * day, 12)
    assert by_patient[alternating.pk].follow_ups[0].status == "not responding"


def test_the_summaries_read_in_one_query_whatever_the_number_of_courses(personas: dict[str, User]) -> None:
    now = timezone.now().replace(microsecond=0)
    clinic = Clinic(personas)
    counts = []
    for courses in (3, 12):
        generate(clinic, random.Random(courses), now, courses=courses)
        with CaptureQueriesContext(connection) as queries:
            rows = course_rows(ctx=_director(personas), where=CohortFilter(), now=now)
        counts.append(len(queries))
    assert len(rows) > 12 and counts[0] == counts[1]
    # The courses whose records changed summarised again and stored: one query per instrument offered.
    assert sum("WITH plan" in query["sql"] for query in queries) == len(SUMMARISED)
    with CaptureQueriesContext(connection) as queries:
        assert course_rows(ctx=_director(personas), where=CohortFilter(), now=now) == rows
    assert not any("WITH plan" in query["sql"] for query in queries)  # nothing changed: the stored summaries

"""The stored course summaries (issue 19 item 8): the cohort figures read them, and after any change to a score, a
session, a dose or a plan (insert, correction, update, delete) they equal a fresh summary of every course; the
dashboard's query count does not grow with the courses; `manage.py course_summaries` summarises the marked
patients, or every course with --all."""

from __future__ import annotations

import random
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.dbtriggers import STALE_MARKING, append_only_restore, stale_marking_present
from kapclinic.dosing.models import Administration, DosingSession
from kapclinic.outcomes import course_summaries as course_summaries_module
from kapclinic.outcomes.cohorts import CohortFilter, course_rows
from kapclinic.outcomes.course_summaries import (
    SUMMARISED,
    CourseSummary,
    course_summaries,
    course_summaries_refresh,
    stored_course_summaries,
)
from kapclinic.outcomes.models import StaleCourses, StoredCourseSummary
from kapclinic.plans.selectors import signed_plans
from tests.test_outcome_cohort_summaries import Clinic, _director, generate, reference_rows

pytestmark = pytest.mark.django_db


def _fresh(code: str) -> list[CourseSummary]:
    return course_summaries(signed_plans(), INSTRUMENTS[code])


def _assert_stored_equal_fresh() -> None:
    """What the figures read (after summarising the marked patients) is what a summary of everything gives."""
    for code in SUMMARISED:
        assert stored_course_summaries(signed_plans(), INSTRUMENTS[code]) == _fresh(code), code
    assert not StaleCourses.objects.exists()


def _marked(patient_id: int) -> bool:
    return StaleCourses.objects.filter(Q(patient_id=patient_id) | Q(session__patient_id=patient_id)).exists()


def test_every_table_the_summaries_read_marks_its_patients_on_insert_update_and_delete() -> None:
    for table in STALE_MARKING:
        assert stale_marking_present(connection, table), table


def test_the_stored_summaries_follow_scores_doses_sessions_and_plans(personas: dict[str, User]) -> None:
    now = timezone.now().replace(microsecond=0)
    clinic = Clinic(personas)
    generate(clinic, random.Random(7), now, courses=8)
    _assert_stored_equal_fresh()
    rows = course_rows(ctx=_director(personas), where=CohortFilter(), now=now)
    assert rows == reference_rows(signed_plans(), INSTRUMENTS["phq9"], now)
    day = timedelta(days=1)

    # A new course, then its scores: inserted.
    patient = clinic.patient()
    first, last = now - 60 * day, now - 50 * day
    plan = clinic.course(patient, [first, now - 55 * day, last], to_come=1)
    assert _marked(patient.pk)
    _assert_stored_equal_fresh()
    baseline = clinic.score(patient, "phq9", first - day, 20)
    clinic.score(patient, "phq9", last + day, 8)
    clinic.score(patient, "gad7", first - day, 15)
    assert _marked(patient.pk)
    _assert_stored_equal_fresh()
    assert StoredCourseSummary.objects.get(plan=plan, instrument="phq9").end_total == 8

    # A correction (a new response that replaces one).
    clinic.correct(baseline, 9)
    assert _marked(patient.pk)
    _assert_stored_equal_fresh()
    assert StoredCourseSummary.objects.get(plan=plan, instrument="phq9").baseline_total == 9

    # A session called off: an update of its state (the sessions to come).
    waiting = DosingSession.objects.get(plan=plan, state="scheduled")
    DosingSession.objects.filter(pk=waiting.pk).update(state="cancelled")
    assert _marked(patient.pk)
    _assert_stored_equal_fresh()
    assert StoredCourseSummary.objects.get(plan=plan, instrument="phq9").sessions_to_come == 0

    # A dose given on a plan still in draft counts once the plan is signed (an update of the plan).
    other = clinic.patient()
    draft = clinic.course(other, [first, last], signed=False)
    assert _marked(other.pk)
    _assert_stored_equal_fresh()
    assert not StoredCourseSummary.objects.filter(plan=draft).exists()
    draft.refresh_from_db()
    draft.signature_stamp(personas["prescriber"].pk)
    draft.save()
    assert _marked(other.pk)
    _assert_stored_equal_fresh()
    assert StoredCourseSummary.objects.filter(plan=draft).count() == len(SUMMARISED)

    # Changes to records the summaries do not read mark nobody.
    StaleCourses.objects.all().delete()
    DosingSession.objects.filter(plan=plan).update(room="Room 2")
    assert not StaleCourses.objects.exists()
    rows = course_rows(ctx=_director(personas), where=CohortFilter(), now=now)
    assert rows == reference_rows(signed_plans(), INSTRUMENTS["phq9"], now)


def test_a_dose_corrected_or_taken_off_by_the_owner_moves_the_course(personas: dict[str, User]) -> None:
    """Doses are append-only: only the tables' owner, with the triggers lifted, can correct or remove one (SQLite
    here, where the test may drop a trigger; on PostgreSQL the one trigger function per table that the updates of
    sessions and plans exercise serves deletes with the same OLD row)."""
    if connection.vendor != "sqlite":
        pytest.skip("the application role cannot lift the append-only triggers")
    now = timezone.now().replace(microsecond=0)
    clinic = Clinic(personas)
    day = timedelta(days=1)
    patient = clinic.patient()
    first, last = now - 60 * day, now - 50 * day
    plan = clinic.course(patient, [first, now - 55 * day, last])
    clinic.score(patient, "phq9", first - day, 20)
    clinic.score(patient, "phq9", last + 3 * day, 8)
    _assert_stored_equal_fresh()
    table = Administration._meta.db_table
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER {table}_no_update")
            cursor.execute(f"DROP TRIGGER {table}_no_delete")
        dose = Administration.objects.get(session__plan=plan, started_at=last)
        Administration.objects.filter(pk=dose.pk).update(started_at=last + day)
        assert _marked(patient.pk)
        _assert_stored_equal_fresh()
        summary = StoredCourseSummary.objects.get(plan=plan, instrument="phq9")
        assert (summary.last_dose, summary.end_total) == (last + day, 8)
        Administration.objects.filter(pk=dose.pk).delete()
        assert _marked(patient.pk)
        _assert_stored_equal_fresh()
        summary = StoredCourseSummary.objects.get(plan=plan, instrument="phq9")
        assert (summary.last_dose, summary.end_total) == (now - 55 * day, None)  # 8 days after it now
    finally:
        append_only_restore(connection, table)


def test_the_dashboard_reads_in_the_same_number_of_queries_whatever_the_number_of_courses(
    personas: dict[str, User],
) -> None:
    now = timezone.now().replace(microsecond=0)
    clinic = Clinic(personas)
    changed: list[int] = []
    unchanged: list[int] = []
    for courses in (2, 10):
        generate(clinic, random.Random(courses), now, courses=courses)
        for counts in (changed, unchanged):  # after new records (summarised again), then with nothing new
            with CaptureQueriesContext(connection) as queries:
                rows = course_rows(ctx=_director(personas), where=CohortFilter(), now=now)
            counts.append(len(queries))
    assert len(rows) >= 12
    assert changed[0] == changed[1] and unchanged[0] == unchanged[1]
    assert unchanged[1] < changed[1]


def test_the_command_summarises_the_marked_patients_or_every_course(personas: dict[str, User]) -> None:
    now = timezone.now().replace(microsecond=0)
    generate(Clinic(personas), random.Random(11), now, courses=6)
    out = StringIO()
    call_command("course_summaries", stdout=out)
    assert "whose records changed" in out.getvalue()
    assert not StaleCourses.objects.exists()
    stored = StoredCourseSummary.objects.count()
    assert stored == len(SUMMARISED) * len(_fresh("phq9"))
    # After a change of the rules nothing is marked, yet every summary must be made again.
    StoredCourseSummary.objects.filter(instrument="phq9").update(relapsed=True, baseline_total=None)
    out = StringIO()
    call_command("course_summaries", "--all", stdout=out)
    assert "every course" in out.getvalue() and f"{stored} course summaries stored" in out.getvalue()
    _assert_stored_equal_fresh()


def test_a_refresh_clears_the_marks_it_summarised(personas: dict[str, User]) -> None:
    clinic = Clinic(personas)
    patients = [clinic.patient() for _ in range(3)]
    for patient in patients:
        clinic.course(patient, [timezone.now() - timedelta(days=30)])
    # Each patient marked (plan, session) and each dose's session.
    assert StaleCourses.objects.filter(patient__in=patients).count() == 3
    assert StaleCourses.objects.filter(session__patient__in=patients).count() == 3
    assert course_summaries_refresh() == 6
    assert course_summaries_refresh() == 0
    assert StoredCourseSummary.objects.filter(patient__in=patients).count() == 3 * len(SUMMARISED)


def test_many_marks_summarise_every_course_in_one_pass(
    personas: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = timezone.now().replace(microsecond=0)
    clinic = Clinic(personas)
    generate(clinic, random.Random(5), now, courses=6)
    course_summaries_refresh()
    StoredCourseSummary.objects.update(relapsed=True)  # stale without a mark: only a pass over every course mends it
    clinic.score(clinic.patient(), "phq9", now, 10)
    monkeypatch.setattr(course_summaries_module, "_EVERY_COURSE_FROM", 0)
    _assert_stored_equal_fresh()

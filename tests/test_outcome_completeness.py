"""Measurement completeness (issue 19 item 4): scheduled measures answered on time, late, overdue or still open,
by schedule point and by clinician, with the overdue patients a click away; counted in a fixed number of queries."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.clinical.registry import mrn_from_number
from kapclinic.clinical.schedule import follow_up_label, timeliness
from kapclinic.measures.models import ScheduledMeasure
from kapclinic.outcomes.completeness import completeness
from kapclinic.patients.models import CareTeamMember, Patient
from tests.probes.records import response_make

TODAY = date(2026, 6, 30)


@pytest.mark.parametrize(
    ("answered", "today", "status"),
    [
        (date(2026, 6, 1), TODAY, "on_time"),
        (date(2026, 6, 8), TODAY, "on_time"),  # the last day before it turns overdue
        (date(2026, 6, 9), TODAY, "late"),
        (None, date(2026, 6, 8), "open"),
        (None, date(2026, 6, 9), "overdue"),
    ],
)
def test_timeliness_edges(answered: date | None, today: date, status: str) -> None:
    assert timeliness(date(2026, 6, 1), answered, today) == status


def _measure(patient: Patient, by: User, label: str, due_days_ago: int, answered_days_ago: int | None) -> None:
    today = timezone.localdate()
    response = None
    if answered_days_ago is not None:
        at = timezone.make_aware(datetime.combine(today - timedelta(days=answered_days_ago), time(10)))
        response = response_make(patient, by, 10, submitted_at=at)
    ScheduledMeasure.objects.create(
        patient=patient,
        instrument="phq9",
        label=label,
        due_on=today - timedelta(days=due_days_ago),
        response=response,
        created_by=by,
    )


def _world(personas: dict[str, User], team_patient: Patient, others: int = 1) -> list[Patient]:
    nurse = personas["nurse"]
    _measure(team_patient, nurse, "Baseline", 60, 60)  # on time
    _measure(team_patient, nurse, "End of course", 40, 20)  # 20 days late
    _measure(team_patient, nurse, follow_up_label(1), 10, None)  # overdue
    _measure(team_patient, nurse, follow_up_label(3), -30, None)  # not yet due: open, not counted
    made = []
    for serial in range(others):
        patient = Patient.objects.create(
            mrn=mrn_from_number(800 + serial), given_name="Completeness", family_name=f"Other{serial}",
            birth_date=date(1985, 1, 1),
        )  # fmt: skip
        CareTeamMember.objects.create(patient=patient, user=personas["therapist"], role="therapist")
        _measure(patient, nurse, "Baseline", 30, None)  # overdue, not on the prescriber's team
        made.append(patient)
    return made


@pytest.mark.django_db
def test_the_director_sees_on_time_late_and_overdue_by_point_and_by_clinician(
    personas: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    others = _world(personas, team_patient)
    report = completeness(ctx=AuditContext(user=personas["director"], channel="page"))
    overall = report.overall
    assert (overall.on_time, overall.late, overall.overdue, overall.counted) == (1, 1, 2, 4)
    points = {c.label: (c.on_time, c.late, c.overdue) for c in report.by_point}
    assert points["Baseline"] == (1, 0, 1) and points["End of course"] == (0, 1, 0)
    assert points[follow_up_label(1)] == (0, 0, 1) and points[follow_up_label(3)] == (0, 0, 0)
    by_clinician = {(c.clinician.username, c.role): c.figures for c in report.by_clinician}
    assert by_clinician[("prescriber", "prescriber")].counted == 3
    assert by_clinician[("therapist", "therapist")].overdue == 2  # the therapist has both patients
    page = client_for("director").get("/outcomes/completeness/")
    body = page.content.decode()
    assert page.status_code == 200 and "1 / 4 · 25.0 %" in body
    assert f"/outcomes/completeness/overdue/?clinician={personas['prescriber'].pk}" in body
    # One click away: the overdue patients, each linking to the chart; the list is audited patient by patient.
    listed = client_for("director").get("/outcomes/completeness/overdue/").content.decode()
    assert f"/patients/{team_patient.pk}/" in listed and f"/patients/{others[0].pk}/" in listed
    assert AccessEvent.objects.filter(action="outcome.overdue_list", patient=others[0]).exists()
    only = client_for("director").get("/outcomes/completeness/overdue/", {"point": "End of course"})
    assert "No patients with an overdue measure here." in only.content.decode()


@pytest.mark.django_db
def test_a_prescriber_sees_their_own_patients_and_a_nurse_is_refused(
    personas: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    others = _world(personas, team_patient)
    report = completeness(ctx=AuditContext(user=personas["prescriber"], channel="page"))
    assert report.overall.counted == 3
    listed = client_for("prescriber").get("/outcomes/completeness/overdue/").content.decode()
    assert f"/patients/{team_patient.pk}/" in listed and f"/patients/{others[0].pk}/" not in listed
    refused = client_for("nurse").get("/outcomes/completeness/")
    assert refused.status_code == 403
    assert AccessEvent.objects.filter(user=personas["nurse"], action="outcome.cohorts", outcome="denied").exists()


@pytest.mark.django_db
def test_bad_filters_say_what_is_wrong_and_nothing_is_listed(
    personas: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    _world(personas, team_patient)
    page = client_for("director").get("/outcomes/completeness/overdue/", {"clinician": "x", "point": "Never"})
    assert page.status_code == 422
    assert "Select a valid choice" in page.content.decode()


@pytest.mark.django_db
def test_no_scheduled_measure_says_no_patients(personas: dict[str, User], client_for: Any) -> None:
    assert (
        "No patients: no scheduled measure has come due yet."
        in client_for("director").get("/outcomes/completeness/").content.decode()
    )


@pytest.mark.django_db
def test_the_query_count_does_not_grow_with_the_patients(
    personas: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    _world(personas, team_patient, others=2)
    client = client_for("director")
    with CaptureQueriesContext(connection) as small:
        client.get("/outcomes/completeness/")
    _world(personas, Patient.objects.create(mrn=mrn_from_number(900), given_name="A", family_name="B",
                                            birth_date=date(1980, 1, 1)), others=0)  # fmt: skip
    for serial in range(10, 30):
        patient = Patient.objects.create(
            mrn=mrn_from_number(800 + serial), given_name="More", family_name=f"Other{serial}",
            birth_date=date(1985, 1, 1),
        )  # fmt: skip
        CareTeamMember.objects.create(patient=patient, user=personas["prescriber"], role="prescriber")
        _measure(patient, personas["nurse"], "Baseline", 30, None)
    with CaptureQueriesContext(connection) as large:
        client.get("/outcomes/completeness/")
    assert len(large) == len(small)

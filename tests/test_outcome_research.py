"""The de-identified research export (issue 19 item 6): director only (others 403, audited), the method in the
header lines, and no direct identifier in the file: no name, MRN, phone, email, exact date or full ZIP."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.patients.models import Patient
from tests.probes.records import response_make
from tests.test_outcome_prompts import course_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def courses(personas: dict[str, User], team_patient: Patient, other_patient: Patient) -> list[Patient]:
    team_patient.birth_date = timezone.localdate() - timedelta(days=365 * 93)  # over 89: "90+"
    team_patient.postal_code, team_patient.email = "10027", "alder.teampatient@example.test"
    team_patient.save()
    other_patient.postal_code = "94110"
    other_patient.save()
    for patient in (team_patient, other_patient):
        _, times = course_make(patient, personas, days_ago=(40, 37, 33, 30, 26, 23), sessions=6)
        response_make(patient, personas["nurse"], 20, submitted_at=times[0] - timedelta(days=2))
        response_make(patient, personas["nurse"], 4, submitted_at=times[-1] + timedelta(days=2))
    return [team_patient, other_patient]


def test_the_director_gets_one_row_per_course_with_no_identifier(
    courses: list[Patient], client_for: Any, personas: dict[str, User]
) -> None:
    response = client_for("director").get("/outcomes/research.csv")
    assert response.status_code == 200
    text = response.content.decode()
    header = [line for line in text.splitlines() if line.startswith("# ")]
    assert any("Safe Harbor" in line for line in header) and any("ZIP codes are dropped" in line for line in header)
    assert any("shifted per patient" in line for line in header)
    rows = list(csv.DictReader(io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith("# ")))))
    assert len(rows) == 2
    assert {row["age_at_start"] for row in rows} >= {"90+"}
    assert all(row["response"] == "yes" and row["remission"] == "yes" for row in rows)
    for patient in courses:
        for identifier in (
            patient.given_name, patient.family_name, patient.mrn, patient.phone, patient.phone_digits,
            patient.email, patient.postal_code, patient.address_line1, patient.birth_date.isoformat(),
        ):  # fmt: skip
            if identifier:
                assert identifier not in text, identifier
    # No exact date of the record: every real dose and score day is absent.
    real_days = {(timezone.localdate() - timedelta(days=n)).isoformat() for n in range(0, 60)}
    for row in rows:
        shifted = date.fromisoformat(row["first_dose_shifted"])
        assert abs((shifted - (timezone.localdate() - timedelta(days=40))).days) <= 182
    assert not any(day in text for day in real_days - {row["first_dose_shifted"] for row in rows})
    assert AccessEvent.objects.filter(user=personas["director"], action="outcome.research_export").exists()


@pytest.mark.parametrize("role", ["prescriber", "auditor", "nurse"])
def test_anyone_else_is_refused_and_the_refusal_audited(
    courses: list[Patient], client_for: Any, personas: dict[str, User], role: str
) -> None:
    assert client_for(role).get("/outcomes/research.csv").status_code == 403
    assert AccessEvent.objects.filter(user=personas[role], action="outcome.research_export", outcome="denied").exists()

"""The clinic's outcome figures (issue 19 items 3 and 7): recomputed here independently from the raw responses and
doses, by hand-written arithmetic (not the outcome rules), and compared with the API and the dashboard's CSV."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.clinical.registry import mrn_from_number
from kapclinic.dosing.models import Administration
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.patients.models import CareTeamMember, Patient
from kapclinic.plans.models import TreatmentPlan
from tests.probes.records import response_make
from tests.test_outcome_prompts import course_make

pytestmark = pytest.mark.django_db

DOSE_DAYS = (40, 37, 33, 30, 26, 23)  # days ago: the first dose 40 days ago, the last 23 days ago
FIRST = 40
# (baseline: days before the first dose, total), (end: days after the last dose, total); None: not measured.
PATTERNS: list[tuple[tuple[int, int] | None, tuple[int, int] | None]] = [
    ((2, 20), (2, 4)),  # response and remission
    ((1, 20), (3, 9)),  # response, not remission
    ((3, 20), (1, 13)),  # partial: no response
    ((2, 10), (2, 16)),  # worse by 6
    (None, (2, 5)),  # no baseline: not evaluable
    ((2, 18), (12, 8)),  # the end score 12 days after the last dose: outside the 7-day window
    ((20, 20), (2, 3)),  # the baseline 20 days before the first dose: outside the 14-day window
    ((2, 21), (5, 10)),  # response (10 <= 10.5)
]


def _patient(serial: int, personas: dict[str, User], *, team: bool) -> Patient:
    patient = Patient.objects.create(
        mrn=mrn_from_number(700 + serial),
        given_name="Cohort",
        family_name=f"Member{serial}",
        birth_date=timezone.localdate().replace(year=1980),
    )
    if team:
        for role in ("prescriber", "therapist"):
            CareTeamMember.objects.create(patient=patient, user=personas[role], role=role)
    return patient


@pytest.fixture
def clinic(personas: dict[str, User]) -> list[Patient]:
    """Eight courses on the personas' care team, one more outside it, one plan never dosed."""
    now = timezone.now()
    patients = []
    for serial, (baseline, end) in enumerate([*PATTERNS, ((2, 20), (2, 4))]):
        patient = _patient(serial, personas, team=serial < len(PATTERNS))
        _, times = course_make(patient, personas, days_ago=DOSE_DAYS, sessions=len(DOSE_DAYS))
        if baseline is not None:
            response_make(patient, personas["nurse"], baseline[1], submitted_at=times[0] - timedelta(days=baseline[0]))
        if end is not None:
            response_make(patient, personas["nurse"], end[1], submitted_at=times[-1] + timedelta(days=end[0]))
        patients.append(patient)
    course_make(_patient(99, personas, team=True), personas, days_ago=())  # signed, never dosed: not started
    assert now  # the courses are in the past
    return patients


def recomputed(patient_ids: list[int]) -> dict[str, Any]:
    """The figures by hand from the raw rows: baseline the latest PHQ-9 at most 14 days before the first dose, the
    end the earliest within 7 days after the last; response a drop of half or more, remission under 5, worse +5."""
    started = evaluable = with_baseline = with_end = response = remission = worse = 0
    for patient_id in patient_ids:
        doses = sorted(
            Administration.objects.filter(session__patient_id=patient_id).values_list("started_at", flat=True)
        )
        if not doses:
            continue
        started += 1
        scores = list(
            QuestionnaireResponse.objects.filter(patient_id=patient_id, instrument="phq9").values_list(
                "submitted_at", "total"
            )
        )
        before = [(at, t) for at, t in scores if doses[0] - timedelta(days=14) <= at <= doses[0]]
        after = [(at, t) for at, t in scores if doses[-1] < at <= doses[-1] + timedelta(days=7)]
        base = max(before)[1] if before else None
        end = min(after)[1] if after else None
        with_baseline += base is not None
        with_end += end is not None
        if base is None or end is None:
            continue
        evaluable += 1
        response += end * 2 <= base
        remission += end < 5
        worse += end - base >= 5
    return {
        "started": started,
        "with_baseline": with_baseline,
        "with_end": with_end,
        "completers": evaluable,
        "response": response,
        "remission": remission,
        "worse": worse,
    }


def wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def test_the_directors_figures_agree_with_a_recomputation_from_the_raw_responses(
    clinic: list[Patient], api_for: Any
) -> None:
    body = api_for("director").get("/api/v1/outcomes/cohorts").json()
    expected = recomputed([p.pk for p in Patient.objects.all()])
    assert expected == {
        "started": 9, "with_baseline": 7, "with_end": 8, "completers": 6, "response": 4, "remission": 2, "worse": 1,
    }  # fmt: skip
    assert (body["started"], body["with_baseline"], body["with_end_of_course"], body["completers"]) == (
        expected["started"], expected["with_baseline"], expected["with_end"], expected["completers"],
    )  # fmt: skip
    assert body["not_evaluable"] == 3
    for name in ("response", "remission", "worse"):
        key = "worsened" if name == "worse" else name
        for population, of in (("all_started", expected["started"]), ("completers_rates", expected["completers"])):
            rate = body[population][key]
            assert (rate["count"], rate["of"]) == (expected[name], of)
            assert rate["share"] == pytest.approx(expected[name] / of)
            low, high = wilson(expected[name], of)
            assert (rate["ci95_low"], rate["ci95_high"]) == (pytest.approx(low), pytest.approx(high))


def test_a_prescriber_counts_their_own_patients_only_and_a_therapist_none(
    clinic: list[Patient], api_for: Any, personas: dict[str, User]
) -> None:
    body = api_for("prescriber").get("/api/v1/outcomes/cohorts").json()
    team = list(CareTeamMember.objects.filter(user=personas["prescriber"]).values_list("patient_id", flat=True))
    assert body["started"] == recomputed(team)["started"] == 8
    assert api_for("therapist").get("/api/v1/outcomes/cohorts").status_code == 403
    assert AccessEvent.objects.filter(action="outcome.cohorts", user=personas["therapist"], outcome="denied").exists()


def test_filters_and_an_empty_cohort_answer_no_patients_not_a_division_by_zero(
    clinic: list[Patient], api_for: Any, client_for: Any
) -> None:
    api = api_for("director")
    empty = api.get("/api/v1/outcomes/cohorts?route=sublingual").json()
    assert empty["started"] == 0 and empty["all_started"]["response"] == {
        "count": 0, "of": 0, "share": None, "ci95_low": None, "ci95_high": None,
    }  # fmt: skip
    today = timezone.localdate()
    assert api.get(f"/api/v1/outcomes/cohorts?from={today.isoformat()}").json()["started"] == 0
    window = f"from={(today - timedelta(days=FIRST + 1)).isoformat()}&to={today.isoformat()}&indication=F33&route=iv"
    assert api.get(f"/api/v1/outcomes/cohorts?{window}").json()["started"] == 9
    assert api.get("/api/v1/outcomes/cohorts?route=oral").status_code == 422
    assert api.get("/api/v1/outcomes/cohorts?from=yesterday").status_code == 422
    page = client_for("director").get("/outcomes/?route=sublingual")
    assert page.status_code == 200 and b"No patients" in page.content
    refused = client_for("director").get("/outcomes/?start_from=2026-05-01&start_to=2026-04-01")
    assert refused.status_code == 422 and b"cannot come before its start" in refused.content


def test_the_dashboard_and_its_csv_show_the_same_figures_beside_the_labelled_benchmarks(
    clinic: list[Patient], client_for: Any
) -> None:
    client = client_for("director")
    page = client.get("/outcomes/?group=route")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Every course" in text and "4 / 9 · 44.4 %" in text and "4 / 6 · 66.7 %" in text
    assert "McInnes 2022" in text and "real-world" in text and "RCT" in text and "completers" in text
    rows = list(csv.DictReader(io.StringIO(client.get("/outcomes/cohorts.csv?group=route").content.decode())))
    overall = rows[0]
    assert overall["cohort"] == "Every course" and overall["started"] == "9" and overall["completers"] == "6"
    assert overall["response_all_started_count"] == "4" and overall["response_all_started_percent"] == "44.4"
    low, high = wilson(4, 9)
    assert overall["response_all_started_ci95_low"] == f"{low * 100:.1f}"
    assert overall["response_all_started_ci95_high"] == f"{high * 100:.1f}"
    assert [row["cohort"] for row in rows[1:]] == ["Intravenous infusion (racemic ketamine)"]


def test_the_dashboard_reads_in_a_constant_number_of_queries(
    clinic: list[Patient], client_for: Any, personas: dict[str, User]
) -> None:
    client = client_for("director")

    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert client.get("/outcomes/").status_code == 200
        return len(seen)

    before = queries()
    for serial in range(20, 24):
        patient = _patient(serial, personas, team=True)
        _, times = course_make(patient, personas, days_ago=DOSE_DAYS, sessions=len(DOSE_DAYS))
        response_make(patient, personas["nurse"], 20, submitted_at=times[0] - timedelta(days=1))
    assert TreatmentPlan.objects.count() > 10
    assert queries() == before


def test_the_first_dose_bounds_the_period_in_the_clinics_days(clinic: list[Patient], api_for: Any) -> None:
    first = min(Administration.objects.values_list("started_at", flat=True))
    day = timezone.localdate(first)
    assert isinstance(first, datetime)
    api = api_for("director")
    assert api.get(f"/api/v1/outcomes/cohorts?from={day}&to={day}").json()["started"] == 9
    assert api.get(f"/api/v1/outcomes/cohorts?to={day - timedelta(days=1)}").json()["started"] == 0

"""The dashboard's chart and its other measures (issue 19 item 3): response and remission by cohort drawn
server-side with a text alternative; the GAD-7 and PCL-5 by their own definitions (no remission for the PCL-5)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kapclinic.accounts.models import User
from kapclinic.outcomes.charts import cohort_summary
from kapclinic.outcomes.cohorts import CohortFigures, Rate, figures
from kapclinic.patients.models import Patient
from tests.probes.records import response_make
from tests.test_outcome_cohorts import clinic  # noqa: F401 - the fixture
from tests.test_outcome_prompts import course_make

pytestmark = pytest.mark.django_db


def test_the_chart_is_drawn_with_a_title_and_a_description_that_says_every_figure(
    clinic: list[Patient],  # noqa: F811
    client_for: Any,
) -> None:
    body = client_for("director").get("/outcomes/", {"group": "route"}).content.decode()
    assert body.count("<svg ") == 1 and 'role="img" aria-labelledby="cohort-rates-title cohort-rates-desc"' in body
    assert "Response and remission by cohort (PHQ-9, completers)</title>" in body
    assert "response 4 of 6, 67 % (95 % CI 30 to 90); remission 2 of 6" in body  # the <desc>: the figures in words


def test_an_empty_filter_says_no_patients_and_draws_nothing(
    clinic: list[Patient],  # noqa: F811
    client_for: Any,
) -> None:
    body = client_for("director").get("/outcomes/", {"indication": "Z99"}).content.decode()
    assert "No patients" in body and "<svg" not in body


def test_a_measure_it_does_not_know_is_refused_with_the_reason(client_for: Any, personas: dict[str, User]) -> None:
    page = client_for("director").get("/outcomes/", {"instrument": "audit"})
    assert page.status_code == 422 and "Select a valid choice" in page.content.decode()


def test_the_pcl5_by_its_own_definitions_response_by_points_and_no_remission(
    personas: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    _, times = course_make(team_patient, personas, days_ago=(40, 37, 33, 30, 26, 23), sessions=6)
    for at, total in ((times[0] - timedelta(days=2), 50), (times[-1] + timedelta(days=2), 38)):
        response_make(team_patient, personas["nurse"], total, instrument="pcl5", submitted_at=at)
    body = client_for("director").get("/outcomes/", {"instrument": "pcl5"}).content.decode()
    assert "PCL-5" in body and "not defined for this measure" in body
    assert "response 1 of 1" in body  # 50 -> 38: 12 points, a response by the PCL-5's 10-point rule (a 24 % fall)


def test_the_words_say_not_defined_rather_than_zero() -> None:
    rows: list[Any] = []
    empty = figures("Nobody", rows)
    assert empty.response_completers == Rate(0, 0)
    undefined = CohortFigures(
        "IV", 2, 2, 2, 2, Rate(1, 2), Rate(0, 2), Rate(0, 2), Rate(1, 2), Rate(0, 2), Rate(0, 2), None,
        remission_defined=False,
    )  # fmt: skip
    assert "remission not defined" in cohort_summary([undefined], "PCL-5")


def test_the_chart_has_a_marker_and_whisker_per_rate_each_saying_its_figure_and_escapes_every_label() -> None:
    from xml.etree import ElementTree

    from kapclinic.outcomes.charts import cohort_rates_svg  # the label is cut to 30 characters on the axis

    hostile = '<script>alert(1)</script> & "IV"'
    groups = [
        CohortFigures(
            hostile, 10, 10, 8, 8, Rate(4, 10), Rate(2, 10), Rate(0, 10), Rate(4, 8), Rate(2, 8), Rate(0, 8), 20.0
        ),
        CohortFigures(
            "PCL-5 course", 5, 5, 5, 5, Rate(2, 5), Rate(0, 5), Rate(0, 5), Rate(2, 5), Rate(0, 5), Rate(0, 5), None,
            remission_defined=False,
        ),
        CohortFigures("Nobody finished", 3, 3, 0, 0, *(Rate(0, 3),) * 3, *(Rate(0, 0),) * 3, None),
    ]  # fmt: skip
    svg = cohort_rates_svg(groups, "PHQ-9")
    assert "<script" not in svg and 'style="' not in svg
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own chart; parsed: well formed, every text escaped
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text or "" for g in root.iter(f"{ns}g") for t in g.findall(f"{ns}title")]
    # A response and a remission for the first cohort, a response only for the PCL-5 (no remission rule), nothing
    # for a cohort with no completers (not evaluable: no marker drawn at 0 %).
    assert titles == [
        f"{hostile}: response 4 of 8, 50 % (95 % CI 22 to 78)",
        f"{hostile}: remission 2 of 8, 25 % (95 % CI 7 to 59)",
        "PCL-5 course: response 2 of 5, 40 % (95 % CI 12 to 77)",
    ]
    markers = [m for m in root.iter() if m.tag in (f"{ns}circle", f"{ns}rect") and m.get("fill") != "white"]
    assert len(markers) == 3 + 2  # the three rates and the legend's two
    labels = [t.text for t in root.iter(f"{ns}text")]
    assert '<script>alert(1)</script> & "…' in labels and "0 %" in labels and "100 %" in labels
    assert cohort_rates_svg([], "PHQ-9") == ""

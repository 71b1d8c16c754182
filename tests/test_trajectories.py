"""Score trajectories on the chart: the selector, the SVG and the partial with its text alternative."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from django.template.loader import render_to_string

from kapclinic.accounts.models import User
from kapclinic.clinical.instruments import PCL5, PHQ9
from kapclinic.clinical.instruments.scoring import Band
from kapclinic.clinical.outcomes import trajectory
from kapclinic.measures.charts import trajectory_svg, trajectory_table
from kapclinic.measures.trajectories import trajectories_for_patient
from kapclinic.patients.models import Patient
from kapclinic.svgcharts import date_ticks
from tests.probes.records import response_make

NEW_YORK = "America/New_York"
START = datetime(2026, 9, 1, 14, 0, tzinfo=UTC)  # 10:00 in New York
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _clinic_zone(settings: Any) -> None:
    settings.TIME_ZONE = NEW_YORK


def _record(patient: Patient, user: User, instrument: str, *totals: int | None, **extra: Any) -> list[Any]:
    return [
        response_make(
            patient,
            user,
            total,
            source="portal",
            instrument=instrument,
            complete=total is not None,
            submitted_at=START + timedelta(weeks=week),
            **extra,
        )
        for week, total in enumerate(totals)
    ]


def _phq9_svg(*totals: int, doses: tuple[date, ...] = ()) -> str:
    points = [(START + timedelta(weeks=n), total) for n, total in enumerate(totals)]
    return trajectory_svg(PHQ9, trajectory(PHQ9, points), doses, tz=ZoneInfo(NEW_YORK))


def test_selector_builds_one_trajectory_per_instrument_in_one_query(
    team_patient: Patient, other_patient: Patient, personas: dict[str, User], django_assert_num_queries: Any
) -> None:
    user = personas["patient_user"]
    _record(team_patient, user, "gad7", 14, 6)
    _record(team_patient, user, "phq9", 20, 16, 11, 8, 4)
    _record(team_patient, user, "cssrs_screen", 0)  # triage, no total: no chart
    _record(other_patient, personas["nurse"], "phq9", 27, 27)  # someone else's scores never show
    with django_assert_num_queries(1):  # the patient's scored, uncorrected responses, oldest first
        charts = trajectories_for_patient(patient_id=team_patient.pk)
    assert [c.instrument.code for c in charts] == ["phq9", "gad7"]  # the registry's order
    phq9 = charts[0]
    assert [p.total for p in phq9.trajectory.points] == [20, 16, 11, 8, 4]
    assert phq9.trajectory.first_response == START + timedelta(weeks=3)
    assert phq9.trajectory.first_remission == START + timedelta(weeks=4)
    assert [(r.total, r.band, r.response, r.remission) for r in phq9.rows][-2:] == [
        (8, "mild", "response", "not in remission"),
        (4, "none/minimal", "response", "remission"),
    ]
    assert phq9.rows[0].response == "baseline"
    assert phq9.summary.startswith("5 PHQ-9 scores from Sep 1, 2026 to Sep 29, 2026.")
    assert "<title" in phq9.svg and 'id="trajectory-phq9-remission"' in phq9.svg


def test_selector_skips_unscorable_and_corrected_responses(team_patient: Patient, personas: dict[str, User]) -> None:
    nurse = personas["nurse"]
    wrong, _ = _record(team_patient, nurse, "phq9", 25, None)
    reason = "Item 3 was misread from the paper form"
    response_make(
        team_patient, nurse, 15, submitted_at=START + timedelta(days=1), corrects=wrong, correction_reason=reason
    )
    (chart,) = trajectories_for_patient(patient_id=team_patient.pk)
    assert [p.total for p in chart.trajectory.points] == [15]


def test_no_scores_gives_no_charts(team_patient: Patient) -> None:
    assert trajectories_for_patient(patient_id=team_patient.pk) == []


def test_first_dosing_session_ends_the_baseline(team_patient: Patient, personas: dict[str, User]) -> None:
    _record(team_patient, personas["patient_user"], "phq9", 12, 20, 9)
    # Week 1's score was taken at 10:00 on Sep 8; a dose on that date is drawn (and counts) from noon.
    (chart,) = trajectories_for_patient(patient_id=team_patient.pk, dosing_dates=[date(2026, 9, 15), date(2026, 9, 8)])
    assert [p.is_baseline for p in chart.trajectory.points] == [False, True, False]
    assert [r.response for r in chart.rows] == ["no response", "baseline", "response"]
    assert 'id="trajectory-phq9-dose-1"' in chart.svg and 'id="trajectory-phq9-dose-2"' in chart.svg


def test_dates_are_the_clinics(team_patient: Patient, personas: dict[str, User]) -> None:
    late_evening = datetime(2026, 9, 2, 2, 30, tzinfo=UTC)  # still Sep 1 in New York
    response_make(team_patient, personas["patient_user"], 10, source="portal", submitted_at=late_evening)
    (chart,) = trajectories_for_patient(patient_id=team_patient.pk)
    assert chart.rows[0].at.strftime("%Y-%m-%d %H:%M") == "2026-09-01 22:30"
    assert "10 (moderate) on Sep 1, 2026" in chart.summary
    html = render_to_string("measures/_trajectories.html", {"trajectories": [chart]})
    assert "Sep 1, 2026, 22:30" in html


def test_svg_is_accessible_labelled_and_well_formed() -> None:
    svg = _phq9_svg(20, 16, 11, 8, 4)
    root = ElementTree.fromstring(svg)  # noqa: S314  # our own output, parsed only to check it is well formed
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "trajectory-phq9-title trajectory-phq9-desc"
    assert [child.tag for child in root][:2] == [f"{SVG}title", f"{SVG}desc"]
    assert root.findtext(f"{SVG}title") == "PHQ-9 scores over time"
    assert "Remission first met Sep 29, 2026." in (root.findtext(f"{SVG}desc") or "")
    assert (root.get("width"), root.get("height")) == ("640", "280")
    texts = " ".join("".join(node.itertext()) for node in root.iter(f"{SVG}text"))
    for label in ("severe (20-27)", "moderate (10-14)", "mild (5-9)", "none/minimal (0-4)"):
        assert label.replace("-", "\N{EN DASH}") in texts
    assert "moderately severe" in texts  # wrapped over two lines
    assert "PHQ-9 · Total score" in texts
    assert "Response (≥50% drop)" in texts and "Remission (≤4)" in texts
    assert "Sep 8" in texts and "Sep 22" in texts
    assert "<style" not in svg and "<?xml" not in svg and "<metadata" not in svg
    assert " style=" not in svg  # presentation attributes only: the page's CSP allows no inline style


def _group(root: ElementTree.Element, name: str) -> ElementTree.Element:
    found = root.find(f".//{SVG}g[@id='trajectory-phq9-{name}']")
    assert found is not None, name
    return found


def test_svg_has_one_point_per_score_with_its_words_the_bands_and_the_doses() -> None:
    svg = _phq9_svg(20, 16, 11, 8, 4, doses=(date(2026, 9, 3), datetime(2026, 9, 10, 15, 30, tzinfo=UTC)))
    root = ElementTree.fromstring(svg)  # noqa: S314  # our own output
    points = _group(root, "totals").findall(f"{SVG}circle")
    assert [point.findtext(f"{SVG}title") for point in points] == [
        "20 (severe) on Sep 1, 2026: baseline, not in remission",
        "16 (moderately severe) on Sep 8, 2026: no response, not in remission",
        "11 (moderate) on Sep 15, 2026: no response, not in remission",  # 45% below the baseline, 50% needed
        "8 (mild) on Sep 22, 2026: response, not in remission",
        "4 (none/minimal) on Sep 29, 2026: response, remission",
    ]
    # Later is further right, higher is further up: the points follow the scores.
    xs = [float(point.get("cx") or 0) for point in points]
    ys = [float(point.get("cy") or 0) for point in points]
    assert xs == sorted(xs) and ys == sorted(ys)
    bands = _group(root, "bands")
    assert len(bands.findall(f"{SVG}rect")) == len(PHQ9.bands) == 5
    captions = ["".join(text.itertext()) for text in bands.iter(f"{SVG}text")]
    assert captions[0] == "none/minimal (0\N{EN DASH}4)" and captions[-1] == "severe (20\N{EN DASH}27)"
    doses = [_group(root, f"dose-{n}") for n in (1, 2)]
    assert [dose.findtext(f"{SVG}title") for dose in doses] == [
        "Dosing session, Sep 3, 2026",
        "Dosing session, Sep 10, 2026, 11:30",  # a datetime at its own time, in the clinic's zone
    ]
    assert all(dose.find(f"{SVG}line") is not None for dose in doses)
    assert len(_group(root, "response").findall(f"{SVG}rect")) == 2
    (star,) = _group(root, "remission").findall(f"{SVG}polygon")
    assert star.findtext(f"{SVG}title") == "4 (none/minimal) on Sep 29, 2026: response, remission"
    legend = " ".join("".join(text.itertext()) for text in _group(root, "legend").iter(f"{SVG}text"))
    assert legend == "Total score Dosing session Response (≥50% drop) Remission (≤4)"


def test_svg_escapes_every_text() -> None:
    hostile = '<script>alert(1)</script> & "quotes"'
    instrument = dataclasses.replace(
        PHQ9, code='x"><script>', name=hostile, bands=(Band(0, 9, hostile), Band(10, 27, "high"))
    )
    points = [(START, 20), (START + timedelta(weeks=1), 8)]
    svg = trajectory_svg(instrument, trajectory(instrument, points), tz=ZoneInfo(NEW_YORK))
    assert "<script" not in svg
    root = ElementTree.fromstring(svg)  # noqa: S314  # still well formed
    assert not [node for node in root.iter() if node.tag.endswith("script")]
    assert root.findtext(f"{SVG}title") == f"{hostile} scores over time"
    texts = " ".join("".join(node.itertext()) for node in root.iter(f"{SVG}text"))
    assert f"{hostile} · Total score" in texts and "<script>alert(1)</script>" in texts  # as text, not markup
    assert root.get("aria-labelledby") == 'trajectory-x"><script>-title trajectory-x"><script>-desc'


def test_the_app_loads_no_matplotlib() -> None:
    """Every chart is SVG text (issue 15): no page pays matplotlib's second of loading or its process-wide lock."""
    check = "import sys, kapclinic.urls, kapclinic.api; print('matplotlib' in sys.modules)"  # every view and route
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kapclinic.settings"}
    ran = subprocess.run(  # noqa: S603  # our own interpreter and a fixed script
        [sys.executable, "-c", f"import django; django.setup(); {check}"],
        capture_output=True, text=True, check=True, env=env, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert ran.stdout.strip() == "False"


def test_date_ticks_fall_on_the_clinics_days() -> None:
    tz = ZoneInfo(NEW_YORK)
    # Weekly scores over a month: the 1st, 8th, 15th and 22nd, at midnight in New York (04:00 UTC in September).
    ticks, offset = date_ticks(datetime(2026, 8, 30, tzinfo=UTC), datetime(2026, 10, 1, 12, tzinfo=UTC), tz)
    assert [t.label for t in ticks] == ["Sep 1", "Sep 8", "Sep 15", "Sep 22", "Oct 1"] and offset == "2026"
    assert ticks[0].at.astimezone(UTC) == datetime(2026, 9, 1, 4, tzinfo=UTC)
    # Across the end of daylight saving time (Nov 1): each tick is still local midnight.
    ticks, _ = date_ticks(datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC), tz)
    assert [t.at.astimezone(UTC).hour for t in ticks] == [4, 4, 5, 5] and ticks[1].label == "Nov 1"
    # Months over a year, the new year named; clock times within a day, the day as the offset.
    ticks, offset = date_ticks(datetime(2026, 5, 20, tzinfo=UTC), datetime(2027, 3, 10, tzinfo=UTC), tz)
    assert [t.label for t in ticks] == ["Jul", "Sep", "Nov", "2027", "Mar"] and offset == "2026\N{EN DASH}2027"
    ticks, offset = date_ticks(datetime(2026, 9, 1, 13, tzinfo=UTC), datetime(2026, 9, 1, 20, tzinfo=UTC), tz)
    assert [t.label for t in ticks] == ["10:00", "12:00", "14:00", "16:00"]  # 09:00 to 16:00 in New York
    assert offset == "Sep 1, 2026"
    # Never an "Aug 31" next to "Sep 1".
    ticks, _ = date_ticks(datetime(2026, 8, 29, tzinfo=UTC), datetime(2026, 9, 17, tzinfo=UTC), tz)
    assert "Aug 31" not in [t.label for t in ticks]


def test_chart_page_shows_a_new_score_at_once(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    _record(team_patient, personas["patient_user"], "phq9", 20, 14)
    _record(team_patient, personas["patient_user"], "gad7", 12)
    prescriber = client_for("prescriber")
    first = prescriber.get(f"/patients/{team_patient.pk}/").content.decode()
    assert 'id="trajectory-phq9-totals"' in first and 'id="trajectory-gad7-totals"' in first
    assert "2 PHQ-9 scores" in first
    response_make(team_patient, personas["patient_user"], 9, source="portal", submitted_at=START + timedelta(weeks=2))
    after = prescriber.get(f"/patients/{team_patient.pk}/").content.decode()
    assert "3 PHQ-9 scores" in after and "<title>9 (mild) on Sep 15, 2026: response" in after


def test_remission_marker_only_when_a_total_is_in_remission() -> None:
    assert 'id="trajectory-phq9-remission"' in _phq9_svg(20, 16, 11, 8, 4)
    still_ill = _phq9_svg(20, 16, 11, 8)
    assert 'id="trajectory-phq9-remission"' not in still_ill and "Remission (" not in still_ill
    assert 'id="trajectory-phq9-response"' in still_ill  # 20 -> 8 is a 60% drop


def test_render_is_deterministic() -> None:
    assert _phq9_svg(20, 16, 11, 8, 4) == _phq9_svg(20, 16, 11, 8, 4)
    assert _phq9_svg(20, 16, 11, 8, 4) != _phq9_svg(20, 16, 11, 8, 5)


def test_two_charts_on_one_page_share_no_ids() -> None:
    points = [(START + timedelta(weeks=n), total) for n, total in enumerate((50, 38))]
    pcl5 = trajectory_svg(PCL5, trajectory(PCL5, points), tz=ZoneInfo(NEW_YORK))
    ids = re.findall(r'\bid="([^"]+)"', _phq9_svg(20, 4) + pcl5)
    assert ids and [name for name, count in Counter(ids).items() if count > 1] == []
    # Every internal reference, if any, points at an id in the same chart.
    refs = re.findall(r'(?:href="#|url\(#)([^")]+)', pcl5)
    assert set(refs) <= set(ids)


def test_instrument_without_bands_or_remission() -> None:
    tz = ZoneInfo(NEW_YORK)
    result = trajectory(PCL5, [(START, 50), (START + timedelta(weeks=4), 38)])
    rows = trajectory_table(PCL5, result, tz=tz)
    assert [(r.band, r.response, r.remission) for r in rows] == [
        ("no bands defined", "baseline", "no remission rule"),
        ("no bands defined", "response", "no remission rule"),
    ]
    svg = trajectory_svg(PCL5, result, tz=tz)
    assert "Response (≥10-point drop)" in svg and "Remission" not in svg.split("</desc>")[1]


def test_empty_trajectory_still_renders() -> None:
    svg = _phq9_svg()
    assert "No scores yet" in svg and "No PHQ-9 scores yet." in svg


def test_partial_shows_figure_caption_and_table(team_patient: Patient, personas: dict[str, User]) -> None:
    _record(team_patient, personas["patient_user"], "phq9", 20, 16, 11, 8, 4)
    html = render_to_string(
        "measures/_trajectories.html", {"trajectories": trajectories_for_patient(patient_id=team_patient.pk)}
    )
    assert html.count("<figure") == 1 and "<svg" in html and "<figcaption>" in html
    assert "<details" in html and "PHQ-9 scores as a table" in html
    body = re.search(r"<tbody>(.*)</tbody>", html, re.DOTALL)
    assert body is not None and body.group(1).count("<tr>") == 5
    assert '<th scope="col">Remission</th>' in html and ">remission</td>" in html
    assert "&lt;svg" not in html  # the SVG is inlined, not escaped


def test_partial_renders_nothing_without_trajectories() -> None:
    assert render_to_string("measures/_trajectories.html", {"trajectories": []}).strip() == ""

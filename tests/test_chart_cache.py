"""The chart cache, and charts drawn at once on several threads never mixing.

Only the matplotlib charts (the outcomes dashboard's cohort figures) go through kapclinic.svgcharts.SVG_CACHE and
RENDER_LOCK: the session's vital signs and a score trajectory are written as SVG text with neither (issue 15), so
here they show that drawing again gives the same bytes, that concurrent renders get their own chart, and that the
session page shows a new reading at once. The charts take pure inputs; only the last test uses the database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from kapclinic import svgcharts
from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.clinical.outcomes import trajectory
from kapclinic.dosing.charts import ChartThreshold, VitalPoint, vitals_svg
from kapclinic.dosing.session_services import vital_record
from kapclinic.measures.charts import trajectory_svg
from kapclinic.patients.models import Patient
from kapclinic.svgcharts import SVG_CACHE, SvgCache
from tests.probes.dosing import _session
from tests.probes.world import World

TZ = ZoneInfo("America/New_York")
START = datetime(2026, 9, 1, 13, 5, tzinfo=UTC)
PHQ9 = INSTRUMENTS["phq9"]
THRESHOLDS = (ChartThreshold("Systolic alert > 180", 180, "bp"), ChartThreshold("SpO₂ alert < 92%", 92, "spo2"))


def _points(*systolics: int) -> list[VitalPoint]:
    return [VitalPoint(START + timedelta(minutes=10 * n), s, s * 6 // 10, 72, 98) for n, s in enumerate(systolics)]


def _vitals(*systolics: int, id_prefix: str = "vitals") -> str:
    return vitals_svg(_points(*systolics), THRESHOLDS, dose_at=START, tz=TZ, id_prefix=id_prefix)


def _scores(*totals: int, doses: tuple[date, ...] = ()) -> str:
    points = [(START + timedelta(weeks=n), total) for n, total in enumerate(totals)]
    return trajectory_svg(PHQ9, trajectory(PHQ9, points), doses, tz=TZ)


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    SVG_CACHE.clear()
    yield
    SVG_CACHE.clear()


def test_drawing_again_gives_the_same_bytes() -> None:
    # Nothing is cached for these two charts: each request writes them again, and must write the same bytes.
    vitals, scores = _vitals(130, 150, 186), _scores(20, 16, 11, 8, 4)
    assert _vitals(130, 150, 186) == vitals and _scores(20, 16, 11, 8, 4) == scores
    assert len(SVG_CACHE) == 0


def test_a_cache_hit_waits_on_no_lock() -> None:
    def draw_under_the_lock() -> str:
        with svgcharts.RENDER_LOCK:  # as a matplotlib chart draws (kapclinic/outcomes/charts.py)
            return "<svg>cohorts</svg>"

    assert SVG_CACHE.get_or_draw("cohorts", draw_under_the_lock) == "<svg>cohorts</svg>"
    with svgcharts.RENDER_LOCK:  # a long drawing elsewhere holds the lock
        result: list[str] = []
        thread = threading.Thread(target=lambda: result.append(SVG_CACHE.get_or_draw("cohorts", draw_under_the_lock)))
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive() and result == ["<svg>cohorts</svg>"]


def test_two_threads_drawing_different_charts_at_once_get_their_own() -> None:
    # Expected bytes, drawn one at a time.
    jobs: list[Callable[[], str]] = [
        lambda: _vitals(130, 150, 186, id_prefix="a"),
        lambda: _vitals(110, 120, id_prefix="b"),
        lambda: _scores(20, 16, 11, 8, 4),
        lambda: _scores(27, 25, doses=(date(2026, 9, 3),)),
    ]
    expected = [job() for job in jobs]
    assert len(set(expected)) == len(jobs)
    for cold in (True, True, False):  # drawn at once (the cache emptied first), then served at once
        if cold:
            SVG_CACHE.clear()
        barrier = threading.Barrier(len(jobs))
        results: dict[int, str] = {}
        threads = [threading.Thread(target=_run, args=(jobs[n], n, barrier, results)) for n in range(len(jobs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert [results.get(n) for n in range(len(jobs))] == expected


def _run(job: Callable[[], str], n: int, barrier: threading.Barrier, results: dict[int, str]) -> None:
    barrier.wait()  # all threads start drawing together
    results[n] = job()


def test_cache_keeps_the_most_recently_used_charts() -> None:
    cache = SvgCache(maxsize=2)
    drawn: list[str] = []

    def draw(name: str) -> Callable[[], str]:
        def drawing() -> str:
            drawn.append(name)
            return f"<svg>{name}</svg>"

        return drawing

    assert cache.get_or_draw("a", draw("a")) == "<svg>a</svg>"
    cache.get_or_draw("b", draw("b"))
    cache.get_or_draw("a", draw("a"))  # a hit: "a" is now the most recently used
    cache.get_or_draw("c", draw("c"))  # over the limit: "b" goes
    assert drawn == ["a", "b", "c"] and len(cache) == 2 and "a" in cache and "b" not in cache
    cache.get_or_draw("b", draw("b"))
    assert drawn == ["a", "b", "c", "b"]


def test_key_depends_on_every_input_and_the_chart_version(monkeypatch: pytest.MonkeyPatch) -> None:
    key = svgcharts.chart_key("vitals", _points(130), THRESHOLDS, START, TZ, "vitals")
    assert key == svgcharts.chart_key("vitals", _points(130), THRESHOLDS, START, TZ, "vitals")
    assert key != svgcharts.chart_key("vitals", _points(131), THRESHOLDS, START, TZ, "vitals")
    assert key != svgcharts.chart_key("trajectory", _points(130), THRESHOLDS, START, TZ, "vitals")
    monkeypatch.setattr(svgcharts, "CHART_VERSION", svgcharts.CHART_VERSION + 1)
    assert key != svgcharts.chart_key("vitals", _points(130), THRESHOLDS, START, TZ, "vitals")


# The pages: what a view passes must be the same from one request to the next, or every request would draw.


def test_the_session_page_shows_a_new_reading_at_once(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    world = World(client_for("nurse"), api_for("nurse"), team_patient, other_patient, personas)
    session = _session(world, team_patient, "checked_in")
    ctx = AuditContext(user=personas["nurse"], channel="test")
    values = {"systolic": 128, "diastolic": 80, "heart_rate": 72, "spo2": 98}
    vital_record(ctx=ctx, session_id=session.pk, values=values, measured_at=timezone.now() - timedelta(minutes=5))
    nurse = client_for("nurse")
    first = nurse.get(f"/dosing/sessions/{session.pk}/").content.decode()
    again = nurse.get(f"/dosing/sessions/{session.pk}/").content.decode()
    assert "1 reading at" in first and first.count("<svg") == again.count("<svg") >= 1
    assert f'id="s{session.pk}-systolic"' in first
    vital_record(ctx=ctx, session_id=session.pk, values=values, measured_at=timezone.now())
    after = nurse.get(f"/dosing/sessions/{session.pk}/").content.decode()
    assert "2 readings from" in after

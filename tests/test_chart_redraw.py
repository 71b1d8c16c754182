"""Charts written again on every request: the same bytes each time, several threads at once never mixing, and the
session page showing a new reading at once.

Every chart (session vital signs, score trajectories, the outcomes dashboard's cohorts) is written as SVG text with
no cache and no lock (issue 15; kapclinic/svgcharts.py). The charts take pure inputs; only the last test uses the
database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.clinical.outcomes import trajectory
from kapclinic.dosing.charts import ChartThreshold, VitalPoint, vitals_svg
from kapclinic.dosing.session_services import vital_record
from kapclinic.measures.charts import trajectory_svg
from kapclinic.outcomes.charts import cohort_rates_svg
from kapclinic.outcomes.cohorts import CohortFigures, Rate
from kapclinic.patients.models import Patient
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


def _cohorts(responders: int) -> str:
    figures = CohortFigures(
        "IV", 10, 10, 8, 8, Rate(responders, 10), Rate(2, 10), Rate(0, 10), Rate(responders, 8), Rate(2, 8),
        Rate(0, 8), 20.0,
    )  # fmt: skip
    return cohort_rates_svg([figures], "PHQ-9")


def test_drawing_again_gives_the_same_bytes() -> None:
    # Nothing is cached: each request writes the charts again, and must write the same bytes.
    vitals, scores, cohorts = _vitals(130, 150, 186), _scores(20, 16, 11, 8, 4), _cohorts(4)
    assert _vitals(130, 150, 186) == vitals and _scores(20, 16, 11, 8, 4) == scores and _cohorts(4) == cohorts
    assert _cohorts(5) != cohorts


def test_two_threads_drawing_different_charts_at_once_get_their_own() -> None:
    # Expected bytes, drawn one at a time.
    jobs: list[Callable[[], str]] = [
        lambda: _vitals(130, 150, 186, id_prefix="a"),
        lambda: _vitals(110, 120, id_prefix="b"),
        lambda: _scores(20, 16, 11, 8, 4),
        lambda: _scores(27, 25, doses=(date(2026, 9, 3),)),
        lambda: _cohorts(3),
        lambda: _cohorts(6),
    ]
    expected = [job() for job in jobs]
    assert len(set(expected)) == len(jobs)
    for _ in range(3):
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

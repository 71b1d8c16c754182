"""Time the server-side SVG charts in this process: the session's vital signs, a score trajectory and the outcomes
dashboard's cohorts.

    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true python bench/charts.py [--renders 30] [--threads 4]

For each chart: the median and p95 of `--renders` renders in milliseconds; then `--threads` threads rendering at
once. Every chart is written as SVG text with no cache and no lock (issue 15), so the threads wait on nothing.
The data are fixed: a three-hour session (60 readings, five threshold lines, a dose), a PHQ-9 course (ten scores
over ten weeks, four dosing dates) and twelve cohorts (one a start month over a year).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def _charts() -> dict[str, Callable[[], str]]:
    from kapclinic.clinical.instruments import INSTRUMENTS
    from kapclinic.clinical.outcomes import trajectory
    from kapclinic.dosing.charts import ChartThreshold, VitalPoint, vitals_svg
    from kapclinic.measures.charts import trajectory_svg
    from kapclinic.outcomes.charts import cohort_rates_svg
    from kapclinic.outcomes.cohorts import CohortFigures, Rate

    tz = ZoneInfo("America/New_York")
    start = datetime(2026, 9, 1, 13, 5, tzinfo=UTC)
    points = [
        VitalPoint(start + timedelta(minutes=3 * n), 120 + n % 40, 80 + n % 15, 70 + n % 25, 95 + n % 5)
        for n in range(60)
    ]
    thresholds = (
        ChartThreshold("Systolic alert > 180", 180, "bp"),
        ChartThreshold("Diastolic alert > 110", 110, "diastolic"),
        ChartThreshold("Heart rate alert > 120", 120, "hr"),
        ChartThreshold("Heart rate low < 50", 50, "hr", direction="below"),
        ChartThreshold("SpO₂ alert < 92%", 92, "spo2"),
    )
    phq9 = INSTRUMENTS["phq9"]
    scores = [(start + timedelta(weeks=n), total) for n, total in enumerate((22, 20, 18, 15, 13, 11, 9, 7, 5, 4))]
    course = trajectory(phq9, scores, first_dose=start + timedelta(days=3))
    doses = [date(2026, 9, 4), date(2026, 9, 8), date(2026, 9, 11), date(2026, 9, 15)]
    rates = (Rate(14, 40), Rate(8, 40), Rate(1, 40), Rate(14, 30), Rate(8, 30), Rate(1, 30))
    cohorts = [CohortFigures(f"2026-{month:02d}", 40, 38, 30, 30, *rates, 21.0) for month in range(1, 13)]
    return {
        "cohorts": lambda: cohort_rates_svg(cohorts, "PHQ-9"),
        "session_vitals": lambda: vitals_svg(points, thresholds, dose_at=start + timedelta(minutes=10), tz=tz),
        "trajectory_phq9": lambda: trajectory_svg(phq9, course, doses, tz=tz),
    }


def _ms(values: list[float]) -> str:
    p95 = statistics.quantiles(values, n=100, method="inclusive")[94] if len(values) > 1 else values[0]
    return f"median {statistics.median(values) * 1000:8.2f} ms   p95 {p95 * 1000:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renders", type=int, default=30, help="timed renders of each chart")
    parser.add_argument("--threads", type=int, default=4, help="threads rendering at once")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapclinic.settings")
    import django

    django.setup()
    charts = _charts()
    for render in charts.values():
        render()  # import and warm up once, outside the timings
    for name, render in charts.items():
        times = []
        expected = render()
        for _ in range(args.renders):
            began = time.perf_counter()
            assert render() == expected  # the same data, the same bytes
            times.append(time.perf_counter() - began)
        print(f"{name:16} {_ms(times)}   ({len(expected):,} bytes)")

    per_thread: list[float] = []

    def worker(render: Callable[[], str]) -> None:
        for _ in range(args.renders):
            began = time.perf_counter()
            render()
            per_thread.append(time.perf_counter() - began)

    renders = list(charts.values())
    threads = [threading.Thread(target=worker, args=(renders[n % len(renders)],)) for n in range(args.threads)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    print(f"{args.threads} threads at once {_ms(per_thread)}   wall {wall * 1000:.1f} ms for {len(per_thread)} renders")


if __name__ == "__main__":
    main()

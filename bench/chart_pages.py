"""Server time of the two pages that draw charts, as a ratio to the bare primary-key view (bench/run.py's floor).

    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true python bench/chart_pages.py [--requests 60]

Without DATABASE_URL: on a fresh SQLite file in a temporary folder. With DATABASE_URL (e.g. PostgreSQL through
scripts/with-postgres, as the owner role, which may migrate): on that database, which should be empty, as the demo
clinic is loaded into it. Either way: migrate, load the demo clinic (manage.py demo_load), then, signed in as the
demo prescriber with DEBUG off, request in turns:
  bare          /bench/bare/<pk>/, one primary-key query through the whole middleware (the floor)
  patient_floor /bench/patient-floor/<pk>/, what every page about a patient does before its own content: the
                access door with its audit row, and the base page with the patient banner (for comparison only)
  chart         the chart page of the demo patient with the most scores (one trajectory chart per instrument)
  session       the dosing session page with the most vital signs (the vital signs chart)
after five untimed warm-up requests each (which count the queries). The charts are written again on every request
(no cache: kapclinic/svgcharts.py), so no page is cold or warm. Prints p50 and p95 in ms, the queries of one request,
and the ratios the target is set in: p95 to the floor's p95 and to the floor's p50 (target: at most 3); and p95 to
the patient floor's p95.
`measure_chart_pages()` returns the same rows for `make bench`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import django_setup  # noqa: E402

WARMUP = 5
TARGET = 3.0  # issue 15, item 3: each page at most 3x the floor at p95


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def measure_chart_pages(requests: int) -> dict[str, Any]:
    """Load the demo clinic into the configured database (migrated here) and time the two chart pages.

    Returns {"database", "demo", "floor", "rows"}: a row per page with n, p50_ms, p95_ms, queries and the ratios
    p95/floor-p95, p95/floor-p50, p50/floor-p50 and p95/patient-floor-p95.
    """
    django_setup(KAPCLINIC_REQUIRE_MFA="false")

    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from kapclinic.accounts.models import User
    from kapclinic.dosing.models import VitalSign
    from kapclinic.measures.models import QuestionnaireResponse

    call_command("migrate", verbosity=0)
    call_command("demo_load", quiet=True)
    scored = (
        QuestionnaireResponse.objects.filter(total__isnull=False)
        .values("patient_id")
        .annotate(n=Count("id"))
        .order_by("-n", "patient_id")
        .first()
    )
    measured = VitalSign.objects.values("session_id").annotate(n=Count("id")).order_by("-n", "session_id").first()
    if scored is None or measured is None:
        raise SystemExit("The demo clinic has no scored responses or no vital signs to chart")
    pages = {
        "bare": f"/bench/bare/{scored['patient_id']}/",
        "patient_floor": f"/bench/patient-floor/{scored['patient_id']}/",
        "chart": f"/patients/{scored['patient_id']}/",
        "session": f"/dosing/sessions/{measured['session_id']}/",
    }
    demo = {"chart_scores": scored["n"], "session_vital_signs": measured["n"]}

    timings: dict[str, list[float]] = {}
    queries: dict[str, list[int]] = {}
    with override_settings(ROOT_URLCONF="bench.urls", DEBUG=False):
        client = Client()
        client.force_login(User.objects.get(username="prescriber"), backend="django.contrib.auth.backends.ModelBackend")

        def get(name: str) -> float:
            url = pages[name]
            begin = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - begin
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}, not 200")
            if name not in ("bare", "patient_floor") and b"<svg" not in response.content:
                raise SystemExit(f"{url} shows no chart")
            return elapsed

        names = ["bare", "patient_floor", "chart", "session"]  # taking turns request by request
        for name in names:
            for _ in range(WARMUP):
                with CaptureQueriesContext(connection) as captured:
                    get(name)
                queries.setdefault(name, []).append(len(captured))
        for _ in range(requests):
            for name in names:
                timings.setdefault(name, []).append(get(name))

    floor_p50 = statistics.median(timings["bare"])
    floor_p95 = percentile(timings["bare"], 95)
    patient_floor_p95 = percentile(timings["patient_floor"], 95)
    rows = []
    for name, values in timings.items():
        p50 = statistics.median(values)
        p95 = percentile(values, 95)
        rows.append(
            {
                "page": name,
                "n": len(values),
                "p50_ms": round(p50 * 1000, 2),
                "p95_ms": round(p95 * 1000, 2),
                # The first warm-up request may fill caches; the others are what every request does.
                "queries": max(queries[name][1:]),
                "p95_to_floor_p95": round(p95 / floor_p95, 1),
                "p95_to_floor_p50": round(p95 / floor_p50, 1),
                "p50_to_floor_p50": round(p50 / floor_p50, 1),
                "p95_to_patient_floor_p95": round(p95 / patient_floor_p95, 1),
            }
        )
    return {
        "database": connection.vendor,
        "demo": demo,
        "floor": {"p50_ms": round(floor_p50 * 1000, 2), "p95_ms": round(floor_p95 * 1000, 2)},
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    """The rows as a text table, the target's two ratios marked when over it."""
    lines = [
        f"{result['database']}: chart page {result['demo']['chart_scores']} scores; "
        f"session page {result['demo']['session_vital_signs']} sets of vital signs",
        f"{'page':<13} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'queries':>7} "
        f"{'p95/floor-p95':>14} {'p95/floor-p50':>14} {'p50/floor-p50':>14} {'p95/patient-floor-p95':>22}",
    ]
    for row in result["rows"]:
        worst = max(row["p95_to_floor_p95"], row["p95_to_floor_p50"])
        over = "" if row["page"] in ("bare", "patient_floor") or worst <= TARGET else "  over 3x"
        lines.append(
            f"{row['page']:<13} {row['n']:>4} {row['p50_ms']:>8.2f} {row['p95_ms']:>8.2f} {row['queries']:>7} "
            f"{row['p95_to_floor_p95']:>14.1f} {row['p95_to_floor_p50']:>14.1f} {row['p50_to_floor_p50']:>14.1f} "
            f"{row['p95_to_patient_floor_p95']:>22.1f}{over}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60, help="timed requests of each page")
    args = parser.parse_args()
    folder: Path | None = None
    if not os.environ.get("DATABASE_URL"):
        folder = Path(tempfile.mkdtemp(prefix="kapclinic-bench-charts-"))
        os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    try:
        print(table(measure_chart_pages(args.requests)))
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

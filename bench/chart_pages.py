"""Server time of the two pages that draw charts, as a ratio to the bare primary-key view (bench/run.py's floor).

    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true python bench/chart_pages.py [--requests 60]

On a fresh SQLite file in a temporary folder (DATABASE_URL is ignored): migrate, load the demo clinic
(manage.py demo_load), then, signed in as the demo prescriber with DEBUG off, request in turns:
  bare          /bench/bare/<pk>/, one primary-key query (the floor)
  chart         the chart page of the demo patient with the most scores (one trajectory chart per instrument)
  session       the dosing session page with the most vital signs (the vital signs chart)
  chart_cold    the same chart page with the chart cache emptied before each request, so every request
  session_cold  draws its charts with matplotlib: what every request cost before the cache
after five untimed warm-up requests each; the cold pages in a second round (with the floor again), as emptying
the cache would make the warm pages cold. Prints p50 and p95 in ms and both as a ratio to the bare p50.
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

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

WARMUP = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60, help="timed requests of each page")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kapclinic-bench-charts-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapclinic.settings")
    os.environ["KAPCLINIC_REQUIRE_MFA"] = "false"
    try:
        run(args.requests)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(requests: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import override_settings

    from kapclinic import svgcharts
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
        "chart": f"/patients/{scored['patient_id']}/",
        "session": f"/dosing/sessions/{measured['session_id']}/",
    }
    print(f"chart page: {scored['n']} scores; session page: {measured['n']} sets of vital signs")

    cache = getattr(svgcharts, "SVG_CACHE", None)  # absent before the cache: every request draws, as "cold"
    with override_settings(ROOT_URLCONF="bench.urls", DEBUG=False):
        client = Client()
        client.force_login(User.objects.get(username="prescriber"), backend="django.contrib.auth.backends.ModelBackend")

        def get(name: str) -> float:
            url = pages[name.removesuffix("_cold")]
            if name.endswith("_cold") and cache is not None:
                cache.clear()
            begin = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - begin
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}, not 200")
            if name != "bare" and b"<svg" not in response.content:
                raise SystemExit(f"{url} shows no chart")
            return elapsed

        # Two rounds, each taking turns request by request: the cold one empties the cache, so it comes last.
        timings: dict[str, list[float]] = {}
        for names in (["bare", "chart", "session"], ["bare", "chart_cold", "session_cold"]):
            for name in names:
                for _ in range(WARMUP):
                    get(name)
            for _ in range(requests):
                for name in names:
                    timings.setdefault(name, []).append(get(name))

    floor = statistics.median(timings["bare"])
    print(f"{'page':<13} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p50/bare':>9} {'p95/bare':>9}")
    for name, values in timings.items():
        p50 = statistics.median(values)
        p95 = statistics.quantiles(values, n=100, method="inclusive")[94]
        ms = f"{p50 * 1000:>8.2f} {p95 * 1000:>8.2f}"
        print(f"{name:<13} {len(values):>4} {ms} {p50 / floor:>9.1f} {p95 / floor:>9.1f}")


if __name__ == "__main__":
    main()

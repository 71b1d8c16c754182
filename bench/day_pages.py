"""Day pages (issue 15, item 3): every page showing a day's sessions, at 1x and 100x the past sessions.

    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true python bench/day_pages.py                    # a fresh SQLite file
    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true scripts/with-postgres \\
        sh -c 'DATABASE_URL=$DATABASE_OWNER_URL python bench/day_pages.py'            # a throwaway PostgreSQL

One database, grown between the two rounds: migrate, synthetic staff and patients, today's sessions (24, in every
state of a working day) and the coming days' (48), and --past (300) past sessions over two years
(kapclinic.demo.sessions); time every page; add past sessions up to --scale (100) times as many, ANALYZE, time
again. Requests go through django.test.Client with DEBUG off, the pages taking turns request by request after
untimed warm-up requests (which count the queries). Target: the p50 at 100x at most 1.2 times the p50 at 1x.
"bare" is bench/urls.py's one primary-key view: its own ratio shows how much the machine drifted between rounds.
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

PAST = 300
SCALE = 100
REQUESTS = 60
PATIENTS = 200
WARMUP = 5
TARGET = 1.2

# Page -> (who asks, what). "api:" asks with a bearer token, the rest through a signed-in browser session.
PAGES = {
    "bare": ("nurse", "/bench/bare/{pk}/"),
    "board_nurse": ("nurse", "/dosing/today/"),
    "board_prescriber": ("prescriber", "/dosing/today/"),
    "home_nurse": ("nurse", "/"),
    "home_prescriber": ("prescriber", "/"),
    # The other homes show no day's sessions but read the sessions table (the REMS forms due, the follow-ups
    # dated from a course, the integration sessions due): they must not grow with the history either.
    "home_coordinator": ("coordinator", "/"),
    "home_therapist": ("therapist", "/"),
    "home_director": ("director", "/"),
    "schedule_nurse": ("nurse", "/dosing/schedule/"),
    "schedule_prescriber": ("prescriber", "/dosing/schedule/"),
    "api_sessions": ("api:nurse", "/api/v1/dosing-sessions"),
}


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _round(
    requests: int, pk: int, pages: dict[str, tuple[str, str]] | None = None
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Time every page, taking turns; return the timings and the queries of each (from the warm-up).
    bench/calendar_pages.py times its pages with it too."""
    pages = PAGES if pages is None else pages
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from kapclinic.accounts.models import User
    from kapclinic.accounts.services import api_token_issue

    clients: dict[str, Client] = {}
    for who, _ in pages.values():
        if who in clients:
            continue
        user = User.objects.get(username=who.removeprefix("api:"))
        if who.startswith("api:"):
            _, raw = api_token_issue(user=user, label="bench")
            clients[who] = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        else:
            clients[who] = Client()
            clients[who].force_login(user, backend="django.contrib.auth.backends.ModelBackend")

    def get(name: str) -> float:
        who, url = pages[name]
        begin = time.perf_counter()
        response = clients[who].get(url.format(pk=pk))
        elapsed = time.perf_counter() - begin
        if response.status_code != 200:
            raise SystemExit(f"{name}: {url} answered {response.status_code}, not 200")
        return elapsed

    queries: dict[str, int] = {}
    timings: dict[str, list[float]] = {name: [] for name in pages}
    with override_settings(ROOT_URLCONF="bench.urls", DEBUG=False):
        for name in pages:
            for turn in range(WARMUP):
                with CaptureQueriesContext(connection) as captured:
                    get(name)
                if turn:  # the first request may fill caches
                    queries[name] = max(queries.get(name, 0), len(captured))
        for _ in range(requests):
            for name in pages:
                timings[name].append(get(name))
    return timings, queries


def measure_day_pages(past: int = PAST, scale: int = SCALE, requests: int = REQUESTS) -> dict[str, Any]:
    """Load `past` past sessions, time the day pages, grow to `scale` times as many, time them again."""
    django_setup(KAPCLINIC_REQUIRE_MFA="false")

    from django.core.management import call_command
    from django.db import connection

    from kapclinic.demo.sessions import sessions_counted, sessions_ensure
    from kapclinic.demo.synthetic import patients_ensure, staff_ensure
    from kapclinic.dosing.models import DosingSession
    from kapclinic.patients.models import Patient

    call_command("migrate", verbosity=0)
    staff = staff_ensure()
    patients_ensure(PATIENTS, staff=staff)
    pk = Patient.objects.filter(mrn__startswith="K9").order_by("pk").values_list("pk", flat=True)[0]
    results: dict[str, dict[str, Any]] = {}
    for factor in (1, scale):
        started = time.perf_counter()
        sessions_ensure(staff=staff, past=past * factor)
        with connection.cursor() as cursor:  # planner statistics, as a database in use has them
            cursor.execute("ANALYZE")
        counts = sessions_counted()
        total = DosingSession.objects.count()
        print(
            f"  {factor}x on {connection.vendor}: {counts.past} past sessions, {counts.today} today, "
            f"{counts.coming} coming ({total} in all), {time.perf_counter() - started:.1f} s to load"
        )
        timings, queries = _round(requests, pk)
        results[f"{factor}x"] = {
            "sessions": {"past": counts.past, "today": counts.today, "coming": counts.coming, "all": total},
            "pages": timed(timings, queries),
        }
    rows = ratio_rows(results, scale)
    return {"vendor": connection.vendor, "scale": scale, "target": TARGET, "rounds": results, "rows": rows}


def timed(timings: dict[str, list[float]], queries: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Each page's n, p50, p95 and queries from a round."""
    return {
        name: {
            "n": len(values),
            "p50_ms": round(statistics.median(values) * 1000, 2),
            "p95_ms": round(percentile(values, 95) * 1000, 2),
            "queries": queries[name],
        }
        for name, values in timings.items()
    }


def ratio_rows(results: dict[str, dict[str, Any]], scale: int) -> list[dict[str, Any]]:
    """A row per page: p50 and p95 at 1x and at `scale`x, their p50 ratio and the queries of each round."""
    small, large = results["1x"]["pages"], results[f"{scale}x"]["pages"]
    return [
        {
            "name": name,
            "p50_ms_1x": small[name]["p50_ms"],
            "p95_ms_1x": small[name]["p95_ms"],
            f"p50_ms_{scale}x": large[name]["p50_ms"],
            f"p95_ms_{scale}x": large[name]["p95_ms"],
            "ratio": round(large[name]["p50_ms"] / small[name]["p50_ms"], 2),
            "queries_1x": small[name]["queries"],
            f"queries_{scale}x": large[name]["queries"],
        }
        for name in small
    ]


def day_pages_table(rows: list[dict[str, Any]], scale: int) -> str:
    line = "{:<20} {:>8} {:>8} {:>9} {:>9} {:>6} {:>7}"
    header = line.format("page", "p50 1x", "p95 1x", f"p50 {scale}x", f"p95 {scale}x", "ratio", "queries")
    lines = [header, "-" * len(header)]
    for r in rows:
        q_small, q_large = r["queries_1x"], r[f"queries_{scale}x"]
        lines.append(
            line.format(
                r["name"],
                f"{r['p50_ms_1x']:.2f}",
                f"{r['p95_ms_1x']:.2f}",
                f"{r[f'p50_ms_{scale}x']:.2f}",
                f"{r[f'p95_ms_{scale}x']:.2f}",
                f"{r['ratio']:.2f}",
                str(q_small) if q_small == q_large else f"{q_small}/{q_large}",
            )
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--past", type=int, default=PAST, help="past sessions at 1x")
    parser.add_argument("--scale", type=int, default=SCALE, help="the second round's multiple of --past")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="timed requests of each page per round")
    args = parser.parse_args()
    if args.requests < 2 or args.scale < 2:
        parser.error("--requests and --scale must be at least 2")
    folder = None
    if not os.environ.get("DATABASE_URL"):
        folder = Path(tempfile.mkdtemp(prefix="kapclinic-bench-days-"))
        os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    try:
        result = measure_day_pages(args.past, args.scale, args.requests)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    print(day_pages_table(result["rows"], result["scale"]))


if __name__ == "__main__":
    main()

"""`make bench`: server time of the patient pages and API, as a ratio to a bare primary-key view.

Scale 1x is 250 synthetic patients with 4 past audit events each; 100x is 25,000 patients.
Each scale runs in its own process on a fresh SQLite file in a temporary folder, migrated
from scratch. If DATABASE_URL is set (e.g. PostgreSQL), that database is used instead:
the audit table refuses DELETE, so it cannot be emptied; scales then run one after another
on the same database, each adding the patients it is missing (start from an empty database
for comparable numbers; the patient and audit counts measured are in the results).

Requests go through django.test.Client signed in as the coordinator, with DEBUG off as in
production. Workloads take turns request by request, so a drift (the audit table grows by
25 rows per list request) falls on all of them alike. Query counts come from untimed warm-up
requests, so the timed ones carry no query capture overhead.

The ledger workload (bench/ledger.py) then loads 1,000,000 controlled-substance ledger
entries (--ledger-entries) in its own process and times all balances and the reconciliation
as a ratio to one SQL aggregate over the same table.

The scoring workload (bench/scoring.py) scores 100,000 seeded random questionnaire responses
(--scoring-responses; the issue's figure is at 1000000) with kapclinic.clinical.instruments.score(),
in this process and without Django (the scoring is plain Python), as a ratio to a plain sum()
over the same answer lists, as a whole and per instrument; and with the batch path
(score_array over each instrument's answer array, checked identical to score() first) as a
ratio to a plain numpy pass over the same arrays (values.sum(axis=1)), whose target is at most 3.
`--only web`, `--only ledger` or `--only scoring` runs one part.

Results: tables on stdout, and bench/results/<UTC timestamp>.json and latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import django_setup  # noqa: E402
from bench.ledger import BASELINE_SQL, FAST_REPS, LEDGER_ENTRIES, LEDGER_REPS, ledger_table, measure_ledger  # noqa: E402
from bench.scoring import (  # noqa: E402
    BATCH_REPS,
    MIX,
    SCORING_REPS,
    SCORING_RESPONSES,
    measure_scoring,
    scoring_table,
)

PATIENTS_PER_SCALE = 250
EVENTS_PER_PATIENT = 4
WARMUP = 5
NAME_PREFIX = "Sampl"  # starts "Sample" and "Sample-<serial>": one family name in eight
PHONE_QUERY = "555-0142"  # the last digits of one synthetic phone number in a hundred

# Workload name -> what it requests; `{pk}` takes turns over a sample of patients.
WORKLOADS = {
    "bare_pk_view": "/bench/bare/{pk}/",
    "patient_list": "/patients/",
    "search_name": f"/patients/?q={NAME_PREFIX}",
    "search_phone": f"/patients/?q={PHONE_QUERY}",
    "chart": "/patients/{pk}/",
    "api_search": f"/api/v1/patients?search={NAME_PREFIX}",
}


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def measure_scale(scale: int, requests: int, seconds: float) -> dict[str, Any]:
    """Load `scale` times the base data into the configured database and time every workload."""
    django_setup(KAPCLINIC_REQUIRE_MFA="false")

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from kapclinic.audit.models import AccessEvent
    from kapclinic.demo.synthetic import patients_ensure, staff_ensure
    from kapclinic.patients.models import Patient

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    staff = staff_ensure()
    made = patients_ensure(PATIENTS_PER_SCALE * scale, staff=staff, events_per_patient=EVENTS_PER_PATIENT)
    load_seconds = time.perf_counter() - started
    data = {
        "patients": Patient.objects.count(),
        "patients_made": made,
        "audit_events": AccessEvent.objects.count(),
        "load_seconds": round(load_seconds, 1),
    }
    print(f"  {scale}x: {data['patients']} patients, {data['audit_events']} audit events, {load_seconds:.1f} s to load")
    pks = random.Random(scale).sample(sorted(Patient.objects.values_list("pk", flat=True)), 50)

    with override_settings(ROOT_URLCONF="bench.urls", DEBUG=False):
        client = Client()
        client.force_login(staff["coordinator"], backend="django.contrib.auth.backends.ModelBackend")

        def get(name: str, turn: int) -> float:
            url = WORKLOADS[name].format(pk=pks[turn % len(pks)])
            begin = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - begin
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}, not 200")
            return elapsed

        queries: dict[str, list[int]] = {}
        for name in WORKLOADS:
            queries[name] = []
            for turn in range(WARMUP):
                with CaptureQueriesContext(connection) as captured:
                    get(name, turn)
                queries[name].append(len(captured))

        timings: dict[str, list[float]] = {name: [] for name in WORKLOADS}
        deadline = time.perf_counter() + seconds
        for turn in range(requests):
            for name in WORKLOADS:
                timings[name].append(get(name, turn))
            if time.perf_counter() > deadline and turn >= 19:
                break

    bare_p50 = statistics.median(timings["bare_pk_view"])
    rows = []
    for name, values in timings.items():
        p50 = statistics.median(values)
        counts = queries[name][1:]  # the first request of a workload may fill caches
        rows.append(
            {
                "workload": name,
                "scale": scale,
                "patients": data["patients"],
                "n": len(values),
                "p50_ms": round(p50 * 1000, 2),
                "p95_ms": round(percentile(values, 95) * 1000, 2),
                "ratio_p50_to_bare": round(p50 / bare_p50, 1),
                "queries": max(counts),
                "queries_seen": sorted(set(counts)),
            }
        )
    return {"scale": scale, "data": data, "rows": rows}


def run_scale_process(scale: int, args: argparse.Namespace, shared_database: bool) -> dict[str, Any]:
    """Run one scale in a child process (settings and database are fixed at django.setup())."""
    options = ["--one-scale", str(scale), "--requests", str(args.requests), "--seconds", str(args.seconds)]
    return run_child(f"{scale}x", options, shared_database)


def run_ledger_process(args: argparse.Namespace, shared_database: bool) -> dict[str, Any]:
    """Run the ledger workload in a child process, on its own fresh SQLite file unless DATABASE_URL is set."""
    options = ["--one-ledger", "--ledger-entries", str(args.ledger_entries), "--ledger-reps", str(args.ledger_reps)]
    return run_child("ledger", options, shared_database)


def run_child(tag: str, options: list[str], shared_database: bool) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"kapclinic-bench-{tag}-"))
    env = dict(os.environ)
    if not shared_database:
        env["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    out = folder / "result.json"
    command = [sys.executable, __file__, *options, "--out", str(out)]
    try:
        subprocess.run(command, env=env, check=True)
        result: dict[str, Any] = json.loads(out.read_text())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def machine_info(database: str) -> dict[str, Any]:
    import django

    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "database": database,
    }


def table(rows: list[dict[str, Any]]) -> str:
    line = "{:<14} {:>5} {:>8} {:>4} {:>8} {:>8} {:>8} {:>7}"
    header = line.format("workload", "scale", "patients", "n", "p50 ms", "p95 ms", "p50/bare", "queries")
    lines = [header, "-" * len(header)]
    for r in rows:
        seen = r["queries_seen"]
        queries = str(seen[0]) if len(seen) == 1 else f"{seen[0]}-{seen[-1]}"
        lines.append(
            line.format(
                r["workload"],
                f"{r['scale']}x",
                r["patients"],
                r["n"],
                f"{r['p50_ms']:.2f}",
                f"{r['p95_ms']:.2f}",
                f"{r['ratio_p50_to_bare']:.1f}",
                queries,
            )
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scales", default="1,100", help="scale factors, comma-separated (1x = 250 patients)")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per workload at most")
    parser.add_argument("--seconds", type=float, default=45, help="time budget per scale (at least 20 requests)")
    parser.add_argument(
        "--only", choices=("web", "ledger", "scoring"), help="run only the page/API scales, the ledger or the scoring"
    )
    parser.add_argument("--ledger-entries", type=int, default=LEDGER_ENTRIES, help="ledger entries to load")
    parser.add_argument("--ledger-reps", type=int, default=LEDGER_REPS, help="timed reconciliations (median)")
    parser.add_argument("--scoring-responses", type=int, default=SCORING_RESPONSES, help="responses to score")
    parser.add_argument("--scoring-reps", type=int, default=SCORING_REPS, help="timed passes over them (median)")
    parser.add_argument("--one-scale", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-ledger", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ledger_entries < 1 or args.ledger_reps < 1:
        parser.error("--ledger-entries and --ledger-reps must be at least 1")
    if args.scoring_responses < len(MIX) or args.scoring_reps < 1:
        parser.error(f"--scoring-responses must be at least {len(MIX)} and --scoring-reps at least 1")

    if args.one_scale is not None:
        result = measure_scale(args.one_scale, args.requests, args.seconds)
        args.out.write_text(json.dumps(result))
        return
    if args.one_ledger:
        args.out.write_text(json.dumps(measure_ledger(args.ledger_entries, args.ledger_reps)))
        return

    started = time.perf_counter()
    scales = sorted(int(s) for s in args.scales.split(",")) if args.only in (None, "web") else []
    run_ledger = args.only in (None, "ledger")
    run_scoring = args.only in (None, "scoring")
    shared_database = bool(os.environ.get("DATABASE_URL"))
    if not scales and not run_ledger:
        database = "none: the scoring runs in this process without Django or a database"
    elif shared_database:
        engine = os.environ["DATABASE_URL"].split(":", 1)[0]
        database = f"DATABASE_URL ({engine}), shared by all scales: each adds its missing patients"
        print(f"Using DATABASE_URL ({engine}) as set: the audit table cannot be emptied, so scales add up.")
    else:
        database = "fresh SQLite file per process (each scale, the ledger) in a temporary folder"
    parts = [f"scales {', '.join(f'{s}x' for s in scales)}"] if scales else []
    if run_ledger:
        parts.append(f"ledger of {args.ledger_entries:,} entries")
    if run_scoring:
        parts.append(f"scoring of {args.scoring_responses:,} responses")
    print(f"Benchmark: {' and '.join(parts)} ({database})")
    results = [run_scale_process(scale, args, shared_database) for scale in scales]
    rows = [row for result in results for row in result["rows"]]
    ledger = run_ledger_process(args, shared_database) if run_ledger else None
    scoring = measure_scoring(args.scoring_responses, args.scoring_reps) if run_scoring else None
    if rows:
        print()
        print(table(rows))
    if ledger:
        print()
        print(ledger_table(ledger["rows"]))
    if scoring:
        print()
        print(scoring_table(scoring["rows"]))

    now = datetime.now(UTC)
    report = {
        "generated_at": now.isoformat(timespec="seconds"),
        "machine": machine_info(database),
        "method": {
            "client": "django.test.Client, signed in as the coordinator, DEBUG off",
            "warmup_requests": WARMUP,
            "max_requests": args.requests,
            "seconds_per_scale": args.seconds,
            "ratio": "p50 of the workload / p50 of bare_pk_view (one Patient.objects.get) in the same run",
            "queries": "per request, from the warm-up requests after the first",
            "workloads": WORKLOADS,
            "ledger": {
                "baseline": "sql_aggregate: " + BASELINE_SQL + ", through a cursor, every row fetched",
                "workloads": "ledger_balances(ctx) and ledger_reconciliation(ctx), signed in as the auditor, DEBUG off",
                "ratio": "median of the workload / median of sql_aggregate in the same process",
                "reps": f"{args.ledger_reps} timed reconciliations, {max(args.ledger_reps, FAST_REPS)} timed "
                "aggregates and balances, taking turns, after one untimed call of each",
                "peak_mib": "tracemalloc peak of Python allocations during the untimed call",
                "queries": "in the untimed call, including the audit insert",
            },
            "scoring": {
                "baseline": "sum_baseline: sum(filter(None, answers)) over the same answer lists, in the same process; "
                "for the batch path numpy_rowsum: values.sum(axis=1) over each instrument's answer array "
                "(answer_array: int8, int64 for the unbounded drug count)",
                "workloads": "score(instrument, answers) from kapclinic.clinical.instruments, pure Python, no Django; "
                "score_all over every response in shuffled order, score_<code> over one instrument's responses; "
                "score_many_all: score_many over each instrument's answer lists (to ScoreResults); batch_all: "
                "score_array over each instrument's answer array and missing mask, batch_<code> over one; "
                "numpy_matvec: values @ ones, numpy's faster integer row sum (score_array uses it)",
                "batch_check": "before timing, every batch result is compared with score()'s, field by field",
                "responses": "seeded random valid answer lists in item order; mix (per cent) "
                + ", ".join(f"{code} {share}" for code, share in MIX.items())
                + "; 10% of PHQ-9 with one of items 1-8 unanswered (prorated), PHQ-9 item 10 answered, None "
                "or left off",
                "ratio": "median of the workload / median of its baseline (the row's 'baseline') over the same "
                "responses; ratio_of_min: fastest pass / fastest pass (less of what a busy machine adds)",
                "reps": f"{args.scoring_reps} timed passes of each, baseline and score() taking turns, after one "
                "untimed pass that checks every total; batch path and numpy baselines "
                f"{max(args.scoring_reps, BATCH_REPS)} passes taking turns; garbage collector on, collected before "
                "each pass",
            },
        },
        "scales": {
            f"{r['scale']}x": {
                "patients_wanted": PATIENTS_PER_SCALE * r["scale"],
                "events_per_patient": EVENTS_PER_PATIENT,
                **r["data"],
            }
            for r in results
        },
        "parts": [*(["web"] if scales else []), *(["ledger"] if ledger else []), *(["scoring"] if scoring else [])],
        "results": rows,
        "ledger": {**ledger["data"], "results": ledger["rows"]} if ledger else None,
        "scoring": {**scoring["data"], "results": scoring["rows"]} if scoring else None,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    text = json.dumps(report, indent=2) + "\n"
    stamped = RESULTS_DIR / f"{now:%Y%m%dT%H%M%SZ}.json"
    stamped.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    print(f"\nWrote {stamped.relative_to(REPO_ROOT)} and latest.json in {report['total_seconds']} s")


if __name__ == "__main__":
    main()

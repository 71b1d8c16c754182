"""Registration (issue 15, item 3): patient_register with its audit, as a ratio to a bare two-insert transaction.

    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true python bench/registration.py                  # a fresh SQLite file
    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true scripts/with-postgres \\
        sh -c 'DATABASE_URL=$DATABASE_OWNER_URL python bench/registration.py'          # a throwaway PostgreSQL

Migrates the database, loads a registry of synthetic patients (kapclinic.demo.synthetic, so the duplicate check
reads a table of realistic size), then, signed in as the coordinator with DEBUG off, takes turns call by call:
  two_inserts   the floor: transaction.atomic() around Patient.objects.create and AccessEvent.objects.create
                (no validation, duplicate check, MRN draw or hash chain; its audit rows carry no hashes, so the
                bench database's audit chain does not verify afterwards)
  register      patient_register(ctx, values, allow_duplicate=False): validation, duplicate check, MRN, the
                patient row and its chained audit row
each with a new made-up person (no duplicate), after untimed warm-up calls that also count the queries.
Prints p50 and p95 in ms, the ratio of each p50 to the floor's (target: register at most 1.5) and the queries as
Django logs them (with SQLite's BEGIN and COMMIT; PostgreSQL's BEGIN goes with the first statement): the floor
BEGIN, INSERT, INSERT, COMMIT; register BEGIN, the duplicate check with the audit chain's lock and head in one
statement (on PostgreSQL with the new patient's id drawn in it too), INSERT, INSERT (on PostgreSQL: the two INSERTs
in one statement, a data-modifying WITH), COMMIT.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import django_setup  # noqa: E402

REGISTRATIONS = 300  # timed calls of each
REPS = 3  # rounds of them; the figures are over all the calls
REGISTRY_PATIENTS = 10_000
WARMUP = 10
TARGET = 1.5
FLOOR_MRN_BASE = 9_500_000  # floor rows: synthetic MRNs past the demo and bench patients (K9...)


def person(serial: int) -> dict[str, Any]:
    from kapclinic.demo.synthetic import GIVEN_NAMES

    """A made-up person nobody in the registry matches: own family name, own phone (555-01xx is for fiction)."""
    return {
        "given_name": GIVEN_NAMES[serial % len(GIVEN_NAMES)],
        "family_name": f"Registrant-{serial}",
        "birth_date": date(1960, 1, 1) + timedelta(days=serial % 15_000),
        "sex_at_birth": "unknown",
        "phone": f"({213 + serial // 100 % 700}) 555-01{serial % 100:02d}",
        "email": f"registrant-{serial}@example.test",
        "city": "Sampletown",
        "region": "NY",
        "postal_code": "10001",
    }


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def measure_registration(registrations: int, reps: int, *, patients: int = REGISTRY_PATIENTS) -> dict[str, Any]:
    """Time `reps` rounds of `registrations` calls of the floor and of patient_register, taking turns."""
    django_setup(KAPCLINIC_REQUIRE_MFA="false")

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext, override_settings

    from kapclinic.audit.context import AuditContext
    from kapclinic.audit.models import AccessEvent, Channel
    from kapclinic.clinical.registry import mrn_from_number, phone_digits
    from kapclinic.demo.synthetic import patients_ensure, staff_ensure
    from kapclinic.patients.models import Patient
    from kapclinic.patients.services import patient_register
    from kapclinic.roles import Action

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    staff = staff_ensure()
    patients_ensure(patients, staff=staff)
    with connection.cursor() as cursor:  # planner statistics, as a database in use has them
        cursor.execute("ANALYZE")
    coordinator = staff["coordinator"]
    ctx = AuditContext(
        user=coordinator, channel=Channel.PAGE, client_address="127.0.0.1", method="POST", path="/patients/new/"
    )
    # Serials go on from what an earlier run on the same database left (PostgreSQL: rows cannot be deleted).
    serial = Patient.objects.filter(family_name__startswith="Registrant-").count() * 2 + 1
    data = {
        "vendor": connection.vendor,
        "patients": Patient.objects.count(),
        "load_seconds": round(time.perf_counter() - started, 1),
    }
    print(f"  registration on {connection.vendor}: {data['patients']} patients, {data['load_seconds']} s to load")

    def two_inserts(values: dict[str, Any]) -> None:
        with transaction.atomic():
            patient = Patient.objects.create(
                mrn=mrn_from_number(FLOOR_MRN_BASE + serial),
                created_by=coordinator,
                phone_digits=phone_digits(values["phone"]),
                **values,
            )
            AccessEvent.objects.create(
                user=coordinator,
                username=coordinator.username,
                role=coordinator.role,
                patient=patient,
                action=Action.PATIENT_REGISTER,
                channel=ctx.channel,
                method=ctx.method,
                path=ctx.path,
                client_address=ctx.client_address,
            )

    def register(values: dict[str, Any]) -> None:
        patient_register(ctx=ctx, values=values, allow_duplicate=False)

    workloads: dict[str, Callable[[dict[str, Any]], None]] = {"two_inserts": two_inserts, "register": register}
    queries: dict[str, int] = {}
    timings: dict[str, list[float]] = {name: [] for name in workloads}
    with override_settings(DEBUG=False):
        for turn in range(WARMUP):
            for name, call in workloads.items():
                with CaptureQueriesContext(connection) as captured:
                    call(person(serial))
                serial += 1
                if turn:  # the first call may fill caches
                    queries[name] = max(queries.get(name, 0), len(captured))
        for _ in range(reps * registrations):
            for name, call in workloads.items():
                made_up = person(serial)
                serial += 1
                begin = time.perf_counter()
                call(made_up)
                timings[name].append(time.perf_counter() - begin)

    floor = statistics.median(timings["two_inserts"])
    rows = []
    for name, times in timings.items():
        p50 = statistics.median(times)
        rows.append(
            {
                "name": name,
                "n": len(times),
                "p50_ms": round(p50 * 1000, 3),
                "p95_ms": round(percentile(times, 95) * 1000, 3),
                "ratio": round(p50 / floor, 2),
                "per_second": round(1 / p50),
                "queries": queries[name],
            }
        )
    return {"data": data, "target": TARGET, "rows": rows}


def registration_table(rows: list[dict[str, Any]]) -> str:
    line = "{:<12} {:>5} {:>8} {:>8} {:>6} {:>6} {:>7}"
    header = line.format("workload", "n", "p50 ms", "p95 ms", "ratio", "per s", "queries")
    lines = [header, "-" * len(header)]
    lines += [
        line.format(
            r["name"],
            r["n"],
            f"{r['p50_ms']:.3f}",
            f"{r['p95_ms']:.3f}",
            f"{r['ratio']:.2f}",
            r["per_second"],
            r["queries"],
        )
        for r in rows
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registrations", type=int, default=REGISTRATIONS, help="timed calls of each per round")
    parser.add_argument("--reps", type=int, default=REPS, help="rounds")
    parser.add_argument("--patients", type=int, default=REGISTRY_PATIENTS, help="synthetic patients loaded first")
    args = parser.parse_args()
    if args.registrations * args.reps < 2:
        parser.error("time at least two calls")
    folder = None
    if not os.environ.get("DATABASE_URL"):
        folder = Path(tempfile.mkdtemp(prefix="kapclinic-bench-registration-"))
        os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    try:
        result = measure_registration(args.registrations, args.reps, patients=args.patients)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    print(registration_table(result["rows"]))


if __name__ == "__main__":
    main()

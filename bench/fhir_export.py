"""FHIR Bulk Data export speed (issue 17, item 3): resources written per second, against a floor measured in the
same run: reading the same rows with values_list and writing each as an orjson line.

    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true python bench/fhir_export.py [--patients 1000,10000] [--reps 3]

Without DATABASE_URL: a fresh SQLite file in a temporary folder. With DATABASE_URL (e.g. PostgreSQL through
scripts/with-postgres, as the owner, which may migrate): that database, which should start empty. At each scale
(patients, cumulative): migrate, the synthetic patients (demo.synthetic.patients_ensure, half on the demo care
team), SESSIONS_PER_PATIENT past dosing sessions each on average (demo.sessions.sessions_ensure: a course) with
VITALS_PER_SESSION full sets of vital signs each (four observations a set), and SCORES_PER_PATIENT questionnaire
totals (PHQ-9 and GAD-7) per patient.
Then, taking turns `--reps` times after one untimed run of each:
  orjson_floor  the same rows (patients, vital signs with their patient, scored responses) read with
                values_list(...).iterator() and written as orjson lines to a file: no FHIR, no model instances
  export        the whole worker task for a system export by the director (tasks.export_build): patient chunks,
                the registry's builders (values_list rows into the FHIR face's resource functions), orjson lines,
                and the audit rows per chunk
Reported: resources, the median seconds of each, resources/s per core of the export (resources / the worker
process's CPU seconds: it runs on one core), rows/s of the floor, and the share of the floor's speed (floor seconds
/ export seconds, by the clock and by CPU time: the CPU figure holds on a machine shared with other work); targets
at the largest scale: at least 20,000 resources/s per core and a share of at least 1/3. The untimed
export runs under tracemalloc: its peak Python memory, which should not grow with the patients.
`measure_fhir_export()` returns the same rows for `make bench`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import django_setup  # noqa: E402

SESSIONS_PER_PATIENT = 6  # a course of six ketamine sessions
VITALS_PER_SESSION = 6  # a full set every 15 minutes from the pre-dose check to discharge
SCORES_PER_PATIENT = 4
TARGET_PER_CORE = 20_000
TARGET_SHARE = 1 / 3


def _load(patients: int) -> dict[str, int]:
    """Bring the database up to `patients` synthetic patients with their sessions, vitals and scores."""
    from django.db import connection, transaction
    from django.utils import timezone

    from kapclinic.demo.sessions import sessions_ensure
    from kapclinic.demo.synthetic import patients_ensure, staff_ensure
    from kapclinic.dosing.models import DosingSession, VitalSign
    from kapclinic.measures.models import QuestionnaireResponse
    from kapclinic.patients.models import Patient

    staff = staff_ensure()
    patients_ensure(patients, staff=staff)
    sessions_ensure(staff=staff, past=patients * SESSIONS_PER_PATIENT, today=0, coming=0)
    rng = random.Random(patients)
    nurse = staff["nurse"]
    with transaction.atomic():
        measured = set(VitalSign.objects.values_list("session_id", flat=True).distinct())
        vitals = []
        for session_id, when in DosingSession.objects.exclude(pk__in=measured).values_list("pk", "scheduled_for"):
            for n in range(VITALS_PER_SESSION):
                at = when + timedelta(minutes=15 * n)
                vitals.append(
                    VitalSign(
                        session_id=session_id,
                        measured_at=at,
                        recorded_at=at,
                        recorded_by=nurse,
                        systolic=rng.randint(105, 150),
                        diastolic=rng.randint(65, 95),
                        heart_rate=rng.randint(55, 100),
                        spo2=rng.randint(94, 100),
                        respiratory_rate=rng.randint(10, 20),
                    )
                )
        VitalSign.objects.bulk_create(vitals, batch_size=2000)
        scored = set(QuestionnaireResponse.objects.values_list("patient_id", flat=True).distinct())
        now = timezone.now()
        responses = [
            QuestionnaireResponse(
                patient_id=pk,
                instrument=("phq9", "gad7")[n % 2],
                version="1",
                complete=True,
                source="paper",
                total=rng.randint(0, 21),
                entered_by=nurse,
                submitted_at=now - timedelta(days=7 * n + 1),
            )
            for pk in Patient.objects.exclude(pk__in=scored).values_list("pk", flat=True)
            for n in range(SCORES_PER_PATIENT)
        ]
        QuestionnaireResponse.objects.bulk_create(responses, batch_size=2000)
    with connection.cursor() as cursor:  # planner statistics, as a database in use has them
        cursor.execute("ANALYZE")
    return {
        "patients": Patient.objects.count(),
        "vital_sets": VitalSign.objects.count(),
        "scores": QuestionnaireResponse.objects.filter(total__isnull=False).count(),
    }


def _floor(path: Path) -> int:
    """The same rows as the export reads, by values_list, each an orjson line: return the rows written."""
    import orjson

    from kapclinic.dosing.models import VitalSign
    from kapclinic.fhir.registry import _SCORED, _VITAL_FIELDS, PatientRow, ScoreRow
    from kapclinic.measures.models import QuestionnaireResponse
    from kapclinic.patients.models import Patient

    sources = [  # exactly the columns the export's builders read
        Patient.objects.order_by("pk").values_list(*PatientRow._fields),
        VitalSign.objects.order_by("pk").values_list(*_VITAL_FIELDS),
        QuestionnaireResponse.objects.filter(total__isnull=False, instrument__in=_SCORED)
        .order_by("pk")
        .values_list(*ScoreRow._fields),
    ]
    rows = 0
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    with path.open("wb", buffering=1 << 20) as out:
        write = out.write
        for source in sources:
            for row in source.iterator(chunk_size=2000):
                write(dumps(row, option=newline))
                rows += 1
    return rows


def _export(director: Any) -> tuple[int, float]:
    from django.utils import timezone

    from kapclinic.fhir.models import ExportFile, ExportJob, ExportStatus
    from kapclinic.fhir.tasks import export_build

    job = ExportJob.objects.create(
        requester=director, kind="system", types=["Patient", "Observation"], transaction_time=timezone.now(),
        request_url="/fhir/$export",
    )  # fmt: skip
    cpu = time.process_time()
    export_build(job.pk)
    cpu = time.process_time() - cpu
    job.refresh_from_db()
    if job.status != ExportStatus.COMPLETED:
        raise SystemExit(f"The export did not complete: {job.status} {job.error}")
    written = sum(ExportFile.objects.filter(job=job).values_list("count", flat=True))
    return written, cpu


def measure_fhir_export(scales: list[int], reps: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="kapclinic-fhir-bench-"))
    django_setup(KAPCLINIC_REQUIRE_MFA="false", KAPCLINIC_EXPORT_DIR=str(folder / "exports"))

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from kapclinic.demo.synthetic import staff_ensure

    settings.KAPCLINIC_EXPORT_DIR = folder / "exports"
    call_command("migrate", verbosity=0)
    director = staff_ensure()["director"]
    rows = []
    try:
        for patients in scales:
            started = time.perf_counter()
            data = _load(patients)
            print(
                f"  {patients:,} patients on {connection.vendor}: {data}, {time.perf_counter() - started:.1f} s to load"
            )
            floor_rows = _floor(folder / "floor.ndjson")  # untimed, once each
            tracemalloc.start()
            resources, _ = _export(director)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            floor_times, floor_cpu, export_times, export_cpu = [], [], [], []
            for _ in range(reps):
                begin, cpu_begin = time.perf_counter(), time.process_time()
                _floor(folder / "floor.ndjson")
                floor_times.append(time.perf_counter() - begin)
                floor_cpu.append(time.process_time() - cpu_begin)
                begin = time.perf_counter()
                written, cpu = _export(director)
                export_times.append(time.perf_counter() - begin)
                export_cpu.append(cpu)
                assert written == resources
            floor_s, export_s = statistics.median(floor_times), statistics.median(export_times)
            floor_cpu_s, export_cpu_s = statistics.median(floor_cpu), statistics.median(export_cpu)
            rows.append(
                {
                    "patients": data["patients"],
                    "resources": resources,
                    "floor_rows": floor_rows,
                    "floor_s": round(floor_s, 3),
                    "export_s": round(export_s, 3),
                    "export_cpu_s": round(export_cpu_s, 3),
                    "floor_cpu_s": round(floor_cpu_s, 3),
                    "floor_rows_per_s": round(floor_rows / floor_s),
                    "resources_per_s": round(resources / export_s),
                    # One worker process: one core. Its CPU time is the export's own work (SQLite's included, as it
                    # runs in the process; PostgreSQL's server time is not), robust to a machine shared with others.
                    "resources_per_s_per_core": round(resources / export_cpu_s),
                    "share_of_floor_speed": round(floor_s / export_s, 3),
                    "share_of_floor_speed_cpu": round(floor_cpu_s / export_cpu_s, 3),
                    # The same in each one's own unit: resources/s of the export over rows/s of the floor (a set of
                    # vital signs is one row and four Observations).
                    "throughput_share": round((resources / export_s) / (floor_rows / floor_s), 3),
                    "peak_mib": round(peak / 2**20, 1),
                }
            )
            shutil.rmtree(folder / "exports", ignore_errors=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"vendor": connection.vendor, "rows": rows}


def fhir_export_table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'patients':>9} {'resources':>10} {'export s':>9} {'res/s/core':>11} {'floor rows':>10} {'floor s':>8}"
        f" {'share':>6} {'cpu share':>9} {'res/s:rows/s':>12} {'peak MiB':>8}"
    )
    lines = [head]
    lines.extend(
        f"{r['patients']:>9,} {r['resources']:>10,} {r['export_s']:>9.2f} {r['resources_per_s_per_core']:>11,}"
        f" {r['floor_rows']:>10,} {r['floor_s']:>8.2f} {r['share_of_floor_speed']:>6.2f}"
        f" {r['share_of_floor_speed_cpu']:>9.2f} {r['throughput_share']:>12.2f} {r['peak_mib']:>8.1f}"
        for r in rows
    )
    largest = rows[-1]
    per_core_ok = largest["resources_per_s_per_core"] >= TARGET_PER_CORE
    share_ok = largest["share_of_floor_speed"] >= TARGET_SHARE  # by the clock, as the target is set
    lines.append(
        f"At {largest['patients']:,} patients: {largest['resources_per_s_per_core']:,} resources/s per core "
        f"(target {TARGET_PER_CORE:,}: {'met' if per_core_ok else 'NOT met'}); "
        f"{largest['share_of_floor_speed']:.2f} of the orjson dump's speed by the clock, "
        f"{largest['share_of_floor_speed_cpu']:.2f} by CPU time "
        f"(target {TARGET_SHARE:.2f}: {'met' if share_ok else 'NOT met'})"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--patients", default="1000,10000", help="scales, in patients, comma-separated, increasing")
    parser.add_argument("--reps", type=int, default=3, help="timed runs of each (median)")
    args = parser.parse_args()
    scales = sorted(int(s) for s in args.patients.split(","))
    if not os.environ.get("DATABASE_URL"):
        folder = Path(tempfile.mkdtemp(prefix="kapclinic-fhir-db-"))
        os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    result = measure_fhir_export(scales, args.reps)
    print()
    print(f"FHIR bulk export ({result['vendor']}), median of {args.reps}:")
    print(fhir_export_table(result["rows"]))


if __name__ == "__main__":
    main()

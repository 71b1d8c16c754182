"""The clinic's mixed day over HTTP (issue 15, item 3): the production server under locust, against its own floor.

    PYTHONPATH=$PWD scripts/with-postgres .venv/bin/python bench/load.py      # as `make bench` runs it
    PYTHONPATH=$PWD .venv/bin/python bench/load.py --seconds 20                # a fresh SQLite file, for a quick look

1. Data: the database named by DATABASE_URL (migrated as DATABASE_OWNER_URL when set, then the application
   role granted its rights, as `make serve` does), or a fresh SQLite file in a temporary folder; the demo clinic
   (manage.py demo_load: sessions today, scores, the ledger) plus --patients synthetic patients with four past
   audit events each (25,000 = the 100x data of bench/run.py).
2. Server: gunicorn with the production settings (kapclinic/gunicorn_conf.py: one sync worker per core, DEBUG
   off, static files collected into a temporary folder) and bench/settings.py's URLs, which add the bare view.
   Loopback has no TLS, so secure cookies and the HTTPS redirect are off; nothing else differs from service.
3. Load: locust headless (bench/locustfile.py), --users signed-in staff requesting with no pause for --seconds:
   first the mix of the clinic's pages, then the bare primary-key view alone for as long, then (for reading the
   share, not a target) the patient floor: the least a page about a patient does (bench/urls.py). The first
   --warmup seconds of each run are left out. Throughput is requests per second over the rest; percentiles
   are computed from every request's time.

Targets: the mix's throughput at least half the bare view's, its p95 under 250 ms, no error.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
BIN = Path(sys.executable).parent

PATIENTS = 25_000
USERS = 8
SECONDS = 60.0
WARMUP = 5.0
TARGET_THROUGHPUT_SHARE = 0.5
TARGET_P95_MS = 250.0


def prepare(patients: int, folder: Path) -> dict[str, Any]:
    """Migrate and load the data as the owner, grant the application role, and pick what the users request."""
    env = dict(os.environ)
    owner_url = env.get("DATABASE_OWNER_URL")
    if owner_url:
        import dj_database_url

        # As `make serve`: the owner migrates and loads, then grants the application's role (the server's login).
        os.environ["KAPCLINIC_DB_APP_ROLE"] = str(dj_database_url.parse(env["DATABASE_URL"]).get("USER") or "")
        os.environ["DATABASE_URL"] = owner_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapclinic.settings")
    os.environ["KAPCLINIC_DEBUG"] = "true"  # the loading only: the server below runs with DEBUG off
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count

    from kapclinic.demo.synthetic import DEMO_PASSWORD, patients_ensure, staff_ensure
    from kapclinic.dosing.models import DosingSession
    from kapclinic.measures.models import QuestionnaireResponse
    from kapclinic.patients.models import Patient

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("demo_load", quiet=True)
    made = patients_ensure(patients, staff=staff_ensure(), events_per_patient=4)
    if owner_url:
        call_command("db_grants", verbosity=0)
    if connection.vendor == "postgresql":
        # Statistics for the rows just loaded, as autovacuum would have them in service: without them the planner
        # takes a clinician's caseload of 12,500 patients for 139 and reads it all for a page of ten.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    scored = list(
        QuestionnaireResponse.objects.filter(total__isnull=False)
        .values("patient_id")
        .annotate(n=Count("id"))
        .filter(n__gte=2)
        .values_list("patient_id", flat=True)
    )
    sessions = list(DosingSession.objects.order_by("-scheduled_for").values_list("pk", flat=True)[:10])
    bare = list(Patient.objects.order_by("?").values_list("pk", flat=True)[:200])
    if not scored or not sessions:
        raise SystemExit("the demo clinic has no scored patient or no dosing session to request")
    data = {
        "database_pid": database_server_pid(connection),
        "patients": Patient.objects.count(),
        "patients_made": made,
        "load_seconds": round(time.perf_counter() - started, 1),
        "database": connection.vendor,
    }
    connection.close()
    targets = {
        "password": DEMO_PASSWORD,
        "chart_patients": scored,
        "sessions": sessions,
        "bare_patients": bare,
        # "Sampl" and "exa" start one family name in eight each; a phone's last digits; a date of birth's form
        "search_terms": ["sampl", "exa", "0142", "synth", "ha"],
    }
    (folder / "targets.json").write_text(json.dumps(targets))
    os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    return data


def server_environment(folder: Path, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "KAPCLINIC_DEBUG"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "PYTHONPATH": str(REPO_ROOT),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "KAPCLINIC_BIND": f"127.0.0.1:{port}",
            "KAPCLINIC_SECURE_COOKIES": "false",
            "KAPCLINIC_SSL_REDIRECT": "false",
            "KAPCLINIC_REQUIRE_MFA": "false",
            "KAPCLINIC_ACCESS_LOG": "false",
            "KAPCLINIC_STATIC_ROOT": str(folder / "static"),
        }
    )
    return env


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
    port = free_port()
    env = server_environment(folder, port)
    subprocess.run(
        [str(BIN / "python"), "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=REPO_ROOT, env=env, check=True
    )
    log = (folder / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "python:kapclinic.gunicorn_conf"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped at start:\n{(folder / 'gunicorn.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return server, port, env
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/<pid>/stat's fields after the command's name: state, ppid (1), ... utime (11), stime, cutime, cstime (14).
    OSError when the process has gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree_cpu(root: int) -> float:
    """CPU seconds of process `root` and all its descendants, those that have exited included (Linux: a process's
    cutime and cstime hold the children it has waited for, so replaced gunicorn workers and closed database
    connections still count). 0 without /proc or the process."""
    stats: dict[int, list[str]] = {}
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = _stat_fields(entry)
        except OSError:  # exited meanwhile
            continue
        stats[int(entry)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += sum(int(value) for value in stats[pid][11:15])
            todo.extend(children.get(pid, []))
    return total / CLOCK_TICKS


def database_server_pid(connection: Any) -> int | None:
    """The PostgreSQL server's main process when it runs on this machine (its CPU time is read from /proc)."""
    if connection.vendor != "postgresql":
        return None  # SQLite runs inside the server's workers
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])
    try:
        server = int(_stat_fields(backend)[1])
        # The same pid may be another process here: a server on another machine, or in a container (its own pids).
        return server if Path(f"/proc/{server}/comm").read_text().strip() in ("postgres", "postmaster") else None
    except (OSError, ValueError, IndexError):
        return None


def drive(
    user_class: str, port: int, folder: Path, users: int, seconds: float, warmup: float, pids: dict[str, int | None]
) -> dict[str, Any]:
    """One headless locust run of `user_class`; every request's time back from the locustfile's listener, and the
    CPU time each part spent per request (`pids`: the server's and the database's main processes)."""
    out = folder / f"{user_class}.json"
    env = dict(os.environ)
    env.update(
        {
            "KAPCLINIC_LOAD_TARGETS": str(folder / "targets.json"),
            "KAPCLINIC_LOAD_OUT": str(out),
            "KAPCLINIC_LOAD_WARMUP": str(warmup),
        }
    )
    command = [
        str(BIN / "locust"),
        "-f",
        str(REPO_ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{int(seconds + warmup)}s",
        "--stop-timeout",
        "5",
        "--host",
        f"http://127.0.0.1:{port}",
        "--only-summary",
        "--loglevel",
        "WARNING",
        user_class,
    ]
    watched = {part: pid for part, pid in pids.items() if pid is not None}  # no database process on SQLite
    before = {part: process_tree_cpu(pid) for part, pid in watched.items()}
    tool_before = os.times()
    with (folder / f"{user_class}.log").open("wb") as log:
        subprocess.run(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log, check=False)
    tool_after = os.times()
    spent = {part: process_tree_cpu(pid) - before[part] for part, pid in watched.items()}
    spent["load tool"] = (tool_after.children_user + tool_after.children_system) - (
        tool_before.children_user + tool_before.children_system
    )
    if not out.exists():
        raise SystemExit(f"locust wrote no results:\n{(folder / f'{user_class}.log').read_text()[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    summary = summarise(result["requests"], warmup)
    # Over the whole run, warm-up included, as the processes' times are: where each request's CPU time went.
    answered = max(1, int(result.get("answered", 0)))
    summary["cpu_ms_per_request"] = {
        part: round(seconds_spent * 1000 / answered, 2) for part, seconds_spent in spent.items()
    }
    return summary


def percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def figures(times: list[float], errors: int, seconds: float) -> dict[str, Any]:
    return {
        "n": len(times),
        "errors": errors,
        "per_second": round(len(times) / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": round(statistics.median(times), 1) if times else 0.0,
        "p95_ms": round(percentile(times, 95), 1),
        "p99_ms": round(percentile(times, 99), 1),
    }


def summarise(requests: list[list[Any]], warmup: float) -> dict[str, Any]:
    """Throughput over the measured window (after the warm-up to the last answer); percentiles per page."""
    if not requests:
        raise SystemExit("locust recorded no request after the warm-up")
    window = max(finished for _, finished, _, _ in requests) - warmup
    pages: dict[str, list[tuple[float, bool]]] = {}
    for name, _, ms, ok in requests:
        pages.setdefault(name, []).append((ms, ok))
    every = [ms for _, _, ms, _ in requests]
    failed = sum(1 for *_, ok in requests if not ok)
    return {
        "window_seconds": round(window, 1),
        "all": figures(every, failed, window),
        "pages": {
            name: figures([ms for ms, _ in rows], sum(1 for _, ok in rows if not ok), window)
            for name, rows in sorted(pages.items())
        },
    }


def measure_load(patients: int, users: int, seconds: float, warmup: float) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="kapclinic-bench-load-"))
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    server: subprocess.Popen[bytes] | None = None
    keep_logs = True  # until the run ends without errors: the server's log is how a failed request is explained
    try:
        data = prepare(patients, folder)
        print(f"  load: {data['patients']} patients on {data['database']}, {data['load_seconds']} s to load")
        server, port, _ = start_server(folder)
        data["workers"] = int(os.environ.get("KAPCLINIC_WEB_WORKERS") or len(os.sched_getaffinity(0)))
        pids = {"server": server.pid, "database": data.pop("database_pid")}
        mix = drive("ClinicStaff", port, folder, users, seconds, warmup, pids)
        bare = drive("BarePage", port, folder, users, seconds, warmup, pids)
        floor = drive("PatientFloor", port, folder, users, seconds, warmup, pids)
        share = mix["all"]["per_second"] / bare["all"]["per_second"]
        verdict = {
            "throughput_share": round(share, 2),
            "throughput_share_target": TARGET_THROUGHPUT_SHARE,
            "p95_target_ms": TARGET_P95_MS,
            # For reading the share, not a target: the least any page about a patient does (the access door,
            # its audit row, the base page and banner) against the same bare view, and the mix against it.
            "patient_floor_share": round(floor["all"]["per_second"] / bare["all"]["per_second"], 2),
            "mix_to_patient_floor": round(mix["all"]["per_second"] / floor["all"]["per_second"], 2),
            "met": share >= TARGET_THROUGHPUT_SHARE
            and mix["all"]["p95_ms"] < TARGET_P95_MS
            and mix["all"]["errors"] == 0
            and bare["all"]["errors"] == 0,
        }
        keep_logs = any(run["all"]["errors"] > 0 for run in (mix, bare, floor))
        return {
            "data": data,
            "users": users,
            "seconds": seconds,
            "mix": mix,
            "bare": bare,
            "patient_floor": floor,
            "verdict": verdict,
        }
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if keep_logs:
            kept = REPO_ROOT / "bench" / "results" / f"load-logs-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
            kept.mkdir(parents=True, exist_ok=True)
            for log in folder.glob("*.log"):
                shutil.copy(log, kept / log.name)
            print(f"  load: errors or a failed run; the server's and locust's logs are kept in {kept}")
        shutil.rmtree(folder, ignore_errors=True)


def load_table(result: dict[str, Any]) -> str:
    line = "{:<26} {:>6} {:>7} {:>8} {:>8} {:>8} {:>6}"
    header = line.format("load over HTTP", "n", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors")
    lines = [header, "-" * len(header)]
    for run in ("mix", "bare", "patient_floor"):
        if run not in result:  # a result written before the floor was measured
            continue
        for name, row in [(f"{run}: all", result[run]["all"]), *result[run]["pages"].items()]:
            label = name if name.endswith(": all") else f"  {name}"
            lines.append(
                line.format(
                    label,
                    row["n"],
                    f"{row['per_second']:.1f}",
                    f"{row['p50_ms']:.1f}",
                    f"{row['p95_ms']:.1f}",
                    f"{row['p99_ms']:.1f}",
                    row["errors"],
                )
            )
    verdict = result["verdict"]
    lines.append(
        f"mix/bare throughput {verdict['throughput_share']:.2f} (target >= {verdict['throughput_share_target']}), "
        f"mix p95 {result['mix']['all']['p95_ms']:.1f} ms (target < {verdict['p95_target_ms']:.0f}), "
        f"errors {result['mix']['all']['errors'] + result['bare']['all']['errors']} (target 0): "
        + ("met" if verdict["met"] else "NOT MET")
    )
    for run in ("mix", "bare", "patient_floor"):
        cpu = result.get(run, {}).get("cpu_ms_per_request")
        if cpu:
            parts = ", ".join(f"{part} {ms:.2f}" for part, ms in cpu.items())
            lines.append(f"CPU ms per request, {run}: {parts}; in all {sum(cpu.values()):.2f}")
    if "patient_floor_share" in verdict:
        lines.append(
            f"for reading it: the patient floor (access check, audit row, base page and banner) at "
            f"{verdict['patient_floor_share']:.2f} of the bare view; the mix at {verdict['mix_to_patient_floor']:.2f} "
            "of the patient floor"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=PATIENTS, help="synthetic patients beside the demo clinic")
    parser.add_argument("--users", type=int, default=USERS, help="simulated staff signed in at once")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="measured seconds of each run")
    parser.add_argument("--warmup", type=float, default=WARMUP, help="seconds left out at the start of each run")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    args = parser.parse_args()
    result = measure_load(args.patients, args.users, args.seconds, args.warmup)
    print(load_table(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

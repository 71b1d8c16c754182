"""The calendar (issue 16): the week view and the next free times, at 1x and 100x the past bookings.

    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true python bench/calendar_pages.py                    # a fresh SQLite file
    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true scripts/with-postgres \\
        sh -c 'DATABASE_URL=$DATABASE_OWNER_URL python bench/calendar_pages.py'            # a throwaway PostgreSQL

One database, grown between the two rounds: migrate, synthetic staff and patients, the demo clinic's rooms, chairs
and hours (kapclinic/demo/places.py), this week's bookings (--week, 60: a busy clinic's week of appointments), and
--past (200) past bookings over two years; time the pages; add past bookings up to --scale (100) times as many,
ANALYZE, time again. Pages, through django.test.Client with DEBUG off, taking turns (bench/day_pages.py's round):
the week for everyone, for the therapist and for the Garden room, and GET /api/v1/availability for the therapist
with the room. Target: the p50 at 100x at most 1.2 times the p50 at 1x, the same number of queries.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import django_setup  # noqa: E402
from bench.day_pages import _round, day_pages_table, ratio_rows, timed  # noqa: E402

WEEK = 60
PAST = 200
SCALE = 100
REQUESTS = 40
PATIENTS = 200
TARGET = 1.2


def _bookings(count: int, *, first: datetime, days: int, staff: dict[str, Any], patients: list[int]) -> None:
    """`count` booked (or, in the past, done) appointments spread over `days` days from `first`, on the hour or
    the half hour in working hours, with the therapist or the prescriber, some in the Garden room. Written in bulk:
    the bench measures reading them, not booking."""
    from django.utils import timezone

    from kapclinic.appointments.models import Appointment, Place

    rng = random.Random(count)
    room = Place.objects.get(name="Garden room")
    now = timezone.now()
    rows = []
    for _ in range(count):
        start = first + timedelta(days=rng.randrange(days), hours=rng.randrange(9, 17), minutes=rng.choice((0, 30)))
        holder = staff["therapist"] if rng.random() < 0.6 else staff["prescriber"]
        rows.append(
            Appointment(
                kind="integration" if holder == staff["therapist"] else "evaluation",
                patient_id=rng.choice(patients),
                with_user=holder,
                place=room if rng.random() < 0.3 else None,
                starts_at=start,
                ends_at=start + timedelta(minutes=50),
                mode="in_person",
                status="booked" if start > now else "done",
                created_by=staff["coordinator"],
            )
        )
    Appointment.objects.bulk_create(rows, batch_size=2000)


def measure_calendar(
    week: int = WEEK, past: int = PAST, scale: int = SCALE, requests: int = REQUESTS
) -> dict[str, Any]:
    django_setup(KAPCLINIC_REQUIRE_MFA="false")

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from kapclinic.appointments.models import Appointment, Place
    from kapclinic.demo.places import places_and_hours_ensure
    from kapclinic.demo.synthetic import patients_ensure, staff_ensure
    from kapclinic.patients.models import Patient

    call_command("migrate", verbosity=0)
    staff = staff_ensure()
    patients_ensure(PATIENTS, staff=staff)
    places_and_hours_ensure(staff)
    patients = list(Patient.objects.filter(mrn__startswith="K9").values_list("pk", flat=True))
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    week_start = timezone.make_aware(datetime.combine(monday, datetime.min.time()))
    _bookings(week, first=week_start, days=7, staff=staff, patients=patients)
    room = Place.objects.get(name="Garden room").pk
    therapist = staff["therapist"].pk
    pages = {
        "week_all": ("coordinator", f"/appointments/calendar/?start={monday.isoformat()}"),
        "week_therapist": ("coordinator", f"/appointments/calendar/?start={monday.isoformat()}&staff={therapist}"),
        "week_room": ("coordinator", f"/appointments/calendar/?start={monday.isoformat()}&place={room}"),
        "next_free": (
            "api:coordinator",
            f"/api/v1/availability?kind=integration&staff={therapist}&place={room}",
        ),
    }
    results: dict[str, dict[str, Any]] = {}
    made = 0
    for factor in (1, scale):
        started = time.perf_counter()
        wanted = past * factor
        _bookings(wanted - made, first=week_start - timedelta(days=730), days=730, staff=staff, patients=patients)
        made = wanted
        with connection.cursor() as cursor:  # planner statistics, as a database in use has them
            cursor.execute("ANALYZE")
        total = Appointment.objects.count()
        print(
            f"  {factor}x on {connection.vendor}: {week} bookings this week, {made} past ({total} in all), "
            f"{time.perf_counter() - started:.1f} s to load"
        )
        timings, queries = _round(requests, patients[0], pages)
        results[f"{factor}x"] = {"bookings": total, "pages": timed(timings, queries)}
    return {"vendor": connection.vendor, "scale": scale, "target": TARGET, "rows": ratio_rows(results, scale)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--week", type=int, default=WEEK, help="bookings in the week shown")
    parser.add_argument("--past", type=int, default=PAST, help="past bookings at 1x")
    parser.add_argument("--scale", type=int, default=SCALE, help="the second round's multiple of --past")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="timed requests of each page per round")
    args = parser.parse_args()
    if args.requests < 2 or args.scale < 2:
        parser.error("--requests and --scale must be at least 2")
    folder = None
    if not os.environ.get("DATABASE_URL"):
        folder = Path(tempfile.mkdtemp(prefix="kapclinic-bench-calendar-"))
        os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    try:
        result = measure_calendar(args.week, args.past, args.scale, args.requests)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    print(day_pages_table(result["rows"], result["scale"]))
    worst = max(row["ratio"] for row in result["rows"])
    same = all(row["queries_1x"] == row[f"queries_{result['scale']}x"] for row in result["rows"])
    verdict = "met" if worst <= TARGET and same else "NOT MET"
    print(f"worst ratio {worst:.2f} (target <= {TARGET}), queries constant: {same}: {verdict}")


if __name__ == "__main__":
    main()

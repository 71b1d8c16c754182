"""Patient search at scale (issue 15, item 3): p50 and p95 of each kind of search, at 50,000 patients.

    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true python bench/search.py                 # a fresh SQLite file
    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true scripts/with-postgres \\
        sh -c 'DATABASE_URL=$DATABASE_OWNER_URL python bench/search.py'          # a throwaway PostgreSQL

Loads --patients synthetic patients (kapclinic.demo.synthetic, no past audit events) into a database migrated
from scratch, then times `patient_search_for_user` as the list page and the API call it (the count, the page of
25 and the one INSERT of audit rows), signed in as the coordinator (every patient visible), the kinds taking
turns call by call. "query" is the same call with the audit INSERT left out: the reads alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# Kind of search -> what is typed. Synthetic family names: "Sample", "Example", ...; phones 212-555-01xx.
QUERIES = {
    "list (no query)": "",
    "name 1 letter": "s",
    "name prefix": "sampl",
    "name two words": "ash exa",
    "name no match": "zzyzx",
    "mrn": "K90012345",
    "phone whole": "(212) 555-0142",
    "phone last 4": "0142",
    "birth date": "",  # filled from a patient
}


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200, help="timed calls per kind")
    parser.add_argument("--explain", action="append", default=[], help="print the plans of this search first")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="kapclinic-bench-search-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapclinic.settings")
    os.environ["KAPCLINIC_REQUIRE_MFA"] = "false"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from kapclinic.audit.context import AuditContext
    from kapclinic.clinical.registry import parse_search, search_fold
    from kapclinic.demo.synthetic import patients_ensure, staff_ensure
    from kapclinic.patients import selectors
    from kapclinic.patients.access import patients_visible_to
    from kapclinic.patients.models import Patient

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    staff = staff_ensure()
    patients_ensure(args.patients, staff=staff)
    with connection.cursor() as cursor:  # planner statistics, as a database in use has them
        cursor.execute("ANALYZE")
    print(f"{connection.vendor}: {Patient.objects.count()} patients, {time.perf_counter() - started:.0f} s to load")
    queries = dict(QUERIES)
    sample = Patient.objects.order_by("pk")[args.patients // 2]
    queries["birth date"] = sample.birth_date.isoformat()
    queries["mrn"] = sample.mrn
    ctx = AuditContext(user=staff["coordinator"], channel="page")

    def search(query: str) -> None:
        selectors.patient_search_for_user(ctx=ctx, query=query)

    def query_only(query: str) -> None:
        with mock.patch.object(selectors, "access_events_record_many", lambda **_: None):
            selectors.patient_search_for_user(ctx=ctx, query=query)

    for text in args.explain:  # the count, then each query of the page (one per name column for a name search)
        terms = parse_search(text)
        patients = selectors._apply_search(patients_visible_to(ctx=ctx), terms)
        pages = [patients.order_by("family_name", "given_name", "id")[:25]]
        if terms.name_words:
            first = search_fold(terms.name_words[0])
            pages = [
                patients.filter(selectors._starts_with(column, first)).order_by(*selectors._NAME_ORDER)[:25]
                for column in selectors._NAME_COLUMNS
            ]
        for label, query in (("count", patients.order_by()[:51]), *(("page", page) for page in pages)):
            plan = query.explain(analyze=True) if connection.vendor == "postgresql" else query.explain()
            print(f"--- {text!r}: {label}\n{plan}")

    if args.requests < 2:
        return
    rows = []
    for label, call in (("search", search), ("query", query_only)):
        timings: dict[str, list[float]] = {kind: [] for kind in queries}
        for text in queries.values():  # warm up
            call(text)
        for _ in range(args.requests):
            for kind, text in queries.items():
                begin = time.perf_counter()
                call(text)
                timings[kind].append(time.perf_counter() - begin)
        for kind, values in timings.items():
            rows.append((label, kind, statistics.median(values) * 1000, percentile(values, 95) * 1000))
    print(f"{'what':<7} {'kind':<16} {'p50 ms':>8} {'p95 ms':>8}")
    for label, kind, p50, p95 in rows:
        print(f"{label:<7} {kind:<16} {p50:8.2f} {p95:8.2f}")


if __name__ == "__main__":
    main()

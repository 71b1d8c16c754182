"""Bytes per row of the big tables on PostgreSQL, for docs/sizing.md (issue 15, item 4).

    KAPCLINIC_DEBUG=true scripts/with-postgres sh -c 'DATABASE_URL=$DATABASE_OWNER_URL .venv/bin/python \
        manage.py migrate -v0 && .venv/bin/python manage.py db_grants && \
        .venv/bin/python manage.py demo_load --quiet && .venv/bin/python bench/sizes.py --rows 100000'

On the throwaway server, migrated as the owner with the demo clinic loaded: copy each big table's demo rows
(their real widths: hashes, JSON details, names) until it holds about `--rows` rows, VACUUM ANALYZE, and print
heap, index and total bytes per row from pg_relation_size, pg_indexes_size and pg_total_relation_size (summed
over the partitions of a partitioned table: pg_partition_tree). The copies skip the chain and the id's
meaning; only their size matters here.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# The tables of the sizing page, with the columns a copy may not repeat as they are (unique ones).
TABLES: dict[str, dict[str, str]] = {
    "audit_accessevent": {},
    "dosing_vitalsign": {},
    "inventory_ledgerentry": {"counterpart_id": "NULL"},
    # Unique columns get values of the same width: n is the copy's number (generate_series).
    "dosing_dosingsession": {"number": "number + 10 * n", "booking_id": "NULL"},
    "patients_patient": {"mrn": "'Z' || lpad((n * 1000000 + id)::text, 10, '0')", "user_id": "NULL"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kapclinic.settings")
    import django

    django.setup()
    from django.db import connections, transaction

    owner = connections["owner"]
    print("| table | rows | heap B/row | index B/row | total B/row | demo rows copied |")
    print("|---|---:|---:|---:|---:|---|")
    for table, replaced in TABLES.items():
        with owner.cursor() as cursor:
            cursor.execute(
                "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'id'",
                [table],
            )
            columns = str(cursor.fetchone()[0]).split(", ")
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - names from this file
            demo = int(cursor.fetchone()[0])
        copied = "no (unique columns)"
        if demo and demo < args.rows:
            select = ", ".join(replaced.get(c, c) for c in columns)
            times = args.rows // demo
            try:
                with transaction.atomic(using="owner"), owner.cursor() as cursor:
                    cursor.execute(
                        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - names from this file
                        f"SELECT {select} FROM {table}, generate_series(1, %s) AS copies(n)",
                        [times],
                    )
                copied = f"yes, {demo} x {times + 1}"
            except Exception as exc:  # a unique column: measure the demo's rows alone
                copied = f"no ({type(exc).__name__})"
                print(f"{table}: not copied: {str(exc).splitlines()[0]}", file=sys.stderr)
        with owner.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute(
                "SELECT sum(pg_relation_size(relid)), sum(pg_indexes_size(relid)), "
                "sum(pg_total_relation_size(relid)) FROM "
                "(SELECT relid FROM pg_partition_tree(%s::regclass) UNION SELECT %s::regclass) AS parts",
                [table, table],
            )
            heap, index, total = (int(v or 0) for v in cursor.fetchone())
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - names from this file
            rows = int(cursor.fetchone()[0])
        per = [f"{n / rows:.0f}" if rows else "-" for n in (heap, index, total)]
        print(f"| `{table}` | {rows} | {' | '.join(per)} | {copied} |")
    with owner.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        print(f"database: {cursor.fetchone()[0]} bytes")


if __name__ == "__main__":
    main()

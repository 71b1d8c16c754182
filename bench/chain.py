"""The cost of the audit log's hash chain (issue 12, fault 3): writes with and without it, and a full verify.

    KAPCLINIC_DEBUG=true .venv/bin/python bench/chain.py [--events 10000] [--verify-rows 1000000]

On fresh SQLite files in a temporary folder, migrated from scratch:
1. `--events` audit events written one by one, each in its own transaction as a request writes it,
   through access_event_record (chained) and through a plain INSERT of the same row (the old path,
   no chain); the two take turns in blocks of 500 so a drift falls on both alike.
2. The same number of events written 25 at a time (a patient list page) through
   access_events_record_many, chained, and through one plain bulk INSERT.
3. The table brought to `--verify-rows` chained rows, then `verify_audit --chain audit` timed, with
   the process's peak memory before and after (the verification streams; memory must not grow with rows).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import django_setup  # noqa: E402

BLOCK = 500
PAGE = 25


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(events: int, verify_rows: int) -> dict[str, Any]:
    django_setup()
    from django.core.management import call_command
    from django.db import transaction

    from kapclinic.accounts.models import User
    from kapclinic.audit.chain import chain_append, chain_check
    from kapclinic.audit.context import AuditContext
    from kapclinic.audit.models import AccessEvent, Channel
    from kapclinic.audit.services import _event, access_event_record, access_events_record_many
    from kapclinic.roles import Role

    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench-chain", defaults={"role": Role.COORDINATOR})
    ctx = AuditContext(user=user, channel=Channel.PAGE, client_address="127.0.0.1", method="GET", path="/patients/")

    def chained_one() -> None:
        access_event_record(ctx=ctx, action="patient.view", detail={"bench": True})

    def plain_one() -> None:
        with transaction.atomic():
            _event(ctx, "patient.view", None, "allowed", {"bench": True}, None).save(force_insert=True)

    def chained_page() -> None:
        access_events_record_many(ctx=ctx, action="patient.list", patient_ids=[None] * PAGE)  # type: ignore[list-item]

    def plain_page() -> None:
        with transaction.atomic():
            AccessEvent.objects.bulk_create(
                [_event(ctx, "patient.list", None, "allowed", None, None) for _ in range(PAGE)]
            )

    def turns(chained: Any, plain: Any, calls: int) -> tuple[float, float]:
        spent = {"chained": 0.0, "plain": 0.0}
        done = 0
        while done < calls:
            block = min(BLOCK, calls - done)
            for name, call in (("chained", chained), ("plain", plain)):
                begin = time.perf_counter()
                for _ in range(block):
                    call()
                spent[name] += time.perf_counter() - begin
            done += block
        return spent["chained"], spent["plain"]

    one_chained, one_plain = turns(chained_one, plain_one, events)
    page_chained, page_plain = turns(chained_page, plain_page, events // PAGE)
    # The plain rows above carry no hashes and would break the chain: the long chain gets a database of its own.
    from django.db import connection

    if connection.vendor == "sqlite":  # main() allows nothing else: plain rows would stay in a shared table
        connection.close()
        connection.settings_dict["NAME"] = str(Path(connection.settings_dict["NAME"]).with_name("verify.sqlite3"))
        call_command("migrate", verbosity=0)
        user, _ = User.objects.get_or_create(username="bench-chain", defaults={"role": Role.COORDINATOR})
        ctx = AuditContext(user=user, channel=Channel.PAGE, client_address="127.0.0.1", method="GET", path="/p/")
    begin = time.perf_counter()
    have = AccessEvent.objects.count()
    while have < verify_rows:
        batch = min(20_000, verify_rows - have)
        rows = [_event(ctx, "patient.view", None, "allowed", {"n": have + n}, None) for n in range(batch)]
        chain_append(rows, batch_size=5000)
        have += batch
    load_seconds = time.perf_counter() - begin
    before = _peak_mib()
    begin = time.perf_counter()
    report = chain_check("audit")
    verify_seconds = time.perf_counter() - begin
    return {
        "database": "sqlite (temporary files)",
        "events": events,
        "one_by_one_ms_per_event": {
            "chained": round(one_chained / events * 1000, 3),
            "plain": round(one_plain / events * 1000, 3),
        },
        "one_by_one_ratio": round(one_chained / one_plain, 2),
        "pages_of_25_ms_per_page": {
            "chained": round(page_chained / (events // PAGE) * 1000, 3),
            "plain": round(page_plain / (events // PAGE) * 1000, 3),
        },
        "pages_ratio": round(page_chained / page_plain, 2),
        "verify_rows": report.rows,
        "verify_first_break": str(report.first_break) if report.first_break else None,
        "verify_seconds": round(verify_seconds, 1),
        "verify_rows_per_second": round(report.rows / verify_seconds),
        "peak_memory_mib_before_verify": round(before, 1),
        "peak_memory_mib_after_verify": round(_peak_mib(), 1),
        "load_seconds": round(load_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--verify-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="kapclinic-chain-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    try:
        result = measure(args.events, args.verify_rows)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()

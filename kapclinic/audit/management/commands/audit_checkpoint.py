"""Sign a checkpoint of the audit log's and the ledger's hash chains (run from cron; docs/operations.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from kapclinic.audit.chain import CHAINS, checkpoint_take


class Command(BaseCommand):
    help = (
        "Store a signed checkpoint (last row, its hash, the row count) of each hash chain and print it; "
        "keep the printed lines somewhere the database's users cannot write."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--chain", choices=[*CHAINS, "all"], default="all", help="Which chain (default: all).")
        parser.add_argument("--database", default="default", help="Database alias (default: default).")

    def handle(self, *args: Any, **options: Any) -> None:
        names = list(CHAINS) if options["chain"] == "all" else [options["chain"]]
        for name in names:
            self.stdout.write(checkpoint_take(name, using=options["database"]).line())

"""Check the audit log's and the ledger's hash chains, checkpoints and append-only triggers (docs/operations.md).

Exit status 0 with one summary line per chain when all is intact; 1 with the first broken link
otherwise (row id and what is wrong), so cron or a monitor can alert on it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from kapclinic.audit.chain import CHAINS, chain_check, chain_table
from kapclinic.dbtriggers import (
    APPEND_ONLY_TABLES,
    FROZEN_ONCE_SIGNED_TABLES,
    REFERENCES_CHECKED,
    frozen_triggers_present,
    reference_check_present,
    triggers_present,
)
from kapclinic.hashchain import Checkpoint, checkpoint_parse


class Command(BaseCommand):
    help = (
        "Recompute every row hash of the audit log and the ledger, check every link and checkpoint, and check "
        "that the append-only triggers are in place; report the first broken link and exit 1 on any."
    )
    chain_default = "all"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--chain", choices=[*CHAINS, "all"], default=self.chain_default, help="Which chain (default: %(default)s)."
        )
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="LINE",
            help="A checkpoint line kept off the database (as audit_checkpoint printed it); may repeat.",
        )
        parser.add_argument(
            "--checkpoint-file", type=Path, help="A file of checkpoint lines kept off the database, one a line."
        )
        parser.add_argument("--database", default="default", help="Database alias (default: default).")

    def handle(self, *args: Any, **options: Any) -> None:
        kept = self._kept(options["checkpoint"], options["checkpoint_file"])
        using = options["database"]
        names = list(CHAINS) if options["chain"] == "all" else [options["chain"]]
        broken = False
        for name in names:
            started = time.perf_counter()
            report = chain_check(name, using=using, extra=[c for c in kept if c.chain == name])
            seconds = time.perf_counter() - started
            if report.first_break is not None:
                broken = True
                self.stdout.write(f"{name}: BROKEN at {report.first_break} ({report.rows:,} rows intact before it)")
            else:
                self.stdout.write(
                    f"{name}: intact, {report.rows:,} rows up to row {report.last_id}, "
                    f"{report.checkpoints} checkpoint(s) hold, last hash {report.last_hash[:16]}, {seconds:.1f} s"
                )
        missing = self._triggers_missing(using, [chain_table(n) for n in names])
        if missing:
            broken = True
            self.stdout.write(f"triggers: BROKEN: append-only triggers missing or disabled on {', '.join(missing)}")
        else:
            self.stdout.write("triggers: every append-only table has its triggers, enabled")
        if broken:
            sys.exit(1)

    @staticmethod
    def _kept(lines: list[str], path: Path | None) -> list[Checkpoint]:
        if path is not None:
            try:
                lines = [*lines, *(line for line in path.read_text().splitlines() if line.strip())]
            except OSError as exc:
                raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        try:
            return [checkpoint_parse(line) for line in lines]
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    @staticmethod
    def _triggers_missing(using: str, chained: list[str]) -> list[str]:
        connection = connections[using]
        # The chained tables first, then every other append-only table (a dropped trigger anywhere is news).
        tables = [*chained, *(t for t in APPEND_ONLY_TABLES if t not in chained)]
        missing = [t for t in tables if not triggers_present(connection, t)]
        missing += [t for t in FROZEN_ONCE_SIGNED_TABLES if not frozen_triggers_present(connection, t)]
        # A foreign key kept by trigger (a vital's id): named table.column.
        return missing + [
            f"{table}.{column}"
            for table, column, _target in REFERENCES_CHECKED
            if not reference_check_present(connection, table, column)
        ]

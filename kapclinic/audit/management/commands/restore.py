"""`manage.py restore FILE`: restore a backup into an empty database, then check it (docs/backups.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from kapclinic.audit.backup import BackupError, restore_from


class Command(BaseCommand):
    help = (
        "Restore a file written by `manage.py backup` into the configured database, which must be empty (no "
        "tables): it never overwrites a clinic. Then compare the row counts with the manifest, verify the audit "
        "and ledger chains and the append-only triggers, and check every signature. Exit status 1 on any problem."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path, help="The backup file (from manage.py backup).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = restore_from(options["file"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(f"Database error: {' '.join(str(exc).split())}") from None
        for line in report.lines:
            self.stdout.write(line)
        if report.problems:
            for problem in report.problems:
                self.stdout.write(f"PROBLEM: {problem}")
            sys.exit(1)
        self.stdout.write("Restore checked: intact.")

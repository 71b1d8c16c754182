"""`manage.py backup FILE`: copy the database to one file, with a manifest beside it (docs/backups.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from kapclinic.audit.backup import BackupError, backup_take, manifest_path


class Command(BaseCommand):
    help = (
        "Back up the database to FILE (SQLite: the online backup API; PostgreSQL: pg_dump --format=custom as "
        "the owner role), check the copy is readable, and write FILE.manifest.json (row counts, migrations, "
        "SHA-256). The file holds patient data: keep it encrypted."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path, help="The backup file to write (it must not exist yet).")
        parser.add_argument("--force", action="store_true", help="Overwrite FILE and its manifest if they exist.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_take(options["file"], force=options["force"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(f"The database cannot be read: {' '.join(str(exc).split())}") from None
        m = result.manifest
        rows = sum(m["tables"].values())
        self.stdout.write(
            f"Backed up {m['engine']} database {m['database']} to {result.path} ({m['bytes']:,} bytes): "
            f"{rows:,} rows in {len(m['tables'])} tables, {m['migrations_applied']} migrations applied."
        )
        self.stdout.write(f"Checked: {m['verified']}. SHA-256 {m['sha256']}.")
        self.stdout.write(f"Manifest: {manifest_path(result.path)}")

"""Create the coming months' partitions of the audit log and the vitals (PostgreSQL; docs/deploy.md, "Partitions").

Run by kapclinic-partitions.timer (monthly) as the owner. A month with no partition of its own fills the
DEFAULT partition, and PostgreSQL then refuses to create that month's partition: keep months ahead.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.utils import timezone

from kapclinic.dbpartitions import (
    PARTITIONED,
    default_partition_name,
    is_partitioned,
    month_after,
    month_partitions_create,
    month_start,
)


class Command(BaseCommand):
    help = "Create the month partitions of the audit log and the vitals up to --months ahead. Safe to run again."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--months", type=int, default=3, help="How many months after this one (default 3).")
        parser.add_argument(
            "--database",
            default="",
            help="Alias of the owner's connection (default: 'owner' if DATABASE_OWNER_URL is set, else 'default').",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"] or ("owner" if "owner" in settings.DATABASES else "default")
        if alias not in settings.DATABASES:
            raise CommandError(f"No database alias {alias!r}: set DATABASE_OWNER_URL or pass --database.")
        months = options["months"]
        if months < 1:
            raise CommandError("--months must be at least 1.")
        connection = connections[alias]
        if connection.vendor != "postgresql":
            self.stdout.write("Nothing to do: partitions exist on PostgreSQL only.")
            return
        first = month_start(timezone.now().date())
        last = first
        for _ in range(months):
            last = month_after(last)
        for table in PARTITIONED:
            if not is_partitioned(connection, table):
                raise CommandError(f"{table} is not partitioned: run the migrations first.")
            with transaction.atomic(using=alias):
                created = month_partitions_create(connection, table, first, last)
            self.stdout.write(f"{table}: {', '.join(created) if created else 'every month already has its partition'}.")
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT count(*) FROM "{default_partition_name(table)}"')  # noqa: S608 - a name from code
                stray = cursor.fetchone()[0]
            if stray:
                self.stderr.write(f"{table}: {stray} rows in the DEFAULT partition (a month without its own).")

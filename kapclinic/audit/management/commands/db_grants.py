"""(Re)apply the application role's least-privilege grants after migrations (PostgreSQL; docs/operations.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction

from kapclinic.dbroles import RoleError, grants_apply


class Command(BaseCommand):
    help = (
        "As the tables' owner, revoke everything from the application role and grant exactly what it needs: "
        "SELECT and INSERT on append-only tables, no TRUNCATE, no ownership. Safe to run again."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--role", default="", help="The application's role (default: KAPCLINIC_DB_APP_ROLE, the DATABASE_URL user)."
        )
        parser.add_argument(
            "--database",
            default="",
            help="Alias of the owner's connection (default: 'owner' if DATABASE_OWNER_URL is set, else 'default').",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"] or ("owner" if "owner" in settings.DATABASES else "default")
        role = options["role"] or getattr(settings, "KAPCLINIC_DB_APP_ROLE", "")
        if alias not in settings.DATABASES:
            raise CommandError(f"No database alias {alias!r}: set DATABASE_OWNER_URL or pass --database.")
        if not role:
            raise CommandError("Name the application's role: --role or KAPCLINIC_DB_APP_ROLE.")
        try:
            with transaction.atomic(using=alias):
                statements = grants_apply(connections[alias], role)
        except RoleError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Grants for {role} applied ({len(statements)} statements).")

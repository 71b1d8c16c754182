"""Append-only tables, enforced by the database itself (not only by Python).

`append_only("app_model")` is a migration operation that creates triggers refusing
UPDATE and DELETE on that table, written for SQLite and PostgreSQL. Signed notes,
administered doses, vitals, ledger entries and audit events use it.

On SQLite, Django alters a table by rebuilding it, which drops its triggers: a migration
that alters an append-only table must end with `append_only(table)` again (it replaces
any trigger already there). `tests/test_append_only.py` checks every table in
APPEND_ONLY_TABLES on both backends, so a forgotten one fails the suite.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION kapclinic_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


APPEND_ONLY_TABLES = (
    "audit_accessevent",
    "inventory_ledgerentry",
    "inventory_inventorycount",
    "inventory_countline",
    "measures_questionnaireresponse",
    "measures_responseitem",
    "intake_eligibilitydecision",
    "consent_consentversion",
    "consent_consentsignature",
    "consent_consentwitness",
    "consent_consentwithdrawal",
    "dosing_sessiontransition",
    "therapy_noteaddendum",
    "therapy_notecosignature",
    "therapy_noteshare",
    "therapy_goalprogress",
)


def _create_sql(vendor: str, table: str) -> list[str]:
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END;",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END;",
        ]
    if vendor == "postgresql":
        return [
            _PG_FUNCTION,
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION kapclinic_refuse_change();",
        ]
    raise NotImplementedError(f"No append-only trigger for the {vendor} backend")


def _drop_sql(vendor: str, table: str) -> list[str]:
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_update;", f"DROP TRIGGER IF EXISTS {table}_no_delete;"]
    return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"]


def triggers_present(connection: BaseDatabaseWrapper, table: str) -> bool:
    """Return whether `table` still has its append-only triggers in this database."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s AND name IN (%s, %s)",
                [table, f"{table}_no_update", f"{table}_no_delete"],
            )
            return bool(cursor.fetchone()[0] == 2)
        cursor.execute(
            "SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
            [table, f"{table}_append_only"],
        )
        return bool(cursor.fetchone()[0] == 1)


FROZEN_ONCE_SIGNED_TABLES = ("plans_treatmentplan", "dosing_dosingsession", "therapy_therapynote")


def _frozen_create_sql(vendor: str, table: str) -> list[str]:
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {table}_signed_frozen BEFORE UPDATE ON {table} WHEN OLD.signed_at IS NOT NULL "
            f"BEGIN SELECT RAISE(ABORT, '{table} row is signed: UPDATE refused'); END;",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END;",
        ]
    if vendor == "postgresql":
        return [
            _PG_FUNCTION,
            f"CREATE TRIGGER {table}_signed_frozen BEFORE UPDATE ON {table} FOR EACH ROW "
            "WHEN (OLD.signed_at IS NOT NULL) EXECUTE FUNCTION kapclinic_refuse_change();",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION kapclinic_refuse_change();",
        ]
    raise NotImplementedError(f"No signed-row trigger for the {vendor} backend")


def _frozen_drop_sql(vendor: str, table: str) -> list[str]:
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_signed_frozen;", f"DROP TRIGGER IF EXISTS {table}_no_delete;"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_signed_frozen ON {table};",
        f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table};",
    ]


def frozen_triggers_present(connection: BaseDatabaseWrapper, table: str) -> bool:
    """Return whether `table` still refuses updates of signed rows and all deletes."""
    names = [f"{table}_signed_frozen", f"{table}_no_delete"]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s AND name IN (%s, %s)",
                [table, *names],
            )
        else:
            cursor.execute(
                "SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname IN (%s, %s)",
                [table, *names],
            )
        return bool(cursor.fetchone()[0] == 2)


def frozen_once_signed(table: str) -> migrations.RunPython:
    """Return a migration operation: rows of `table` (which has `signed_at`) never change once signed, never go.

    Drafts stay editable; the signature is the line after which only addenda or new versions may follow.
    """

    def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        vendor = schema_editor.connection.vendor
        for statement in [*_frozen_drop_sql(vendor, table), *_frozen_create_sql(vendor, table)]:
            schema_editor.execute(statement, params=None)

    def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for statement in _frozen_drop_sql(schema_editor.connection.vendor, table):
            schema_editor.execute(statement, params=None)

    return migrations.RunPython(forwards, backwards, elidable=False)


def append_only(table: str) -> migrations.RunPython:
    """Return a migration operation that makes `table` refuse UPDATE and DELETE."""

    def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        vendor = schema_editor.connection.vendor
        for statement in [*_drop_sql(vendor, table), *_create_sql(vendor, table)]:
            schema_editor.execute(statement, params=None)

    def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for statement in _drop_sql(schema_editor.connection.vendor, table):
            schema_editor.execute(statement, params=None)

    return migrations.RunPython(forwards, backwards, elidable=False)

"""Append-only tables, enforced by the database itself (not only by Python).

`append_only("app_model")` is a migration operation that creates triggers refusing
UPDATE and DELETE on that table, written for SQLite and PostgreSQL, and on PostgreSQL a
statement trigger refusing TRUNCATE (which fires no row trigger). Signed notes,
administered doses, vitals, ledger entries and audit events use it.

Triggers stop the application's own statements; they do not stop the table's owner, who may
drop or disable them. Hence the least-privilege role the application runs as (it owns nothing:
`manage.py db_grants`), and the hash chain that `manage.py verify_audit` checks
(kapclinic/hashchain.py), which also reports a trigger that is missing or disabled.

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
    "audit_chaincheckpoint",
    "inventory_ledgerentry",
    "inventory_inventorycount",
    "inventory_countline",
    "inventory_lossreport",
    "measures_questionnaireresponse",
    "measures_responseitem",
    "fhir_referralimport",
    "fhir_referralchoice",
    "intake_eligibilitydecision",
    "consent_consentversion",
    "consent_consentsignature",
    "consent_consentwitness",
    "consent_consentwithdrawal",
    "dosing_sessiontransition",
    "dosing_vitalsign",  # REFERENCES_CHECKED relies on it
    "therapy_noteaddendum",
    "therapy_notecosignature",
    "therapy_noteshare",
    "therapy_goalprogress",
    "messaging_message",
    "messaging_messageread",
    "messaging_messagesafetyflag",
    "reminders_remindersent",
    "reminders_bookingreply",
    "billing_chargeline",
    "billing_chargereview",
    "billing_moneyentry",
    "billing_packagepurchase",
    "billing_priorauthorisation",
    "billing_authorisationgoon",
    "billing_claimevent",  # a claim's state changes (issue 18 item 5)
    "billing_remittance",
    "outcomes_promptaction",
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
            _pg_truncate_sql(table),
        ]
    raise NotImplementedError(f"No append-only trigger for the {vendor} backend")


def _pg_truncate_sql(table: str) -> str:
    # TRUNCATE fires no row trigger (PostgreSQL docs, CREATE TRIGGER): it needs its own statement trigger.
    return (
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION kapclinic_refuse_change();"
    )


def append_only_sql(table: str) -> list[str]:
    """PostgreSQL: the statements that (re)make `table` append-only (kapclinic/dbpartitions.py)."""
    return [*_drop_sql("postgresql", table), *_create_sql("postgresql", table)]


def truncate_refused_sql(table: str) -> list[str]:
    """PostgreSQL: the statements that make `table` refuse TRUNCATE (a partition: statement triggers are not
    cloned onto partitions, PostgreSQL docs, CREATE TRIGGER)."""
    return [_PG_FUNCTION, f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};", _pg_truncate_sql(table)]


def _drop_sql(vendor: str, table: str) -> list[str]:
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_update;", f"DROP TRIGGER IF EXISTS {table}_no_delete;"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
    ]


def _present(connection: BaseDatabaseWrapper, table: str, sqlite_names: list[str], pg_names: list[str]) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            marks = ", ".join(["%s"] * len(sqlite_names))
            cursor.execute(
                f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s AND name IN ({marks})",  # noqa: S608 - placeholders only
                [table, *sqlite_names],
            )
            return bool(cursor.fetchone()[0] == len(sqlite_names))
        # A disabled trigger (ALTER TABLE ... DISABLE TRIGGER: tgenabled 'D') or one that fires only for
        # replicas ('R') is as good as gone; 'O' fires in normal sessions, 'A' always.
        marks = ", ".join(["%s"] * len(pg_names))
        sql = f"SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgname IN ({marks}) "  # noqa: S608
        cursor.execute(sql + "AND tgenabled IN ('O', 'A')", [table, *pg_names])
        return bool(cursor.fetchone()[0] == len(pg_names))


def triggers_present(connection: BaseDatabaseWrapper, table: str) -> bool:
    """Return whether `table` still has its append-only triggers, enabled, in this database."""
    return _present(
        connection,
        table,
        [f"{table}_no_update", f"{table}_no_delete"],
        [f"{table}_append_only", f"{table}_no_truncate"],
    )


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
            _pg_truncate_sql(table),
        ]
    raise NotImplementedError(f"No signed-row trigger for the {vendor} backend")


def _frozen_drop_sql(vendor: str, table: str) -> list[str]:
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_signed_frozen;", f"DROP TRIGGER IF EXISTS {table}_no_delete;"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_signed_frozen ON {table};",
        f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table};",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
    ]


def frozen_triggers_present(connection: BaseDatabaseWrapper, table: str) -> bool:
    """Return whether `table` still refuses updates of signed rows and all deletes (TRUNCATE too)."""
    names = [f"{table}_signed_frozen", f"{table}_no_delete"]
    return _present(connection, table, names, [*names, f"{table}_no_truncate"])


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


def append_only_restore(connection: BaseDatabaseWrapper, table: str) -> None:
    """Put back `table`'s append-only triggers (as its owner), after a break was investigated.

    docs/operations.md: verify_audit reports missing or disabled triggers; this re-creates them enabled.
    """
    with connection.cursor() as cursor:
        for statement in [*_drop_sql(connection.vendor, table), *_create_sql(connection.vendor, table)]:
            cursor.execute(statement)


def append_only_lifted(table: str) -> migrations.RunPython:
    """Return a migration operation that drops `table`'s append-only triggers, for a backfill of a new column.

    The same migration must end with `append_only(table)`; reversed, this operation puts the triggers back.
    """

    def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for statement in _drop_sql(schema_editor.connection.vendor, table):
            schema_editor.execute(statement, params=None)

    def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        vendor = schema_editor.connection.vendor
        for statement in [*_drop_sql(vendor, table), *_create_sql(vendor, table)]:
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


def truncate_refused(tables: tuple[str, ...]) -> migrations.RunPython:
    """Return a migration operation adding the TRUNCATE trigger to tables made append-only before it existed."""

    def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return  # SQLite has no TRUNCATE; its DELETE trigger already covers DELETE without WHERE
        schema_editor.execute(_PG_FUNCTION, params=None)
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};", params=None)
            schema_editor.execute(_pg_truncate_sql(table), params=None)

    def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for table in tables:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};", params=None)

    return migrations.RunPython(forwards, backwards, elidable=False)


# Foreign keys kept by trigger: (table, column, referenced table). PostgreSQL cannot point a foreign key at a
# partitioned table through `id` alone (the partition key must be in the referenced unique key; Django has no
# composite foreign keys), so these Django foreign keys have db_constraint=False and a trigger refuses an id
# with no row (kapclinic/dbpartitions.py). Checking when the referencing row is written is enough because the
# referenced table is append-only: its rows are never deleted, nor their id changed (UPDATE and DELETE refused
# by row trigger, TRUNCATE by statement trigger on the table and on every partition, DETACH and DROP need
# the owner), so an id that exists once exists for good.
REFERENCES_CHECKED = (
    ("dosing_clearance", "vital_id", "dosing_vitalsign"),
    ("dosing_monitoringalert", "vital_id", "dosing_vitalsign"),
    ("dosing_vitalsign", "corrects_id", "dosing_vitalsign"),
)

_PG_REFERENCE_FUNCTION = """
CREATE OR REPLACE FUNCTION kapclinic_refuse_missing_reference() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint := (to_jsonb(NEW) ->> TG_ARGV[0])::bigint;
    found boolean;
BEGIN
    IF wanted IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE id = $1)', TG_ARGV[1]) USING wanted INTO found;
    IF NOT found THEN
        RAISE EXCEPTION '%.% = %: no % row has that id', TG_TABLE_NAME, TG_ARGV[0], wanted, TG_ARGV[1]
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
"""


def _reference_names(table: str, column: str) -> list[str]:
    return [f"{table}_{column}_exists", f"{table}_{column}_exists_on_update"]


def _reference_create_sql(vendor: str, table: str, column: str, target: str) -> list[str]:
    on_insert, on_update = _reference_names(table, column)
    if vendor == "sqlite":
        when = f"WHEN NEW.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {target} WHERE id = NEW.{column}) "  # noqa: S608 - names from code
        refuse = f"BEGIN SELECT RAISE(ABORT, '{table}.{column}: no {target} row has that id'); END;"
        return [
            f"CREATE TRIGGER {on_insert} BEFORE INSERT ON {table} {when}{refuse}",
            f"CREATE TRIGGER {on_update} BEFORE UPDATE OF {column} ON {table} {when}{refuse}",
        ]
    if vendor == "postgresql":
        # A constraint trigger deferred to commit, as Django's foreign keys are (DEFERRABLE INITIALLY DEFERRED):
        # SET CONSTRAINTS ALL IMMEDIATE checks it too. One trigger for INSERT and UPDATE of the column.
        return [
            _PG_REFERENCE_FUNCTION,
            f"CREATE CONSTRAINT TRIGGER {on_insert} AFTER INSERT OR UPDATE OF {column} ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"EXECUTE FUNCTION kapclinic_refuse_missing_reference('{column}', '{target}');",
        ]
    raise NotImplementedError(f"No reference trigger for the {vendor} backend")


def _reference_drop_sql(vendor: str, table: str, column: str) -> list[str]:
    on = "" if vendor == "sqlite" else f" ON {table}"
    return [f"DROP TRIGGER IF EXISTS {name}{on};" for name in _reference_names(table, column)]


def reference_check_present(connection: BaseDatabaseWrapper, table: str, column: str) -> bool:
    """Return whether `table.column` still has its trigger refusing an id with no row, enabled."""
    names = _reference_names(table, column)
    return _present(connection, table, names, names[:1])


def reference_checked(table: str, column: str, target: str) -> migrations.RunPython:
    """Return a migration operation: `table.column` must hold an id of a `target` row (or NULL), by trigger.

    For a foreign key with db_constraint=False to an append-only table (REFERENCES_CHECKED). On SQLite the
    trigger names `target` in its body: a later migration that rebuilds `target` on SQLite (an AlterField
    there rebuilds the table, and the rename at its end fails on a trigger naming a table that is gone) must
    lift this check first (`reference_check_lifted`) and end with `reference_checked` again.
    """

    def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        vendor = schema_editor.connection.vendor
        for statement in [
            *_reference_drop_sql(vendor, table, column),
            *_reference_create_sql(vendor, table, column, target),
        ]:
            schema_editor.execute(statement, params=None)

    def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for statement in _reference_drop_sql(schema_editor.connection.vendor, table, column):
            schema_editor.execute(statement, params=None)

    return migrations.RunPython(forwards, backwards, elidable=False)


def reference_check_lifted(table: str, column: str, target: str) -> migrations.RunPython:
    """The reverse of `reference_checked`: drops the trigger; reversed, puts it back."""
    checked = reference_checked(table, column, target)
    return migrations.RunPython(checked.reverse_code or migrations.RunPython.noop, checked.code, elidable=False)


# Course summaries kept by trigger (issue 19 item 8): a change to what `course_summaries` reads marks the patient
# in STALE_MARKS, and the cohort figures summarise the marked patients again before they read
# (kapclinic/outcomes/course_summaries.py). Per table: the columns the summaries read (an UPDATE of any other
# column leaves them true), and the mark's column with the row's value for it, `{row}` standing for NEW or OLD.
# A trigger names no table but STALE_MARKS: one naming another table would make a later rebuild of that table on
# SQLite fail (see `reference_checked`), so a dose marks its session and the refresh looks its patient up.
STALE_MARKS = "outcomes_stalecourses"
STALE_MARKING = {
    "measures_questionnaireresponse": (
        ("patient_id", "instrument", "total", "submitted_at", "corrects_id"),
        ("patient_id", "{row}.patient_id"),
    ),
    "dosing_dosingsession": (("patient_id", "plan_id", "state"), ("patient_id", "{row}.patient_id")),
    "dosing_administration": (("session_id", "started_at"), ("session_id", "{row}.session_id")),  # dose_spans
    "plans_treatmentplan": (
        ("patient_id", "signed_at", "route", "indication_code", "signed_by_id", "therapist_id", "created_at"),
        ("patient_id", "{row}.patient_id"),
    ),
}


def _stale_mark(vendor: str, column: str, value: str) -> str:
    # A mark already there (unique) is enough. On PostgreSQL a mark a refresh has claimed (locked, then deleted at
    # its commit) makes this insert wait for that commit and then mark afresh.
    if vendor == "sqlite":
        return f"INSERT OR IGNORE INTO {STALE_MARKS} ({column}, claimed) SELECT {value}, 0 WHERE {value} IS NOT NULL;"
    return (
        f"INSERT INTO {STALE_MARKS} ({column}, claimed) SELECT {value}, false WHERE {value} IS NOT NULL "
        "ON CONFLICT DO NOTHING;"
    )


def _stale_names(table: str) -> list[str]:
    return [f"{table}_stale_on_insert", f"{table}_stale_on_update", f"{table}_stale_on_delete"]


def _stale_create_sql(vendor: str, table: str) -> list[str]:
    columns, (column, value) = STALE_MARKING[table]
    new, old = value.format(row="NEW"), value.format(row="OLD")
    on_insert, on_update, on_delete = _stale_names(table)
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {on_insert} AFTER INSERT ON {table} BEGIN {_stale_mark(vendor, column, new)} END;",
            f"CREATE TRIGGER {on_update} AFTER UPDATE OF {', '.join(columns)} ON {table} "
            f"BEGIN {_stale_mark(vendor, column, old)} {_stale_mark(vendor, column, new)} END;",
            f"CREATE TRIGGER {on_delete} AFTER DELETE ON {table} BEGIN {_stale_mark(vendor, column, old)} END;",
        ]
    if vendor == "postgresql":
        function = f"{table}_stale"
        return [
            f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {_stale_mark(vendor, column, old)}
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {_stale_mark(vendor, column, new)}
    END IF;
    RETURN NULL;
END
$$;""",
            f"CREATE TRIGGER {on_insert} AFTER INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();",
            f"CREATE TRIGGER {on_update} AFTER UPDATE OF {', '.join(columns)} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}();",
            f"CREATE TRIGGER {on_delete} AFTER DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();",
        ]
    raise NotImplementedError(f"No stale-marking trigger for the {vendor} backend")


def _stale_drop_sql(vendor: str, table: str) -> list[str]:
    on = "" if vendor == "sqlite" else f" ON {table}"
    return [f"DROP TRIGGER IF EXISTS {name}{on};" for name in _stale_names(table)]


def stale_marking_present(connection: BaseDatabaseWrapper, table: str) -> bool:
    """Return whether `table` still marks its patients' course summaries stale on insert, update and delete."""
    names = _stale_names(table)
    return _present(connection, table, names, names)


def stale_marking(table: str) -> migrations.RunPython:
    """Return a migration operation: a change to `table` (one of STALE_MARKING) marks the patient's course
    summaries stale. On SQLite a migration that rebuilds `table` drops these triggers: it must end with this again.
    One that rebuilds STALE_MARKS itself (named in every one of them) must first drop them all (this operation
    reversed) and end by making them all again.
    """

    def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        vendor = schema_editor.connection.vendor
        for statement in [*_stale_drop_sql(vendor, table), *_stale_create_sql(vendor, table)]:
            schema_editor.execute(statement, params=None)

    def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        vendor = schema_editor.connection.vendor
        for statement in _stale_drop_sql(vendor, table):
            schema_editor.execute(statement, params=None)
        if vendor == "postgresql":
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_stale();", params=None)

    return migrations.RunPython(forwards, backwards, elidable=False)


def own_index_dropped(
    alter: migrations.AlterField, *, table: str, column: str, index: str
) -> migrations.SeparateDatabaseAndState:
    """A foreign key of an append-only table gives up its own index (`alter` sets db_index=False) where a composite
    index already starts with its column: the state takes `alter`, the database drops the index by its name.

    AlterField would rebuild the table on SQLite and so drop its triggers. The name is the one Django gave, the same
    on both databases; on PostgreSQL, for a partitioned table, it is the parent's index, dropped with its partitions'.
    """
    return migrations.SeparateDatabaseAndState(
        state_operations=[alter],
        database_operations=[
            migrations.RunSQL(
                f"DROP INDEX IF EXISTS {index}", reverse_sql=f"CREATE INDEX {index} ON {table} ({column})"
            )
        ],
    )

# ruff: noqa: S608 - the tampering statements are written on purpose, from table names in the code
"""The audit log's and the ledger's hash chains in the database: written right, and every tampering found.

Issue 12, fault 3. On PostgreSQL (`make test-postgres`, two roles from scripts/with-postgres) the
application role is refused every tampering statement, and each trial the owner role can still
carry out (TRUNCATE with the triggers off, the replica role, a disabled or dropped trigger, a
rewritten chain) is found by verify_audit. On SQLite, a dropped trigger followed by an UPDATE or a
DELETE is found.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from kapclinic.accounts.models import User
from kapclinic.audit.chain import AUDIT, CHAINS, LEDGER, chain_backfill, chain_rows, chain_table
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent, Channel
from kapclinic.audit.services import access_event_record, access_events_record_many
from kapclinic.dbtriggers import APPEND_ONLY_TABLES, append_only_restore
from kapclinic.hashchain import chain_links, chain_verify
from kapclinic.ledger.models import LedgerEntry, Product, StorageLocation
from kapclinic.ledger.services import Quantity
from kapclinic.roles import Role
from tests.probes.records import receive_make

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
TWO_ROLES = "owner" in settings.DATABASES
ROWS = 5


def clinic() -> AuditContext:
    """A nurse who receives ROWS lots: ROWS ledger entries and ROWS audit events (one each)."""
    nurse = User.objects.create(username="chain-nurse", role=Role.NURSE, licence_number="RN-CHAIN")
    product = Product.objects.create(
        name="Ketamine HCl injection", form="vial", mg_per_unit=Decimal("50"), unit="mL", units_per_container=10
    )
    safe = StorageLocation.objects.create(name="Safe")
    ctx = AuditContext(user=nurse, channel=Channel.SYSTEM, client_address="::ffff:10.0.0.7", path="/test/")
    for n in range(ROWS):
        receive_make(ctx, product, safe, f"CH-{n}", Quantity("1000.5", "mg"), days=90, invoice_reference=f"INV-{n}")
    return ctx


def verify(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def checkpoint() -> list[str]:
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)
    return out.getvalue().splitlines()


def ids(chain: str) -> list[int]:
    model = AccessEvent if chain == "audit" else LedgerEntry
    return list(model.objects.order_by("id").values_list("id", flat=True))


# --- both backends --------------------------------------------------------------------------------


def test_the_chained_fields_are_every_stored_field() -> None:
    # A new column must be added to the chain on purpose (old rows were hashed without it).
    for spec, model in ((AUDIT, AccessEvent), (LEDGER, LedgerEntry)):
        stored = {f.attname for f in model._meta.concrete_fields} - {"previous_hash", "row_hash"}
        assert set(spec.fields) == stored, spec.name


@pytest.mark.django_db
def test_services_write_intact_chains_that_verify() -> None:
    ctx = clinic()
    access_events_record_many(ctx=ctx, action="patient.list", patient_ids=[])  # nothing to write: no row
    code, out = verify()
    assert code == 0
    assert f"audit: intact, {ROWS:,} rows" in out and f"ledger: intact, {ROWS:,} rows" in out
    assert "every append-only table has its triggers" in out
    first, *rest = AccessEvent.objects.order_by("id")
    assert len(first.row_hash) == 64 and all(r.previous_hash != "" for r in rest)


@pytest.mark.django_db
def test_a_list_is_audited_with_one_lock_and_one_insert(django_assert_num_queries: Any, personas: Any) -> None:
    from kapclinic.patients.models import Patient

    patients = [
        Patient.objects.create(mrn=f"K9{n:07d}", given_name="A", family_name="B", birth_date="1990-01-01")
        for n in range(30)
    ]
    ctx = AuditContext(user=personas["coordinator"], channel=Channel.PAGE)
    with transaction.atomic(), django_assert_num_queries(2):  # the chain's head (and lock), one INSERT
        access_events_record_many(ctx=ctx, action="patient.list", patient_ids=[p.pk for p in patients])
    assert verify("--chain", "audit")[0] == 0


@pytest.mark.django_db
def test_many_rows_in_one_insert_read_back_as_written(personas: Any) -> None:
    # On PostgreSQL several rows go in as one JSON document (chain._insert_from_json): every kind of value must come
    # back as the row held it, or the chain would not verify.
    from kapclinic.audit.chain import chain_append
    from kapclinic.audit.services import _event
    from kapclinic.patients.models import Patient

    patient = Patient.objects.create(mrn="K90000001", given_name="Zoë", family_name="O'Brien", birth_date="1990-01-01")
    ctx = AuditContext(
        user=personas["coordinator"], channel=Channel.PAGE, client_address="2001:db8::7", method="GET", path="/p/é\\"
    )
    odd = {"query": 'a "quoted" \\ back\nslash ✓', "nested": {"n": [1, 2.5, None, True]}, "big": 2**53 + 1}
    rows = [
        _event(ctx, "patient.list", patient.pk, "allowed", odd, None),
        _event(ctx, "patient.search", None, "denied", None, None),
        _event(ctx, "patient.view", patient.pk, "allowed", {"k": ""}, None),
    ]
    rows[2].emergency, rows[2].reason = True, "Ward call — no one else on site"
    fields = [f.attname for f in AccessEvent._meta.concrete_fields]
    written = [{name: getattr(row, name) for name in fields} for row in rows]
    with transaction.atomic():
        chain_append(rows)
    stored = list(AccessEvent.objects.filter(pk__in=[row.pk for row in rows]).order_by("id").values(*fields))
    for before, after in zip(written, stored, strict=True):
        before["id"] = after["id"]
        before["previous_hash"], before["row_hash"] = after["previous_hash"], after["row_hash"]
        assert after == before
    assert verify("--chain", "audit")[0] == 0


@pytest.mark.django_db
def test_checkpoint_lines_kept_off_the_database_are_checked_too() -> None:
    clinic()
    lines = checkpoint()
    assert [line.split()[1] for line in lines] == ["chain=audit", "chain=ledger"]
    assert verify("--checkpoint", lines[0], "--checkpoint", lines[1])[0] == 0
    forged = lines[0].replace(f"rows={ROWS}", f"rows={ROWS + 1}")
    code, out = verify("--checkpoint", forged)
    assert code == 1 and "checkpoint signature invalid" in out
    with pytest.raises(CommandError, match="checkpoint line"):
        verify("--checkpoint", "not a checkpoint")


@pytest.mark.django_db
def test_the_checkpoint_key_is_not_in_the_database(settings: Any) -> None:
    clinic()
    checkpoint()
    settings.KAPCLINIC_AUDIT_KEY = "another key entirely"
    code, out = verify()
    assert code == 1 and "checkpoint signature invalid" in out


# --- SQLite: a dropped trigger, then a change --------------------------------------------------------


def _sqlite_trials() -> Iterator[Any]:
    for chain in CHAINS:
        update = "UPDATE {table} SET reason = 'edited' WHERE id = {id}"
        yield pytest.param(chain, update, "content changed", id=f"{chain}-update")
        yield pytest.param(chain, "DELETE FROM {table} WHERE id = {id}", "row missing", id=f"{chain}-delete")


@pytest.mark.skipif(ON_POSTGRESQL, reason="SQLite's trials; PostgreSQL's are below, with two roles")
@pytest.mark.django_db
@pytest.mark.parametrize(("chain", "statement", "found"), list(_sqlite_trials()))
def test_sqlite_drop_the_trigger_then_change_a_row_is_found(chain: str, statement: str, found: str) -> None:
    clinic()
    table, middle = chain_table(chain), ids(chain)[2]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {table}_no_update")
        cursor.execute(f"DROP TRIGGER {table}_no_delete")
        cursor.execute(statement.format(table=table, id=middle))
    code, out = verify("--chain", chain)
    assert code == 1
    assert f"{chain}: BROKEN at row {ids(chain)[2] if 'DELETE' in statement else middle}: {found}" in out
    assert f"triggers: BROKEN: append-only triggers missing or disabled on {table}" in out
    append_only_restore(connection, table)
    assert "triggers: every append-only table" in verify("--chain", chain)[1]


@pytest.mark.skipif(ON_POSTGRESQL, reason="SQLite: the application's own connection may drop a trigger")
@pytest.mark.django_db
def test_a_dropped_reference_trigger_is_reported() -> None:
    """A foreign key kept by trigger (kapclinic/dbtriggers.py REFERENCES_CHECKED) is checked like the others."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER dosing_clearance_vital_id_exists")
    code, out = verify("--chain", "audit")
    assert code == 1 and "missing or disabled on dosing_clearance.vital_id" in out


@pytest.mark.skipif(ON_POSTGRESQL, reason="the migration's backfill, run here without the owner's rights")
@pytest.mark.django_db
def test_the_migration_chains_rows_written_before_the_chain() -> None:
    clinic()
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER audit_accessevent_no_update")
        cursor.execute("UPDATE audit_accessevent SET previous_hash = '', row_hash = ''")
    assert verify("--chain", "audit")[0] == 1
    assert chain_backfill(AccessEvent, AUDIT, connection) == ROWS
    append_only_restore(connection, "audit_accessevent")
    assert verify("--chain", "audit")[0] == 0


# --- PostgreSQL with two roles -------------------------------------------------------------------

F = Callable[..., None]


def postgres_two_roles(test: F) -> F:
    """PostgreSQL only, committed for real, with both the application's connection and the owner's."""
    databases = ["default", "owner"] if TWO_ROLES else ["default"]
    marked: F = pytest.mark.postgres_only(pytest.mark.django_db(transaction=True, databases=databases)(test))
    return marked


def _refused_statements() -> Iterator[Any]:
    for table in ("audit_accessevent", "inventory_ledgerentry", "audit_chaincheckpoint"):
        trigger = f"{table}_append_only"
        for sql in (
            f"TRUNCATE {table} CASCADE",
            f"UPDATE {table} SET id = id",
            f"DELETE FROM {table}",
            f"ALTER TABLE {table} DISABLE TRIGGER {trigger}",
            f"ALTER TABLE {table} DISABLE TRIGGER USER",
            f"DROP TRIGGER {trigger} ON {table}",
            f"ALTER TABLE {table} DROP COLUMN id",
            f"DROP TABLE {table} CASCADE",
        ):
            yield pytest.param(sql, id=sql.split(" ON ")[0][:60])
    yield pytest.param("SET session_replication_role = replica", id="replica role")
    yield pytest.param("CREATE TABLE audit_copy (id integer)", id="create table")
    yield pytest.param("SELECT setval(pg_get_serial_sequence('audit_accessevent', 'id'), 1)", id="reset ids")


@postgres_two_roles
@pytest.mark.parametrize("statement", list(_refused_statements()))
@pytest.mark.usefixtures("_two_roles")
def test_the_application_role_cannot_tamper(statement: str) -> None:
    clinic()
    refused = pytest.raises(DatabaseError, match=r"permission denied|must be owner")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert verify()[0] == 0


@pytest.fixture
def _two_roles() -> Iterator[None]:
    assert connection.vendor == "postgresql" and TWO_ROLES, "run through scripts/with-postgres (two roles)"
    cursor = connection.cursor()
    cursor.execute("SELECT current_user")
    assert cursor.fetchone()[0] == connection.settings_dict["USER"] != connections["owner"].settings_dict["USER"]
    yield
    # Put back any trigger a trial removed, so the next test starts whole.
    owner = connections["owner"]
    for table in APPEND_ONLY_TABLES:
        append_only_restore(owner, table)


def owner_sql(*statements: str, replica: bool = False) -> None:
    """Run statements as the owner role, in one transaction (SET LOCAL: the replica role ends with it)."""
    owner = connections["owner"]
    with transaction.atomic(using="owner"), owner.cursor() as cursor:
        if replica:
            cursor.execute("SET LOCAL session_replication_role = replica")
        for statement in statements:
            cursor.execute(statement)


def rewrite_from(chain: str, row_id: int, owner: BaseDatabaseWrapper) -> None:
    """Recompute every hash from `row_id` on with plain SHA-256, as someone who read kapclinic/hashchain.py would."""
    table = chain_table(chain)
    rows = list(chain_rows(chain, using="owner"))
    start = next(i for i, r in enumerate(rows) if r.id == row_id)
    previous = rows[start - 1].row_hash if start else None
    links = chain_links(chain, previous, [r.content for r in rows[start:]])
    with transaction.atomic(using="owner"), owner.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for row, (prev, row_hash) in zip(rows[start:], links, strict=True):
            cursor.execute(
                f"UPDATE {table} SET previous_hash = %s, row_hash = %s WHERE id = %s",
                [prev, row_hash, row.id],
            )


def _truncate(chain: str, table: str, middle: int) -> str:
    with pytest.raises(DatabaseError, match="TRUNCATE refused"):
        owner_sql(f"TRUNCATE {table} CASCADE")  # even the owner is stopped by the trigger...
    owner_sql(f"TRUNCATE {table} CASCADE", replica=True)  # ...until it switches triggers off
    return "rows removed by truncation"


def _replica_update(chain: str, table: str, middle: int) -> str:
    owner_sql(f"UPDATE {table} SET reason = 'edited' WHERE id = {middle}", replica=True)
    return f"row {middle}: content changed"


def _replica_delete(chain: str, table: str, middle: int) -> str:
    owner_sql(f"DELETE FROM {table} WHERE id = {middle}", replica=True)
    return f"row {middle + 1}: row missing or chain broken"


def _disable_then_update(chain: str, table: str, middle: int) -> str:
    owner_sql(
        f"ALTER TABLE {table} DISABLE TRIGGER USER",
        f"UPDATE {table} SET reason = 'edited' WHERE id = {middle}",
        f"ALTER TABLE {table} ENABLE TRIGGER USER",
    )
    return f"row {middle}: content changed"


def _drop_then_delete(chain: str, table: str, middle: int) -> str:
    owner_sql(f"DROP TRIGGER {table}_append_only ON {table}", f"DELETE FROM {table} WHERE id = {middle}")
    return f"row {middle + 1}: row missing or chain broken"


def _rewrite_the_chain(chain: str, table: str, middle: int) -> str:
    owner_sql(f"UPDATE {table} SET reason = 'edited' WHERE id = {middle}", replica=True)
    rewrite_from(chain, middle, connections["owner"])
    # Every link holds again: only the signed checkpoint tells.
    assert chain_verify(chain, chain_rows(chain)).intact
    return "chain rewritten after checkpoint"


TRIALS: dict[str, Callable[[str, str, int], str]] = {
    "truncate": _truncate,
    "replica role then update": _replica_update,
    "replica role then delete": _replica_delete,
    "disable trigger then update": _disable_then_update,
    "drop trigger then delete": _drop_then_delete,
    "update with the chain recomputed": _rewrite_the_chain,
}


@postgres_two_roles
@pytest.mark.parametrize("chain", list(CHAINS))
@pytest.mark.parametrize("trial", list(TRIALS))
@pytest.mark.usefixtures("_two_roles")
def test_every_tampering_by_the_owner_is_found(trial: str, chain: str) -> None:
    ctx = clinic()
    checkpoint()
    access_event_record(ctx=ctx, action="after.checkpoint")  # a row after the checkpoint, as in real life
    table, middle = chain_table(chain), ids(chain)[2]
    assert verify()[0] == 0
    expected = TRIALS[trial](chain, table, middle)
    if trial == "truncate":
        access_event_record(ctx=ctx, action="after.truncate")  # the application carries on, from a new start
    code, out = verify("--chain", chain)
    assert code == 1, out
    assert f"{chain}: BROKEN at " in out and expected in out, out


@postgres_two_roles
@pytest.mark.usefixtures("_two_roles")
def test_a_rewritten_chain_with_its_checkpoints_removed_is_found_by_the_line_kept_elsewhere() -> None:
    clinic()
    kept = checkpoint()
    owner_sql("UPDATE audit_accessevent SET username = 'someone-else'", replica=True)
    rewrite_from("audit", ids("audit")[0], connections["owner"])
    owner_sql("DELETE FROM audit_chaincheckpoint", replica=True)
    assert verify("--chain", "audit")[0] == 0  # nothing in the database shows it...
    code, out = verify("--chain", "audit", "--checkpoint", kept[0])
    assert code == 1 and "chain rewritten after checkpoint" in out  # ...the line kept off it does


@postgres_two_roles
@pytest.mark.usefixtures("_two_roles")
def test_a_disabled_trigger_alone_fails_verification() -> None:
    clinic()
    owner_sql("ALTER TABLE inventory_ledgerentry DISABLE TRIGGER inventory_ledgerentry_no_truncate")
    code, out = verify()
    assert code == 1 and "missing or disabled on inventory_ledgerentry" in out


@postgres_two_roles
@pytest.mark.usefixtures("_two_roles")
def test_concurrent_writers_keep_one_chain() -> None:
    ctx = clinic()
    writers, each = 6, 15
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write() -> None:
        try:
            barrier.wait()
            for n in range(each):
                access_event_record(ctx=ctx, action=f"concurrent.{n}")
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    code, out = verify("--chain", "audit")
    assert code == 0, out
    assert f"{ROWS + writers * each:,} rows" in out


@postgres_two_roles
@pytest.mark.usefixtures("_two_roles")
def test_db_grants_gives_exactly_the_least_privileges_and_can_run_again() -> None:
    app = connection.settings_dict["USER"]
    for _ in range(2):
        out = io.StringIO()
        call_command("db_grants", stdout=out)
        assert f"Grants for {app} applied" in out.getvalue()
    with connections["owner"].cursor() as cursor:

        def may(table: str, privilege: str) -> bool:
            cursor.execute("SELECT has_table_privilege(%s, %s, %s)", [app, table, privilege])
            return bool(cursor.fetchone()[0])

        for table in ("audit_accessevent", "inventory_ledgerentry", "audit_chaincheckpoint"):
            assert may(table, "SELECT") and may(table, "INSERT")
            assert not any(may(table, p) for p in ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES"))
        assert not may("plans_treatmentplan", "DELETE") and may("plans_treatmentplan", "UPDATE")
        assert may("patients_patient", "DELETE") and not may("patients_patient", "TRUNCATE")
        assert not may("django_migrations", "INSERT")
        cursor.execute("SELECT has_column_privilege(%s, 'consent_consentsignature', 'id', 'UPDATE')", [app])
        assert cursor.fetchone()[0]  # for row locks only; the trigger refuses the UPDATE itself
        cursor.execute("SELECT count(*) FROM pg_class WHERE pg_get_userbyid(relowner) = %s", [app])
        assert cursor.fetchone()[0] == 0
    with pytest.raises(CommandError, match="login running the grants"):
        call_command("db_grants", "--role", connections["owner"].settings_dict["USER"])

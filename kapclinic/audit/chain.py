"""The hash chains of the audit log and the drug ledger in the database: the one door rows go in by, and their check.

Every AccessEvent and LedgerEntry is inserted through `chain_append`, which, under the chain's
lock, gives each new row its id (the id is part of what is hashed) and its previous_hash and
row_hash (kapclinic/hashchain.py), then inserts them in one statement. The lock: on PostgreSQL a
transaction-scoped advisory lock, taken just before the insert and released at commit, so rows
are chained in commit order; on SQLite every write transaction already holds the database's
write lock (settings: transaction_mode=IMMEDIATE).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.apps import apps as global_apps
from django.conf import settings
from django.db import models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import format_number
from django.utils import timezone

from kapclinic.hashchain import (
    ChainReport,
    ChainRow,
    Checkpoint,
    canonical,
    chain_links,
    chain_verify,
    genesis,
    utc_text,
)


@dataclass(frozen=True)
class ChainSpec:
    name: str
    model: str  # app_label.ModelName
    # Every stored field but the two hashes, fixed here: a new column must be added on purpose
    # (tests/test_hash_chain.py compares this with the model), since old rows were hashed without it.
    fields: tuple[str, ...]

    @property
    def lock_key(self) -> int:
        # A fixed 63-bit number per chain for pg_advisory_xact_lock.
        return int.from_bytes(hashlib.sha256(f"kapclinic chain {self.name}".encode()).digest()[:8], "big") >> 1


AUDIT = ChainSpec(
    "audit",
    "audit.AccessEvent",
    (
        "id",
        "occurred_at",
        "user_id",
        "username",
        "role",
        "patient_id",
        "action",
        "outcome",
        "channel",
        "method",
        "path",
        "client_address",
        "emergency",
        "reason",
        "detail",
    ),
)
LEDGER = ChainSpec(
    "ledger",
    "inventory.LedgerEntry",
    (
        "id",
        "kind",
        "lot_id",
        "location_id",
        "quantity_mg",
        "units",
        "balance_after_mg",
        "occurred_at",
        "recorded_at",
        "actor_id",
        "witness_id",
        "patient_id",
        "reason",
        "reference",
        "corrects_id",
        "count_line_id",
        "counterpart_id",
    ),
)
CHAINS = {spec.name: spec for spec in (AUDIT, LEDGER)}
_BY_TABLE = {"audit_accessevent": AUDIT, "inventory_ledgerentry": LEDGER}


def _normaliser(field: models.Field[Any, Any], *, stored: bool) -> Callable[[Any], object] | None:
    """Return how one field's value reads the same about to be written and read back (None: as it is).

    `stored`: the value was read from the database (a JSON document is already decoded).
    """
    if isinstance(field, models.DecimalField):
        digits, places = field.max_digits, field.decimal_places

        def decimal(value: Any) -> object:
            # What Django stores (the same rounding), as text: 5 and 5.000 are one value.
            return None if value is None else format_number(Decimal(value), digits, places)

        return decimal
    if isinstance(field, models.GenericIPAddressField):
        return _address
    if isinstance(field, models.JSONField):
        if stored:
            return None
        encoder = field.encoder

        def document(value: Any) -> object:
            # Through JSON and back, as the database keeps it: tuples are lists, keys are text.
            return json.loads(json.dumps(value, cls=encoder))

        return document
    if isinstance(field, models.DateTimeField):
        return _time  # here rather than in json.dumps' fallback: a third of the verify time
    if isinstance(field, (models.CharField, models.TextField)) and not stored:
        return _text
    return None


@functools.lru_cache(maxsize=4096)
def _address(value: str | None) -> str | None:
    # One text per address (PostgreSQL's inet prints IPv6 its own way); addresses repeat, hence the cache.
    try:
        return None if value in (None, "") else ipaddress.ip_address(value).compressed
    except ValueError:
        return str(value)


def _time(value: Any) -> object:
    return None if value is None else utc_text(value)


def _text(value: Any) -> object:
    return str.__str__(value) if isinstance(value, str) else value  # a StrEnum member is stored as its text


@functools.lru_cache(maxsize=32)
def _normalisers(
    model: type[models.Model], spec: ChainSpec, *, stored: bool = False
) -> tuple[tuple[str, Callable[[Any], object] | None], ...]:
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return tuple((name, _normaliser(by_attname[name], stored=stored)) for name in spec.fields)


def _content(normalisers: tuple[tuple[str, Callable[[Any], object] | None], ...], values: Sequence[Any]) -> bytes:
    return canonical(
        {name: value if norm is None else norm(value) for (name, norm), value in zip(normalisers, values, strict=False)}
    )


def _contents(
    model: type[models.Model], spec: ChainSpec, rows: Iterator[Sequence[Any]], *, stored: bool = False
) -> Iterator[bytes]:
    normalisers = _normalisers(model, spec, stored=stored)
    for values in rows:
        yield _content(normalisers, values)


# One round trip on PostgreSQL: take the chain's lock, then read the head and draw the ids in a new
# statement, whose snapshot (a VOLATILE function's statements each take a fresh one in READ COMMITTED:
# PostgreSQL docs, "Function Volatility Categories") includes the rows of whoever held the lock before.
# The two chains' statements are written out, not built with EXECUTE: PL/pgSQL keeps their plans, where an
# EXECUTE'd statement was parsed and planned on every call (0.16 ms a call against 0.07 ms, issue 15, item 3).
# Any other table still goes through EXECUTE.
PG_CHAIN_HEAD = """
CREATE OR REPLACE FUNCTION kapclinic_chain_head(lock_key bigint, chain_table regclass, wanted integer)
RETURNS TABLE (last_hash varchar, new_id bigint) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    IF chain_table = 'audit_accessevent'::regclass THEN
        RETURN QUERY SELECT (SELECT t.row_hash FROM audit_accessevent t ORDER BY t.id DESC LIMIT 1),
            nextval(pg_get_serial_sequence('audit_accessevent', 'id')) FROM generate_series(1, wanted);
    ELSIF chain_table = 'inventory_ledgerentry'::regclass THEN
        RETURN QUERY SELECT (SELECT t.row_hash FROM inventory_ledgerentry t ORDER BY t.id DESC LIMIT 1),
            nextval(pg_get_serial_sequence('inventory_ledgerentry', 'id')) FROM generate_series(1, wanted);
    ELSE
        RETURN QUERY EXECUTE format(
            'SELECT (SELECT row_hash FROM %s ORDER BY id DESC LIMIT 1), '
            'nextval(pg_get_serial_sequence(%L, ''id'')) FROM generate_series(1, $1)',
            chain_table, chain_table::text
        ) USING wanted;
    END IF;
END
$$;
"""


def _lock_and_head(
    connection: BaseDatabaseWrapper,
    spec: ChainSpec,
    table: str,
    count: int,
    read: tuple[str, Sequence[Any]] | None = None,
) -> tuple[str | None, list[int], list[tuple[Any, ...]]]:
    """Take the chain's lock; return the last row's hash (None: empty), `count` new ids in order, and the rows of
    `read`, a SELECT run in the same statement (one round trip for both)."""
    if connection.vendor == "postgresql":
        head = "SELECT last_hash, new_id FROM kapclinic_chain_head(%s, %s, %s)"
        params: list[Any] = [spec.lock_key, table, count]
    else:
        # SQLite: this transaction holds the write lock already. AUTOINCREMENT never reuses an id, so
        # start past both the last row and the sequence.
        head = (
            f"SELECT (SELECT row_hash FROM {table} ORDER BY id DESC LIMIT 1) AS last_hash, "  # noqa: S608 - names from code
            f"MAX(COALESCE((SELECT MAX(id) FROM {table}), 0), "
            "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0)) AS new_id"
        )
        params = [table]
    if read is not None:
        # Every head row joined to every row read (1 for a marker: none read is one row of NULLs). The read is
        # no part of the chain: PostgreSQL's head comes from the function's own statement, run after the lock.
        head = (
            f"SELECT head.last_hash, head.new_id, found.* FROM ({head}) AS head "  # noqa: S608 - SQL from code
            f"LEFT JOIN (SELECT 1 AS kapclinic_read, wanted.* FROM ({read[0]}) AS wanted) AS found ON 1 = 1"
        )
        params += read[1]
    with connection.cursor() as cursor:
        cursor.execute(head, params)
        found = cursor.fetchall()
    last_hash, first = found[0][0], min(row[1] for row in found)
    if connection.vendor == "postgresql":
        ids = sorted({row[1] for row in found})
    else:
        ids = list(range(first + 1, first + 1 + count))
    # Each row read once: with the first head row (the marker is NULL when the read found nothing).
    rows = [tuple(row[3:]) for row in found if row[1] == first and row[2] is not None] if read else []
    return last_hash, ids, rows


def chain_head_function(apps: object, schema_editor: Any) -> None:
    """Migration step: create (or replace) kapclinic_chain_head on PostgreSQL (nothing to do on SQLite)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_CHAIN_HEAD, params=None)


def chain_append(rows: Sequence[models.Model], *, using: str = "default", batch_size: int | None = None) -> None:
    """Insert new AccessEvent or LedgerEntry rows, chained: one lock, one query for the head, one INSERT.

    `batch_size` splits a bulk load (the demo's synthetic history) into several INSERTs under the same lock.
    """
    if not rows:
        return
    model = type(rows[0])
    table = model._meta.db_table
    spec = _BY_TABLE[table]
    _not_held(using, spec)
    # No savepoint inside a caller's transaction (one query fewer); a failed insert fails the caller's
    # transaction, as a plain save() did.
    with transaction.atomic(using=using, savepoint=False):
        connection = transaction.get_connection(using)
        last_hash, ids, _ = _lock_and_head(connection, spec, table, len(rows))
        _link_and_insert(connection, model, spec, rows, last_hash, ids, using, batch_size)


Rows = TypeVar("Rows", bound=Sequence[models.Model])


def chain_append_after(
    model: type[models.Model],
    write: Callable[[list[tuple[Any, ...]]], Rows],
    *,
    read: tuple[str, Sequence[Any]] | None = None,
    count: int = 1,
    using: str = "default",
) -> Rows:
    """Take the chain's lock first, then let `write` make the `count` rows to chain, and insert them: one
    transaction, and one round trip fewer than a read, the writes and chain_append.

    `read` is a SELECT (sql, params) run in the same statement as the lock and the chain's head; `write` is called
    with its rows, may write other tables (what the chained rows record) and returns the new rows of `model`
    (AccessEvent or LedgerEntry); an exception from it rolls everything back. It must not append to the same chain
    itself (its head is read already): that is refused. The lock is held from the start, so `write` should be short.
    """
    table = model._meta.db_table
    spec = _BY_TABLE[table]
    _not_held(using, spec)
    with transaction.atomic(using=using, savepoint=False):
        connection = transaction.get_connection(using)
        last_hash, ids, found = _lock_and_head(connection, spec, table, count, read)
        token = _held.set(_held.get() | {(using, spec.name)})
        first: list[models.Model] = []
        first_token = _first.set(first)
        try:
            rows = write(found)
        finally:
            _first.reset(first_token)
            _held.reset(token)
        if len(rows) != count or any(type(row) is not model for row in rows):
            raise ValueError(f"chain_append_after: write must return {count} new {model.__name__} rows")
        _link_and_insert(connection, model, spec, rows, last_hash, ids, using, None, first)
    return rows


def chain_insert_with(row: models.Model) -> None:
    """Inside a chain_append_after's `write`: INSERT `row`, a new row of another table with its id already set, just
    before the chained rows. On PostgreSQL in the same statement (a data-modifying WITH: one round trip fewer; foreign
    keys are checked at the statement's end, so a chained row may point at it), elsewhere in a statement of its own.

    Like save(force_insert=True) without its signals (none are connected to the models that use this): each value
    goes through its field's pre_save and get_db_prep_save. An error fails the whole transaction, as save() did.
    """
    pending = _first.get()
    if pending is None:
        raise RuntimeError("chain_insert_with is for the write of a chain_append_after.")
    if row.pk is None:
        raise ValueError("chain_insert_with: the row's id must be set (it may be hashed into the chained rows).")
    pending.append(row)


# (database alias, chain) whose head a chain_append_after has read and not yet written after, in this context
# (Django's connections are per thread, or per context under asyncio, as this is).
_held: ContextVar[frozenset[tuple[str, str]]] = ContextVar("kapclinic_chain_held", default=frozenset())
# The rows a chain_append_after's write hands to chain_insert_with (None: outside such a write).
_first: ContextVar[list[models.Model] | None] = ContextVar("kapclinic_chain_first", default=None)


def _not_held(using: str, spec: ChainSpec) -> None:
    if (using, spec.name) in _held.get():
        raise RuntimeError(f"The {spec.name} chain's head is read by a chain_append_after: append there, not here.")


def _link_and_insert(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    spec: ChainSpec,
    rows: Sequence[models.Model],
    last_hash: str | None,
    ids: list[int],
    using: str,
    batch_size: int | None,
    first: Sequence[models.Model] = (),
) -> None:
    """Give the rows their ids and hashes after `last_hash`, and insert them (after `first`: chain_insert_with)."""
    for row, new_id in zip(rows, ids, strict=True):
        row.pk = new_id
    contents = _contents(model, spec, (tuple(getattr(row, name) for name in spec.fields) for row in rows))
    for row, (previous, row_hash) in zip(rows, chain_links(spec.name, last_hash, contents), strict=True):
        row.previous_hash = previous  # type: ignore[attr-defined]
        row.row_hash = row_hash  # type: ignore[attr-defined]
    # One row too: save() would build the same INSERT through the query compiler, and ask for the id back.
    _insert_many(connection, model, rows, batch_size, first)
    for row in [*first, *rows]:
        row._state.adding, row._state.db = False, using


def _insert_many(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    rows: Sequence[models.Model],
    batch_size: int | None,
    first: Sequence[models.Model] = (),
) -> None:
    """INSERT the rows, every column given (ids and hashes are set): one multi-row statement per batch.

    What bulk_create does, without its query compiler: for a page's 25 audit rows that compiler cost ten times the
    statement itself (issue 15, item 3). `first` (rows of other tables) go in before: on PostgreSQL as WITH clauses
    of the first batch's statement, elsewhere each in its own statement.
    """
    fields = model._meta.concrete_fields
    size = max(1, min(batch_size or len(rows), connection.ops.bulk_batch_size(list(fields), list(rows))))
    before = [_insert_statement(connection, type(row), [row]) for row in first]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            for sql, params in before:
                cursor.execute(sql, params)
            before = []
        as_json = _json_columns(model) if connection.vendor == "postgresql" and len(rows) > 1 else None
        if as_json is not None:
            size = batch_size or len(rows)
        for start in range(0, len(rows), size):
            if as_json is not None:
                sql, params = _insert_from_json(connection, model, as_json, rows[start : start + size])
            else:
                sql, params = _insert_statement(connection, model, rows[start : start + size])
            if before:
                withs = ", ".join(f"kapclinic_first_{n} AS ({first_sql})" for n, (first_sql, _) in enumerate(before))
                sql, params = f"WITH {withs} {sql}", [*(p for _, first_params in before for p in first_params), *params]
                before = []
            cursor.execute(sql, params)


def _insert_statement(
    connection: BaseDatabaseWrapper, model: type[models.Model], rows: Sequence[models.Model]
) -> tuple[str, list[Any]]:
    """One INSERT of `rows`, every concrete column given; each value through its field's pre_save and
    get_db_prep_save, as bulk_create does."""
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES " + ", ".join([one] * len(rows))  # noqa: S608 - names from the model
    return sql, [f.get_db_prep_save(f.pre_save(row, True), connection) for row in rows for f in fields]


# PostgreSQL: many rows as ONE parameter, a JSON array read by json_populate_recordset, rather than one parameter
# per value. psycopg parses a statement's placeholders again whenever it has more than 50 parameters (its cache's
# limit): a page's 10 audit rows (170 values) cost 0.9 ms of parsing and 170 conversions on every page (issue 15,
# item 3), where this statement's text never changes and is parsed once. Each value is written as the text
# PostgreSQL reads for its column's type (the row's hash is computed from the row, not from this text; the chain's
# verification reads the rows back and compares).
_JSON_SAFE = (
    models.AutoField,
    models.BigAutoField,
    models.IntegerField,
    models.BigIntegerField,
    models.ForeignKey,
    models.BooleanField,
    models.CharField,
    models.TextField,
    models.DateTimeField,
    models.GenericIPAddressField,
    models.JSONField,
)


@functools.lru_cache(maxsize=8)
def _json_columns(model: type[models.Model]) -> tuple[tuple[models.Field[Any, Any], str], ...] | None:
    """(field, column) per concrete column, or None when a column's type is not one written as JSON here."""
    fields = model._meta.concrete_fields
    if any(not isinstance(f, _JSON_SAFE) or getattr(f, "auto_now", False) for f in fields):
        return None
    return tuple((f, f.column) for f in fields)


def _json_value(field: models.Field[Any, Any], value: Any) -> object:
    """One value as JSON reads it, for PostgreSQL's input function of the column (what get_db_prep_save gives)."""
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return value if field.encoder is None else json.loads(json.dumps(value, cls=field.encoder))
    if isinstance(field, models.DateTimeField):
        if timezone.is_naive(value):
            raise ValueError(f"{field.name}: a chained row's time must carry its time zone")
        return value.isoformat()
    if isinstance(field, models.GenericIPAddressField):
        return field.get_prep_value(value) or None
    if isinstance(field, models.BooleanField):
        return bool(value)
    if isinstance(field, (models.CharField, models.TextField)):
        return value if type(value) is str else str(value)
    return int(value)


def _insert_from_json(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    columns: tuple[tuple[models.Field[Any, Any], str], ...],
    rows: Sequence[models.Model],
) -> tuple[str, list[Any]]:
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(column) for _, column in columns)
    sql = f"INSERT INTO {table} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{table}, %s::json)"  # noqa: S608 - names from the model
    document = [{column: _json_value(f, f.pre_save(row, True)) for f, column in columns} for row in rows]
    return sql, [json.dumps(document, separators=(",", ":"))]


def chain_backfill(model: type[models.Model], spec: ChainSpec, connection: BaseDatabaseWrapper) -> int:
    """Chain the rows already in the table, in id order (a migration, with the append-only triggers lifted)."""
    table = model._meta.db_table
    done, last_id, last_hash = 0, 0, None
    with connection.cursor() as cursor:
        while True:
            batch = list(
                model._default_manager.using(connection.alias)
                .filter(id__gt=last_id)
                .order_by("id")
                .values_list(*spec.fields)[:2000]
            )
            if not batch:
                return done
            links = list(chain_links(spec.name, last_hash, _contents(model, spec, iter(batch), stored=True)))
            cursor.executemany(
                f"UPDATE {table} SET previous_hash = %s, row_hash = %s WHERE id = %s",  # noqa: S608
                [(previous, row_hash, values[0]) for (previous, row_hash), values in zip(links, batch, strict=True)],
            )
            done += len(batch)
            last_id, last_hash = batch[-1][0], links[-1][1]


# --- checkpoints and verification ---------------------------------------------------------------


def checkpoint_key() -> bytes:
    """Return the checkpoint signing key: KAPCLINIC_AUDIT_KEY, or one derived from SECRET_KEY with its own salt."""
    key = getattr(settings, "KAPCLINIC_AUDIT_KEY", None)
    if key:
        return key.encode() if isinstance(key, str) else bytes(key)
    return hmac.new(settings.SECRET_KEY.encode(), b"kapclinic.audit.checkpoint-key", hashlib.sha256).digest()


def _model(spec: ChainSpec) -> type[models.Model]:
    return global_apps.get_model(spec.model)


def checkpoint_take(chain: str, *, using: str = "default") -> Checkpoint:
    """Sign and store a checkpoint of the chain as it is now (under its lock, so no row is half in)."""
    from kapclinic.audit.models import ChainCheckpoint

    spec = CHAINS[chain]
    table = _model(spec)._meta.db_table
    with transaction.atomic(using=using):
        connection = transaction.get_connection(using)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [spec.lock_key])
            cursor.execute(f"SELECT id, row_hash FROM {table} ORDER BY id DESC LIMIT 1")  # noqa: S608
            last = cursor.fetchone()
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            (count,) = cursor.fetchone()
        last_id, last_hash = (last[0], last[1]) if last else (0, genesis(chain))
        checkpoint = Checkpoint(chain, last_id, last_hash, count, timezone.now()).signed(checkpoint_key())
        ChainCheckpoint.objects.using(using).create(
            chain=chain,
            last_id=checkpoint.last_id,
            last_hash=checkpoint.last_hash,
            row_count=checkpoint.row_count,
            taken_at=checkpoint.taken_at,
            signature=checkpoint.signature,
        )
    return checkpoint


def checkpoints_stored(chain: str, *, using: str = "default") -> list[Checkpoint]:
    from kapclinic.audit.models import ChainCheckpoint

    return [
        Checkpoint(chain, c.last_id, c.last_hash, c.row_count, c.taken_at, c.signature)
        for c in ChainCheckpoint.objects.using(using).filter(chain=chain).order_by("last_id", "id")
    ]


def chain_rows(chain: str, *, using: str = "default", chunk: int = 5000) -> Iterator[ChainRow]:
    """Stream the chain's rows in id order with their canonical content, in bounded memory."""
    spec = CHAINS[chain]
    model = _model(spec)
    normalisers = _normalisers(model, spec, stored=True)
    query = model._default_manager.using(using).order_by("id").values_list(*spec.fields, "previous_hash", "row_hash")
    width = len(spec.fields)
    for values in query.iterator(chunk_size=chunk):
        # zip stops at the chained fields; the two hashes follow them.
        yield ChainRow(values[0], values[width], values[width + 1], _content(normalisers, values))


def chain_check(chain: str, *, using: str = "default", extra: Sequence[Checkpoint] = ()) -> ChainReport:
    """Verify the chain against its stored checkpoints and any kept off the database (`extra`)."""
    checkpoints = [*checkpoints_stored(chain, using=using), *extra]
    return chain_verify(chain, chain_rows(chain, using=using), checkpoints, checkpoint_key())


def chain_table(chain: str) -> str:
    return _model(CHAINS[chain])._meta.db_table

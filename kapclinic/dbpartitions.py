"""Monthly partitions on PostgreSQL: the audit log and the vitals (issue 15, item 4; docs/sizing.md).

The audit log grows by some 100 million rows a year across a network of clinics, the vitals by some 5
million; both are only ever added to and read by time, by patient or by session: one partition a month
(range on the table's time, months in UTC) keeps each month's table and indexes small, lets a month be backed
up, moved or (after the retention period) detached as a whole, and lets a query for a period skip the other
months. Rows outside every month partition land in the DEFAULT partition (a clock far off, a month nobody
created yet); `manage.py partitions_ahead` keeps the coming months created, for every table in PARTITIONED.
One piece serves both tables: audit 0005 and dosing 0010 each call `partition_by_month` on theirs.

What integrity costs, and how it is kept (PostgreSQL docs, "Table Partitioning", 5.11.2.3 Limitations):
- a primary key or unique index must include the partition key: the primary key becomes (id, key) in
  the database. Django still knows `id` as the pk; ids come from one sequence, so they stay unique;
- a foreign key referencing a partitioned table needs a unique key that includes the partition key, and
  Django has no composite foreign keys: `partition_by_month` refuses a table a foreign key points at. No foreign
  key points at the audit log. Three point at a vital (a clearance, an alert, a correction): dosing 0010 first
  makes them db_constraint=False, and after the conversion a trigger on each referencing table refuses an id
  with no vital (kapclinic/dbtriggers.py REFERENCES_CHECKED, which says why checking at insert is enough);
- row triggers made on the partitioned table are cloned onto every partition, present and future (the
  append-only trigger); a statement trigger is not, so each partition gets its own TRUNCATE trigger here;
- privileges are checked on the table named in the query: the application role has its privileges on the
  partitioned table and nothing on the partitions (kapclinic/dbroles.py lists no partition), so it cannot
  reach a partition directly.
SQLite has no partitions: everything here does nothing there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db.backends.base.base import BaseDatabaseWrapper

from kapclinic.dbtriggers import append_only_sql, truncate_refused_sql

# The partitioned tables and their partition key (the migrations that convert them name their own).
PARTITIONED = {"audit_accessevent": "occurred_at", "dosing_vitalsign": "measured_at"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_after(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y%m}"


def default_partition_name(table: str) -> str:
    return f"{table}_pdefault"


def _bound(month: date) -> str:
    return datetime(month.year, month.month, 1, tzinfo=UTC).isoformat()


def is_partitioned(connection: BaseDatabaseWrapper, table: str) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [table])
        return cursor.fetchone() is not None


def _partition_sql(table: str, name: str, bounds: str) -> list[str]:
    return [
        f"CREATE TABLE {_q(name)} PARTITION OF {_q(table)} {bounds}",
        *truncate_refused_sql(name),
    ]


def month_partitions_create(connection: BaseDatabaseWrapper, table: str, first: date, last: date) -> list[str]:
    """Create the month partitions of `table` from month `first` to month `last` that do not exist; return them.

    Fails (and creates nothing more) if the DEFAULT partition already holds rows of a month being created:
    PostgreSQL refuses a partition whose rows sit in DEFAULT. Those rows stay where they are (the table is
    append-only); docs/deploy.md says what to do.
    """
    created = []
    month = month_start(first)
    with connection.cursor() as cursor:
        while month <= last:
            name = month_partition_name(table, month)
            cursor.execute("SELECT to_regclass(%s)", [name])
            if cursor.fetchone()[0] is None:
                bounds = f"FOR VALUES FROM ('{_bound(month)}') TO ('{_bound(month_after(month))}')"
                for statement in _partition_sql(table, name, bounds):
                    cursor.execute(statement)
                created.append(name)
            month = month_after(month)
    return created


def _one(connection: BaseDatabaseWrapper, sql: str, params: list[str]) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def partition_by_month(
    connection: BaseDatabaseWrapper, table: str, key: str, *, today: date, months_ahead: int
) -> None:
    """Turn `table` (append-only, with an `id` primary key) into one partitioned by month of `key`, in place.

    Run as the table's owner inside the migration's transaction. The rows are copied, not moved in place: the
    whole table is rewritten once, under an exclusive lock (docs/deploy.md: a maintenance window for a large
    log). Indexes, foreign keys, check constraints, triggers, grants and the id sequence's position come over.
    """
    old = f"{table}_unpartitioned"
    if _one(connection, "SELECT conname FROM pg_constraint WHERE confrelid = to_regclass(%s)", [table]):
        raise RuntimeError(f"A foreign key points at {table}: PostgreSQL cannot keep it once {table} is partitioned.")
    indexes = _one(
        connection,
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = to_regclass(%s) AND NOT x.indisprimary ORDER BY i.relname",
        [table],
    )
    if any(" UNIQUE " in str(definition) for _, definition in indexes):
        raise RuntimeError(f"{table} has a unique index without the partition key: it cannot be partitioned.")
    foreign_keys = _one(
        connection,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) "
        "AND contype = 'f' ORDER BY conname",
        [table],
    )
    grants = _one(
        connection,
        "SELECT grantee, string_agg(privilege_type, ', ') FROM information_schema.role_table_grants "
        "WHERE table_schema = current_schema() AND table_name = %s AND grantee <> current_user GROUP BY grantee",
        [table],
    )
    ((sequence, span),) = _one(
        connection,
        f"SELECT pg_get_serial_sequence(%s, 'id'), (SELECT ARRAY[min({_q(key)}), max({_q(key)})] FROM {_q(table)})",  # noqa: S608 - names from code
        [table],
    )
    first_at, last_at = span if isinstance(span, list) else (None, None)
    first = month_start(first_at.astimezone(UTC).date() if isinstance(first_at, datetime) else today)
    last_row = month_start(last_at.astimezone(UTC).date() if isinstance(last_at, datetime) else today)
    last = max(last_row, month_start(today))
    for _ in range(months_ahead):
        last = month_after(last)
    pkey = f"{table}_pkey"
    new_sequence = f"{table}_id_seq_partitioned"
    with connection.cursor() as cursor:
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {_q(str(name))}")
        cursor.execute(f"ALTER TABLE {_q(table)} RENAME TO {_q(old)}")
        cursor.execute(f"ALTER TABLE {_q(old)} RENAME CONSTRAINT {_q(pkey)} TO {_q(old + '_pkey')}")
        cursor.execute(
            f"CREATE TABLE {_q(table)} (LIKE {_q(old)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE) "
            f"PARTITION BY RANGE ({_q(key)})"
        )
        # Identity columns on partitioned tables need PostgreSQL 17; a sequence owned by the column serves all.
        cursor.execute(f"CREATE SEQUENCE {_q(new_sequence)} AS bigint OWNED BY {_q(table)}.id")
        cursor.execute(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608 - quoted by pg_get_serial_sequence
        last_value, is_called = cursor.fetchone()
        cursor.execute("SELECT setval(%s, %s, %s)", [new_sequence, last_value, is_called])
        cursor.execute(f"ALTER TABLE {_q(table)} ALTER COLUMN id SET DEFAULT nextval('{new_sequence}'::regclass)")
        cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(pkey)} PRIMARY KEY (id, {_q(key)})")
        for statement in _partition_sql(table, default_partition_name(table), "DEFAULT"):
            cursor.execute(statement)
    month_partitions_create(connection, table, first, last)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {_q(table)} SELECT * FROM {_q(old)}")  # noqa: S608 - names from code
        copied = cursor.rowcount
        cursor.execute(f"SELECT count(*) FROM {_q(old)}")  # noqa: S608 - names from code
        if cursor.fetchone()[0] != copied:
            raise RuntimeError(f"{table}: the copy does not hold every row; nothing changed.")
        cursor.execute(f"DROP TABLE {_q(old)}")  # and with it the old identity sequence
        cursor.execute(f"ALTER SEQUENCE {_q(new_sequence)} RENAME TO {_q(table + '_id_seq')}")
        for _name, definition in indexes:
            cursor.execute(str(definition))  # a partitioned index: one per partition, present and future
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(str(name))} {definition}")
        for statement in append_only_sql(table):
            cursor.execute(statement)
        for grantee, privileges in grants:
            cursor.execute(f"GRANT {privileges} ON TABLE {_q(table)} TO {_q(str(grantee))}")
            cursor.execute(f"GRANT USAGE ON SEQUENCE {_q(table + '_id_seq')} TO {_q(str(grantee))}")

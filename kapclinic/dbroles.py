"""The application's least-privilege PostgreSQL role: what it may do to each table (manage.py db_grants).

Two roles (docs/operations.md): the owner, which runs the migrations and owns every table, and the
application role the running site connects as. The application role owns nothing, so it cannot
ALTER or DROP a table or its triggers, nor TRUNCATE, nor SET session_replication_role (superuser
only); on append-only tables it may only SELECT and INSERT, on tables whose signed rows freeze
also UPDATE, and on the rest SELECT, INSERT, UPDATE and DELETE; USAGE on the sequences (ids).
Every run first revokes everything, so the grants are exactly these whatever came before.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.backends.base.base import BaseDatabaseWrapper

from kapclinic.dbtriggers import APPEND_ONLY_TABLES, FROZEN_ONCE_SIGNED_TABLES

# Append-only tables whose rows the application locks (SELECT ... FOR UPDATE needs an UPDATE privilege
# on one column: PostgreSQL docs, SELECT, "The Locking Clause"): UPDATE of `id` alone, which the
# append-only row trigger refuses anyway. kapclinic/consent/services.py locks a signature while it is
# witnessed; investigation_resolve (kapclinic/ledger/services.py) locks the investigation with its
# count line and count (select_related without `of`).
ROW_LOCKED = {"consent_consentsignature": "id", "inventory_countline": "id", "inventory_inventorycount": "id"}
READ_ONLY = ("django_migrations",)  # the site reads which migrations ran; only the owner records them


class RoleError(Exception):
    """The role cannot be the application's least-privilege role (a clear message for the operator)."""


@dataclass(frozen=True)
class Grant:
    table: str
    privileges: str

    def sql(self, role: str) -> list[str]:
        return [f"GRANT {self.privileges} ON TABLE {_q(self.table)} TO {_q(role)}"]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def grants_for(tables: list[str]) -> list[Grant]:
    """Return the application role's privileges on each of these tables."""
    grants = []
    for table in sorted(tables):
        if table in READ_ONLY:
            grants.append(Grant(table, "SELECT"))
        elif table in APPEND_ONLY_TABLES:
            grants.append(Grant(table, "SELECT, INSERT"))
            if table in ROW_LOCKED:
                grants.append(Grant(table, f"UPDATE ({_q(ROW_LOCKED[table])})"))
        elif table in FROZEN_ONCE_SIGNED_TABLES:
            grants.append(Grant(table, "SELECT, INSERT, UPDATE"))  # never deleted; signed rows frozen by trigger
        else:
            grants.append(Grant(table, "SELECT, INSERT, UPDATE, DELETE"))
    return grants


def grants_apply(connection: BaseDatabaseWrapper, role: str) -> list[str]:
    """Revoke everything from `role` in the current schema and grant exactly its privileges; return the SQL run.

    Runs as the tables' owner (DATABASE_OWNER_URL). Refuses a role that is the connection's own, a
    superuser, or owns any table: such a role could drop the triggers whatever is granted.
    """
    if connection.vendor != "postgresql":
        raise RoleError("Database roles and grants exist on PostgreSQL only.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema(), current_database()")
        me, schema, database = cursor.fetchone()
        if role == me:
            raise RoleError(f"{role} is the login running the grants (the owner); name the application's role.")
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        found = cursor.fetchone()
        if found is None:
            raise RoleError(f"There is no role {role}: create it first (CREATE ROLE {role} LOGIN PASSWORD ...).")
        if found[0] or found[1]:
            raise RoleError(f"{role} is a superuser or bypasses row security: it could undo any grant.")
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE pg_get_userbyid(c.relowner) = %s LIMIT 5",
            [role],
        )
        owned = [row[0] for row in cursor.fetchall()]
        if owned:
            raise RoleError(f"{role} owns {', '.join(owned)}: run the migrations as the owner role, not as {role}.")
        # Partitions get nothing: the application reaches them only through their partitioned table, where
        # its privileges are checked (PostgreSQL docs, "Table Partitioning"; kapclinic/dbpartitions.py).
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND pg_get_userbyid(c.relowner) = current_user",
            [schema],
        )
        tables = [row[0] for row in cursor.fetchall()]
        statements = [
            f"GRANT CONNECT ON DATABASE {_q(database)} TO {_q(role)}",
            f"GRANT USAGE ON SCHEMA {_q(schema)} TO {_q(role)}",
            f"REVOKE CREATE ON SCHEMA {_q(schema)} FROM {_q(role)}",
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {_q(schema)} FROM {_q(role)}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {_q(schema)} FROM {_q(role)}",
            *[sql for grant in grants_for(tables) for sql in grant.sql(role)],
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {_q(schema)} TO {_q(role)}",
        ]
        for statement in statements:
            cursor.execute(statement)
    return statements

"""Backups that restore (issue 15, item 2; docs/backups.md).

`manage.py backup FILE` copies the database to one file: on SQLite with the online backup API (a
consistent copy while the site runs), on PostgreSQL with `pg_dump --format=custom` as the owner role,
under an exported snapshot so the row counts written beside it are the dump's own. Beside the file,
FILE.manifest.json says what it holds: engine, time, row count of every table, the migrations applied
and the file's SHA-256.

`manage.py restore FILE` restores only into an empty database (no tables at all): it never overwrites a
clinic. On PostgreSQL the objects come back owned by the owner role, without the dump's grants, and the
application role's grants are applied afresh (kapclinic/dbroles.py), so they are exactly what
`db_grants` gives. Then it checks the copy: row counts against the manifest, both hash chains, the
append-only triggers, and every signed record's signature.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from kapclinic.dbroles import RoleError, grants_apply
from kapclinic.signing import Signed

FORMAT = "kapclinic-backup 1"
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot go ahead, with a message for the operator (no traceback)."""


def owner_alias() -> str:
    """The alias of the login that owns the tables: `owner` when DATABASE_OWNER_URL is set, else `default`."""
    return "owner" if "owner" in settings.DATABASES else "default"


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- PostgreSQL client tools ---------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """Find pg_dump or pg_restore: KAPCLINIC_PG_BIN, then PATH, then the newest /usr/lib/postgresql/*/bin."""
    configured = os.environ.get("KAPCLINIC_PG_BIN", "")
    if configured:
        candidate = Path(configured) / name
        if candidate.is_file():
            return str(candidate)
        raise BackupError(f"{name} is not in KAPCLINIC_PG_BIN ({configured}).")
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if versions:
        return str(versions[-1])
    raise BackupError(
        f"{name} was not found: install the PostgreSQL client tools of the server's version or newer "
        "(Debian: postgresql-client-15) or set KAPCLINIC_PG_BIN to their directory."
    )


def libpq_environment(settings_dict: dict[str, Any]) -> dict[str, str]:
    """The connection as libpq variables: the password goes through the environment, never the command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for key, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if settings_dict.get(key):
            env[variable] = str(settings_dict[key])
    if not settings_dict.get("NAME"):
        raise BackupError("The database URL names no database.")
    env["PGDATABASE"] = str(settings_dict["NAME"])
    options = settings_dict.get("OPTIONS") or {}
    for option in ("sslmode", "sslrootcert", "sslcert", "sslkey", "application_name"):
        if options.get(option):
            env["PG" + option.upper().replace("APPLICATION_NAME", "APPNAME")] = str(options[option])
    return env


def _run(command: list[str], env: dict[str, str]) -> str:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except OSError as exc:
        raise BackupError(f"Cannot run {command[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        said = done.stderr.strip() or done.stdout.strip()
        raise BackupError(f"{Path(command[0]).name} failed (exit status {done.returncode}): {said}")
    return done.stdout


# --- what a database holds -----------------------------------------------------------------------


def _tables(connection: BaseDatabaseWrapper) -> list[str]:
    with connection.cursor() as cursor:
        return sorted(connection.introspection.table_names(cursor))


def _contents(cursor: Any, tables: list[str]) -> dict[str, Any]:
    """Row counts of every table and the migrations applied, read through `cursor` (a DB-API cursor)."""
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {_q(table)}")  # noqa: S608 - names from the catalogue
        counts[table] = int(cursor.fetchone()[0])
    migrations: dict[str, str] = {}
    if "django_migrations" in tables:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        for app, name in cursor.fetchall():
            migrations[app] = max(migrations.get(app, ""), name)
    return {"tables": counts, "migrations_applied": counts.get("django_migrations", 0), "latest_migrations": migrations}


def database_holds(alias: str) -> str:
    """Say what the database already holds ("" when it has no tables at all: a restore may go there)."""
    connection = connections[alias]
    tables = _tables(connection)
    if not tables:
        return ""
    applied = 0
    if "django_migrations" in tables:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM django_migrations")
            applied = int(cursor.fetchone()[0])
    return f"{len(tables)} tables and {applied} applied migrations"


# --- backup --------------------------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]


def backup_take(path: Path, *, force: bool = False) -> BackupResult:
    """Copy the configured database to `path` (and write path.manifest.json); refuse to overwrite unless `force`."""
    path = path.resolve()
    sidecar = manifest_path(path)
    if not force:
        for existing in (path, sidecar):
            if existing.exists():
                raise BackupError(f"{existing} exists: choose a new file name, or pass --force to overwrite it.")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a directory.")
    alias = owner_alias()
    connection = connections[alias]
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if connection.vendor == "sqlite":
            contents, verified = _sqlite_backup(connection, partial)
        elif connection.vendor == "postgresql":
            contents, verified = _pg_backup(connection, partial)
        else:
            raise BackupError(f"No backup for the {connection.vendor} backend.")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    manifest = {
        "format": FORMAT,
        "engine": connection.vendor,
        "database": str(connection.settings_dict["NAME"]),
        "taken_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "file": path.name,
        "bytes": path.stat().st_size,
        "sha256": file_sha256(path),
        "verified": verified,
        **contents,
    }
    sidecar.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return BackupResult(path, manifest)


def _sqlite_name(connection: BaseDatabaseWrapper) -> str:
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        raise BackupError("The database is in memory: there is no file to back up or restore into.")
    return name


def _sqlite_backup(connection: BaseDatabaseWrapper, partial: Path) -> tuple[dict[str, Any], str]:
    # A connection of our own: the online backup API copies a consistent snapshot while the site writes.
    source = sqlite3.connect(_sqlite_name(connection))
    target = sqlite3.connect(partial)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        check = target.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            raise BackupError(f"The copy fails PRAGMA integrity_check: {check[:5]}")
        cursor = target.cursor()
        # As Django's introspection lists them (the restore's check counts through it): not sqlite_sequence.
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!'")
        tables = sorted(row[0] for row in cursor.fetchall())
        contents = _contents(cursor, tables)
    finally:
        target.close()
        source.close()
    return contents, "PRAGMA integrity_check: ok"


def _pg_backup(connection: BaseDatabaseWrapper, partial: Path) -> tuple[dict[str, Any], str]:
    pg_dump, pg_restore = pg_tool("pg_dump"), pg_tool("pg_restore")
    env = libpq_environment(connection.settings_dict)
    # One snapshot for the counts and the dump (pg_dump --snapshot): the manifest describes this very dump.
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        contents = _contents(cursor, _tables(connection))
        _run([pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot}", f"--file={partial}"], env)
    listing = _run([pg_restore, "--list", str(partial)], env)
    entries = [line for line in listing.splitlines() if line and not line.startswith(";")]
    data = [line for line in entries if " TABLE DATA " in line]
    if len(data) < len(contents["tables"]):
        raise BackupError(f"The dump lists data for {len(data)} tables of {len(contents['tables'])}.")
    return contents, f"pg_restore --list: {len(entries)} entries, data of {len(data)} tables"


# --- restore -------------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    engine: str
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _kind(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    return "unknown"


def restore_from(path: Path) -> RestoreReport:
    """Restore `path` into the configured database if it is empty, then check the copy."""
    path = path.resolve()
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file.")
    alias = owner_alias()
    connection = connections[alias]
    found = database_holds(alias)
    if found:
        raise BackupError(
            f"The database {connection.settings_dict['NAME']} is not empty ({found}): a restore never overwrites "
            "a database. Create a new, empty database, point DATABASE_URL (and DATABASE_OWNER_URL) at it, "
            "and restore there."
        )
    kind = _kind(path)
    if kind != connection.vendor:
        what = {"sqlite": "a SQLite backup", "postgresql": "a PostgreSQL custom-format dump"}.get(kind, "no backup")
        raise BackupError(f"{path} is {what}; the configured database is {connection.vendor}.")
    report = RestoreReport(connection.vendor)
    if connection.vendor == "sqlite":
        _sqlite_restore(connection, path, report)
    else:
        _pg_restore(connection, path, report)
    connections.close_all()
    _check(path, report)
    return report


def _sqlite_restore(connection: BaseDatabaseWrapper, path: Path, report: RestoreReport) -> None:
    name = _sqlite_name(connection)
    connection.close()
    source = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        check = source.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            raise BackupError(f"{path} fails PRAGMA integrity_check: {check[:5]}")
        target = sqlite3.connect(name)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")  # as kapclinic/settings.py runs it
        finally:
            target.close()
    finally:
        source.close()
    report.lines.append(f"Restored {path.name} into {name}.")


def _pg_restore(connection: BaseDatabaseWrapper, path: Path, report: RestoreReport) -> None:
    env = libpq_environment(connection.settings_dict)
    name = connection.settings_dict["NAME"]
    connection.close()
    # As the owner login: every object owned by it (--no-owner); no grants from the dump (--no-acl), since the
    # roles of the server it came from may not exist here: the application role's are applied below.
    _run(
        [
            pg_tool("pg_restore"),
            "--no-owner",
            "--no-acl",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={name}",
            str(path),
        ],
        env,
    )
    report.lines.append(f"Restored {path.name} into {name} as {connection.settings_dict.get('USER') or 'the owner'}.")
    role = str(getattr(settings, "KAPCLINIC_DB_APP_ROLE", "") or "")
    owner = str(connection.settings_dict.get("USER") or "")
    if connection.alias == "default" or not role or role == owner:
        report.lines.append("Grants: no separate application role configured (DATABASE_OWNER_URL unset); none applied.")
        return
    try:
        with transaction.atomic(using=connection.alias):
            statements = grants_apply(connection, role)
    except RoleError as exc:
        raise BackupError(f"Restored, but the application role's grants failed: {exc}") from None
    report.lines.append(f"Grants for {role} applied ({len(statements)} statements, as db_grants).")


def _check(path: Path, report: RestoreReport) -> None:
    """Row counts against the manifest, the chains and triggers (verify_audit), every signature."""
    sidecar = manifest_path(path)
    connection = connections["default"]
    with connection.cursor() as cursor:
        contents = _contents(cursor, _tables(connection))
    if sidecar.is_file():
        try:
            manifest = json.loads(sidecar.read_text())
        except (OSError, ValueError) as exc:
            report.problems.append(f"manifest {sidecar.name} unreadable: {exc}")
        else:
            if manifest.get("sha256") != file_sha256(path):
                report.problems.append(f"{path.name} does not match the checksum in {sidecar.name}")
            differ = sorted(
                t
                for t in set(manifest.get("tables", {})) | set(contents["tables"])
                if manifest.get("tables", {}).get(t) != contents["tables"].get(t)
            )
            if differ:
                report.problems.append(f"row counts differ from the manifest in {', '.join(differ[:10])}")
            else:
                total = sum(contents["tables"].values())
                report.lines.append(f"Rows: {total:,} in {len(contents['tables'])} tables, as the manifest lists.")
    else:
        report.lines.append(f"No manifest beside the file ({sidecar.name}): row counts not compared.")
    out = io.StringIO()
    try:
        call_command("verify_audit", database="default", stdout=out)
    except SystemExit as exc:
        if exc.code:
            report.problems.append("verify_audit found a break (below)")
    report.lines.extend(out.getvalue().splitlines())
    checked, broken = 0, []
    try:
        for record in _signed_records():
            checked += 1
            if not record.signature_intact:
                broken.append(f"{type(record).__name__} {record.pk}")
    except DatabaseError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        report.problems.append(f"signed records unreadable ({first}): a backup of another version? run migrate")
        return
    if broken:
        report.problems.append(f"signatures not intact: {', '.join(broken[:20])}")
    report.lines.append(f"Signed records: {checked:,} checked, {len(broken)} not intact.")


def _signed_records() -> Iterator[Signed]:
    for model in apps.get_models():
        if issubclass(model, Signed):
            for record in model._default_manager.using("default").order_by("pk").iterator(chunk_size=2000):
                if record.is_signed:
                    yield record

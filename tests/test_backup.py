# ruff: noqa: S603, S608 - the commands run are this project's manage.py; table names come from the catalogue
"""Backups that restore (issue 15, item 2): a clinic backed up, restored elsewhere, is found identical.

The clinic is a real database made the way an operator makes one, in its own processes: migrated (on
PostgreSQL as the owner, then `db_grants`), loaded with the demo clinic and the few kinds of record the demo
lacks (`records_add`). `manage.py backup` copies it, `manage.py restore` puts the copy into a new, empty
database, and every table is compared row by row, value by value (timestamps to the microsecond), with
the schema: triggers, sequences, and on PostgreSQL owners and grants. In the copy the chains verify, every
signature holds, and an UPDATE of an audit row is refused.

The suite runs on whichever database it is given: SQLite files under `make test-sqlite`, two new
PostgreSQL databases (made with the owner's CREATEDB) under `make test-postgres`.
"""

from __future__ import annotations

import io
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parent.parent
ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
TWO_ROLES = "owner" in settings.DATABASES

# Tables the source still leaves empty (each is compared all the same: its schema, and that it is empty).
KNOWN_EMPTY: set[str] = set()


def records_add() -> None:
    """Kinds of record the demo does not make, cheaply (run in the process that builds the source clinic)."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from kapclinic.accounts.models import User
    from kapclinic.accounts.services import api_token_issue, calendar_feed_token_issue
    from kapclinic.audit.context import AuditContext
    from kapclinic.outcomes.course_summaries import course_summaries_refresh

    # The courses summarised, as the outcome figures leave them; the records written below mark some again.
    course_summaries_refresh()
    director = User.objects.get(username="director")
    group = Group.objects.create(name="Backup drill")
    permission = Permission.objects.order_by("id").first()
    assert permission is not None
    group.permissions.add(permission)
    director.groups.add(group)
    director.user_permissions.add(permission)
    api_token_issue(user=director)
    calendar_feed_token_issue(ctx=AuditContext(user=director, channel="system"))
    _smart_records_add(director)
    TOTPDevice.objects.create(user=director, name="Phone", confirmed=True)
    session = SessionStore()
    session["backup"] = "drill"
    session.create()
    _clinical_records_add(director)
    _score_since_the_summaries(director)


def _score_since_the_summaries(director: Any) -> None:
    """A score after the courses were summarised: its patient stays marked for the next figures."""
    from kapclinic.measures.models import QuestionnaireResponse
    from kapclinic.outcomes.models import StaleCourses
    from kapclinic.plans.models import TreatmentPlan

    plan = TreatmentPlan.objects.filter(signed_at__isnull=False).order_by("pk").first()
    assert plan is not None
    QuestionnaireResponse.objects.create(
        patient_id=plan.patient_id, instrument="phq9", version="1", total=11, complete=True, source="paper",
        entered_by=director,
    )  # fmt: skip
    assert StaleCourses.objects.exists()


def _smart_records_add(director: Any) -> None:
    """A FHIR system client, an access token and a kept assertion jti (issue 17, SMART Backend Services)."""
    from datetime import timedelta

    from django.utils import timezone

    from kapclinic.accounts.models import SmartAccessToken, SmartAssertionJti, SmartClient, secret_new

    client = SmartClient.objects.create(
        client_id="backup-drill",
        name="Backup drill client",
        jwks={"keys": [{"kty": "EC", "crv": "P-384", "kid": "k1", "x": "AA", "y": "AA"}]},
        scopes="system/*.rs",
        user=director,
        created_by=director,
    )
    _, digest, prefix = secret_new("kaps_")
    later = timezone.now() + timedelta(minutes=5)
    SmartAccessToken.objects.create(client=client, digest=digest, prefix=prefix, scopes="system/*.rs", expires_at=later)
    SmartAssertionJti.objects.create(client=client, jti="drill-jti", expires_at=later)


def _clinical_records_add(director: Any) -> None:
    """One row of each clinical kind the demo leaves empty, written directly (their content is not checked here)."""
    from datetime import timedelta

    from django.apps import apps
    from django.utils import timezone

    def model(label: str) -> Any:
        return apps.get_model(label)

    def first(label: str, **where: Any) -> Any:
        found = model(label).objects.filter(**where).order_by("pk").first()
        assert found is not None, label
        return found

    def choice(label: str, field: str) -> Any:
        choices = model(label)._meta.get_field(field).choices
        return choices[0][0] if choices else "drill"

    now = timezone.now()
    patients = list(model("patients.Patient").objects.order_by("pk")[:2])
    nurse, therapist = first("accounts.User", role="nurse"), first("accounts.User", role="therapist")
    model("audit.EmergencyAccess").objects.create(
        user=nurse, patient=patients[0], reason="Covering the evening clinic", expires_at=now + timedelta(hours=1)
    )
    model("patients.DuplicateFlag").objects.create(
        patient=patients[0], other=patients[1], reasons=choice("patients.DuplicateFlag", "reasons")
    )
    response = first("measures.QuestionnaireResponse")
    model("measures.SafetyFlag").objects.create(
        patient_id=response.patient_id,
        response=response,
        code=choice("measures.SafetyFlag", "code"),
        action_taken="Called the patient",
    )
    model("measures.ResponseDraft").objects.create(
        patient=patients[0], instrument=choice("measures.ResponseDraft", "instrument")
    )
    model("measures.ReminderSent").objects.create(
        scheduled=first("measures.ScheduledMeasure"),
        kind=choice("measures.ReminderSent", "kind"),
        to="patient@example.test",
    )
    appointment = first("appointments.Appointment")
    model("appointments.AppointmentChange").objects.create(
        appointment=appointment,
        kind=choice("appointments.AppointmentChange", "kind"),
        reason="Clinician unwell",
        from_starts_at=appointment.starts_at,
        from_ends_at=appointment.ends_at,
        from_with_user_id=appointment.with_user_id or director.pk,
        by=director,
    )
    model("appointments.TimeOff").objects.create(
        user=therapist, starts_at=now + timedelta(days=30), ends_at=now + timedelta(days=31), recorded_by=director
    )
    model("appointments.Closure").objects.create(
        starts_at=now + timedelta(days=60), ends_at=now + timedelta(days=61), reason="Holiday", recorded_by=director
    )
    model("consent.ConsentWithdrawal").objects.create(
        signature=first("consent.ConsentSignature"),
        recorded_by=director,
        reason="Moved away",
        channel=choice("consent.ConsentWithdrawal", "channel"),
    )
    model("dosing.AlertAcknowledgement").objects.create(
        alert=first("dosing.MonitoringAlert"), by=nurse, action_taken="Rechecked"
    )
    model("dosing.AdverseEventReview").objects.create(event=first("dosing.AdverseEvent"), by=director, note="Seen")
    model("dosing.RemsSubmission").objects.create(
        session=first("dosing.DosingSession", state="discharged"), by=nurse, reference="REMS-1"
    )
    note = first("therapy.TherapyNote", signed_at__isnull=False)
    model("therapy.NoteCosignature").objects.create(
        note=note, cosigner=director, note_digest=note.signed_digest, comment="Agreed"
    )
    model("therapy.NoteShare").objects.create(note=note, shared_with=nurse, by=therapist)
    # A session scheduled past a prior-authorisation warning (issue 18 item 7; the demo has the authorisations).
    authorisation = first("billing.PriorAuthorisation")
    model("billing.AuthorisationGoOn").objects.create(
        patient_id=authorisation.patient_id,
        session=first("dosing.DosingSession"),
        authorisation=authorisation,
        warning="Prior authorisation used up.",
        reason="Payer extended it by phone.",
        by=director,
    )
    # A finished FHIR bulk export (its files are on disk, not in the backup: the rows only).
    job = model("fhir.ExportJob").objects.create(
        requester=director,
        kind="group",
        group=nurse,
        types=["Patient"],
        request_url="https://clinic.example/fhir/Group/1/$export",
        status="completed",
        transaction_time=now,
        finished_at=now,
        expires_at=now + timedelta(hours=24),
    )
    model("fhir.ExportFile").objects.create(job=job, resource_type="Patient", name="Patient.ndjson", count=1, size=900)
    # A referral's bundle kept, and one item of it taken (issue 17 item 4).
    referral = model("fhir.ReferralImport").objects.create(
        patient=patients[0],
        uploaded_by=director,
        bundle='{"resourceType": "Bundle", "type": "collection", "entry": []}',
        sha256="0" * 64,
        bundle_type="collection",
        source="Synthetic Family Practice",
        entries=0,
    )
    model("fhir.ReferralChoice").objects.create(
        referral=referral,
        item="e3",
        kind="medication",
        taken=False,
        label="sertraline",
        value="sertraline",
        chosen_by=director,
    )
    # A signed progress report for a referrer (issue 19 item 5).
    course_plan = model("plans.TreatmentPlan").objects.filter(signed_at__isnull=False).first()
    report = model("outcomes.ReferrerReport")(
        patient_id=course_plan.patient_id,
        plan=course_plan,
        addressed_to="Dr Example Referrer (synthetic)",
        plan_ahead="Monthly booster.",
        content={"course": {}},
    )
    report.signature_stamp(director.pk)
    report.save(force_insert=True)
    # A queued background job, and the sign-in throttle's records (django-axes).
    from kapclinic.measures.tasks import send_measure_reminders

    send_measure_reminders.enqueue()
    seen = {"user_agent": "Firefox", "ip_address": "10.0.0.7", "username": "nurse", "http_accept": "*/*"}
    attempt = model("axes.AccessAttempt").objects.create(
        **seen, path_info="/accounts/login/", get_data="", post_data="username=nurse", failures_since_start=2
    )
    model("axes.AccessAttemptExpiration").objects.create(access_attempt=attempt, expires_at=now + timedelta(minutes=15))
    model("axes.AccessFailureLog").objects.create(**seen, path_info="/accounts/login/", locked_out=False)
    model("axes.AccessLog").objects.create(**seen, path_info="/accounts/login/", logout_time=now)


BUILD = (
    "import django; django.setup()\n"
    "from django.conf import settings\n"
    "from django.core.management import call_command\n"
    "owner = 'owner' in settings.DATABASES\n"
    "owner or call_command('migrate', verbosity=0)\n"
    "owner and call_command('db_grants', verbosity=0)\n"
    "call_command('demo_load', '--quiet')\n"
    "from tests.test_backup import records_add; records_add()\n"
)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def environment(**database: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DATABASE_OWNER_URL"}}
    env.update(database, PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="kapclinic.settings", KAPCLINIC_DEBUG="true")
    env["KAPCLINIC_DEMO_COHORT"] = str(settings.KAPCLINIC_DEMO_COHORT)  # the suite's smaller cohort (tests/conftest.py)
    return env


def _renamed(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


# --- reading a whole database --------------------------------------------------------------------


def sqlite_everything(path: Path) -> dict[str, Any]:
    db = sqlite3.connect(path)
    try:
        schema = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        tables = [name for kind, name, _, _ in schema if kind == "table"]
        rows = {}
        for table in tables:
            keys = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")') if r[5]] or ["rowid"]
            order = ", ".join(f'"{k}"' if k != "rowid" else k for k in keys)
            cursor = db.execute(f'SELECT * FROM "{table}" ORDER BY {order}')
            rows[table] = ([d[0] for d in cursor.description], cursor.fetchall())
        return {"schema": schema, "rows": rows}
    finally:
        db.close()


PG_SCHEMA = {
    "triggers": "SELECT tgrelid::regclass::text, tgname, tgenabled, pg_get_triggerdef(oid) FROM pg_trigger "
    "WHERE NOT tgisinternal ORDER BY 1, 2",
    "functions": "SELECT proname, pg_get_functiondef(p.oid), pg_get_userbyid(proowner) FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = 'public' ORDER BY 1",
    "relations": "SELECT relname, relkind, pg_get_userbyid(relowner) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'public' ORDER BY 1",
    "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default "
    "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, ordinal_position",
    # A CHECK's text comes back deparsed differently (ANY (ARRAY[...]) casts moved): compared by its literals.
    "constraints": "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    "sequences": "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1",
    # Grants on tables, sequences and columns, and on the schema: grantor, grantee, privilege.
    "grants": "SELECT c.relname, pg_get_userbyid(a.grantor), COALESCE(pg_get_userbyid(NULLIF(a.grantee, 0)), "
    "'PUBLIC'), a.privilege_type FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
    "aclexplode(c.relacl) a WHERE nspname = 'public' ORDER BY 1, 2, 3, 4",
    "column_grants": "SELECT attrelid::regclass::text, attname, pg_get_userbyid(a.grantee), a.privilege_type "
    "FROM pg_attribute, aclexplode(attacl) a WHERE attacl IS NOT NULL "
    "AND attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace) ORDER BY 1, 2, 3, 4",
    "schema_grants": "SELECT pg_get_userbyid(a.grantee), a.privilege_type FROM pg_namespace, aclexplode(nspacl) a "
    "WHERE nspname = 'public' ORDER BY 1, 2",
}


def pg_everything(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url) as db, db.cursor() as cursor:
        found: dict[str, Any] = {}
        for name, sql in PG_SCHEMA.items():
            cursor.execute(sql)
            found[name] = cursor.fetchall()
        found["constraints"] = [
            (table, name, kind, sorted(re.findall(r"'[^']*'", text)) if kind == "c" else text)
            for table, name, kind, text in found["constraints"]
        ]
        # The partitions of a partitioned table (the audit log), with their bounds; their rows are read through
        # the partitioned table (a month not come yet is empty by design).
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relispartition ORDER BY 1"
        )
        found["partitions"] = cursor.fetchall()
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"
        )
        rows = {}
        for (table,) in cursor.fetchall():
            cursor.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum",
                [f'"{table}"'],
            )
            keys = [f'"{k}"' for (k,) in cursor.fetchall()]
            assert keys, f"{table} has no primary key"
            cursor.execute(f'SELECT * FROM "{table}" ORDER BY {", ".join(keys)}')
            rows[table] = ([d.name for d in cursor.description or []], cursor.fetchall())
        found["rows"] = rows
        return found


def assert_identical(source: dict[str, Any], copy: dict[str, Any]) -> None:
    for part in source:
        if part != "rows":
            assert copy[part] == source[part], part
    assert sorted(copy["rows"]) == sorted(source["rows"])
    for table, (columns, rows) in source["rows"].items():
        assert copy["rows"][table][0] == columns, table
        assert len(copy["rows"][table][1]) == len(rows), table
        for mine, theirs in zip(rows, copy["rows"][table][1], strict=True):
            assert theirs == mine, f"{table}: {theirs} != {mine}"
    empty = {t for t, (_, rows) in source["rows"].items() if not rows and not t.startswith("sqlite_")}
    assert empty <= KNOWN_EMPTY, f"tables left empty: {sorted(empty - KNOWN_EMPTY)}"


# --- the databases -------------------------------------------------------------------------------


@pytest.fixture
def two_databases(tmp_path: Path) -> Iterator[tuple[dict[str, str], dict[str, str], Any]]:
    """(environment of the source clinic, of an empty database, how to read a whole database by environment)."""
    if not ON_POSTGRESQL:
        yield (
            environment(DATABASE_URL=f"sqlite:///{tmp_path / 'clinic.sqlite3'}"),
            environment(DATABASE_URL=f"sqlite:///{tmp_path / 'restored.sqlite3'}"),
            lambda env: sqlite_everything(Path(urlsplit(env["DATABASE_URL"]).path)),
        )
        return
    import psycopg

    app_url = os.environ["DATABASE_URL"]
    owner_url = os.environ.get("DATABASE_OWNER_URL", app_url)
    names = [f"kapclinic_backup_{os.getpid()}_{which}" for which in ("source", "copy")]
    with psycopg.connect(owner_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
    envs = []
    for name in names:
        urls = {"DATABASE_URL": _renamed(app_url, name)}
        if "DATABASE_OWNER_URL" in os.environ:
            urls["DATABASE_OWNER_URL"] = _renamed(owner_url, name)
        envs.append(environment(**urls))
    try:
        yield envs[0], envs[1], lambda env: pg_everything(env.get("DATABASE_OWNER_URL", env["DATABASE_URL"]))
    finally:
        with psycopg.connect(owner_url, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_backup_restores_into_an_empty_database_identical(
    two_databases: tuple[dict[str, str], dict[str, str], Any], tmp_path: Path
) -> None:
    source, empty, everything = two_databases
    timings = {}
    started = time.perf_counter()
    if "DATABASE_OWNER_URL" in source:
        # Migrated as the owner the way docs/operations.md gives without the owner alias: `migrate --database
        # owner` with the app role's connection open stops at a lock (seen at the 71st migration).
        as_owner = {k: v for k, v in source.items() if k != "DATABASE_OWNER_URL"}
        migrated = run({**as_owner, "DATABASE_URL": source["DATABASE_OWNER_URL"]}, "manage.py", "migrate", "-v0")
        assert migrated.returncode == 0, migrated.stderr[-3000:]
    built = run(source, "-c", BUILD)
    assert built.returncode == 0, built.stderr[-3000:]
    timings["build"] = time.perf_counter() - started
    dump = tmp_path / "clinic.backup"

    started = time.perf_counter()
    backed = run(source, "manage.py", "backup", str(dump))
    assert backed.returncode == 0, backed.stderr[-3000:]
    assert "Checked: " in backed.stdout and (tmp_path / "clinic.backup.manifest.json").is_file()
    timings["backup"] = time.perf_counter() - started

    started = time.perf_counter()
    restored = run(empty, "manage.py", "restore", str(dump))
    timings["restore"] = time.perf_counter() - started
    assert restored.returncode == 0, restored.stdout + restored.stderr[-3000:]
    out = restored.stdout
    assert "as the manifest lists" in out and "Restore checked: intact." in out
    assert "audit: intact" in out and "ledger: intact" in out and "every append-only table has its triggers" in out
    signed = next(line for line in out.splitlines() if line.startswith("Signed records:"))
    assert signed.endswith(" 0 not intact.") and not signed.startswith("Signed records: 0 ")

    started = time.perf_counter()
    assert_identical(everything(source), everything(empty))
    timings["compare"] = time.perf_counter() - started
    assert_audit_row_refused(empty)
    print("timings:", {k: round(v, 1) for k, v in timings.items()})


def assert_audit_row_refused(env: dict[str, str]) -> None:
    """The append-only triggers came back with the copy: an UPDATE of an audit row is refused."""
    update = "UPDATE audit_accessevent SET reason = 'rewritten' WHERE id = (SELECT MIN(id) FROM audit_accessevent)"
    if not ON_POSTGRESQL:
        db = sqlite3.connect(urlsplit(env["DATABASE_URL"]).path)
        try:
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(update)
        finally:
            db.close()
        return
    import psycopg

    logins = [(env["DATABASE_URL"], "permission denied" if "DATABASE_OWNER_URL" in env else "append-only")]
    if "DATABASE_OWNER_URL" in env:
        logins.append((env["DATABASE_OWNER_URL"], "append-only"))  # the owner passes the grants: the trigger refuses
    for url, refusal in logins:
        with psycopg.connect(url) as pg, pytest.raises(psycopg.Error, match=refusal):
            pg.execute(update)


# --- refusals, in this process ---------------------------------------------------------------------


def test_backup_refuses_to_overwrite_a_file(tmp_path: Path) -> None:
    existing = tmp_path / "clinic.backup"
    existing.write_bytes(b"an earlier backup")
    with pytest.raises(CommandError, match="exists: choose a new file name, or pass --force"):
        call_command("backup", str(existing), stdout=io.StringIO())
    assert existing.read_bytes() == b"an earlier backup"


@pytest.mark.django_db(databases=["default", "owner"] if TWO_ROLES else ["default"])
def test_restore_refuses_a_database_that_is_not_empty(tmp_path: Path) -> None:
    dump = tmp_path / "clinic.backup"
    dump.write_bytes(b"PGDMP" if ON_POSTGRESQL else b"SQLite format 3\x00")
    with pytest.raises(CommandError, match=r"is not empty .* a restore never overwrites a database"):
        call_command("restore", str(dump), stdout=io.StringIO())


def test_restore_says_a_missing_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        call_command("restore", str(tmp_path / "nothing.backup"), stdout=io.StringIO())

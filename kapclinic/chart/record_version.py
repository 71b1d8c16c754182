"""A number per patient that every change to what their chart shows moves on, kept by database triggers.

The chart's sections and the patient banner are drawn once per version and kept in the cache (patients/fragments.py,
issue 15, item 3): the version is part of the cache key, so a change is on the next page as soon as it commits.
A trigger, not the services, moves it: every writer (services, the admin, the demo loader, the worker, a bulk
insert) is covered, in the writer's own transaction. On PostgreSQL the bump is an UPDATE of the patient's one row,
so bumps for a patient queue in commit order and a reader never sees a version without its change.

Each trigger body names only the two chart tables (RecordVersion, RecordOwner), never another app's table: on
SQLite a migration that rebuilds a table fails on a trigger elsewhere that names it (kapclinic/dbtriggers.py,
`reference_checked`). A row that reaches its patient through a parent (a vital sign through its session) finds
the patient in RecordOwner, which the parent's own trigger filled when the parent was inserted.

A change that shows on every chart (a staff member's name or role, a patient's name shown in another chart's
duplicate alert, a new consent version) moves version 0, the clinic's, which every key includes.

On SQLite a migration that rebuilds one of these tables drops its triggers (as for append-only tables): such a
migration must end with `record_versions_kept()` again. tests/test_chart_fragments.py checks every trigger is there.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, migrations
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

CLINIC = 0  # the version every chart's key includes: changes that show on all charts


@dataclass(frozen=True)
class Link:
    """How rows of `table` name their patient: `column` holds the patient's id (via == ""), or the id of a parent
    registered in RecordOwner under `via`; `owns`: rows of this table are themselves parents, registered under it.
    `clinic`: any change moves the clinic's version (the column is then unused)."""

    table: str
    column: str
    via: str = ""
    owns: str = ""
    clinic: bool = False

    @property
    def name(self) -> str:
        return f"{self.table}_{self.column}_version"


# Every table whose rows the chart, the banner or the session page show. tests/test_chart_fragments.py fails on a new
# table that reaches a patient and is neither here nor in NOT_SHOWN.
LINKS = (
    Link("patients_patient", "id"),
    Link("patients_careteammember", "patient_id"),
    Link("patients_duplicateflag", "patient_id"),
    Link("patients_duplicateflag", "other_id"),
    Link("measures_questionnaireresponse", "patient_id"),
    Link("measures_safetyflag", "patient_id"),
    Link("measures_scheduledmeasure", "patient_id"),
    Link("intake_inquiry", "patient_id"),
    Link("intake_evaluation", "patient_id"),
    Link("intake_eligibilitydecision", "patient_id"),
    Link("appointments_appointment", "patient_id"),
    Link("consent_consentsignature", "patient_id", owns="c"),
    Link("consent_consentwitness", "signature_id", via="c"),
    Link("consent_consentwithdrawal", "signature_id", via="c"),
    Link("plans_treatmentplan", "patient_id"),
    Link("dosing_dosingsession", "patient_id", owns="s"),
    Link("dosing_sessiontransition", "session_id", via="s"),
    Link("dosing_preparationchecklist", "session_id", via="s"),
    Link("dosing_checkin", "session_id", via="s"),
    Link("dosing_vitalsign", "session_id", via="s"),
    Link("dosing_clearance", "session_id", via="s"),
    Link("dosing_doseorder", "session_id", via="s"),
    Link("dosing_administration", "session_id", via="s"),
    Link("dosing_monitoringalert", "session_id", via="s", owns="a"),
    Link("dosing_alertacknowledgement", "alert_id", via="a"),
    Link("dosing_sessionevent", "session_id", via="s"),
    Link("dosing_discharge", "session_id", via="s"),
    Link("dosing_adverseevent", "patient_id", owns="e"),
    Link("dosing_adverseeventreview", "event_id", via="e"),
    Link("dosing_remssubmission", "session_id", via="s"),
    Link("dosing_remsenrollment", "patient_id"),
    Link("therapy_therapynote", "patient_id", owns="n"),
    Link("therapy_noteaddendum", "note_id", via="n"),
    Link("therapy_notecosignature", "note_id", via="n"),
    Link("therapy_noteshare", "note_id", via="n"),
    Link("therapy_reflection", "patient_id"),
    Link("therapy_goalprogress", "patient_id"),
    # Shown on every chart: staff names and roles (care team, authors, the care team's choices), portal logins.
    Link("accounts_user", "id", clinic=True),
    Link("consent_consentversion", "id", clinic=True),
)
# Tables that reach a patient but whose rows no cached page shows (or that change on every read).
NOT_SHOWN = frozenset(
    {
        "audit_accessevent",  # the reads themselves: every page writes one
        "audit_emergencyaccess",  # the banner is not cached under emergency access
        "inventory_ledgerentry",
        "inventory_investigation",
        "inventory_lossreport",
        "measures_responseitem",  # written with its response, which moves the version
        "measures_responsedraft",
        "measures_remindersent",
        "appointments_appointmentchange",  # written with the appointment's change
        "messaging_messagethread",
        "messaging_message",
        "messaging_messageread",
        "messaging_messagesafetyflag",
        "reminders_reminderpreference",
        "reminders_remindersent",
        "reminders_bookingreply",
        # Billing's own pages; the chart shows none of it (its Insurance line is the patient's own fields).
        "billing_coverage",
        "billing_chargeline",
        "billing_chargereview",
        "billing_moneyentry",
        "billing_packagepurchase",
        # Prior authorisations and the going-on past their warnings: their own page (and the coordinator's home),
        # never the cached chart body.
        "billing_priorauthorisation",
        "billing_authorisationgoon",
        # Claims and remittances: the biller's pages only (issue 18 item 5).
        "billing_claim",
        "billing_claimline",
        "billing_claimevent",
        "billing_remittance",
        # Outcome prompts are drawn live beside the cached chart body (templates/chart/patient.html), never in it.
        "outcomes_outcomeprompt",
        "outcomes_promptaction",
        # A referrer's progress report is a signed snapshot printed on its own page, never part of the chart body.
        "outcomes_referrerreport",
        # The dashboard's stored course summaries and their stale marks: derived from the scores, doses and plans
        # (which move the version) and read only by the outcomes dashboard.
        "outcomes_storedcoursesummary",
        "outcomes_stalecourses",
        # A kept referral bundle and the choices on it: shown on their own pages; what is taken is written to the
        # evaluation and the responses, which move the version.
        "fhir_referralimport",
        "fhir_referralchoice",
    }
)
# accounts_user: only the columns pages show; sign-ins (last_login) and password changes move nothing.
_USER_COLUMNS = ("username", "first_name", "last_name", "role", "is_active", "must_change_password")
_PATIENT_IDENTITY = ("mrn", "given_name", "family_name", "preferred_name")

_BUMP = (
    "INSERT INTO chart_recordversion (patient_id, version) {rows} "
    "ON CONFLICT (patient_id) DO UPDATE SET version = chart_recordversion.version + 1"
)


def _sqlite_patient(link: Link, row: str) -> str:
    """A SELECT of the patient id (nothing when there is none) for `row` (NEW or OLD)."""
    if link.clinic:
        return f"SELECT {CLINIC}, 1 WHERE true"
    if link.via:
        return (
            "SELECT patient_id, 1 FROM chart_recordowner "  # noqa: S608 - names from code
            f"WHERE kind = '{link.via}' AND ref = {row}.{link.column}"
        )
    return f"SELECT {row}.{link.column}, 1 WHERE {row}.{link.column} IS NOT NULL"


def _sqlite_sql(link: Link) -> list[str]:
    def bump(row: str) -> str:
        return _BUMP.format(rows=_sqlite_patient(link, row)) + ";"

    own = ""
    if link.owns:
        patient = f"({_sqlite_patient(link, 'NEW').replace(', 1', '', 1)})"
        own = (
            f"INSERT INTO chart_recordowner (kind, ref, patient_id) SELECT '{link.owns}', NEW.id, {patient} "
            f"WHERE {patient} IS NOT NULL ON CONFLICT (kind, ref) DO NOTHING;"
        )
    update_when = ""
    if link.table == "accounts_user":
        update_when = "WHEN " + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _USER_COLUMNS) + " "
    statements = [
        f"CREATE TRIGGER {link.name}_insert AFTER INSERT ON {link.table} BEGIN {own} {bump('NEW')} END;",
        f"CREATE TRIGGER {link.name}_update AFTER UPDATE ON {link.table} {update_when}"
        f"BEGIN {bump('NEW')} {bump('OLD')} END;",
        f"CREATE TRIGGER {link.name}_delete AFTER DELETE ON {link.table} BEGIN {bump('OLD')} END;",
    ]
    if link.table == "patients_patient":
        # A patient's name or MRN shows in the duplicate alert on another patient's chart.
        renamed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _PATIENT_IDENTITY)
        statements.append(
            f"CREATE TRIGGER {link.name}_renamed AFTER UPDATE ON {link.table} WHEN {renamed} "
            f"BEGIN {_BUMP.format(rows=f'SELECT {CLINIC}, 1 WHERE true')}; END;"
        )
    return statements


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION kapclinic_record_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    column_name text := TG_ARGV[0];
    link_via text := TG_ARGV[1];
    link_owns text := TG_ARGV[2];
    clinic boolean := TG_ARGV[3] = 'clinic';
    refs bigint[] := ARRAY[]::bigint[];
    one_ref bigint;
    found_patient bigint;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        refs := refs || (to_jsonb(NEW) ->> column_name)::bigint;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        refs := refs || (to_jsonb(OLD) ->> column_name)::bigint;
    END IF;
    FOREACH one_ref IN ARRAY refs LOOP
        IF clinic THEN
            found_patient := 0;
        ELSIF link_via = '' THEN
            found_patient := one_ref;
        ELSE
            SELECT o.patient_id INTO found_patient FROM chart_recordowner o WHERE o.kind = link_via AND o.ref = one_ref;
        END IF;
        IF found_patient IS NOT NULL THEN
            INSERT INTO chart_recordversion AS v (patient_id, version) VALUES (found_patient, 1)
                ON CONFLICT ON CONSTRAINT chart_recordversion_pkey DO UPDATE SET version = v.version + 1;
        END IF;
    END LOOP;
    IF link_owns <> '' AND TG_OP = 'INSERT' AND found_patient IS NOT NULL THEN
        INSERT INTO chart_recordowner (kind, ref, patient_id)
            VALUES (link_owns, (to_jsonb(NEW) ->> 'id')::bigint, found_patient)
            ON CONFLICT ON CONSTRAINT chart_recordowner_kind_ref DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
"""


def _pg_sql(link: Link) -> list[str]:
    args = f"'{link.column}', '{link.via}', '{link.owns}', '{'clinic' if link.clinic else ''}'"
    when = ""
    if link.table == "accounts_user":
        when = "WHEN (" + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _USER_COLUMNS) + ") "
    statements = [
        f"CREATE TRIGGER {link.name} AFTER INSERT OR DELETE ON {link.table} "
        f"FOR EACH ROW EXECUTE FUNCTION kapclinic_record_version({args});",
        f"CREATE TRIGGER {link.name}_update AFTER UPDATE ON {link.table} FOR EACH ROW {when}"
        f"EXECUTE FUNCTION kapclinic_record_version({args});",
    ]
    if link.table == "patients_patient":
        renamed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _PATIENT_IDENTITY)
        statements.append(
            f"CREATE TRIGGER {link.name}_renamed AFTER UPDATE ON {link.table} FOR EACH ROW WHEN ({renamed}) "
            f"EXECUTE FUNCTION kapclinic_record_version('id', '', '', 'clinic');"
        )
    return statements


def trigger_names(vendor: str, link: Link) -> list[str]:
    if vendor == "sqlite":
        names = [f"{link.name}_insert", f"{link.name}_update", f"{link.name}_delete"]
    else:
        names = [link.name, f"{link.name}_update"]
    return names + ([f"{link.name}_renamed"] if link.table == "patients_patient" else [])


def _drop_sql(vendor: str, link: Link) -> list[str]:
    on = "" if vendor == "sqlite" else f" ON {link.table}"
    return [f"DROP TRIGGER IF EXISTS {name}{on};" for name in trigger_names(vendor, link)]


def _create_sql(vendor: str, link: Link) -> list[str]:
    if vendor == "sqlite":
        return _sqlite_sql(link)
    if vendor == "postgresql":
        return _pg_sql(link)
    raise NotImplementedError(f"No record version trigger for the {vendor} backend")


def record_versions_kept(links: tuple[Link, ...] = LINKS) -> migrations.RunPython:
    """Return a migration operation that (re)makes the triggers moving the record versions for `links`."""

    def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(_PG_FUNCTION, params=None)
        for link in links:
            for statement in [*_drop_sql(vendor, link), *_create_sql(vendor, link)]:
                schema_editor.execute(statement, params=None)

    def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for link in links:
            for statement in _drop_sql(schema_editor.connection.vendor, link):
                schema_editor.execute(statement, params=None)

    return migrations.RunPython(forwards, backwards, elidable=False)


def record_version_triggers_missing(db: BaseDatabaseWrapper | None = None) -> list[str]:
    """Return the names of the record version triggers not in this database (or disabled), for the tests."""
    db = db or connection
    missing = []
    with db.cursor() as cursor:
        for link in LINKS:
            names = trigger_names(db.vendor, link)
            if db.vendor == "sqlite":
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [link.table])
            else:
                cursor.execute(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgenabled IN ('O', 'A')",
                    [link.table],
                )
            present = {row[0] for row in cursor.fetchall()}
            missing += [name for name in names if name not in present]
    return missing


def record_version(patient_id: int) -> int:
    """Return the patient's record version with the clinic's (one indexed query): it moves on with every change."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(version), 0) FROM chart_recordversion WHERE patient_id IN (%s, 0)", [patient_id]
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0

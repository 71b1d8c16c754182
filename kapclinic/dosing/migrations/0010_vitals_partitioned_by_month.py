"""PostgreSQL: the vitals become partitioned by month of measured_at (issue 15, item 4), as the audit log is.

kapclinic/dbpartitions.py says how and what integrity costs; VitalSign's docstring why measured_at. Three
foreign keys point at a vital (a clearance, an alert, a correction) and PostgreSQL cannot keep a foreign key
to a partitioned table by id alone: they become db_constraint=False, and a trigger on each referencing table
refuses an id with no vital (kapclinic/dbtriggers.py REFERENCES_CHECKED; on SQLite too, where the tables stay
unpartitioned). Run as the owner; `manage.py db_grants` afterwards re-grants exactly, as always.

On SQLite an AlterField rebuilds the table, which drops its triggers: the three tables get their append-only
triggers back here. Not reversible on PostgreSQL (no foreign key can point at the partitioned table).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.state import StateApps
from django.utils import timezone

from kapclinic.dbpartitions import is_partitioned, partition_by_month
from kapclinic.dbtriggers import append_only_restore, reference_checked

MONTHS_AHEAD = 3
TABLE, KEY = "dosing_vitalsign", "measured_at"
REBUILT_ON_SQLITE = ("dosing_clearance", "dosing_monitoringalert", "dosing_vitalsign")


def append_only_again_on_sqlite(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for table in REBUILT_ON_SQLITE:
            append_only_restore(schema_editor.connection, table)


def partition(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    connection = schema_editor.connection
    if connection.vendor == "postgresql" and not is_partitioned(connection, TABLE):
        partition_by_month(connection, TABLE, KEY, today=timezone.now().date(), months_ahead=MONTHS_AHEAD)


def unpartition(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        raise IrreversibleError(
            "dosing 0010 cannot be reversed on PostgreSQL: the foreign keys to the vitals cannot point at a "
            "partitioned table. Restore a backup taken before the upgrade instead."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("dosing", "0009_session_patient_end_index"),
    ]

    operations = [
        # Reversed (SQLite), this runs last: the AlterFields below have rebuilt the tables again.
        migrations.RunPython(migrations.RunPython.noop, append_only_again_on_sqlite, elidable=False),
        migrations.AlterField(
            model_name="clearance",
            name="vital",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="dosing.vitalsign",
            ),
        ),
        migrations.AlterField(
            model_name="monitoringalert",
            name="vital",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="alerts",
                to="dosing.vitalsign",
            ),
        ),
        migrations.AlterField(
            model_name="vitalsign",
            name="corrects",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="dosing.vitalsign",
            ),
        ),
        migrations.RunPython(append_only_again_on_sqlite, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(partition, unpartition, elidable=False),
        # After the copy: a trigger present during it would queue an event per row copied.
        reference_checked("dosing_clearance", "vital_id", "dosing_vitalsign"),
        reference_checked("dosing_monitoringalert", "vital_id", "dosing_vitalsign"),
        reference_checked("dosing_vitalsign", "corrects_id", "dosing_vitalsign"),
    ]

"""Chain the audit log (kapclinic/hashchain.py) and keep signed checkpoints of it (issue 12, fault 3).

Existing rows are chained in id order here; the append-only triggers refuse UPDATE, so they are lifted
around the backfill and put back at the end (on SQLite, adding the columns rebuilds the table anyway).
"""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from kapclinic.audit.chain import AUDIT, chain_backfill, chain_head_function
from kapclinic.dbtriggers import append_only, append_only_lifted


def chain_existing_rows(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    chain_backfill(apps.get_model("audit", "AccessEvent"), AUDIT, schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_accessevent_append_only")]

    operations = [
        migrations.RunPython(chain_head_function, migrations.RunPython.noop, elidable=False),
        append_only_lifted("audit_accessevent"),
        migrations.AddField(
            model_name="accessevent",
            name="previous_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="accessevent",
            name="row_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_rows, migrations.RunPython.noop, elidable=False),
        append_only("audit_accessevent"),
        migrations.CreateModel(
            name="ChainCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "chain",
                    models.CharField(
                        choices=[("audit", "Audit log"), ("ledger", "Controlled-substance ledger")], max_length=10
                    ),
                ),
                ("last_id", models.BigIntegerField(help_text="0: the chain was empty")),
                ("last_hash", models.CharField(max_length=64)),
                ("row_count", models.BigIntegerField()),
                ("taken_at", models.DateTimeField()),
                ("signature", models.CharField(max_length=64)),
            ],
            options={"ordering": ["chain", "last_id", "id"]},
        ),
        append_only("audit_chaincheckpoint"),
    ]

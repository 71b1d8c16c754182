"""Chain the controlled-substance ledger (kapclinic/hashchain.py; issue 12, fault 3).

Existing entries are chained in id order here; the append-only triggers refuse UPDATE, so they are
lifted around the backfill and put back at the end (on SQLite, adding the columns rebuilds the table).
"""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from kapclinic.audit.chain import LEDGER, chain_backfill
from kapclinic.dbtriggers import append_only, append_only_lifted


def chain_existing_rows(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    chain_backfill(apps.get_model("inventory", "LedgerEntry"), LEDGER, schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0004_counts_append_only")]

    operations = [
        append_only_lifted("inventory_ledgerentry"),
        migrations.AddField(
            model_name="ledgerentry",
            name="previous_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="ledgerentry",
            name="row_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_rows, migrations.RunPython.noop, elidable=False),
        append_only("inventory_ledgerentry"),
    ]

from django.db import migrations

from kapclinic.dbtriggers import append_only


class Migration(migrations.Migration):
    dependencies = [("inventory", "0003_counts")]

    # 0003 added a column to the ledger; on SQLite that rebuilt the table and dropped its triggers.
    operations = [
        append_only("inventory_ledgerentry"),
        append_only("inventory_inventorycount"),
        append_only("inventory_countline"),
    ]

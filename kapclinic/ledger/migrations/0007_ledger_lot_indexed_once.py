"""Foreign keys that lead a composite index lose their own index: one index fewer to write per row
(kapclinic.dbtriggers.own_index_dropped: no table rebuild on SQLite, so the triggers stay)."""

import django.db.models.deletion
from django.db import migrations, models

from kapclinic.dbtriggers import own_index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0006_loss_reports"),
    ]

    operations = [
        own_index_dropped(
            migrations.AlterField(
                model_name="ledgerentry",
                name="lot",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="entries",
                    to="inventory.lot",
                ),
            ),
            table="inventory_ledgerentry",
            column="lot_id",
            index="inventory_ledgerentry_lot_id_bbebad01",
        ),
    ]

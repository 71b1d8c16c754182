"""Foreign keys that lead a composite index lose their own index: one index fewer to write per row
(kapclinic.dbtriggers.own_index_dropped: no table rebuild on SQLite, so the triggers stay)."""

import django.db.models.deletion
from django.db import migrations, models

from kapclinic.dbtriggers import own_index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("dosing", "0011_session_booking"),
    ]

    operations = [
        own_index_dropped(
            migrations.AlterField(
                model_name="vitalsign",
                name="session",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="vitals",
                    to="dosing.dosingsession",
                ),
            ),
            table="dosing_vitalsign",
            column="session_id",
            index="dosing_vitalsign_session_id_7b0ae0a8",
        ),
    ]

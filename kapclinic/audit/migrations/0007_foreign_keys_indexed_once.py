"""Foreign keys that lead a composite index lose their own index: one index fewer to write per row
(kapclinic.dbtriggers.own_index_dropped: no table rebuild on SQLite, so the triggers stay)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from kapclinic.dbtriggers import own_index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_chain_head_planned_once"),
        ("patients", "0002_search_columns"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        own_index_dropped(
            migrations.AlterField(
                model_name="accessevent",
                name="patient",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to="patients.patient",
                ),
            ),
            table="audit_accessevent",
            column="patient_id",
            index="audit_accessevent_patient_id_ec566345",
        ),
        own_index_dropped(
            migrations.AlterField(
                model_name="accessevent",
                name="user",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
            table="audit_accessevent",
            column="user_id",
            index="audit_accessevent_user_id_368a285a",
        ),
    ]

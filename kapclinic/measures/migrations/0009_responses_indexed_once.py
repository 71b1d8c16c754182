"""Foreign keys that lead a composite index lose their own index: one index fewer to write per row
(kapclinic.dbtriggers.own_index_dropped: no table rebuild on SQLite, so the triggers stay)."""

import django.db.models.deletion
from django.db import migrations, models

from kapclinic.dbtriggers import own_index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("measures", "0008_referral_source"),
        ("patients", "0002_search_columns"),
    ]

    operations = [
        own_index_dropped(
            migrations.AlterField(
                model_name="questionnaireresponse",
                name="patient",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="responses",
                    to="patients.patient",
                ),
            ),
            table="measures_questionnaireresponse",
            column="patient_id",
            index="measures_questionnaireresponse_patient_id_b0a05a46",
        ),
        own_index_dropped(
            migrations.AlterField(
                model_name="responseitem",
                name="response",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="items",
                    to="measures.questionnaireresponse",
                ),
            ),
            table="measures_responseitem",
            column="response_id",
            index="measures_responseitem_response_id_ea0d2049",
        ),
    ]

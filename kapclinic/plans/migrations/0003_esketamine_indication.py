from django.db import migrations, models

from kapclinic.dbtriggers import frozen_once_signed


class Migration(migrations.Migration):
    dependencies = [("plans", "0002_frozen_once_signed")]

    operations = [
        migrations.AddField(
            model_name="treatmentplan",
            name="esketamine_indication",
            field=models.CharField(
                blank=True,
                choices=[
                    ("trd", "Treatment-resistant depression (TRD)"),
                    ("mdsi", "Depressive symptoms in MDD with acute suicidal ideation or behaviour (MDSI)"),
                ],
                default="",
                max_length=4,
                verbose_name="esketamine indication",
            ),
        ),
        # SQLite adds the column by rebuilding the table, which drops its triggers: put them back.
        frozen_once_signed("plans_treatmentplan"),
    ]

"""The prescriber's eligibility decision is signed (issue 14, item 6): a digest column, blank on decisions
recorded before, which stay unsigned (no row is changed)."""

from django.db import migrations, models

from kapclinic.dbtriggers import append_only


class Migration(migrations.Migration):
    dependencies = [("intake", "0003_decisions_append_only")]

    operations = [
        migrations.AddField(
            model_name="eligibilitydecision",
            name="digest",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        # On SQLite a column with a default rebuilds the table, which drops its triggers: put them back
        # (kapclinic/dbtriggers.py).
        append_only("intake_eligibilitydecision"),
    ]

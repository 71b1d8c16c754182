"""The planned infusion minutes of an IV dose order (issue 13, rule 5)."""

from django.db import migrations, models

from kapclinic.dbtriggers import append_only


class Migration(migrations.Migration):
    dependencies = [("dosing", "0005_predose_check_in_and_indication")]

    operations = [
        migrations.AddField(
            model_name="doseorder",
            name="infusion_minutes",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        # On SQLite an added column can rebuild the table, which drops its triggers (0005 added a column with a
        # default to each of these, which does): put their append-only triggers back (kapclinic/dbtriggers.py).
        append_only("dosing_checkin"),
        append_only("dosing_doseorder"),
    ]

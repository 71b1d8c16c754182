from django.db import migrations

from kapclinic.dbtriggers import append_only


class Migration(migrations.Migration):
    dependencies = [("intake", "0002_evaluation")]

    operations = [append_only("intake_eligibilitydecision")]

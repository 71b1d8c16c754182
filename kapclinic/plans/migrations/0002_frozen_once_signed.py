from django.db import migrations

from kapclinic.dbtriggers import frozen_once_signed


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial")]

    operations = [frozen_once_signed("plans_treatmentplan")]

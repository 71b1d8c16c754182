from django.db import migrations

from kapclinic.dbtriggers import append_only, frozen_once_signed


class Migration(migrations.Migration):
    dependencies = [("dosing", "0002_initial")]

    operations = [
        append_only("dosing_sessiontransition"),
        frozen_once_signed("dosing_dosingsession"),
    ]

from django.db import migrations

from kapclinic.dbtriggers import append_only


class Migration(migrations.Migration):
    dependencies = [("measures", "0001_initial")]

    operations = [append_only("measures_questionnaireresponse"), append_only("measures_responseitem")]

from django.db import migrations

from kapclinic.dbtriggers import append_only


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [
        append_only("consent_consentversion"),
        append_only("consent_consentsignature"),
        append_only("consent_consentwitness"),
        append_only("consent_consentwithdrawal"),
    ]

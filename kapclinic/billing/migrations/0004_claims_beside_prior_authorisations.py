# The claims (billing-claims) and the evaluation lines and prior authorisations (billing-codes) were written side by side on 0002.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_claims"),
        ("billing", "0003_evaluation_lines_prior_authorisations"),
    ]

    operations = []

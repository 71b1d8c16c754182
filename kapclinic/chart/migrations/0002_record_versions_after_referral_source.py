"""Re-make the record-version triggers after measures 0008, which rebuilds the responses table on SQLite (and so
drops every trigger on it). The two migrations came from work done side by side; neither ordered after the other."""

from django.db import migrations

from kapclinic.chart.record_version import record_versions_kept


class Migration(migrations.Migration):
    dependencies = [
        ("chart", "0001_initial"),
        ("measures", "0008_referral_source"),
        ("accounts", "0004_biller_role"),
    ]

    operations = [record_versions_kept()]

"""Re-make the record-version triggers after intake 0005 (the E/M level of an eligibility decision), which can
rebuild the decisions table on SQLite and so drop every trigger on it (as 0002 did after measures 0008)."""

from django.db import migrations

from kapclinic.chart.record_version import record_versions_kept


class Migration(migrations.Migration):
    dependencies = [
        ("chart", "0002_record_versions_after_referral_source"),
        ("intake", "0005_eligibility_decision_em_level"),
    ]

    operations = [record_versions_kept()]

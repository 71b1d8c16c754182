"""Course summaries stored, kept by trigger (issue 19 item 8; kapclinic/outcomes/course_summaries.py).

The triggers mark a patient stale on a change to their scores, dosing sessions, doses or plans
(kapclinic/dbtriggers.py STALE_MARKING); every patient with a signed plan starts marked, so the first figures
summarise every course (`manage.py course_summaries` after the upgrade does it before anyone waits: docs/deploy.md).
"""

import django.db.models.deletion
from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from kapclinic.dbtriggers import STALE_MARKING, stale_marking


def mark_every_course(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    schema_editor.execute(
        "INSERT INTO outcomes_stalecourses (patient_id, claimed) "
        "SELECT DISTINCT patient_id, %s FROM plans_treatmentplan WHERE signed_at IS NOT NULL",
        params=[False],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("dosing", "0011_session_booking"),
        ("outcomes", "0002_referrer_report"),
        ("patients", "0002_search_columns"),
        ("plans", "0003_esketamine_indication"),
        ("measures", "0008_referral_source"),
    ]

    operations = [
        migrations.CreateModel(
            name="StaleCourses",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("claimed", models.BooleanField(default=False)),
                (
                    "patient",
                    models.OneToOneField(
                        null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="patients.patient"
                    ),
                ),
                (
                    "session",
                    models.OneToOneField(
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="dosing.dosingsession",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("patient__isnull", False), ("session__isnull", False), _connector="OR"),
                        name="stale_courses_whose",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="StoredCourseSummary",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("instrument", models.CharField(max_length=30)),
                ("route", models.CharField(max_length=12)),
                ("indication", models.CharField(max_length=10)),
                ("prescriber_id", models.BigIntegerField(null=True)),
                ("therapist_id", models.BigIntegerField()),
                ("first_dose", models.DateTimeField()),
                ("last_dose", models.DateTimeField()),
                ("sessions_to_come", models.IntegerField()),
                ("baseline_at", models.DateTimeField(null=True)),
                ("baseline_total", models.IntegerField(null=True)),
                ("end_at", models.DateTimeField(null=True)),
                ("end_total", models.IntegerField(null=True)),
                ("follow_up1_at", models.DateTimeField(null=True)),
                ("follow_up1_total", models.IntegerField(null=True)),
                ("follow_up2_at", models.DateTimeField(null=True)),
                ("follow_up2_total", models.IntegerField(null=True)),
                ("follow_up3_at", models.DateTimeField(null=True)),
                ("follow_up3_total", models.IntegerField(null=True)),
                ("first_response", models.DateTimeField(null=True)),
                ("relapsed", models.BooleanField()),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="patients.patient"
                    ),
                ),
                (
                    "plan",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="plans.treatmentplan"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("instrument", "plan"), name="course_summary_one_per_instrument")
                ],
            },
        ),
        *(stale_marking(table) for table in STALE_MARKING),
        migrations.RunPython(mark_every_course, migrations.RunPython.noop, elidable=False),
    ]

"""The filings a theft or loss needs, recorded against its loss entry (issue 13, rule 8). Append-only."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from kapclinic.dbtriggers import append_only


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0005_hash_chain"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="LossReport",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("written_notice", "Written notice to the DEA Field Division Office"),
                            ("form_106", "DEA Form 106 submitted"),
                        ],
                        max_length=16,
                    ),
                ),
                ("filed_on", models.DateField()),
                (
                    "reference",
                    models.CharField(blank=True, help_text="e.g. the Form 106 confirmation number", max_length=80),
                ),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "loss",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="loss_reports",
                        to="inventory.ledgerentry",
                    ),
                ),
            ],
            options={
                "ordering": ["loss", "kind"],
                "constraints": [
                    models.UniqueConstraint(fields=("loss", "kind"), name="loss_report_once_per_kind"),
                    models.CheckConstraint(
                        condition=models.Q(("kind__in", ["written_notice", "form_106"])),
                        name="loss_report_kind_known",
                    ),
                ],
            },
        ),
        append_only("inventory_lossreport"),
    ]

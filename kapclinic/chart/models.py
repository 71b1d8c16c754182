"""The record versions behind the chart's cache (chart/record_version.py): written only by database triggers."""

from __future__ import annotations

from django.db import models


class RecordVersion(models.Model):
    """How many changes a patient's record has had (patient_id 0: changes shown on every chart)."""

    patient_id = models.BigIntegerField(primary_key=True)  # not a foreign key: row 0 is the clinic's
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"record {self.patient_id} v{self.version}"


class RecordOwner(models.Model):
    """The patient a parent row belongs to (a dosing session, an alert, a note, a consent signature), so a trigger
    on its children finds the patient without naming the parent's table."""

    kind = models.CharField(max_length=1)
    ref = models.BigIntegerField()
    patient_id = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "ref"], name="chart_recordowner_kind_ref")]

    def __str__(self) -> str:
        return f"{self.kind}{self.ref} of patient {self.patient_id}"

"""FHIR Bulk Data export jobs (Bulk Data Access IG v2, issue 17 item 3): who asked for what, how far the worker is,
and the NDJSON files it wrote.

The files live on disk under settings.KAPCLINIC_EXPORT_DIR (one folder per job, never served by the web server
directly: only kapclinic.fhir.bulk streams them, to the requester, until the job expires). Not in the database:
an export is a transient copy of rows the database already holds, it can be as large as the clinic, and a backup
would carry it twice. A backup restores the job rows; their files are gone, so a restored job answers 404 for its
files as an expired one does.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.fhir.imports_bundle import fhir_instant


class ExportKind(models.TextChoices):
    SYSTEM = "system", "System ($export)"
    PATIENT = "patient", "All patients (Patient/$export)"
    GROUP = "group", "A caseload (Group/[id]/$export)"


class ExportStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    IN_PROGRESS = "in-progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ExportJob(models.Model):
    """One kick-off. The id is a random UUID: it is in the status URL the client polls."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=ExportKind.choices)
    # A Group is a clinician's caseload: the patients whose care team they are on (Group id = the user's id).
    group = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    types = models.JSONField(default=list)  # the resource types asked for, in the order written
    since = models.DateTimeField(null=True, blank=True)
    request_url = models.CharField(max_length=2000)
    channel = models.CharField(max_length=10, default="fhir")  # the kick-off's: "smart" for a system client
    status = models.CharField(max_length=12, choices=ExportStatus.choices, default=ExportStatus.ACCEPTED)
    # Resources changed after this instant are not promised in the export (the kick-off's time).
    transaction_time = models.DateTimeField()
    patients_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="export_status_known", condition=Q(status__in=ExportStatus.values)),
            models.CheckConstraint(name="export_kind_known", condition=Q(kind__in=ExportKind.values)),
            models.CheckConstraint(
                name="export_group_with_kind", condition=Q(kind="group", group__isnull=False) | ~Q(kind="group")
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="export_status_expiry")]

    def __str__(self) -> str:
        return f"{self.kind} export {self.pk} ({self.status})"


class ExportFile(models.Model):
    """One NDJSON file of a job: one resource type, `count` resources, at <export dir>/<job id>/<name>."""

    job = models.ForeignKey(ExportJob, on_delete=models.CASCADE, related_name="files")
    resource_type = models.CharField(max_length=64)
    name = models.CharField(max_length=100)
    count = models.PositiveIntegerField()
    size = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="export_file_name_once")]

    def __str__(self) -> str:
        return f"{self.name} of {self.job_id}"


class ReferralImport(models.Model):
    """A referral's FHIR Bundle as uploaded for one patient (issue 17 item 4). Append-only (trigger): the bundle is
    kept as received, so what it offered can be shown again and a choice revisited."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    channel = models.CharField(max_length=10, default="web")
    bundle = models.TextField()  # the JSON as received (UTF-8), size-capped by the service
    sha256 = models.CharField(max_length=64)  # of the bytes received: the same file uploaded twice is recognised
    bundle_type = models.CharField(max_length=12)
    bundle_identifier = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=300, blank=True)  # the sending organisation(s), as named in the bundle
    entries = models.PositiveIntegerField()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["patient", "-uploaded_at"], name="referral_patient_uploaded")]

    def __str__(self) -> str:
        return f"referral bundle {self.pk} for patient {self.patient_id}"


class ReferralChoiceKind(models.TextChoices):
    CONDITION = "condition", "Condition"
    MEDICATION = "medication", "Medication"
    ALLERGY = "allergy", "Allergy"
    SCORE = "score", "Questionnaire score"


class ReferralChoice(models.Model):
    """The clinician's choice for one item of a referral bundle: taken (written to the record through its owner's
    service) or left. Append-only: a later choice for the same item is a new row; the latest counts. What was taken
    keeps where it came from here: the bundle, its sender and the item's own date."""

    referral = models.ForeignKey(ReferralImport, on_delete=models.PROTECT, related_name="choices")
    item = models.CharField(max_length=40)  # the offer's key in the bundle (its entry), see fhir/imports_bundle.py
    kind = models.CharField(max_length=12, choices=ReferralChoiceKind.choices)
    taken = models.BooleanField()
    label = models.CharField(max_length=300)  # the bundle's words for it
    value = models.CharField(max_length=200)  # what was (or would have been) written
    original_date = models.CharField(max_length=40, blank=True)  # the item's date as the bundle gives it
    chosen_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    chosen_at = models.DateTimeField(default=timezone.now)
    # A score taken is a questionnaire response of the measures app; this is the one written.
    response = models.ForeignKey(
        "measures.QuestionnaireResponse", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["referral", "item", "-chosen_at", "-id"]
        indexes = [models.Index(fields=["referral", "item"], name="referral_choice_item")]
        constraints = [
            models.CheckConstraint(name="referral_choice_kind_known", condition=Q(kind__in=ReferralChoiceKind.values))
        ]

    def __str__(self) -> str:
        return f"{'took' if self.taken else 'left'} {self.item} of referral {self.referral_id}"

    @property
    def dated(self) -> datetime | None:
        """The item's own date as an instant; None when the bundle gave a partial date (shown as written)."""
        return fhir_instant(self.original_date)

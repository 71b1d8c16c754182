"""Informed consent (stage 3 of the care pathway): versioned texts, signatures, witnesses, withdrawals.

Every table here is append-only: the director "edits" a text by publishing a new version, which never
changes what an earlier patient signed (each signature points at the exact version and stores a digest
of the text it showed).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ConsentVersion(models.Model):
    """One published version of a consent document, e.g. "Ketamine-assisted psychotherapy" v3."""

    document = models.SlugField(max_length=60, help_text="Which consent this is a version of.")
    title = models.CharField(max_length=200)
    number = models.PositiveIntegerField()
    body = models.TextField(max_length=50_000)
    # The key risks, one checkbox each for the patient: [{"code": "...", "text": "..."}].
    risks = models.JSONField(default=list)
    change_summary = models.CharField(max_length=300, blank=True)
    body_digest = models.CharField(max_length=64)
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["document", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="consent_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.number}"


class SigningChannel(models.TextChoices):
    PORTAL = "portal", "Patient portal"
    CLINIC = "clinic", "At the clinic"


class ConsentSignature(models.Model):
    """The patient's signature on one consent version: typed full name, each key risk ticked, when, from where."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="consent_signatures")
    version = models.ForeignKey(ConsentVersion, on_delete=models.PROTECT, related_name="signatures")
    typed_name = models.CharField(max_length=200)
    risks_acknowledged = models.JSONField(default=list)
    signed_at = models.DateTimeField(default=timezone.now)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    channel = models.CharField(max_length=10, choices=SigningChannel.choices)
    # The signed-in account the signature came from (the patient's own, or the staff member's tablet).
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Digest of the version's text and risks plus the typed name and ticks: proves what was signed.
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["-signed_at", "-id"]
        indexes = [models.Index(fields=["patient", "signed_at"], name="consent_patient_time")]

    def __str__(self) -> str:
        return f"consent {self.version_id} signed by patient {self.patient_id}"


class ConsentWitness(models.Model):
    """A staff member who witnessed a signature (at the clinic, or confirming a portal signature later)."""

    signature = models.ForeignKey(ConsentSignature, on_delete=models.PROTECT, related_name="witnesses")
    witness = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    witnessed_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["signature", "witness"], name="consent_witness_once")]

    def __str__(self) -> str:
        return f"witness {self.witness_id} on signature {self.signature_id}"


class ConsentWithdrawal(models.Model):
    """The patient withdrew a consent they had signed: the pathway stops and future sessions are cancelled."""

    signature = models.OneToOneField(ConsentSignature, on_delete=models.PROTECT, related_name="withdrawal")
    withdrawn_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(max_length=2000, blank=True)
    channel = models.CharField(max_length=10, choices=SigningChannel.choices)

    class Meta:
        constraints = [
            models.CheckConstraint(name="withdrawal_channel_known", condition=Q(channel__in=["portal", "clinic"]))
        ]

    def __str__(self) -> str:
        return f"withdrawal of signature {self.signature_id}"

"""Informed consent (stage 3 of the care pathway): versioned texts, signatures, witnesses, withdrawals.

Every table here is append-only: the director "edits" a text by publishing a new version, which never
changes what an earlier patient signed (each signature points at the exact version and stores a digest
of the text it showed).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.signing import Signed, content_digest


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
            models.CheckConstraint(name="consent_version_number_positive", condition=Q(number__gte=1)),
            models.CheckConstraint(name="consent_version_title_present", condition=~Q(title="")),
            models.CheckConstraint(name="consent_version_body_present", condition=~Q(body="")),
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.number}"

    def text_content(self) -> dict[str, Any]:
        """The words the patient reads and ticks: what `body_digest` covers."""
        return {"document": self.document, "title": self.title, "body": self.body, "risks": self.risks}

    @property
    def text_intact(self) -> bool:
        return self.body_digest == content_digest(self.text_content())

    @property
    def risk_codes(self) -> list[str]:
        return [str(risk["code"]) for risk in self.risks]


class SigningChannel(models.TextChoices):
    PORTAL = "portal", "Patient portal"
    CLINIC = "clinic", "At the clinic"


class ConsentSignature(Signed):
    """The patient's signature on one consent version: typed full name, each key risk ticked, when, from where."""

    # With the version's text (by its digest) and risks: see signed_content.
    SIGNED_FIELDS = ("patient", "version", "typed_name", "risks_acknowledged", "signed_at")
    # The patient signs by typing their name; the account is the one the signature came from.
    SIGNER_FIELD = "recorded_by"
    DIGEST_FIELD = "digest"

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
        constraints = [
            models.CheckConstraint(
                name="consent_signature_channel_known", condition=Q(channel__in=["portal", "clinic"])
            ),
            models.CheckConstraint(name="consent_signature_name_typed", condition=~Q(typed_name="")),
        ]

    def __str__(self) -> str:
        return f"consent {self.version_id} signed by patient {self.patient_id}"

    def signed_content(self) -> dict[str, Any]:
        """What the digest covers: the version's text (by its digest) and risks, the name typed, the ticks, when."""
        return {
            **super().signed_content(),
            "version_body_digest": self.version.body_digest,
            "risks": self.version.risks,
        }

    @property
    def signature_intact(self) -> bool:
        """Whether the stored signature still matches the version text and what the patient typed and ticked."""
        return self.version.text_intact and super().signature_intact

    @property
    def acknowledged_risks(self) -> list[tuple[dict[str, str], bool]]:
        """Each risk of the version with whether the patient ticked it, in the order the patient read them."""
        ticked = set(self.risks_acknowledged)
        return [(risk, risk["code"] in ticked) for risk in self.version.risks]


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

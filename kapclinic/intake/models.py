"""Inquiries: the first contact, before anyone is a patient (stage 1 of the care pathway)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.signing import Signed


class InquirySource(models.TextChoices):
    WEB = "web", "Web form"
    PHONE = "phone", "Phone"
    REFERRAL = "referral", "Referral"


class InquiryStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    CONSULTATION_BOOKED = "consultation_booked", "Consultation booked"
    CONVERTED = "converted", "Converted to patient"
    CLOSED = "closed", "Closed"


class Inquiry(models.Model):
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField("date of birth", null=True, blank=True)
    phone = models.CharField(max_length=25, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    reason = models.TextField("what brings them", max_length=2000)
    referral_source = models.CharField("how they heard / referred by", max_length=200, blank=True)
    insurance_payer = models.CharField(max_length=120, blank=True)
    consent_to_contact = models.BooleanField(default=False)
    source = models.CharField(max_length=10, choices=InquirySource.choices)
    status = models.CharField(max_length=20, choices=InquiryStatus.choices, default=InquiryStatus.NEW)
    closed_reason = models.CharField(max_length=200, blank=True)
    patient = models.OneToOneField(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="inquiry"
    )
    client_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="inquiry_has_contact", condition=~Q(phone="") | ~Q(email="")),
            models.CheckConstraint(name="inquiry_status_known", condition=Q(status__in=InquiryStatus.values)),
            models.CheckConstraint(
                name="inquiry_converted_has_patient",
                condition=~Q(status=InquiryStatus.CONVERTED) | Q(patient__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Inquiry {self.pk}: {self.given_name} {self.family_name} ({self.status})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class Evaluation(models.Model):
    """The prescriber's evaluation of a patient: the facts the eligibility rules read (one per patient, editable)."""

    patient = models.OneToOneField("patients.Patient", on_delete=models.PROTECT, related_name="evaluation")
    data = models.JSONField(default=dict)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"evaluation of patient {self.patient_id} (v{self.version})"


class EligibilityDecisionKind(models.TextChoices):
    ELIGIBLE = "eligible", "Eligible"
    ELIGIBLE_WITH_PRECAUTIONS = "eligible_with_precautions", "Eligible with precautions"
    NOT_ELIGIBLE = "not_eligible", "Not eligible"


class EligibilityDecision(Signed):
    """The prescriber's signed decision, with the findings, rule set and policy that were in force. Append-only."""

    SIGNED_FIELDS = (
        "patient",
        "decision",
        "reason",
        "decided_by",
        "decided_at",
        "rule_set_version",
        "policy_version",
        "findings",
        "evaluation_data",
    )
    # The E/M level the prescriber chose when signing (issue 18): added after decisions were first signed.
    SIGNED_WHEN_SET = ("em_code", "em_basis", "em_minutes")
    SIGNER_FIELD = "decided_by"
    SIGNED_AT_FIELD = "decided_at"
    DIGEST_FIELD = "digest"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="eligibility_decisions")
    decision = models.CharField(max_length=30, choices=EligibilityDecisionKind.choices)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)
    rule_set_version = models.CharField(max_length=40)
    policy_version = models.CharField(max_length=40)
    findings = models.JSONField(default=list)
    evaluation_data = models.JSONField(default=dict)
    # Blank on decisions recorded before they were signed (2026-12): those stay unsigned, never signed later.
    digest = models.CharField(max_length=64, blank=True, default="")
    # The evaluation's office E/M level as the prescriber chose it where they signed (blank: not billed as a
    # visit), by medical decision making or total time, with the minutes when by time. Signed, so frozen.
    em_code = models.CharField("E/M level", max_length=5, blank=True)
    em_basis = models.CharField(
        "chosen by", max_length=4, blank=True, choices=[("mdm", "Medical decision making"), ("time", "Total time")]
    )
    em_minutes = models.PositiveSmallIntegerField("total minutes on the day", null=True, blank=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="eligibility_decision_known", condition=Q(decision__in=EligibilityDecisionKind.values)
            )
        ]

    def __str__(self) -> str:
        return f"{self.decision} for patient {self.patient_id} at {self.decided_at:%Y-%m-%d}"

    @property
    def is_signed(self) -> bool:
        return bool(self.digest)

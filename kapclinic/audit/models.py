from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Outcome(models.TextChoices):
    ALLOWED = "allowed", "Allowed"
    DENIED = "denied", "Denied"
    NOT_FOUND = "not_found", "Not found"
    INVALID = "invalid", "Rejected as invalid"


class Channel(models.TextChoices):
    PAGE = "page", "Page"
    API = "api", "API"
    SYSTEM = "system", "System"


class AccessEvent(models.Model):
    """One read or write of patient data, allowed or refused.

    Append-only: a trigger created in migration 0002 makes the database refuse
    UPDATE and DELETE on this table (HIPAA 164.312(b), audit controls).
    """

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The user and the patient are each the first column of an index below, which serves their foreign keys too:
    # an index of their own would be one more to write for every row (500 M rows in five years, docs/sizing.md).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # Snapshots, so the row still reads right if the account is renamed later.
    username = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, blank=True)
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    action = models.CharField(max_length=60)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.ALLOWED)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    method = models.CharField(max_length=8, blank=True)
    path = models.CharField(max_length=300, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    emergency = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    # Hash chain (kapclinic/hashchain.py): written once by kapclinic/audit/chain.py, checked by verify_audit.
    previous_hash = models.CharField(max_length=64, editable=False)
    row_hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-occurred_at"], name="accessevent_patient_time"),
            models.Index(fields=["user", "-occurred_at"], name="accessevent_user_time"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.outcome}"


class Chain(models.TextChoices):
    AUDIT = "audit", "Audit log"
    LEDGER = "ledger", "Controlled-substance ledger"


class ChainCheckpoint(models.Model):
    """A signed record of a hash chain's last row and length (manage.py audit_checkpoint). Append-only.

    The signature is an HMAC with KAPCLINIC_AUDIT_KEY, which the database does not hold: whoever can
    rewrite the table cannot sign a checkpoint that matches the rewritten chain.
    """

    chain = models.CharField(max_length=10, choices=Chain.choices)
    last_id = models.BigIntegerField(help_text="0: the chain was empty")
    last_hash = models.CharField(max_length=64)
    row_count = models.BigIntegerField()
    taken_at = models.DateTimeField()
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["chain", "last_id", "id"]

    def __str__(self) -> str:
        return f"{self.chain} checkpoint at row {self.last_id} ({self.row_count} rows)"


class EmergencyAccess(models.Model):
    """A break-the-glass grant: a clinician opened a chart outside their care team, with a reason."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-granted_at"]
        indexes = [models.Index(fields=["user", "patient", "expires_at"], name="emergency_user_patient")]
        constraints = [
            models.CheckConstraint(name="emergency_reason_given", condition=~models.Q(reason="")),
            models.CheckConstraint(
                name="emergency_expires_after_grant", condition=models.Q(expires_at__gt=models.F("granted_at"))
            ),
        ]

    def __str__(self) -> str:
        return f"emergency access by {self.user_id} to {self.patient_id} at {self.granted_at:%Y-%m-%d %H:%M}"

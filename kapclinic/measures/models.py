"""Questionnaire responses, stored item by item with the instrument version; safety flags they raise."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ResponseSource(models.TextChoices):
    PORTAL = "portal", "Answered by the patient in the portal"
    PAPER = "paper", "Entered by staff from a paper form"
    CLINICIAN = "clinician", "Rated by a clinician"
    # A total another provider recorded, taken from a referral's FHIR Bundle (issue 17 item 4): no item answers.
    REFERRAL = "referral", "Reported in a referral's record"


class QuestionnaireResponse(models.Model):
    """One submitted response. Append-only (trigger): a correction is a new response pointing back."""

    # Indexed first in response_patient_instrument (below), which serves the foreign key too.
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="responses", db_index=False)
    instrument = models.CharField(max_length=30)
    version = models.CharField(max_length=20)
    total = models.IntegerField(null=True, blank=True)
    severity = models.CharField(max_length=80, blank=True)
    flags = models.JSONField(default=list, blank=True)
    complete = models.BooleanField()
    prorated = models.BooleanField(default=False)
    source = models.CharField(max_length=10, choices=ResponseSource.choices)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)
    # Sent with the form: a double click or a second tab submits the same token and gets the same response.
    client_token = models.UUIDField(null=True, blank=True, unique=True)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections")
    correction_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["patient", "instrument", "-submitted_at"], name="response_patient_instrument")]
        constraints = [
            models.CheckConstraint(name="response_source_known", condition=Q(source__in=ResponseSource.values)),
            models.CheckConstraint(
                name="response_correction_has_reason",
                condition=Q(corrects__isnull=True) | ~Q(correction_reason=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.total} for patient {self.patient_id} at {self.submitted_at:%Y-%m-%d}"


class ResponseItem(models.Model):
    """One answer of a response (append-only)."""

    # Indexed first in response_item_once (below), which serves the foreign key too.
    response = models.ForeignKey(QuestionnaireResponse, on_delete=models.PROTECT, related_name="items", db_index=False)
    item = models.CharField(max_length=30)
    value = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["response", "id"]
        constraints = [models.UniqueConstraint(fields=["response", "item"], name="response_item_once")]

    def __str__(self) -> str:
        return f"{self.item}={self.value}"


class SafetyFlagCode(models.TextChoices):
    SUICIDE_RISK_URGENT = "suicide_risk_urgent", "Urgent: suicide risk"
    SUICIDE_RISK = "suicide_risk", "Suicide risk"
    RISK_ITEM_MISSING = "risk_item_missing", "Suicide-risk question left unanswered"
    # Raised by a clinician who read a worrying message (kapclinic/messaging): never raised automatically.
    MESSAGE_CONCERN = "message_concern", "Concern raised from a message"


class SafetyFlag(models.Model):
    """A safety answer (e.g. PHQ-9 item 9 above 0), or a clinician's concern about a message: shown until a
    clinician acknowledges it with an action."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="safety_flags")
    # The answer that raised it; None for a flag a clinician raised by hand (then `raised_by` and `reason` say
    # who and why, and the origin's own row points here: messaging.MessageSafetyFlag).
    response = models.ForeignKey(
        QuestionnaireResponse, null=True, blank=True, on_delete=models.PROTECT, related_name="safety_flags"
    )
    code = models.CharField(max_length=40, choices=SafetyFlagCode.choices)
    raised_at = models.DateTimeField(default=timezone.now)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    action_taken = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["acknowledged_at", "patient"], name="safety_flag_open")]
        constraints = [
            models.CheckConstraint(
                name="safety_flag_ack_with_action",
                condition=Q(acknowledged_at__isnull=True) | ~Q(action_taken=""),
            ),
            # Raised by an answer, or by a named clinician with a reason.
            models.CheckConstraint(
                name="safety_flag_has_origin",
                condition=Q(response__isnull=False) | (Q(raised_by__isnull=False) & ~Q(reason="")),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.code} for patient {self.patient_id} ({'open' if self.acknowledged_at is None else 'acknowledged'})"
        )


class ResponseDraft(models.Model):
    """Answers saved as they are given, so a questionnaire can be resumed; deleted on submit."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    instrument = models.CharField(max_length=30)
    answers = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["patient", "instrument"], name="one_draft_per_instrument")]

    def __str__(self) -> str:
        return f"draft {self.instrument} for patient {self.patient_id}"


class ScheduledMeasure(models.Model):
    """A questionnaire due on a date for a patient; fulfilled by the first response answered in its window."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="scheduled_measures")
    instrument = models.CharField(max_length=30)
    label = models.CharField(max_length=80)
    due_on = models.DateField()
    # One answer may fulfil several measures due in the same days (clinical.schedule.counts_for).
    response = models.ForeignKey(
        QuestionnaireResponse, null=True, blank=True, on_delete=models.PROTECT, related_name="fulfils"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["response", "due_on"], name="scheduled_open_due")]
        constraints = [
            models.UniqueConstraint(fields=["patient", "instrument", "due_on"], name="scheduled_once_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.instrument} due {self.due_on} for patient {self.patient_id}"


class ReminderKind(models.TextChoices):
    DUE = "due", "Due"
    OVERDUE = "overdue", "Overdue"


class ReminderSent(models.Model):
    """One reminder sent; the unique pair makes the reminder job idempotent (never the same one twice)."""

    scheduled = models.ForeignKey(ScheduledMeasure, on_delete=models.PROTECT, related_name="reminders")
    kind = models.CharField(max_length=8, choices=ReminderKind.choices)
    sent_at = models.DateTimeField(default=timezone.now)
    to = models.EmailField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scheduled", "kind"], name="reminder_once")]

    def __str__(self) -> str:
        return f"{self.kind} reminder for {self.scheduled_id}"

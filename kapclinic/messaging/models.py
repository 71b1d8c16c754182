"""Secure messages between a patient and their care team, and among the team about a patient.

A thread belongs to one patient. A staff-only thread is the team talking about the patient: never shown to
them. Messages, read marks and the link from a message to the safety flag it prompted are append-only
(database triggers, kapclinic/dbtriggers.py): a message is never edited or deleted, only answered.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

SUBJECT_MAX = 200
BODY_MAX = 5_000


class MessageThread(models.Model):
    """A conversation about one patient: with them, or (staff-only) among their care team."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="message_threads")
    subject = models.CharField(max_length=SUBJECT_MAX)
    staff_only = models.BooleanField(default=False)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    # When the newest message was written: the order of the thread lists.
    last_message_at = models.DateTimeField(default=timezone.now)
    # Set by a clinician who judges the thread needs a clinical answer; cleared by a team member's reply or by
    # hand. Who and when are also in the audit trail.
    needs_response_at = models.DateTimeField(null=True, blank=True)
    needs_response_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [models.Index(fields=["patient", "-last_message_at"], name="thread_patient_latest")]
        constraints = [
            models.CheckConstraint(name="thread_subject_given", condition=~Q(subject="")),
            models.CheckConstraint(
                name="thread_needs_response_by_someone",
                condition=Q(needs_response_at__isnull=True) | Q(needs_response_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"thread {self.pk} of patient {self.patient_id}"

    @property
    def needs_response(self) -> bool:
        return self.needs_response_at is not None


class Message(models.Model):
    """One message in a thread. Append-only."""

    thread = models.ForeignKey(MessageThread, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sent_at", "id"]
        indexes = [models.Index(fields=["thread", "sent_at"], name="message_thread_sent")]
        constraints = [
            models.CheckConstraint(name="message_body_given", condition=~Q(body="")),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} in thread {self.thread_id}"

    @property
    def safety_flag_id(self) -> int | None:
        """The safety flag a clinician raised from this message, if any."""
        try:
            return self.safety_flag_link.flag_id
        except MessageSafetyFlag.DoesNotExist:
            return None


class MessageRead(models.Model):
    """That one person read one message, and when: a row per reader, so each has their own unread state.
    Append-only."""

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="reads")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "reader"], name="message_read_once")]
        indexes = [models.Index(fields=["reader", "message"], name="message_read_reader")]

    def __str__(self) -> str:
        return f"message {self.message_id} read by {self.reader_id}"


class MessageSafetyFlag(models.Model):
    """The safety flag a clinician raised from a message (who, when and why are on the flag). Append-only."""

    message = models.OneToOneField(Message, on_delete=models.PROTECT, related_name="safety_flag_link")
    flag = models.OneToOneField("measures.SafetyFlag", on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"flag {self.flag_id} from message {self.message_id}"

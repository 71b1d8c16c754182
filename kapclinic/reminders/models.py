"""Reminders of bookings for patients (issue 16, item 4): the patient's choice of channel and wording, each
reminder sent (once), and the patient's answer to a booking (confirmed, or asks to reschedule).

A reminder sent and a reply are append-only (database triggers, kapclinic/dbtriggers.py): what the patient was
told and what they answered stay as they were. The rules of when and what are in kapclinic/clinical/reminders.py.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.clinical.reminders import Channel, Which

NOTE_MAX = 300


class ReminderPreference(models.Model):
    """How the patient wants booking reminders, and what they may say. No row: the defaults (clinical/reminders.py
    channel_for; where and when only)."""

    patient = models.OneToOneField("patients.Patient", on_delete=models.PROTECT, related_name="reminder_preference")
    channel = models.CharField(max_length=5, choices=[(c.value, c.label) for c in Channel])
    # The patient's choice to have the kind of visit named ("your integration session"); off: where and when only.
    name_visit = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(name="reminder_channel_known", condition=Q(channel__in=[c.value for c in Channel]))
        ]

    def __str__(self) -> str:
        return f"reminders for patient {self.patient_id}: {self.channel}"


class ReminderSent(models.Model):
    """One reminder of one booking, as sent. At most one per booking, reminder and booked time (the unique
    constraint is the worker's guard against sending twice; a moved booking is reminded again at its new time).
    Append-only."""

    appointment = models.ForeignKey("appointments.Appointment", on_delete=models.PROTECT, related_name="reminders_sent")
    which = models.CharField(max_length=10, choices=[(w.value, w.label) for w in Which])
    channel = models.CharField(max_length=5, choices=[(c.value, c.label) for c in Channel if c is not Channel.NONE])
    for_starts_at = models.DateTimeField()  # the booking's start the reminder gave
    to = models.CharField(max_length=254)  # the address or number it went to
    subject = models.CharField(max_length=200)
    body = models.TextField()  # the words sent (the email's; a text carried the short form of the same)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "which", "for_starts_at"], name="reminder_sent_once"),
            models.CheckConstraint(name="reminder_sent_which_known", condition=Q(which__in=[w.value for w in Which])),
            models.CheckConstraint(
                name="reminder_sent_channel_known", condition=Q(channel__in=[Channel.EMAIL.value, Channel.SMS.value])
            ),
        ]

    def __str__(self) -> str:
        return f"{self.which} reminder of appointment {self.appointment_id}"


class ReplyKind(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    RESCHEDULE = "reschedule", "Asks to reschedule"


class BookingReply(models.Model):
    """The patient's answer to a booking at its time: confirmed, or asks for another time (with a short note).
    The newest reply for the booking's current time counts; a move by the clinic leaves older replies behind.
    Append-only."""

    appointment = models.ForeignKey("appointments.Appointment", on_delete=models.PROTECT, related_name="replies")
    kind = models.CharField(max_length=10, choices=ReplyKind.choices)
    note = models.CharField(max_length=NOTE_MAX, blank=True)
    for_starts_at = models.DateTimeField()  # the booking's start the patient answered about
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["appointment", "-at"], name="booking_reply_latest")]
        constraints = [
            models.CheckConstraint(name="booking_reply_kind_known", condition=Q(kind__in=ReplyKind.values)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for appointment {self.appointment_id}"

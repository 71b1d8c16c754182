"""Reminder writes: send a due reminder (once), the patient's choice of channel and wording, and the patient's
answer to a booking. Each write is one transaction; the patient's writes carry their audit row, and a refusal
changes nothing and is audited outside the transaction so that its row stays."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, transaction
from django.utils import timezone

from kapclinic.appointments.models import Appointment, AppointmentStatus
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record, invalid_value_record
from kapclinic.clinical.reminders import Booking, Channel, channel_for, reminder_text
from kapclinic.errors import Conflict, NotFound
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.reminders.models import NOTE_MAX, BookingReply, ReminderPreference, ReminderSent, ReplyKind
from kapclinic.reminders.selectors import DueReminder, reminders_due
from kapclinic.reminders.sms import SmsBackend, sms_backend, sms_offered
from kapclinic.roles import Action

logger = logging.getLogger(__name__)


def _preference(patient: Patient) -> ReminderPreference | None:
    try:
        return patient.reminder_preference
    except ReminderPreference.DoesNotExist:
        return None


def reminder_channel(patient: Patient, preference: ReminderPreference | None) -> Channel:
    """The channel the patient's reminders go by now (their choice, or the default; NONE: nothing is sent)."""
    return channel_for(
        chosen=Channel(preference.channel) if preference else None,
        has_email=bool(patient.email),
        has_phone=bool(patient.phone),
        sms_offered=sms_offered(),
    )


def reminder_send(
    due: DueReminder, *, mail: BaseEmailBackend | None = None, texts: SmsBackend | None = None
) -> ReminderSent | None:
    """Send one due reminder by the patient's channel and record it; None when the patient opted out, has no
    address for their channel, or the reminder was already sent. `mail` and `texts` send it instead of the
    clinic's configured email and text backends (the synthetic demo's reminders must reach nobody).

    At most once, even with two workers at once: the row is inserted first, under the unique constraint
    (appointment, which, booked time), and the message is sent inside the same transaction. A second worker's
    insert waits for the first's commit and then fails; a failed send rolls the row back, and a later run retries.
    """
    appointment = due.appointment
    patient = appointment.patient
    assert patient is not None
    preference = _preference(patient)
    channel = reminder_channel(patient, preference)
    if channel is Channel.NONE:
        return None
    text = reminder_text(
        booking=Booking(
            starts=timezone.localtime(appointment.starts_at), kind=appointment.kind, video=appointment.mode == "video"
        ),
        clinic=settings.KAPCLINIC_CLINIC_NAME,
        address=settings.KAPCLINIC_CLINIC_ADDRESS,
        given_name=patient.preferred_name or patient.given_name,
        name_visit=bool(preference and preference.name_visit),
        preparation=due.preparation,
    )
    to = patient.email if channel is Channel.EMAIL else patient.phone
    try:
        with transaction.atomic():
            # Locked and read again: a booking cancelled or moved since it was found is not reminded of.
            still = Appointment.objects.select_for_update().filter(
                pk=appointment.pk, status=AppointmentStatus.BOOKED, starts_at=appointment.starts_at
            )
            if not still.exists():
                return None
            sent = ReminderSent.objects.create(
                appointment=appointment,
                which=due.which,
                channel=channel,
                for_starts_at=appointment.starts_at,
                to=to,
                subject=text.subject,
                body=text.body if channel is Channel.EMAIL else text.short,
            )
            if channel is Channel.EMAIL:
                send_mail(text.subject, text.body, settings.DEFAULT_FROM_EMAIL, [to], connection=mail)
            else:
                (texts or sms_backend()).send_text(to, text.short)
    except IntegrityError:
        return None  # another run sent it first
    return sent


def reminders_send_due(*, now: datetime | None = None) -> int:
    """Send every reminder due now; return how many were sent. A send that fails (a provider's refusal, a
    server down) is logged and left for the next run: it must not stop the other patients' reminders."""
    sent = 0
    for due in reminders_due(now=now or timezone.now()):
        try:
            sent += reminder_send(due) is not None
        except Exception:  # any backend's failure: its row was rolled back, and the next run retries
            logger.exception(
                "The %s reminder of appointment %s was not sent; the next run tries again.",
                due.which,
                due.appointment.pk,
            )
    return sent


def _refused(ctx: AuditContext, action: Action, patient_id: int, exc: ValidationError, **detail: Any) -> Exception:
    """Audit a refused value (nothing written) and return the error to raise."""
    return invalid_value_record(ctx=ctx, action=action, patient_id=patient_id, exc=exc, detail=detail)


def reminder_preference_set(
    *, ctx: AuditContext, patient_id: int, channel: str, name_visit: bool
) -> ReminderPreference:
    """Record how the patient wants reminders: by email, by text, or none (opt out); and whether they may name the
    kind of visit. A channel the clinic cannot use for them (no address on file, no text service) is refused."""
    access = patient_get_for_user(
        ctx=ctx, patient_id=patient_id, action=Action.REMINDER_PREFERENCE, record_allowed=False
    )
    patient = access.patient
    try:
        chosen = _channel_clean(channel, patient)
    except ValidationError as exc:
        raise _refused(ctx, Action.REMINDER_PREFERENCE, patient_id, exc) from None
    with transaction.atomic():
        preference, _ = ReminderPreference.objects.update_or_create(
            patient=patient,
            defaults={
                "channel": chosen,
                "name_visit": name_visit,
                "updated_at": timezone.now(),
                "updated_by": ctx.user,
            },
        )
        access_event_record(
            ctx=ctx,
            action=Action.REMINDER_PREFERENCE,
            patient_id=patient_id,
            detail={"channel": chosen.value, "name_visit": name_visit},
        )
    return preference


def _channel_clean(channel: str, patient: Patient) -> Channel:
    try:
        chosen = Channel(channel)
    except ValueError:
        raise ValidationError({"channel": "Choose email, text message, or no reminders."}) from None
    if chosen is Channel.EMAIL and not patient.email:
        raise ValidationError({"channel": "The clinic has no email address for you: add one, or choose another way."})
    if chosen is Channel.SMS and not sms_offered():
        raise ValidationError({"channel": "The clinic does not send text messages: choose email or no reminders."})
    if chosen is Channel.SMS and not patient.phone:
        raise ValidationError({"channel": "The clinic has no phone number for you: add one, or choose another way."})
    return chosen


def _note_clean(kind: ReplyKind, note: str) -> str:
    note = " ".join(note.split())
    if kind is ReplyKind.CONFIRMED and note:
        raise ValidationError({"note": "A confirmation takes no note; to ask for another time, use that button."})
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": f"Keep the note under {NOTE_MAX} characters; this one has {len(note)}."})
    return note


def booking_reply_record(*, ctx: AuditContext, appointment_id: int, kind: str, note: str = "") -> BookingReply:
    """The patient confirms their booking, or asks for another time (with an optional short note for the clinic).

    Only their own booking (another patient's is not found), only a booking still ahead and not cancelled.
    """
    found = Appointment.objects.filter(pk=appointment_id).values_list("patient_id", flat=True).first()
    if found is None:
        access_event_record(
            ctx=ctx, action=Action.BOOKING_REPLY, outcome=Outcome.NOT_FOUND, detail={"appointment": appointment_id}
        )
        raise NotFound("No such appointment.")
    access = patient_get_for_user(ctx=ctx, patient_id=found, action=Action.BOOKING_REPLY, record_allowed=False)
    patient_id = access.patient.pk
    try:
        try:
            reply_kind = ReplyKind(kind)
        except ValueError:
            raise ValidationError({"kind": "Confirm the appointment or ask for another time."}) from None
        clean_note = _note_clean(reply_kind, note)
    except ValidationError as exc:
        raise _refused(ctx, Action.BOOKING_REPLY, patient_id, exc, appointment=appointment_id) from None
    try:
        return _reply_write(ctx, appointment_id, patient_id, reply_kind, clean_note)
    except Conflict:
        access_event_record(
            ctx=ctx,
            action=Action.BOOKING_REPLY,
            patient_id=patient_id,
            outcome=Outcome.INVALID,
            detail={"appointment": appointment_id, "errors": {"": ["not ahead"]}},
        )
        raise


def _reply_write(
    ctx: AuditContext, appointment_id: int, patient_id: int, reply_kind: ReplyKind, note: str
) -> BookingReply:
    with transaction.atomic():
        # Locked: a reply to a booking the clinic is moving or cancelling at this moment waits for that change,
        # then answers about the booking as it is.
        appointment = Appointment.objects.select_for_update().get(pk=appointment_id)
        if appointment.status != AppointmentStatus.BOOKED or appointment.starts_at <= timezone.now():
            raise Conflict("This appointment is no longer ahead of you: it was cancelled, or its time has passed.")
        reply = BookingReply.objects.create(
            appointment=appointment,
            kind=reply_kind,
            note=note,
            for_starts_at=appointment.starts_at,
            by=ctx.user,
        )
        access_event_record(
            ctx=ctx,
            action=Action.BOOKING_REPLY,
            patient_id=patient_id,
            detail={"appointment": appointment.pk, "reply": reply.pk, "kind": reply_kind.value},
        )
    return reply

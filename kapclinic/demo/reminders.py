"""Booking reminders in the demo (issue 16, item 4). The two portal patients ("patient", "patient2") have a session
with the therapist in the coming days, at the first time free for both. Each has been sent a reminder through the
configured backend (the console in the demo: it prints them), so the portal's Reminders list is not empty; the
first confirmed, the second asks for another time (the coordinator's inbox and the calendar's badge show it). The
reminder job is queued for the worker, which sends the others as they fall due. Every word is made up."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment
from kapclinic.appointments.services import appointment_book
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.clinical.reminders import Channel, Which
from kapclinic.patients.models import Patient
from kapclinic.reminders.models import BookingReply, ReminderPreference, ReminderSent, ReplyKind
from kapclinic.reminders.selectors import DueReminder, preparations
from kapclinic.reminders.services import booking_reply_record, reminder_send
from kapclinic.reminders.sms import ConsoleSmsBackend
from kapclinic.reminders.tasks import send_booking_reminders

PORTAL_SERIALS = (1, 3)  # the demo's portal logins "patient" and "patient2"
HOURS = (10, 11, 13, 15, 16)


def _first_free(ctx: AuditContext, *, patient: Patient, therapist: User, kind: str) -> Appointment | None:
    """Book `kind` with the therapist at the first of the next week's times free for both; None if none is."""
    for days in range(1, 8):
        for hour in HOURS:
            starts_at = timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=days), time(hour)))
            try:
                return appointment_book(
                    ctx=ctx,
                    kind=kind,
                    with_user_id=therapist.pk,
                    starts_at=starts_at,
                    minutes=50,
                    mode="in_person",
                    patient_id=patient.pk,
                )
            except ValidationError:
                continue  # a clash, or outside someone's hours: the next time
    return None


@transaction.atomic
def reminders_demo_ensure(staff: dict[str, User]) -> int:
    """Make the demo's reminders and answers once; return how many reminders were sent."""
    if ReminderSent.objects.exists() or BookingReply.objects.exists():
        return 0
    first, second = (Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + s)) for s in PORTAL_SERIALS)
    assert first.user is not None and second.user is not None
    ctx = AuditContext(user=staff["coordinator"], channel="system")
    ReminderPreference.objects.create(patient=first, channel=Channel.EMAIL, updated_by=first.user)
    booked = [
        (patient, appointment)
        for patient, kind in ((first, "preparation"), (second, "preparation"))
        if (appointment := _first_free(ctx, patient=patient, therapist=staff["therapist"], kind=kind)) is not None
    ]
    sent = 0
    # Printed, never sent: under `make serve DEMO=1` the clinic's own mail server (or none: the load failed) and
    # text provider would otherwise be handed the synthetic patients' reminders.
    printed = get_connection("django.core.mail.backends.console.EmailBackend")
    for _, appointment in booked:
        due = DueReminder(appointment, Which.DAY_BEFORE, preparations([appointment]).get(appointment.pk))
        sent += reminder_send(due, mail=printed, texts=ConsoleSmsBackend()) is not None
    for patient, appointment in booked:
        assert patient.user is not None
        as_patient = AuditContext(user=patient.user, channel="system")
        if patient == first:
            booking_reply_record(ctx=as_patient, appointment_id=appointment.pk, kind=ReplyKind.CONFIRMED)
        else:
            booking_reply_record(
                ctx=as_patient,
                appointment_id=appointment.pk,
                kind=ReplyKind.RESCHEDULE,
                note="Could we move it to a morning? I start work at noon that day. (synthetic demo)",
            )
    # The worker sends the rest as they fall due (`manage.py db_worker`; hourly by the timer in production).
    transaction.on_commit(send_booking_reminders.enqueue)
    return sent

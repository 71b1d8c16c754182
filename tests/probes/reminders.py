"""Role-matrix probes for booking reminders (issue 16, item 4): the patient's answer to a booking, and their
choice of how reminders reach them. The page and the API twin are tried together and must agree."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from kapclinic.appointments.models import Appointment
from kapclinic.patients.models import Patient
from kapclinic.reminders.models import BookingReply, ReminderPreference
from kapclinic.roles import Action
from tests.probes.world import Probe, World


def _booking(w: World, patient: Patient) -> Appointment:
    start = (timezone.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    return Appointment.objects.create(
        kind="integration",
        patient=patient,
        with_user=w.people["therapist"],
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        mode="in_person",
        created_by=w.people["coordinator"],
    )


def _booking_reply(w: World, patient: Patient) -> bool:
    booking = _booking(w, patient)
    w.page.post(f"/portal/bookings/{booking.pk}/confirm/")
    page = BookingReply.objects.filter(appointment=booking).count() == 1
    w.api.post(f"/api/v1/portal/bookings/{booking.pk}/reschedule-request", {}, content_type="application/json")
    api = BookingReply.objects.filter(appointment=booking, kind="reschedule").exists()
    assert page == api, "page and API disagree"
    return page


def _reminder_preference(w: World, patient: Patient) -> bool:
    # A patient chooses for their own record only: whose record the choice lands on is the answer.
    w.page.post("/portal/bookings/reminders/", {"channel": "none"})
    page = ReminderPreference.objects.filter(patient=patient, channel="none").exists()
    w.api.put("/api/v1/portal/reminder-preference", {"channel": "sms"}, content_type="application/json")
    api = ReminderPreference.objects.filter(patient=patient, channel="sms").exists()
    assert page == api, "page and API disagree"
    return page


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.BOOKING_REPLY: (_booking_reply, True),
    Action.REMINDER_PREFERENCE: (_reminder_preference, True),
}

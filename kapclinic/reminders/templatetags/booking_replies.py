"""`{% booking_replies days as replies %}` and `{{ replies|reply_of:appointment }}`: the patients' answers to the
bookings on a calendar page (confirmed, or asks to reschedule); `{% booking_reply appointment as reply %}` on one
booking's page. The calendar belongs to the appointments app,
beneath reminders in the house, so its template asks reminders itself: one query for the whole page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template

from kapclinic.appointments.models import Appointment
from kapclinic.reminders.models import BookingReply
from kapclinic.reminders.selectors import current_replies

register = template.Library()


@register.simple_tag
def booking_replies(days: Iterable[Any]) -> dict[int, BookingReply]:
    """Return the newest answer to each booking of the calendar's days (`day.appointments`), by appointment id."""
    return current_replies([a for day in days for a in day.appointments])


@register.filter
def reply_of(replies: dict[int, BookingReply], appointment: Appointment) -> BookingReply | None:
    return replies.get(appointment.pk)


@register.simple_tag
def booking_reply(appointment: Appointment) -> BookingReply | None:
    """Return the patient's newest answer to this booking at its current time, if any."""
    return current_replies([appointment]).get(appointment.pk)

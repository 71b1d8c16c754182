"""iCalendar (RFC 5545) export of appointments, with the icalendar library. No clinical content in events."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from icalendar import Calendar, Event

from kapclinic.appointments.models import Appointment


def appointments_ics(appointments: Iterable[Appointment]) -> bytes:
    """Return an .ics calendar of the appointments (the person's name only; no diagnosis or reason)."""
    calendar = Calendar()
    calendar.add("prodid", "-//kapclinic//appointments//EN")
    calendar.add("version", "2.0")
    for appointment in appointments:
        event = Event()
        event.add("uid", f"appointment-{appointment.pk}@kapclinic")
        event.add("dtstamp", appointment.created_at)
        event.add("dtstart", appointment.starts_at)
        event.add("dtend", appointment.ends_at)
        event.add("summary", f"{appointment.get_kind_display()}: {appointment.person_name}")
        event.add("location", appointment.video_href or settings.KAPCLINIC_CLINIC_ADDRESS)
        event.add("status", "CANCELLED" if appointment.status == "cancelled" else "CONFIRMED")
        calendar.add_component(event)
    return bytes(calendar.to_ical())

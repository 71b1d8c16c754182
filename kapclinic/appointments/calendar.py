"""iCalendar (RFC 5545) export of appointments, with the icalendar library. No clinical content in events: the
kind, the person's name, the time and where; never a note, an outcome or a reason."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from icalendar import Calendar, Event

from kapclinic.appointments.models import Appointment


def _calendar(name: str = "") -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//kapclinic//appointments//EN")
    calendar.add("version", "2.0")
    if name:
        calendar.add("x-wr-calname", name)
    return calendar


def _event(appointment: Appointment, *, summary: str, stamp: datetime) -> Event:
    event = Event()
    # The same UID in the one-off file and the feed: a calendar that has both keeps one event.
    event.add("uid", f"appointment-{appointment.pk}@kapclinic")
    event.add("dtstamp", stamp)
    event.add("dtstart", appointment.starts_at)
    event.add("dtend", appointment.ends_at)
    event.add("summary", summary)
    event.add("status", "CANCELLED" if appointment.status == "cancelled" else "CONFIRMED")
    return event


def appointments_ics(appointments: Iterable[Appointment]) -> bytes:
    """Return an .ics calendar of the appointments (the person's name only; no diagnosis or reason)."""
    calendar = _calendar()
    for appointment in appointments:
        event = _event(
            appointment,
            summary=f"{appointment.get_kind_display()}: {appointment.person_name}",
            stamp=appointment.created_at,
        )
        event.add("location", appointment.video_href or settings.KAPCLINIC_CLINIC_ADDRESS)
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def feed_ics(appointments: Iterable[Appointment], *, name: str, for_patient: bool) -> bytes:
    """Return a person's calendar feed: each booking as "<kind> — <who>" (the patient or inquiry for staff, the
    clinician for a patient), the room or chair, and the video address when it is a safe https one (where to
    meet, not clinical content). A move raises the event's SEQUENCE (RFC 5545 3.8.7.4), so calendar apps take
    the new time; `sequence` and `changed_at` are annotations of appointments.selectors.appointments_for_feed."""
    calendar = _calendar(name)
    # Calendar apps poll: a refresh hint (Apple's and Microsoft's names for it; RFC 7986 REFRESH-INTERVAL).
    calendar.add("x-published-ttl", "PT1H")
    for appointment in appointments:
        who = appointment.with_user.display_name if for_patient else appointment.person_name
        changed_at: datetime | None = getattr(appointment, "changed_at", None)
        event = _event(
            appointment, summary=f"{appointment.get_kind_display()} — {who}", stamp=changed_at or appointment.created_at
        )
        event.add("last-modified", changed_at or appointment.created_at)
        event.add("sequence", getattr(appointment, "sequence", 0))
        if appointment.place is not None:
            event.add("location", appointment.place.name)
        if appointment.video_href:
            event.add("url", appointment.video_href)
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def feed_address(request: HttpRequest, secret: str) -> str:
    """The full address of the calendar feed with this secret, as a calendar app subscribes to it."""
    return request.build_absolute_uri(reverse("calendar_feed:feed", args=[secret]))

"""Reminders of a booking for the patient (issue 16, item 4): when each is due, which channel carries it, and
what it says. Plain Python, no Django; the caller passes local (clinic time zone) date-times.

Why remind at all: reminders by text message raise attendance at health-care appointments (Gurol-Urganci et al.,
Cochrane Database Syst Rev 2013, CD007458); the day before leaves time to arrange a ride, the morning of the day
catches the forgotten. The hours are clinic policy ([policy], `ReminderHours`), chosen so that nothing arrives at
night.

What a reminder may say: an email or a text can be read by someone else (a shared inbox, a lock screen), so by
default it says only where and when ("your appointment at <clinic> on <day> at <time>"): the minimum necessary
(HIPAA, 45 CFR 164.502(b)), by the channel the patient asked for (45 CFR 164.522(b), confidential
communications). It names the kind of visit only when the patient chose that. A dosing session adds the
preparation the patient must make (nothing to eat or drink for the route's fasting times, a ride home): these are
instructions, written without naming a drug, a route, a dose or a diagnosis, and without them the session may be
held on the day (monitoring.md §1: fasting and transport are pre-dose checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from kapclinic.clinical.monitoring import DEFAULT_POLICY, MonitoringPolicy, fasting_minutes
from kapclinic.clinical.wording import weekday_day_text


class Which(StrEnum):
    """Which reminder of a booking: the day before, or on the day."""

    DAY_BEFORE = "day_before"
    ON_THE_DAY = "on_the_day"

    @property
    def label(self) -> str:
        return {Which.DAY_BEFORE: "The day before", Which.ON_THE_DAY: "On the day"}[self]


class Channel(StrEnum):
    """How the patient wants reminders: by email, by text message, or not at all (opted out)."""

    EMAIL = "email"
    SMS = "sms"
    NONE = "none"

    @property
    def label(self) -> str:
        return {Channel.EMAIL: "Email", Channel.SMS: "Text message (SMS)", Channel.NONE: "No reminders"}[self]


@dataclass(frozen=True)
class ReminderHours:
    """When reminders go out, clinic time [policy]. A run outside a window sends nothing for it: a day-before
    reminder missed all evening is not sent at night; the morning's reminder still goes."""

    day_before_from: time = time(9, 0)
    day_before_until: time = time(20, 0)  # no texts late in the evening
    on_the_day_from: time = time(7, 0)
    # An appointment before the morning window still gets its reminder this long before it starts.
    on_the_day_at_least_before: timedelta = timedelta(hours=2)


DEFAULT_HOURS = ReminderHours()


def reminder_due(*, starts: datetime, now: datetime, hours: ReminderHours = DEFAULT_HOURS) -> Which | None:
    """Return the reminder of an appointment starting at `starts` that is due at `now` (both clinic time), or None.

    | now | due |
    | the day before, from `day_before_from` until `day_before_until` | DAY_BEFORE |
    | the day itself, from `on_the_day_from` (or 2 h before an earlier start) until the start | ON_THE_DAY |
    | any other time, or after the start | nothing |
    """
    if now >= starts:
        return None
    day = starts.date()
    if now.date() == day:
        opens = min(
            datetime.combine(day, hours.on_the_day_from, starts.tzinfo), starts - hours.on_the_day_at_least_before
        )
        return Which.ON_THE_DAY if now >= opens else None
    if now.date() == day - timedelta(days=1) and hours.day_before_from <= now.time() < hours.day_before_until:
        return Which.DAY_BEFORE
    return None


def channel_for(*, chosen: Channel | None, has_email: bool, has_phone: bool, sms_offered: bool) -> Channel:
    """Return the channel a reminder goes by: the patient's choice when they made one (NONE: they opted out);
    without one, email if the clinic has their address, else a text if it has their phone and sends texts.
    A chosen channel the clinic cannot use (no address, no SMS service) sends nothing rather than another way."""
    if chosen is not None:
        usable = {
            Channel.EMAIL: has_email,
            Channel.SMS: has_phone and sms_offered,
            Channel.NONE: True,
        }[chosen]
        return chosen if usable else Channel.NONE
    if has_email:
        return Channel.EMAIL
    if has_phone and sms_offered:
        return Channel.SMS
    return Channel.NONE


# The kind of visit in the patient's words, used only when the patient chose to have it named.
VISIT_WORDS = {
    "consultation": "free consultation",
    "evaluation": "evaluation",
    "preparation": "preparation session",
    "integration": "integration session",
    "dosing": "treatment session",
}


@dataclass(frozen=True)
class Preparation:
    """What the patient must do before a dosing session: fast, and arrange a ride home."""

    food_minutes: int
    liquid_minutes: int
    source: str


# Spravato PI 5.x / Medication Guide: no driving until the next day after restful sleep; the clinic applies the
# same rule to ketamine (monitoring.md §1, Transport [policy]).
SOURCE_RIDE_HOME = "Spravato PI 5.x / Medication Guide; the same rule for ketamine is clinic policy (monitoring.md §1)"


def preparation_for(route: str | None, policy: MonitoringPolicy = DEFAULT_POLICY) -> Preparation:
    """Return the preparation for a dosing session by `route` (the plan's), with the check-in's fasting times
    (monitoring.fasting_minutes). No route known (no signed plan): the longest times of any route, so the
    patient is never told too little."""
    if route is not None:
        food, liquid, source = fasting_minutes(route, policy)
        return Preparation(food, liquid, source)
    longest = [fasting_minutes(r, policy) for r in ("intranasal", "iv")]
    return Preparation(
        max(f for f, _, _ in longest),
        max(v for _, v, _ in longest),
        "; ".join(s for _, _, s in longest) + " (the longest, the route not yet known)",
    )


def duration_words(minutes: int) -> str:
    """Return "4 hours", "1 hour", "30 minutes" or "1 hour 30 minutes"."""
    h, m = divmod(minutes, 60)
    parts = []
    if h:
        parts.append(f"{h} hour{'s' if h != 1 else ''}")
    if m or not h:
        parts.append(f"{m} minute{'s' if m != 1 else ''}")
    return " ".join(parts)


def preparation_lines(preparation: Preparation) -> list[str]:
    """The preparation as the patient reads it (in a reminder and beside the booking in the portal)."""
    lines = []
    if preparation.food_minutes:
        lines.append(f"Eat nothing for {duration_words(preparation.food_minutes)} before your appointment.")
    if preparation.liquid_minutes:
        lines.append(f"Drink nothing for {duration_words(preparation.liquid_minutes)} before it.")
    lines.append("Arrange for someone to take you home: do not drive until the next day, after a night's sleep.")
    return lines


@dataclass(frozen=True)
class Booking:
    """What a reminder is about, as plain values."""

    starts: datetime  # clinic time
    kind: str  # Appointment.kind
    video: bool


@dataclass(frozen=True)
class ReminderText:
    subject: str
    body: str  # the email
    short: str  # the text message


def reminder_text(
    *,
    booking: Booking,
    clinic: str,
    address: str,
    given_name: str,
    name_visit: bool,
    preparation: Preparation | None,
) -> ReminderText:
    """Return the reminder's words, the same the day before and on the day. Only where and when, unless the
    patient chose to have the visit named (`name_visit`); a dosing session's preparation when given. Never a
    drug, dose, diagnosis or note."""
    what = f"your {VISIT_WORDS.get(booking.kind, 'appointment')}" if name_visit else "your appointment"
    # The day in full, never "tomorrow": a reminder read late, or sent late, still names the right day.
    day = weekday_day_text(booking.starts.date())
    where = f"by video with {clinic}" if booking.video else f"at {clinic}"
    headline = f"Reminder: {what} {where} on {day} at {booking.starts:%H:%M}."
    steps = preparation_lines(preparation) if preparation else []
    place = (
        "The video link is on your page at the clinic."
        if booking.video
        else (f"Address: {address}." if address else "")
    )
    body_lines = [f"Hello {given_name},", "", headline]
    if place:
        body_lines.append(place)
    if steps:
        body_lines += ["", "Before you come:", *(f"- {line}" for line in steps)]
    body_lines += [
        "",
        "To confirm, or to ask for another time, sign in to your page at the clinic (Appointments).",
        "To change how reminders reach you, or to stop them, see Reminders on the same page.",
    ]
    short = " ".join([headline, *steps, "Confirm or ask for another time on your clinic page."])
    return ReminderText(subject=f"Reminder: {what} on {day}", body="\n".join(body_lines) + "\n", short=short)

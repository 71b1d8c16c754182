"""One way to write each thing the clinic shows often: people, questionnaires, dates and amounts.

A builtin of every template (settings.TEMPLATES): `{{ patient|patient_name }}` on staff screens,
`{{ who|person }}`, `{{ r.instrument|instrument_name }}`, `{{ day|day }}`, `{{ when|day_time }}`,
`{{ when|day_time_zone }}` on printed records, `{{ when|weekday_time }}` on schedules, `{{ entry.quantity_mg|mg }}`.
Dates never appear as 2026-12-04 or 12/04/2026 on a page (the REMS form keeps its own MM/DD/YYYY).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

from kapclinic.clinical import wording
from kapclinic.clinical.instruments import INSTRUMENTS

register = template.Library()

ZONE_FORMAT = "T"  # EST: a printed record read elsewhere says which clock it used


def _local(value: datetime) -> datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


@register.filter
def person(who: object) -> str:
    """Return a patient's or a staff member's name as "Given Family" (the username when a user has none)."""
    if who is None or who == "":
        return "—"
    given, family = getattr(who, "given_name", None), getattr(who, "family_name", None)
    if given is not None and family is not None:
        return f"{given} {family}".strip()
    first, last = getattr(who, "first_name", ""), getattr(who, "last_name", "")
    return f"{first} {last}".strip() or str(getattr(who, "username", who))


@register.filter
def patient_name(patient: object) -> str:
    """Return a patient's name as staff screens show it, "FAMILY, Given": the chart convention that keeps
    the family name from being read as a given name."""
    if patient is None or patient == "":
        return "—"
    given, family = getattr(patient, "given_name", ""), getattr(patient, "family_name", "")
    return f"{str(family).upper()}, {given}" if family else str(given)


@register.filter
def instrument_name(code: object) -> str:
    """Return the questionnaire's published name ("PHQ-9") for its code ("phq9"); an unknown code as stored."""
    instrument = INSTRUMENTS.get(str(code))
    return instrument.name if instrument else str(code)


def _date_in(value: object, words: Callable[[date], str]) -> str:
    """A date, or a date-time's day in the clinic's time zone, in `words`; "—" for anything else."""
    if isinstance(value, datetime):
        value = _local(value)
    return words(value) if isinstance(value, date) else "—"


@register.filter
def day(value: object) -> str:
    """Return a date (or a date-time's local day) as "Dec 4, 2026"."""
    return _date_in(value, wording.day_text)


@register.filter
def day_time(value: object) -> str:
    """Return a date-time in the clinic's time zone as "Dec 4, 2026, 14:05"."""
    return wording.day_time_text(_local(value)) if isinstance(value, datetime) else day(value)


@register.filter
def day_time_zone(value: object) -> str:
    """Return a date-time as "Dec 4, 2026, 14:05 EST" (printed and legal records)."""
    if not isinstance(value, datetime):
        return day(value)
    local = _local(value)
    return f"{wording.day_time_text(local)} {date_format(local, ZONE_FORMAT)}".rstrip()


@register.filter
def weekday_day(value: object) -> str:
    """Return a date (or a date-time's local day) as "Fri, Dec 4, 2026" (schedules)."""
    return _date_in(value, wording.weekday_day_text)


@register.filter
def weekday_time(value: object) -> str:
    """Return a date-time as "Fri, Dec 4, 2026, 14:05" (schedules)."""
    return wording.weekday_time_text(_local(value)) if isinstance(value, datetime) else weekday_day(value)


@register.filter
def datetime_local(value: object) -> str:
    """Return a date-time in the clinic's time zone as an <input type="datetime-local"> value ("2026-12-04T14:05")."""
    return _local(value).strftime("%Y-%m-%dT%H:%M") if isinstance(value, datetime) else ""


@register.filter
def amount(value: object) -> str:
    """Return an amount without trailing zeros ("198", "12.5"); the ledger stores three decimals."""
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def mg(value: object) -> str:
    """Return an amount in mg without trailing zeros ("56 mg", "12.5 mg")."""
    text = amount(value)
    return text if text == "—" else f"{text} mg"

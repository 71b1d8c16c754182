"""One way to write each thing the clinic shows often: people, questionnaires, dates and amounts.

`{% load clinic_words %}` then `{{ patient|person }}`, `{{ r.instrument|instrument_name }}`, `{{ day|day }}`,
`{{ when|day_time }}`, `{{ entry.quantity_mg|mg }}`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

from kapclinic.clinical.instruments import INSTRUMENTS

register = template.Library()

DAY_FORMAT = "M j, Y"  # Dec 4, 2026: unambiguous in every locale the clinic serves
TIME_FORMAT = "H:i"


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
def instrument_name(code: object) -> str:
    """Return the questionnaire's published name ("PHQ-9") for its code ("phq9"); an unknown code as stored."""
    instrument = INSTRUMENTS.get(str(code))
    return instrument.name if instrument else str(code)


@register.filter
def day(value: object) -> str:
    """Return a date (or a date-time's local day) as "Dec 4, 2026"."""
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    if not isinstance(value, date):
        return "—"
    return date_format(value, DAY_FORMAT)


@register.filter
def day_time(value: object) -> str:
    """Return a date-time in the clinic's time zone as "Dec 4, 2026, 14:05"."""
    if not isinstance(value, datetime):
        return day(value)
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{date_format(local, DAY_FORMAT)}, {date_format(local, TIME_FORMAT)}"


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

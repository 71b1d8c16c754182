"""The pure reminder rules (kapclinic/clinical/reminders.py): when each reminder is due, which channel carries it,
what it says. Plain values, no database: milliseconds."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical.monitoring import DEFAULT_POLICY, CheckInAnswers, check_in_findings
from kapclinic.clinical.reminders import (
    VISIT_WORDS,
    Booking,
    Channel,
    Which,
    channel_for,
    duration_words,
    preparation_for,
    reminder_due,
    reminder_text,
)

NY = ZoneInfo("America/New_York")
START = datetime(2026, 12, 10, 14, 30, tzinfo=NY)  # a Thursday afternoon

# Words that would tell a reader of the lock screen what the visit is about.
CLINICAL = re.compile(
    r"ketamine|esketamine|spravato|dos(e|ing)|mg\b|infusion|nasal|depress|psych|therap|treatment|diagnos|"
    r"integration|preparation session|evaluation|consultation|route",
    re.IGNORECASE,
)


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return (START + timedelta(days=day_offset)).replace(hour=hour, minute=minute)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (at(-2, 12), None),  # two days ahead: nothing yet
        (at(-1, 8, 59), None),  # the day before, before 09:00
        (at(-1, 9), Which.DAY_BEFORE),
        (at(-1, 19, 59), Which.DAY_BEFORE),
        (at(-1, 20), None),  # no texts late in the evening
        (at(0, 6, 59), None),
        (at(0, 7), Which.ON_THE_DAY),
        (at(0, 14, 29), Which.ON_THE_DAY),
        (at(0, 14, 30), None),  # started: too late
        (at(1, 9), None),
    ],
)
def test_reminder_due_by_the_clock(now: datetime, due: Which | None) -> None:
    assert reminder_due(starts=START, now=now) == due


def test_an_early_appointment_still_gets_its_reminder_on_the_day() -> None:
    early = START.replace(hour=6, minute=30)
    assert reminder_due(starts=early, now=early.replace(hour=4, minute=29)) is None
    assert reminder_due(starts=early, now=early.replace(hour=4, minute=30)) is Which.ON_THE_DAY


@given(st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60))
def test_never_after_the_start_and_never_at_night(minutes: int) -> None:
    now = START + timedelta(minutes=minutes)
    due = reminder_due(starts=START, now=now)
    if due is not None:
        assert now < START
        assert now.hour >= 7 if due is Which.ON_THE_DAY else 9 <= now.hour < 20


@pytest.mark.parametrize(
    ("chosen", "email", "phone", "sms", "channel"),
    [
        (None, True, True, True, Channel.EMAIL),  # no choice: email when there is an address
        (None, False, True, True, Channel.SMS),
        (None, False, True, False, Channel.NONE),  # the clinic sends no texts
        (None, False, False, True, Channel.NONE),
        (Channel.SMS, True, True, True, Channel.SMS),  # the patient's choice wins
        (Channel.NONE, True, True, True, Channel.NONE),  # opted out
        (Channel.SMS, True, True, False, Channel.NONE),  # chose texts, none sent: not silently by email
        (Channel.EMAIL, False, True, True, Channel.NONE),
    ],
)
def test_channel_for(chosen: Channel | None, email: bool, phone: bool, sms: bool, channel: Channel) -> None:
    assert channel_for(chosen=chosen, has_email=email, has_phone=phone, sms_offered=sms) is channel


def _text(kind: str = "integration", *, name_visit: bool = False, route: str | None = None) -> str:
    text = reminder_text(
        booking=Booking(starts=START, kind=kind, video=False),
        clinic="Riverside Clinic",
        address="1 Main Street",
        given_name="Alder",
        name_visit=name_visit,
        preparation=preparation_for(route) if kind == "dosing" else None,
    )
    return "\n".join([text.subject, text.body, text.short])


@pytest.mark.parametrize("kind", [*VISIT_WORDS, "dosing"])
def test_the_default_text_says_where_and_when_and_nothing_clinical(kind: str) -> None:
    words = _text(kind, route="intranasal")
    assert "Reminder: your appointment at Riverside Clinic on Thu, Dec 10, 2026 at 14:30." in words
    assert "1 Main Street" in words
    assert not CLINICAL.search(words), CLINICAL.search(words)


def test_the_kind_of_visit_is_named_only_when_the_patient_chose_it() -> None:
    assert "your integration session at Riverside Clinic on Thu, Dec 10, 2026" in _text(name_visit=True)
    assert "integration" not in _text(name_visit=False)


def test_a_dosing_session_carries_the_routes_fasting_and_the_ride_home() -> None:
    spravato = _text("dosing", route="intranasal")
    assert "Eat nothing for 2 hours before your appointment." in spravato  # Spravato PI 2
    assert "Drink nothing for 30 minutes before it." in spravato
    assert "do not drive until the next day" in spravato  # Medication Guide
    iv = _text("dosing", route="iv")
    assert "Eat nothing for 4 hours" in iv and "Drink nothing for 2 hours" in iv  # the clinic's ketamine policy


def test_the_fasting_times_are_the_check_ins_own() -> None:
    """The reminder and the pre-dose check read one rule: a patient who follows the reminder is not held."""
    for route in ("intranasal", "iv", "im", "sublingual"):
        prep = preparation_for(route)
        answers = CheckInAnswers(
            minutes_since_food=prep.food_minutes,
            minutes_since_liquid=prep.liquid_minutes,
            escort_confirmed=True,
            substances_today=False,
        )
        assert not [f for f in check_in_findings(route, answers, DEFAULT_POLICY) if f.code.startswith("fasting")]


def test_no_route_known_takes_the_longest_fasting() -> None:
    unknown = preparation_for(None)
    assert (unknown.food_minutes, unknown.liquid_minutes) == (240, 120)


def test_duration_words() -> None:
    assert [duration_words(m) for m in (30, 60, 90, 120, 0)] == [
        "30 minutes",
        "1 hour",
        "1 hour 30 minutes",
        "2 hours",
        "0 minutes",
    ]


def test_a_video_visit_points_to_the_portal_not_a_link() -> None:
    text = reminder_text(
        booking=Booking(starts=START, kind="integration", video=True),
        clinic="Riverside Clinic",
        address="1 Main Street",
        given_name="Alder",
        name_visit=False,
        preparation=None,
    )
    assert "by video with Riverside Clinic on Thu" in text.body
    assert "http" not in text.body and "1 Main Street" not in text.body

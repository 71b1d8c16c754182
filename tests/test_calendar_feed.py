"""A person's own calendar as an iCalendar feed (issue 16, item 3): names and kinds only, behind a secret address
that is stored only as a digest, shown once, replaceable and revocable; each fetch an audited read."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Any

from django.test import Client
from django.utils import timezone
from icalendar import Calendar, Event

from kapclinic.accounts.models import CalendarFeedToken, User, api_token_digest
from kapclinic.appointments.models import Appointment, AppointmentChange, Place
from kapclinic.audit.models import AccessEvent
from kapclinic.intake.models import Inquiry
from kapclinic.patients.models import Patient

ADDRESS = re.compile(r'id="calendar-feed-address">(http://testserver/calendar/feed/([\w-]+)\.ics)<')


def _book(
    with_user: User, person: Patient | Inquiry, *, days: float = 1, kind: str = "integration", **extra: Any
) -> Appointment:
    starts = timezone.now().replace(microsecond=0) + timedelta(days=days)
    who = {"patient": person} if isinstance(person, Patient) else {"inquiry": person}
    fields: dict[str, Any] = {"mode": "in_person", **who, **extra}
    return Appointment.objects.create(
        kind=kind,
        with_user=with_user,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=50),
        created_by=with_user,
        **fields,
    )


def _address(client: Client) -> tuple[str, str]:
    """Make a feed address on the page; return it and its secret."""
    page = client.post("/calendar/feed/")
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    found = ADDRESS.search(page.content.decode())
    assert found is not None
    return found.group(1), found.group(2)


def _events(response: Any) -> list[Event]:
    assert response.status_code == 200 and response["Content-Type"] == "text/calendar; charset=utf-8"
    return list(Calendar.from_ical(response.content).events)


def test_the_feed_holds_the_persons_bookings_as_kind_and_name_and_nothing_clinical(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    therapist = personas["therapist"]
    room = Place.objects.create(name="Room Cedar", kind="room")
    integration = _book(therapist, team_patient, place=room)
    inquiry = Inquiry.objects.create(
        given_name="Yarrow", family_name="Feedtest", phone="212-555-0170", reason="Depression, suicidal", source="phone"
    )
    video = _book(
        therapist, inquiry, days=2, kind="consultation", mode="video", video_link="https://meet.example.com/room-1"
    )
    AppointmentChange.objects.create(
        appointment=integration,
        kind="rescheduled",
        reason="Patient asked to move: migraine",
        from_starts_at=integration.starts_at - timedelta(hours=1),
        from_ends_at=integration.ends_at - timedelta(hours=1),
        from_with_user=therapist,
        to_starts_at=integration.starts_at,
        to_ends_at=integration.ends_at,
        by=therapist,
    )
    _book(therapist, team_patient, days=-40)  # before the feed's month back
    _book(therapist, team_patient, days=200)  # after its six months ahead
    _book(therapist, team_patient, days=3, status="cancelled")
    _book(personas["prescriber"], team_patient, days=1, kind="evaluation")  # someone else's
    address, secret = _address(client_for("therapist"))

    feed = Client().get(address)  # a calendar app: no session

    events = {str(e["uid"]): e for e in _events(feed)}
    assert set(events) == {f"appointment-{integration.pk}@kapclinic", f"appointment-{video.pk}@kapclinic"}
    moved = events[f"appointment-{integration.pk}@kapclinic"]
    assert str(moved["summary"]) == "Integration session — Alder Teampatient"
    assert str(moved["location"]) == "Room Cedar" and moved["status"] == "CONFIRMED" and moved["sequence"] == 1
    assert moved.decoded("dtstart") == integration.starts_at and moved.decoded("dtend") == integration.ends_at
    assert f"DTSTART:{integration.starts_at.astimezone(UTC):%Y%m%dT%H%M%SZ}" in feed.content.decode()  # in UTC
    call = events[f"appointment-{video.pk}@kapclinic"]
    assert str(call["summary"]) == "Free consultation — Yarrow Feedtest"
    assert str(call["url"]) == "https://meet.example.com/room-1" and "location" not in call and call["sequence"] == 0
    text = feed.content.decode()
    assert "migraine" not in text and "Depression" not in text and "suicidal" not in text
    assert feed["Cache-Control"] == "no-store"
    # Only the digest is stored; the secret is in no row, nor in the audit log's path.
    token = CalendarFeedToken.objects.get(user=therapist)
    assert token.digest == api_token_digest(secret) and secret not in token.prefix + token.digest
    read = AccessEvent.objects.get(action="appointment.feed")
    assert read.patient_id == team_patient.pk and read.user_id == therapist.pk and secret not in read.path
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_script_and_separators_in_a_name_are_text_in_the_feed(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    team_patient.given_name = "<script>alert(1)</script>;Ann,\\"
    team_patient.save(update_fields=["given_name"])
    _book(personas["nurse"], team_patient)
    address, _secret = _address(client_for("nurse"))
    feed = Client().get(address)
    (event,) = _events(feed)
    assert str(event["summary"]) == "Integration session — <script>alert(1)</script>;Ann,\\ Teampatient"
    unfolded = feed.content.decode().replace("\r\n ", "")
    assert "SUMMARY:Integration session — <script>alert(1)</script>\\;Ann\\,\\\\ Teampatient" in unfolded
    assert all(len(line) <= 75 for line in feed.content.split(b"\r\n"))  # folded (RFC 5545 3.1)


def test_another_persons_address_shows_nothing_of_yours(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    _book(personas["therapist"], team_patient)
    address, _ = _address(client_for("nurse"))
    assert _events(Client().get(address)) == []
    assert not AccessEvent.objects.filter(action="appointment.feed").exists()


def test_a_new_address_ends_the_old_and_an_ended_or_unknown_one_is_not_found(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    _book(personas["therapist"], team_patient)
    therapist = client_for("therapist")
    first, _ = _address(therapist)
    second, secret = _address(therapist)
    again = therapist.get("/calendar/feed/").content.decode()
    assert secret not in again and "Last read by a calendar app" in again  # the address is shown once
    assert Client().get(first).status_code == 404
    assert len(_events(Client().get(second))) == 1

    confirm = therapist.get("/calendar/feed/revoke/")
    assert confirm.status_code == 200 and "will stop updating" in confirm.content.decode()
    assert len(_events(Client().get(second))) == 1  # asking is not ending
    therapist.post("/calendar/feed/revoke/")
    gone = Client().get(second)
    unknown = Client().get(f"/calendar/feed/{'x' * len(secret)}.ics")
    assert gone.status_code == unknown.status_code == 404
    csrf = re.compile(rb'"X-CSRFToken": "\w*"')
    assert csrf.sub(b"", gone.content) == csrf.sub(b"", unknown.content)  # no hint which it was
    audited = AccessEvent.objects.filter(action__startswith="auth.calendar_feed").order_by("id")
    assert list(audited.values_list("action", flat=True)) == [
        "auth.calendar_feed_issue",
        "auth.calendar_feed_issue",
        "auth.calendar_feed_revoke",
    ]
    assert "no feed address" in therapist.get("/calendar/feed/").content.decode()


def test_a_deactivated_account_or_a_reset_password_ends_the_feed(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    address, _ = _address(client_for("therapist"))
    director = client_for("director")
    director.post(f"/accounts/users/{personas['therapist'].pk}/password/", {"new_password": "a-new-one-for-test-77"})
    assert Client().get(address).status_code == 404
    address, _ = _address(client_for("nurse"))
    User.objects.filter(pk=personas["nurse"].pk).update(is_active=False)
    assert Client().get(address).status_code == 404


def test_a_patient_feed_holds_their_own_bookings_with_the_clinicians_name(
    client_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    mine = _book(personas["therapist"], team_patient)
    _book(personas["therapist"], other_patient, days=2)
    address, _ = _address(client_for("patient_user"))
    (event,) = _events(Client().get(address))
    assert str(event["uid"]) == f"appointment-{mine.pk}@kapclinic"
    assert str(event["summary"]) == f"Integration session — {personas['therapist'].display_name}"
    assert "Otherpatient" not in Client().get(address).content.decode()


def test_the_api_makes_reports_and_ends_the_callers_address(
    api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    _book(personas["therapist"], team_patient)
    api = api_for("therapist")
    assert api.get("/api/v1/calendar-feed").json() == {"live": False, "created_at": None, "last_used_at": None}
    made = api.post("/api/v1/calendar-feed")
    assert made.status_code == 201
    url = made.json()["url"]
    assert url.startswith("http://testserver/calendar/feed/") and url.endswith(".ics")
    assert len(_events(Client().get(url))) == 1
    state = api.get("/api/v1/calendar-feed").json()
    assert state["live"] and state["last_used_at"] is not None
    assert api.delete("/api/v1/calendar-feed").json() == {"ended": 1}
    assert Client().get(url).status_code == 404
    assert api.delete("/api/v1/calendar-feed").json() == {"ended": 0}


def test_a_nurses_dosing_booking_is_in_their_feed_with_its_chair(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    room = Place.objects.create(name="Room Birch", kind="room")
    chair = Place.objects.create(name="Chair 2", kind="chair", in_room=room)
    dosing = _book(personas["nurse"], team_patient, kind="dosing", place=chair)
    address, _ = _address(client_for("nurse"))
    (event,) = _events(Client().get(address))
    assert str(event["uid"]) == f"appointment-{dosing.pk}@kapclinic"
    assert str(event["summary"]) == "Dosing session — Alder Teampatient" and str(event["location"]) == "Chair 2"

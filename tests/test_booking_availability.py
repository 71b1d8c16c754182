"""Bookings honour working hours, time off, closures and rooms (issue 16, items 1 and 2): each refusal says why,
offers the next free times, and changes nothing; two bookings of the last room at once: exactly one wins."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.availability import next_free_times
from kapclinic.appointments.models import Appointment, Closure, Place, TimeOff, WorkingHours
from kapclinic.appointments.services import appointment_book
from kapclinic.audit.context import AuditContext
from kapclinic.patients.models import Patient
from tests.probes.races import at_once

WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"


def next_weekday(days_ahead: int = 7) -> date:
    day = timezone.localdate() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


def hours_for(user: User | None = None, place: Place | None = None, starts: int = 9, ends: int = 17) -> None:
    recorder = user or User.objects.exclude(role="patient").first()
    assert recorder is not None
    WorkingHours.objects.create(
        user=user,
        place=place,
        rule=WEEKDAYS,
        starts=time(starts),
        ends=time(ends),
        since=date(2026, 1, 1),
        recorded_by=recorder,
    )


def book(ctx: AuditContext, staff: User, patient: Patient, when: datetime, **extra: object) -> Appointment:
    values: dict[str, object] = {
        "ctx": ctx,
        "kind": "integration",
        "with_user_id": staff.pk,
        "starts_at": when,
        "minutes": 50,
        "mode": "in_person",
        "patient_id": patient.pk,
        **extra,
    }
    return appointment_book(**values)  # type: ignore[arg-type]


@pytest.fixture
def room() -> Place:
    return Place.objects.create(name="Garden room", kind="room")


@pytest.mark.django_db
def test_outside_working_hours_is_refused_with_the_next_free_times(
    personas: dict[str, User], team_patient: Patient
) -> None:
    therapist = personas["therapist"]
    hours_for(therapist)
    ctx = AuditContext(user=personas["coordinator"], channel="system")
    day = next_weekday()
    with pytest.raises(ValidationError) as refused:
        book(ctx, therapist, team_patient, at(day, 8))
    message = refused.value.message_dict["starts_at"][0]
    assert "not working then" in message and "Next free:" in message and "09:00" in message
    assert not Appointment.objects.exists()
    assert book(ctx, therapist, team_patient, at(day, 9)).pk


@pytest.mark.django_db
def test_time_off_and_closures_are_refused_and_skipped_by_next_free_times(
    personas: dict[str, User], team_patient: Patient
) -> None:
    therapist, director = personas["therapist"], personas["director"]
    ctx = AuditContext(user=personas["coordinator"], channel="system")
    day = next_weekday()
    TimeOff.objects.create(user=therapist, starts_at=at(day, 9), ends_at=at(day, 12), recorded_by=director)
    Closure.objects.create(
        starts_at=at(day + timedelta(days=1), 0),
        ends_at=at(day + timedelta(days=2), 0),
        reason="Staff training",
        recorded_by=director,
    )
    with pytest.raises(ValidationError, match="not working then"):
        book(ctx, therapist, team_patient, at(day, 10))
    with pytest.raises(ValidationError, match=r"closed then \(Staff training"):
        book(ctx, therapist, team_patient, at(day + timedelta(days=1), 10))
    free = next_free_times(staff=therapist, minutes=50, wanted=at(day, 9), count=200)
    assert free[0] == at(day, 12)
    assert not [f for f in free if f.date() == day + timedelta(days=1)]
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_a_room_is_held_and_a_clash_names_the_room(
    personas: dict[str, User], team_patient: Patient, room: Place
) -> None:
    ctx = AuditContext(user=personas["coordinator"], channel="system")
    day = next_weekday()
    first = book(ctx, personas["therapist"], team_patient, at(day, 10), place_id=room.pk)
    assert first.place == room
    other = Patient.objects.create(mrn="K00000077", given_name="Rowan", family_name="Roomtest", birth_date="1990-01-01")
    with pytest.raises(ValidationError) as refused:
        book(ctx, personas["prescriber"], other, at(day, 10, 30), place_id=room.pk, kind="evaluation", minutes=60)
    assert "Garden room is booked at 10:00" in refused.value.message_dict["place"][0]
    assert Appointment.objects.count() == 1


@pytest.mark.django_db
def test_the_wrong_kind_of_place_and_a_room_for_a_video_visit_are_refused(
    personas: dict[str, User], team_patient: Patient, room: Place
) -> None:
    ctx = AuditContext(user=personas["coordinator"], channel="system")
    chair = Place.objects.create(name="Chair 1", kind="chair", in_room=room)
    when = at(next_weekday(), 10)
    with pytest.raises(ValidationError, match="this takes a room"):
        book(ctx, personas["therapist"], team_patient, when, place_id=chair.pk)
    with pytest.raises(ValidationError, match="takes no room"):
        book(
            ctx,
            personas["therapist"],
            team_patient,
            when,
            place_id=room.pk,
            mode="video",
            video_link="https://video.example.test/a",
        )
    room.active = False
    room.save()
    with pytest.raises(ValidationError, match="in use"):
        book(ctx, personas["therapist"], team_patient, when, place_id=room.pk)
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_a_room_outside_its_opening_hours_is_refused(
    personas: dict[str, User], team_patient: Patient, room: Place
) -> None:
    hours_for(place=room, starts=12, ends=16)
    ctx = AuditContext(user=personas["coordinator"], channel="system")
    with pytest.raises(ValidationError) as refused:
        book(ctx, personas["therapist"], team_patient, at(next_weekday(), 10), place_id=room.pk)
    assert "Garden room is not open then" in refused.value.message_dict["place"][0]
    assert "12:00" in refused.value.message_dict["place"][0]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_bookings_of_the_last_room_at_once_exactly_one_wins() -> None:
    assert connection.vendor == "postgresql"
    director = User.objects.create(username="race-director", role="director")
    holders = [User.objects.create(username=f"race-therapist-{n}", role="therapist") for n in range(2)]
    patients = [
        Patient.objects.create(mrn=f"K0000009{n}", given_name="Race", family_name=f"Test{n}", birth_date="1980-01-01")
        for n in range(2)
    ]
    room = Place.objects.create(name="Last room", kind="room")
    ctx = AuditContext(user=director, channel="system")
    when = at(next_weekday(), 10)
    outcomes = at_once(
        [lambda n=n: book(ctx, holders[n], patients[n], when, place_id=room.pk) for n in range(2)]  # type: ignore[misc]
    )
    assert sorted(o[:7] for o in outcomes) == ["done", "refused"], outcomes
    assert any("Last room is booked at 10:00" in o for o in outcomes)
    assert Appointment.objects.filter(place=room).count() == 1


@pytest.mark.django_db
def test_the_api_offers_free_times_and_books_a_room(
    api_for: Any, personas: dict[str, User], team_patient: Patient, room: Place
) -> None:
    therapist = personas["therapist"]
    hours_for(therapist)
    api = api_for("coordinator")
    day = next_weekday()
    answer = api.get(
        "/api/v1/availability",
        {"kind": "integration", "staff": therapist.pk, "from": at(day, 7).isoformat(), "place": room.pk},
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["minutes"] == 50
    assert datetime.fromisoformat(body["starts"][0]) == at(day, 9)
    booked = api.post(
        "/api/v1/appointments",
        {
            "kind": "integration",
            "with_user": therapist.pk,
            "starts_at": body["starts"][0],
            "minutes": 50,
            "mode": "in_person",
            "patient": team_patient.pk,
            "place": room.pk,
        },
        content_type="application/json",
    )
    assert booked.status_code == 201 and booked.json()["place"] == room.pk
    again = api.get(
        "/api/v1/availability", {"kind": "integration", "staff": therapist.pk, "from": at(day, 7).isoformat()}
    )
    assert datetime.fromisoformat(again.json()["starts"][0]) == at(day, 9, 50) + timedelta(minutes=10)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"kind": "massage"}, "kind"),
        ({"kind": "dosing"}, "minutes"),
        ({"kind": "evaluation"}, "staff"),  # the therapist does not hold evaluations
        ({"kind": "integration", "minutes": 5000}, "minutes"),
    ],
)
def test_the_api_refuses_what_cannot_be_booked(
    api_for: Any, personas: dict[str, User], query: dict[str, object], field: str
) -> None:
    answer = api_for("coordinator").get("/api/v1/availability", {"staff": personas["therapist"].pk, **query})
    assert answer.status_code == 422
    assert field in answer.content.decode()


@pytest.mark.django_db
def test_roles_that_do_not_book_are_refused(api_for: Any, personas: dict[str, User]) -> None:
    answer = api_for("auditor").get("/api/v1/availability", {"kind": "integration", "staff": personas["therapist"].pk})
    assert answer.status_code == 403


@pytest.mark.django_db
def test_the_booking_page_offers_rooms_and_keeps_what_was_typed_on_a_clash(
    client_for: Any, personas: dict[str, User], team_patient: Patient, room: Place
) -> None:
    ctx = AuditContext(user=personas["coordinator"], channel="system")
    day = next_weekday()
    book(ctx, personas["prescriber"], team_patient, at(day, 10), place_id=room.pk, kind="evaluation", minutes=60)
    page = client_for("coordinator").get(f"/appointments/book/?patient={team_patient.pk}")
    assert "Garden room" in page.content.decode()
    other = Patient.objects.create(mrn="K00000078", given_name="Sky", family_name="Pagetest", birth_date="1991-01-01")
    refused = client_for("coordinator").post(
        f"/appointments/book/?patient={other.pk}",
        {
            "kind": "integration",
            "with_user": personas["therapist"].pk,
            "starts_at": at(day, 10, 15).strftime("%Y-%m-%dT%H:%M"),
            "minutes": 50,
            "mode": "in_person",
            "place": room.pk,
        },
    )
    text = refused.content.decode()
    assert refused.status_code == 422
    assert "Garden room is booked at 10:00" in text
    assert f'value="{room.pk}" selected' in text


# --- The rooms and hours page (coordinator, director) ----------------------------------------------------------


@pytest.mark.django_db
def test_the_coordinator_records_hours_time_off_and_a_closure_and_bookings_follow(
    client_for: Any, personas: dict[str, User], team_patient: Patient, room: Place
) -> None:
    coordinator = client_for("coordinator")
    therapist = personas["therapist"]
    day = next_weekday()
    page = coordinator.get("/appointments/availability/")
    assert page.status_code == 200 and "Garden room" in page.content.decode()
    added = coordinator.post(
        "/appointments/availability/",
        {
            "form": "hours",
            "hours-owner": f"user:{therapist.pk}",
            "hours-days": ["MO", "TU", "WE", "TH", "FR"],
            "hours-starts": "09:00",
            "hours-ends": "13:00",
            "hours-since": "2026-01-01",
        },
    )
    assert added.status_code == 302
    assert WorkingHours.objects.get(user=therapist).rule == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    away = coordinator.post(
        "/appointments/availability/",
        {
            "form": "time_off",
            "time_off-owner": f"place:{room.pk}",
            "time_off-starts_at": at(day, 9).strftime("%Y-%m-%dT%H:%M"),
            "time_off-ends_at": at(day, 11).strftime("%Y-%m-%dT%H:%M"),
            "time_off-reason": "Repainting",
        },
    )
    assert away.status_code == 302 and TimeOff.objects.get().place == room
    ctx = AuditContext(user=personas["coordinator"], channel="system")
    with pytest.raises(ValidationError, match="not working then"):
        book(ctx, therapist, team_patient, at(day, 14))
    with pytest.raises(ValidationError, match="Garden room is not open then"):
        book(ctx, therapist, team_patient, at(day, 9), place_id=room.pk)
    book(ctx, therapist, team_patient, at(day, 11), place_id=room.pk)
    # A closure over a booked appointment is refused, naming it; typed values stay.
    refused = coordinator.post(
        "/appointments/availability/",
        {
            "form": "closure",
            "closure-starts_at": at(day, 0).strftime("%Y-%m-%dT%H:%M"),
            "closure-ends_at": at(day + timedelta(days=1), 0).strftime("%Y-%m-%dT%H:%M"),
            "closure-reason": "<script>alert(1)</script>",
        },
    )
    text = refused.content.decode()
    assert refused.status_code == 422
    assert "has appointments booked then" in text and "move or cancel them first" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert(1)" not in text
    assert not Closure.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field_text"),
    [
        (
            {
                "form": "hours",
                "hours-days": ["MO"],
                "hours-starts": "17:00",
                "hours-ends": "09:00",
                "hours-since": "2026-01-01",
            },
            "end after",
        ),
        (
            {
                "form": "closure",
                "closure-starts_at": "2027-01-02T10:00",
                "closure-ends_at": "2027-01-01T10:00",
                "closure-reason": "x",
            },
            "after the start",
        ),
        (
            {
                "form": "closure",
                "closure-starts_at": "2027-01-01T10:00",
                "closure-ends_at": "2027-01-02T10:00",
                "closure-reason": "",
            },
            "required",
        ),
        (
            {
                "form": "time_off",
                "time_off-owner": "user:999999",
                "time_off-starts_at": "2027-01-01T10:00",
                "time_off-ends_at": "2027-01-02T10:00",
            },
            "Select a valid choice",
        ),
    ],
)
def test_bad_input_is_refused_next_to_its_field_and_changes_nothing(
    client_for: Any, personas: dict[str, User], data: dict[str, object], field_text: str
) -> None:
    if data["form"] == "hours":
        data = {**data, "hours-owner": f"user:{personas['therapist'].pk}"}
    answer = client_for("director").post("/appointments/availability/", data)
    assert answer.status_code == 422
    assert field_text in answer.content.decode()
    assert not WorkingHours.objects.exists() and not Closure.objects.exists() and not TimeOff.objects.exists()


@pytest.mark.django_db
def test_clinicians_may_not_manage_hours(client_for: Any) -> None:
    for role in ("nurse", "therapist", "prescriber", "auditor"):
        assert client_for(role).get("/appointments/availability/").status_code == 403
        refused = client_for(role).post(
            "/appointments/availability/",
            {
                "form": "closure",
                "closure-starts_at": "2027-01-01T10:00",
                "closure-ends_at": "2027-01-02T10:00",
                "closure-reason": "x",
            },
        )
        assert refused.status_code == 403
    assert not Closure.objects.exists()
    assert client_for("coordinator").post("/appointments/availability/", {"form": "nonsense"}).status_code == 400


# --- The calendar ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_week_calendar_by_staff_and_by_room_in_a_constant_number_of_queries(
    client_for: Any, personas: dict[str, User], team_patient: Patient, room: Place
) -> None:
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    ctx = AuditContext(user=personas["coordinator"], channel="system")
    day = next_weekday()
    book(ctx, personas["therapist"], team_patient, at(day, 10), place_id=room.pk)
    coordinator = client_for("coordinator")
    week = coordinator.get("/appointments/calendar/", {"start": day.isoformat()})
    text = week.content.decode()
    assert week.status_code == 200 and "Integration session" in text and "Garden room" in text
    by_room = coordinator.get("/appointments/calendar/", {"start": day.isoformat(), "place": room.pk}).content.decode()
    assert "Integration session" in by_room
    other_room = Place.objects.create(name="Quiet room", kind="room")
    elsewhere = coordinator.get("/appointments/calendar/", {"start": day.isoformat(), "place": other_room.pk})
    assert "Integration session" not in elsewhere.content.decode()
    with CaptureQueriesContext(db) as few:
        coordinator.get("/appointments/calendar/", {"start": day.isoformat()})
    for hour in (11, 12, 13, 14, 15):
        other = Patient.objects.create(
            mrn=f"K000001{hour}", given_name="Many", family_name=f"Cal{hour}", birth_date="1990-01-01"
        )
        book(ctx, personas["therapist"], other, at(day, hour))
    with CaptureQueriesContext(db) as many:
        page = coordinator.get("/appointments/calendar/", {"start": day.isoformat()})
    assert page.content.decode().count("Integration session") == 6
    assert len(many) == len(few)


@pytest.mark.django_db
def test_a_care_team_role_sees_only_its_own_and_its_teams_appointments(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    ctx = AuditContext(user=personas["coordinator"], channel="system")
    day = next_weekday()
    stranger = Patient.objects.create(
        mrn="K00000199", given_name="Outside", family_name="Team", birth_date="1990-01-01"
    )
    book(ctx, personas["prescriber"], stranger, at(day, 9), kind="evaluation", minutes=60)
    book(ctx, personas["prescriber"], team_patient, at(day, 11), kind="evaluation", minutes=60)
    text = client_for("nurse").get("/appointments/calendar/", {"start": day.isoformat()}).content.decode()
    assert "TEAM, Outside" not in text
    assert team_patient.family_name.upper() in text


@pytest.mark.django_db
def test_calendar_bad_input_and_roles(client_for: Any) -> None:
    assert client_for("auditor").get("/appointments/calendar/").status_code == 403
    bad = client_for("coordinator").get("/appointments/calendar/", {"start": "99999-01-01", "staff": "x"})
    assert bad.status_code == 422 and "Enter a valid date" in bad.content.decode()


@pytest.mark.django_db
def test_free_times_without_a_staff_member_offer_whoever_holds_the_kind(
    api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    """GET /availability?kind=&from= (issue 16, item 9): each start with who is free then, earliest first."""
    therapist, prescriber = personas["therapist"], personas["prescriber"]
    day = next_weekday()
    hours_for(therapist, starts=13, ends=17)
    hours_for(prescriber, starts=9, ends=12)
    hours_for(personas["outsider_therapist"], starts=14, ends=17)  # (no hours recorded would mean any time)
    api = api_for("coordinator")
    answer = api.get("/api/v1/availability", {"kind": "integration", "from": at(day, 8).isoformat()})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["staff"] is None and len(body["options"]) == 10
    first = body["options"][0]
    # The prescriber (who also holds integration sessions) works from nine, the therapist from one.
    assert datetime.fromisoformat(first["start"]) == at(day, 9) and first["staff"] == prescriber.pk
    assert [datetime.fromisoformat(s) for s in body["starts"]] == sorted(
        {datetime.fromisoformat(o["start"]) for o in body["options"]}
    )
    # The patient's own booking takes their time out for everyone.
    book(AuditContext(user=personas["coordinator"], channel="system"), prescriber, team_patient, at(day, 9))
    again = api.get(
        "/api/v1/availability", {"kind": "integration", "from": at(day, 8).isoformat(), "patient": team_patient.pk}
    ).json()
    assert all(not (at(day, 9) <= datetime.fromisoformat(o["start"]) < at(day, 9, 50)) for o in again["options"])

"""The booking API under the issue's names (issue 16, item 9): GET /calendar, POST /bookings (409 with the clash
and the next free times), POST /bookings/{id}/cancel|reschedule|no-show; the same rules and audit as the pages."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment, AppointmentChange, Place
from kapclinic.audit.models import AccessEvent
from kapclinic.patients.models import Patient


def day_at(hour: int, days: int = 2) -> datetime:
    day = timezone.localdate() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=timezone.get_current_timezone())


def booking(staff: User, patient: Patient, start: datetime, **extra: Any) -> dict[str, Any]:
    return {"kind": "integration", "start": start.isoformat(), "staff": [staff.pk], "patient": patient.pk, **extra}


@pytest.fixture
def room() -> Place:
    return Place.objects.create(name="Garden room", kind="room")


@pytest.mark.django_db
def test_book_then_read_the_calendar(
    api_for: Any, personas: dict[str, User], team_patient: Patient, room: Place
) -> None:
    api = api_for("coordinator")
    made = api.post(
        "/api/v1/bookings",
        booking(personas["therapist"], team_patient, day_at(10), room=room.pk),
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["mode"] == "in_person" and body["place"] == room.pk
    # The kind's own length when none is given.
    assert datetime.fromisoformat(body["ends_at"]) - day_at(10) == timedelta(minutes=50)
    week = api.get("/api/v1/calendar", {"start": day_at(0).date().isoformat(), "room": room.pk})
    assert week.status_code == 200, week.content
    [shown] = week.json()
    assert (shown["id"], shown["kind_label"], shown["place_name"]) == (body["id"], "Integration session", "Garden room")
    assert shown["person"] == "Alder Teampatient" and shown["session"] is None
    assert AccessEvent.objects.filter(action="appointment.calendar", patient_id=team_patient.pk).exists()


@pytest.mark.django_db
def test_a_clash_is_409_with_the_next_free_times(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient, room: Place
) -> None:
    api = api_for("coordinator")
    first = booking(personas["therapist"], team_patient, day_at(10), room=room.pk)
    assert api.post("/api/v1/bookings", first, content_type="application/json").status_code == 201
    # The room is taken at 10:00, by another staff member for another patient.
    second = booking(personas["prescriber"], other_patient, day_at(10), room=room.pk)
    clash = api.post("/api/v1/bookings", second, content_type="application/json")
    assert clash.status_code == 409, clash.content
    answer = clash.json()
    assert answer["field"] == "place" and "Garden room is booked at 10:00" in answer["detail"]
    free = [datetime.fromisoformat(f) for f in answer["next_free"]]
    assert free and all(f >= day_at(10, days=2) + timedelta(minutes=50) or f < day_at(10) for f in free)
    assert Appointment.objects.count() == 1
    # The first free time offered books.
    retry = booking(personas["prescriber"], other_patient, free[0], room=room.pk)
    assert api.post("/api/v1/bookings", retry, content_type="application/json").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "dosing"}, "kind"),
        ({"staff": []}, "staff"),
        ({"start": "yesterday"}, "start"),
        ({"minutes": 10**12}, "minutes"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_bookings_are_422_and_book_nothing(
    api_for: Any, personas: dict[str, User], team_patient: Patient, changes: dict[str, Any], field: str
) -> None:
    body = {**booking(personas["therapist"], team_patient, day_at(10)), **changes}
    answer = api_for("coordinator").post("/api/v1/bookings", body, content_type="application/json")
    assert answer.status_code == 422, answer.content
    assert field in answer.content.decode()
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_move_cancel_and_no_show_under_the_bookings_names(
    api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    api = api_for("coordinator")
    made = api.post(
        "/api/v1/bookings", booking(personas["therapist"], team_patient, day_at(10)), content_type="application/json"
    ).json()
    moved = api.post(
        f"/api/v1/bookings/{made['id']}/reschedule",
        {"start": day_at(14).isoformat(), "reason": "Asked for the afternoon"},
        content_type="application/json",
    )
    assert moved.status_code == 200, moved.content
    assert datetime.fromisoformat(moved.json()["ends_at"]) - day_at(14) == timedelta(minutes=50)
    early = api.post(f"/api/v1/bookings/{made['id']}/no-show", {"reason": "Not here"}, content_type="application/json")
    assert early.status_code == 409 and "not started" in early.content.decode()
    cancelled = api.post(
        f"/api/v1/bookings/{made['id']}/cancel",
        {"reason": "<script>alert(1)</script>"},
        content_type="application/json",
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    kinds = list(AppointmentChange.objects.order_by("at").values_list("kind", flat=True))
    assert kinds == ["rescheduled", "cancelled"]


@pytest.mark.django_db
def test_the_calendar_api_keeps_the_calendars_rules(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    coordinator = api_for("coordinator")
    for patient, hour in ((team_patient, 10), (other_patient, 12)):
        body = booking(personas["therapist"], patient, day_at(hour), kind="consultation")
        body["staff"] = [personas["coordinator"].pk]
        assert coordinator.post("/api/v1/bookings", body, content_type="application/json").status_code == 201
    start = {"start": day_at(0).date().isoformat()}
    assert len(coordinator.get("/api/v1/calendar", start).json()) == 2
    # A nurse on the team patient's care team sees that patient's booking, not the other's.
    seen = api_for("nurse").get("/api/v1/calendar", start).json()
    assert [b["patient"] for b in seen] == [team_patient.pk]
    assert api_for("patient_user").get("/api/v1/calendar", start).status_code == 403
    assert api_for("auditor").get("/api/v1/calendar", start).status_code == 403
    too_long = {"start": "2026-01-01", "end": "2026-03-01"}
    assert coordinator.get("/api/v1/calendar", too_long).status_code == 422
    backwards = {"start": "2026-03-01", "end": "2026-01-01"}
    assert coordinator.get("/api/v1/calendar", backwards).status_code == 422

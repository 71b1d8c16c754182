"""Booking consultations: conflicts, outcomes, pre-screen questionnaires, calendar export."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from icalendar import Calendar

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment
from kapclinic.intake.models import Inquiry
from kapclinic.measures.models import ScheduledMeasure
from kapclinic.patients.models import Patient


def _when(hours: int = 24) -> str:
    moment = timezone.localtime() + timedelta(hours=hours)
    return moment.replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M")


def _inquiry() -> Inquiry:
    return Inquiry.objects.create(
        given_name="Yarrow", family_name="Consulttest", phone="212-555-0170", reason="Depression", source="phone"
    )


def _book(client: Any, personas: dict[str, User], query: str, **change: Any) -> Any:
    data = {
        "kind": "consultation",
        "with_user": personas["coordinator"].pk,
        "starts_at": _when(),
        "minutes": 30,
        "mode": "video",
        "video_link": "https://video.example.test/room-1",
        **change,
    }
    return client.post(f"/appointments/book/?{query}", data)


def test_book_a_consultation_and_refuse_a_double_booking(client_for: Any, personas: dict[str, User]) -> None:
    inquiry = _inquiry()
    coordinator = client_for("coordinator")
    first = _book(coordinator, personas, f"inquiry={inquiry.pk}")
    assert first.status_code == 302
    inquiry.refresh_from_db()
    assert inquiry.status == "consultation_booked"
    clash = _book(coordinator, personas, f"inquiry={inquiry.pk}", minutes=60)
    assert clash.status_code == 422 and "already has an appointment" in clash.content.decode()
    no_link = _book(coordinator, personas, f"inquiry={inquiry.pk}", starts_at=_when(48), video_link="")
    assert no_link.status_code == 422 and "needs its link" in no_link.content.decode()
    past = _book(coordinator, personas, f"inquiry={inquiry.pk}", starts_at=_when(-48))
    assert past.status_code == 422 and "in the past" in past.content.decode()
    assert Appointment.objects.count() == 1


def test_proceed_sends_the_pre_screen_to_the_portal(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    coordinator = client_for("coordinator")
    _book(coordinator, personas, f"patient={team_patient.pk}")
    appointment = Appointment.objects.get()
    refer = coordinator.post(f"/appointments/{appointment.pk}/", {"outcome": "refer"})
    assert refer.status_code == 422 and "Say where the person was referred." in refer.content.decode()
    coordinator.post(f"/appointments/{appointment.pk}/", {"outcome": "proceed", "send_pre_screen": "on"})
    appointment.refresh_from_db()
    assert appointment.outcome == "proceed" and appointment.status == "done"
    due = set(ScheduledMeasure.objects.filter(patient=team_patient).values_list("instrument", flat=True))
    assert {"phq9", "gad7", "pcl5"} <= due
    assert "Answer: PHQ-9" in client_for("patient_user").get("/portal/").content.decode()


def test_calendar_export(client_for: Any, personas: dict[str, User]) -> None:
    inquiry = _inquiry()
    coordinator = client_for("coordinator")
    _book(coordinator, personas, f"inquiry={inquiry.pk}")
    appointment = Appointment.objects.get()
    single = coordinator.get(f"/appointments/{appointment.pk}.ics")
    assert single["Content-Type"].startswith("text/calendar")
    events = [c for c in Calendar.from_ical(single.content).walk() if c.name == "VEVENT"]
    assert len(events) == 1 and "Yarrow Consulttest" in str(events[0]["summary"])
    assert "Depression" not in single.content.decode()  # no clinical content in calendars
    mine = coordinator.get("/appointments/mine.ics")
    assert b"BEGIN:VEVENT" in mine.content


def test_outside_team_cannot_book_for_a_patient(
    client_for: Any, personas: dict[str, User], other_patient: Patient
) -> None:
    response = _book(client_for("nurse"), personas, f"patient={other_patient.pk}", with_user=personas["nurse"].pk)
    assert response.status_code == 403 and not Appointment.objects.exists()


def test_coordinator_home_lists_upcoming_consultations(client_for: Any, personas: dict[str, User]) -> None:
    inquiry = _inquiry()
    _book(client_for("coordinator"), personas, f"inquiry={inquiry.pk}", starts_at=_when(20))
    assert "CONSULTTEST, Yarrow" in client_for("coordinator").get("/").content.decode()  # "FAMILY, Given"


def test_the_booking_form_does_not_show_a_patient_outside_the_care_team(
    client_for: Any, team_patient: Any, other_patient: Any
) -> None:
    nurse = client_for("nurse")
    assert nurse.get(f"/appointments/book/?patient={team_patient.pk}").status_code == 200
    refused = nurse.get(f"/appointments/book/?patient={other_patient.pk}")
    assert refused.status_code == 403 and other_patient.family_name not in refused.content.decode()

"""Appointments (issue 13, defects 4 and 7): who may hold each kind, the next free times on a clash, each clinician's
own coming appointments on their home page, and cancel / move / did-not-attend with a reason, audited and kept."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.free_times import OpeningHours, next_free_starts
from kapclinic.appointments.models import Appointment, AppointmentChange
from kapclinic.audit.models import AccessEvent
from kapclinic.patients.models import Patient

NY = ZoneInfo("America/New_York")


# Pure: the next free starts ---------------------------------------------------------------------------------------


def test_next_free_starts_skip_the_busy_hour_on_a_quarter_hour_grid() -> None:
    monday = datetime(2027, 3, 1, 10, 0, tzinfo=NY)  # a Monday
    busy = [(monday, monday + timedelta(hours=1))]
    free = next_free_starts(wanted=monday, minutes=60, busy=busy, not_before=monday - timedelta(days=1))
    assert [f.strftime("%H:%M") for f in free] == ["11:00", "11:15", "11:30"]


def test_next_free_starts_round_up_keep_opening_hours_and_skip_the_weekend() -> None:
    friday_late = datetime(2027, 3, 5, 17, 7, tzinfo=NY)  # Friday 17:07: 30 minutes no longer fit by 18:00
    free = next_free_starts(wanted=friday_late, minutes=30, busy=[], not_before=friday_late, count=2)
    assert [f.strftime("%a %H:%M") for f in free] == ["Fri 17:15", "Fri 17:30"]
    free = next_free_starts(wanted=friday_late, minutes=60, busy=[], not_before=friday_late, count=1)
    assert [f.strftime("%a %b %d %H:%M") for f in free] == ["Mon Mar 08 08:00"]
    never_in_the_past = next_free_starts(
        wanted=friday_late - timedelta(days=1), minutes=30, busy=[], not_before=friday_late, count=1
    )
    assert never_in_the_past[0] >= friday_late
    assert next_free_starts(wanted=friday_late, minutes=0, busy=[], not_before=friday_late) == []
    assert OpeningHours().step_minutes == 15


# Booking: who holds which kind ---------------------------------------------------------------------------------


def _weekday_at(hour: int, days_ahead: int = 7) -> datetime:
    day = timezone.localdate() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


def _form(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _book(
    client: Any, patient: Patient, with_user: User, kind: str = "evaluation", hour: int = 10, **extra: Any
) -> Any:
    data = {
        "kind": kind,
        "with_user": with_user.pk,
        "starts_at": _form(_weekday_at(hour)),
        "minutes": 60,
        "mode": "in_person",
        **extra,
    }
    return client.post(f"/appointments/book/?patient={patient.pk}", data)


def test_the_booking_form_offers_only_staff_who_hold_appointments_and_chooses_no_one_by_the_alphabet(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    page = client_for("nurse").get(f"/appointments/book/?patient={team_patient.pk}").content.decode()
    assert "Auditor Persona" not in page and "Director Persona" not in page and "(Nurse)" not in page
    assert f'value="{personas["prescriber"].pk}" data-kinds="consultation evaluation preparation integration"' in page
    assert f'value="{personas["therapist"].pk}" data-kinds="consultation preparation integration"' in page
    assert '<option value="" selected>— choose who holds it —</option>' in page
    # The coordinator books consultations, which they hold: they are the suggestion.
    own = client_for("coordinator").get(f"/appointments/book/?patient={team_patient.pk}").content.decode()
    assert f'<option value="{personas["coordinator"].pk}" selected data-kinds="consultation">' in own


def test_an_appointment_with_someone_who_does_not_hold_that_kind_is_refused(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    coordinator = client_for("coordinator")
    auditor = _book(coordinator, team_patient, personas["auditor"], kind="consultation")
    assert auditor.status_code == 422 and "Select a valid choice" in auditor.content.decode()
    therapist = _book(coordinator, team_patient, personas["therapist"], kind="evaluation")
    assert therapist.status_code == 422
    assert "does not hold this kind of appointment (prescriber do)" in therapist.content.decode()
    assert not Appointment.objects.exists()
    assert _book(coordinator, team_patient, personas["prescriber"], kind="evaluation").status_code == 302


def test_a_clash_is_refused_with_the_next_free_times_and_the_typed_values_kept(
    client_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    coordinator = client_for("coordinator")
    assert _book(coordinator, team_patient, personas["prescriber"]).status_code == 302
    clash = _book(coordinator, other_patient, personas["prescriber"], minutes=30)
    body = clash.content.decode()
    assert clash.status_code == 422 and "already has an appointment at 10:00" in body
    day = timezone.localtime(_weekday_at(10))
    written = f"{day:%a}, {day:%b} {day.day}, {day.year}"  # "Fri, Dec 11, 2026" (clinical/wording.py)
    assert f"Next free: {written}, 11:00, {written}, 11:15, {written}, 11:30." in body
    assert f'value="{_form(_weekday_at(10))}"' in body and 'value="30"' in body  # what was typed is kept
    assert Appointment.objects.count() == 1


# Each clinician's own coming appointments ------------------------------------------------------------------------


def test_each_clinician_sees_their_own_coming_appointments_on_their_home_page(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    coordinator = client_for("coordinator")
    _book(coordinator, team_patient, personas["prescriber"], kind="evaluation", hour=10)
    _book(coordinator, team_patient, personas["therapist"], kind="integration", hour=14)
    prescriber_home = client_for("prescriber").get("/").content.decode()
    therapist_home = client_for("therapist").get("/").content.decode()
    assert "My appointments" in prescriber_home and "Medical and psychiatric evaluation" in prescriber_home
    assert "Integration session" not in prescriber_home
    assert "Integration session" in therapist_home and "Medical and psychiatric evaluation" not in therapist_home
    assert f"{team_patient.family_name.upper()}, {team_patient.given_name}" in therapist_home
    listed = AccessEvent.objects.filter(action="appointment.upcoming_list", patient_id=team_patient.pk)
    assert set(listed.values_list("user__username", flat=True)) == {"prescriber", "therapist"}


# Cancel, move, did not attend ------------------------------------------------------------------------------------


def _booked(client_for: Any, personas: dict[str, User], patient: Patient) -> Appointment:
    assert _book(client_for("coordinator"), patient, personas["prescriber"]).status_code == 302
    return Appointment.objects.get()


def test_cancel_needs_a_reason_and_keeps_the_history(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    appointment = _booked(client_for, personas, team_patient)
    nurse = client_for("nurse")
    empty = nurse.post(f"/appointments/{appointment.pk}/cancel/", {"cancel-reason": "  "})
    assert empty.status_code == 422 and "This field is required." in empty.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    done = nurse.post(f"/appointments/{appointment.pk}/cancel/", {"cancel-reason": "Patient has the flu."})
    assert done.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    change = AppointmentChange.objects.get()
    assert (change.kind, change.reason, change.by) == ("cancelled", "Patient has the flu.", personas["nurse"])
    assert AccessEvent.objects.filter(action="appointment.cancelled", patient_id=team_patient.pk).exists()
    page = client_for("prescriber").get(f"/appointments/{appointment.pk}/").content.decode()
    assert "Patient has the flu." in page and "Cancel the appointment" not in page
    assert "My appointments" in client_for("prescriber").get("/").content.decode()
    assert "Medical and psychiatric evaluation" not in client_for("prescriber").get("/").content.decode()
    again = nurse.post(f"/appointments/{appointment.pk}/cancel/", {"cancel-reason": "Twice."})
    assert again.status_code == 409 and "already cancelled" in again.content.decode()  # a conflict
    with pytest.raises(DatabaseError), transaction.atomic():
        AppointmentChange.objects.filter(pk=change.pk).update(reason="rewritten")


def test_outside_the_care_team_cannot_cancel(client_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    appointment = _booked(client_for, personas, team_patient)
    refused = client_for("outsider_nurse").post(f"/appointments/{appointment.pk}/cancel/", {"cancel-reason": "No."})
    assert refused.status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == "booked" and not AppointmentChange.objects.exists()
    assert (
        client_for("auditor").post(f"/appointments/{appointment.pk}/cancel/", {"cancel-reason": "No."}).status_code
        == 403
    )


def test_reschedule_moves_keeps_the_old_time_and_refuses_a_clash_with_free_times(
    client_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    appointment = _booked(client_for, personas, team_patient)
    coordinator = client_for("coordinator")
    _book(coordinator, other_patient, personas["prescriber"], hour=14)
    move = {
        "move-starts_at": _form(_weekday_at(14)),
        "move-minutes": 60,
        "move-with_user": personas["prescriber"].pk,
        "move-reason": "Patient works mornings.",
    }
    clash = coordinator.post(f"/appointments/{appointment.pk}/reschedule/", move)
    assert clash.status_code == 422 and "Next free:" in clash.content.decode()
    assert "Patient works mornings." in clash.content.decode()  # the typed reason is kept
    moved = coordinator.post(
        f"/appointments/{appointment.pk}/reschedule/", {**move, "move-starts_at": _form(_weekday_at(16))}
    )
    assert moved.status_code == 302
    appointment.refresh_from_db()
    assert appointment.starts_at == _weekday_at(16) and appointment.status == "booked"
    change = AppointmentChange.objects.get()
    assert (change.from_starts_at, change.to_starts_at) == (_weekday_at(10), _weekday_at(16))
    to_therapist = coordinator.post(
        f"/appointments/{appointment.pk}/reschedule/", {**move, "move-with_user": personas["therapist"].pk}
    )
    assert to_therapist.status_code == 422  # an evaluation is the prescriber's: the therapist is not offered


def test_did_not_attend_only_once_started(client_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    coming = _booked(client_for, personas, team_patient)
    nurse = client_for("nurse")
    early = nurse.post(f"/appointments/{coming.pk}/no-show/", {"no-show-reason": "Did not come."})
    assert early.status_code == 409 and "has not started yet" in early.content.decode()  # a conflict
    started = Appointment.objects.create(
        kind="evaluation",
        patient=team_patient,
        with_user=personas["prescriber"],
        starts_at=timezone.now() - timedelta(minutes=20),
        ends_at=timezone.now() + timedelta(minutes=40),
        mode="in_person",
        created_by=personas["coordinator"],
    )
    page = nurse.get(f"/appointments/{started.pk}/").content.decode()
    assert "Mark did not attend" in page and "Cancel the appointment" not in page
    assert (
        nurse.post(f"/appointments/{started.pk}/no-show/", {"no-show-reason": "No answer by phone."}).status_code == 302
    )
    started.refresh_from_db()
    assert started.status == "no_show" and AppointmentChange.objects.get().kind == "no_show"


def test_the_api_is_the_twin_of_the_page(api_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    api = api_for("coordinator")
    evaluation = {
        "kind": "evaluation",
        "starts_at": _weekday_at(10).isoformat(),
        "minutes": 60,
        "mode": "in_person",
        "patient": team_patient.pk,
    }
    with_auditor = {**evaluation, "with_user": personas["auditor"].pk}
    booked = api.post("/api/v1/appointments", with_auditor, content_type="application/json")
    assert booked.status_code == 422 and "does not hold" in booked.content.decode()
    with_prescriber = {**evaluation, "with_user": personas["prescriber"].pk}
    booked = api.post("/api/v1/appointments", with_prescriber, content_type="application/json")
    assert booked.status_code == 201
    pk = booked.json()["id"]
    moved = api.post(
        f"/api/v1/appointments/{pk}/reschedule",
        {"starts_at": _weekday_at(11).isoformat(), "minutes": 60, "reason": "Room booked."},
        content_type="application/json",
    )
    assert moved.status_code == 200 and moved.json()["starts_at"].startswith(_weekday_at(11).isoformat()[:16])
    no_reason = api.post(f"/api/v1/appointments/{pk}/cancel", {"reason": ""}, content_type="application/json")
    assert no_reason.status_code == 422
    cancelled = api.post(
        f"/api/v1/appointments/{pk}/cancel", {"reason": "Moved away."}, content_type="application/json"
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (
        api.post(f"/api/v1/appointments/{pk}/no-show", {"reason": "x y z"}, content_type="application/json").status_code
        == 409
    )
    assert list(AppointmentChange.objects.values_list("kind", flat=True)) == ["rescheduled", "cancelled"]

"""Dosing sessions are bookings of the one booking engine (issue 16, item 1): scheduling a plan's session books its
nurse (who may watch up to three at once), its chair (IV) or room, with a prescriber on site; the calendar's
cancel, move and no-show carry the session with them, or are refused once it has begun; nothing else books one."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment, AppointmentChange, Place, TimeOff, WorkingHours
from kapclinic.appointments.services import appointment_book
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.clinical.availability import booking_minutes
from kapclinic.consent.models import ConsentSignature, ConsentVersion, ConsentWithdrawal
from kapclinic.dosing.models import DosingSession, SessionTransition
from kapclinic.dosing.services import session_schedule
from kapclinic.patients.models import CareTeamMember, Patient
from kapclinic.signing import content_digest
from tests.probes.races import at_once
from tests.probes.records import plan_make
from tests.test_plans import decide

EVERY_DAY = "FREQ=DAILY"


def tomorrow_at(hour: int, minute: int = 0, days: int = 1) -> datetime:
    day = timezone.localdate() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


def proposed(patient: Patient, people: dict[str, User], when: datetime, route: str = "iv") -> DosingSession:
    """A patient eligible, consented, with a signed plan and its first session proposed at `when`."""
    decide(patient, people["prescriber"])
    version, _ = ConsentVersion.objects.get_or_create(
        document="kap-treatment",
        number=1,
        defaults={"title": "Test consent", "body": "Text.", "body_digest": "x", "published_by": people["director"]},
    )
    ConsentSignature.objects.create(
        patient=patient,
        version=version,
        typed_name=patient.full_name,
        channel="portal",
        recorded_by=people["director"],
        digest=content_digest({"t": patient.pk}),
    )
    extra: dict[str, Any] = {} if route == "iv" else {"route": "im"}
    plan = plan_make(patient, people, stamp=True, first_session_on=when.date(), **extra)
    return DosingSession.objects.create(patient=patient, plan=plan, number=1, scheduled_for=when, minutes=180)


def another_patient(people: dict[str, User], n: int) -> Patient:
    patient = Patient.objects.create(
        mrn=f"K00009{n:03d}", given_name="Synthetic", family_name=f"Dosing{n}", birth_date=date(1980, 1, 1)
    )
    for role in ("prescriber", "nurse", "therapist"):
        CareTeamMember.objects.create(patient=patient, user=people[role], role=role)
    return patient


@pytest.fixture
def prescriber(personas: dict[str, User]) -> AuditContext:
    return AuditContext(user=personas["prescriber"], channel="system")


@pytest.fixture
def chairs() -> list[Place]:
    suite = Place.objects.create(name="Infusion suite", kind="room")
    return [Place.objects.create(name=f"Chair {n}", kind="chair", in_room=suite) for n in (1, 2, 3, 4, 5)]


@pytest.mark.django_db
def test_scheduling_books_the_nurse_and_the_chair_for_the_routes_length(
    personas: dict[str, User], team_patient: Patient, prescriber: AuditContext, chairs: list[Place], client_for: Any
) -> None:
    when = tomorrow_at(10)
    session = proposed(team_patient, personas, when)
    scheduled = session_schedule(
        ctx=prescriber, session_id=session.pk, nurse_id=personas["nurse"].pk, place_id=chairs[0].pk
    )
    booking = Appointment.objects.get(pk=scheduled.booking_id or 0)
    assert (booking.kind, booking.with_user_id, booking.place_id) == ("dosing", personas["nurse"].pk, chairs[0].pk)
    assert booking.patient_id == team_patient.pk and booking.starts_at == when
    # The plan's 180 minutes are longer than IV needs (check-in, 40-min infusion, observation, discharge).
    assert booking_minutes("dosing", route="iv") < 180
    assert booking.ends_at - booking.starts_at == timedelta(minutes=180)
    assert (scheduled.room, scheduled.nurse_id, scheduled.state) == ("Chair 1", personas["nurse"].pk, "scheduled")
    assert AccessEvent.objects.filter(action="dosing.schedule", detail__booking=booking.pk).exists()
    # The calendar shows it, one click from the session screen.
    page = client_for("nurse").get(f"/appointments/calendar/?view=day&start={when.date().isoformat()}")
    body = page.content.decode()
    assert page.status_code == 200 and "Dosing session" in body and f"/dosing/sessions/{session.pk}/" in body
    # The booking's own page links to the session screen for the nurse, not for the coordinator (no clinical view).
    detail = f"/appointments/{booking.pk}/"
    assert f"/dosing/sessions/{session.pk}/" in client_for("nurse").get(detail).content.decode()
    seen = client_for("coordinator").get(detail)
    assert seen.status_code == 200 and f"/dosing/sessions/{session.pk}/" not in seen.content.decode()


@pytest.mark.django_db
def test_a_session_is_never_booked_shorter_than_its_route_needs(
    personas: dict[str, User], team_patient: Patient, prescriber: AuditContext, chairs: list[Place]
) -> None:
    session = proposed(team_patient, personas, tomorrow_at(10))
    DosingSession.objects.filter(pk=session.pk).update(minutes=30)
    scheduled = session_schedule(
        ctx=prescriber, session_id=session.pk, nurse_id=personas["nurse"].pk, place_id=chairs[0].pk
    )
    assert scheduled.booking is not None
    length = scheduled.booking.ends_at - scheduled.booking.starts_at
    assert (
        length == timedelta(minutes=booking_minutes("dosing", route="iv")) and scheduled.minutes == length.seconds // 60
    )


@pytest.mark.django_db
def test_what_is_missing_or_wrong_is_said_next_to_its_field_and_nothing_changes(
    personas: dict[str, User], team_patient: Patient, prescriber: AuditContext, chairs: list[Place]
) -> None:
    session = proposed(team_patient, personas, tomorrow_at(10))
    room = Place.objects.get(name="Infusion suite")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"place_id": chairs[0].pk}, "nurse", "Choose the nurse"),
        ({"nurse_id": personas["therapist"].pk, "place_id": chairs[0].pk}, "nurse", "Choose an active nurse"),
        ({"nurse_id": personas["nurse"].pk}, "place", "Choose the infusion chair"),
        ({"nurse_id": personas["nurse"].pk, "place_id": room.pk}, "place", "this takes a infusion chair"),
        (
            {"nurse_id": personas["nurse"].pk, "place_id": chairs[0].pk, "starts_at": tomorrow_at(9, days=-2)},
            "starts_at",
            "has passed",
        ),
    ]
    for values, field, words in cases:
        with pytest.raises(ValidationError) as refused:
            session_schedule(ctx=prescriber, session_id=session.pk, **values)
        assert words in " ".join(refused.value.message_dict[field]), (values, refused.value.message_dict)
    session.refresh_from_db()
    assert session.state == "proposed" and session.booking_id is None and not Appointment.objects.exists()


@pytest.mark.django_db
def test_a_nurse_watches_up_to_three_sessions_at_once_and_a_chair_holds_one(
    personas: dict[str, User], team_patient: Patient, prescriber: AuditContext, chairs: list[Place]
) -> None:
    when = tomorrow_at(10)
    nurse = personas["nurse"].pk
    patients = [team_patient] + [another_patient(personas, n) for n in range(3)]
    sessions = [proposed(p, personas, when) for p in patients]
    for n in range(3):
        session_schedule(ctx=prescriber, session_id=sessions[n].pk, nurse_id=nurse, place_id=chairs[n].pk)
    with pytest.raises(ValidationError) as refused:
        session_schedule(ctx=prescriber, session_id=sessions[3].pk, nurse_id=nurse, place_id=chairs[3].pk)
    message = refused.value.message_dict["starts_at"][0]
    assert "3 dosing sessions (the most one holds at once)" in message and "Next free:" in message
    # The chair the first session holds is taken, whoever the nurse.
    with pytest.raises(ValidationError) as taken:
        session_schedule(
            ctx=prescriber, session_id=sessions[3].pk, nurse_id=personas["outsider_nurse"].pk, place_id=chairs[0].pk
        )
    assert "Chair 1 is booked at 10:00" in taken.value.message_dict["place"][0]
    sessions[3].refresh_from_db()
    assert sessions[3].state == "proposed" and Appointment.objects.count() == 3
    # The nurse's sessions keep her from an appointment of any other kind.
    with pytest.raises(ValidationError):
        appointment_book(
            ctx=prescriber,
            kind="consultation",
            with_user_id=nurse,
            starts_at=when,
            minutes=30,
            mode="in_person",
            patient_id=other_patient_for(personas).pk,
        )


def other_patient_for(people: dict[str, User]) -> Patient:
    return another_patient(people, 99)


@pytest.mark.django_db
def test_a_prescriber_must_be_on_site(
    personas: dict[str, User], team_patient: Patient, prescriber: AuditContext, chairs: list[Place]
) -> None:
    when = tomorrow_at(10)
    session = proposed(team_patient, personas, when)
    TimeOff.objects.create(
        user=personas["prescriber"],
        starts_at=when - timedelta(hours=1),
        ends_at=when + timedelta(hours=8),
        reason="Conference",
        recorded_by=personas["director"],
    )
    with pytest.raises(ValidationError) as refused:
        session_schedule(ctx=prescriber, session_id=session.pk, nurse_id=personas["nurse"].pk, place_id=chairs[0].pk)
    assert "No prescriber is at work then" in refused.value.message_dict["starts_at"][0]
    # A prescriber who works then (hours recorded, no time off) is enough.
    WorkingHours.objects.create(
        user=User.objects.create(username="second-prescriber", role="prescriber"),
        rule=EVERY_DAY,
        starts=time(7),
        ends=time(19),
        since=date(2026, 1, 1),
        recorded_by=personas["director"],
    )
    scheduled = session_schedule(
        ctx=prescriber, session_id=session.pk, nurse_id=personas["nurse"].pk, place_id=chairs[0].pk
    )
    assert scheduled.state == "scheduled"


def scheduled_at_ten(people: dict[str, User], patient: Patient, ctx: AuditContext, chair: Place) -> DosingSession:
    """The patient's first session scheduled tomorrow at 10:00, with the nurse, in `chair`."""
    session = proposed(patient, people, tomorrow_at(10))
    return session_schedule(ctx=ctx, session_id=session.pk, nurse_id=people["nurse"].pk, place_id=chair.pk)


@pytest.mark.django_db
def test_moving_the_booking_moves_the_session_and_keeps_the_old_time(
    api_for: Any, personas: dict[str, User], team_patient: Patient, prescriber: AuditContext, chairs: list[Place]
) -> None:
    session = scheduled_at_ten(personas, team_patient, prescriber, chairs[0])
    version = session.version
    later = tomorrow_at(13)
    moved = api_for("coordinator").post(
        f"/api/v1/appointments/{session.booking_id}/reschedule",
        {"starts_at": later.isoformat(), "minutes": 30, "reason": "Patient asked for the afternoon"},
        content_type="application/json",
    )
    assert moved.status_code == 200, moved.content
    # A dosing session keeps its length whatever minutes are sent.
    assert datetime.fromisoformat(moved.json()["ends_at"]) - later == timedelta(minutes=180)
    session.refresh_from_db()
    assert session.scheduled_for == later and session.version > version
    change = AppointmentChange.objects.get(appointment_id=session.booking_id or 0)
    assert change.from_starts_at == tomorrow_at(10) and change.to_starts_at == later


@pytest.mark.django_db
def test_a_booking_of_a_session_under_way_cannot_be_moved_or_cancelled(
    api_for: Any, personas: dict[str, User], team_patient: Patient, prescriber: AuditContext, chairs: list[Place]
) -> None:
    session = scheduled_at_ten(personas, team_patient, prescriber, chairs[0])
    DosingSession.objects.filter(pk=session.pk).update(state="checked_in")
    api = api_for("coordinator")
    cancel = api.post(
        f"/api/v1/appointments/{session.booking_id}/cancel", {"reason": "Double entry"}, content_type="application/json"
    )
    assert cancel.status_code == 409 and "checked in" in cancel.content.decode()
    move = api.post(
        f"/api/v1/appointments/{session.booking_id}/reschedule",
        {"starts_at": tomorrow_at(14).isoformat(), "reason": "Later"},
        content_type="application/json",
    )
    assert move.status_code == 409
    booking = Appointment.objects.get(pk=session.booking_id or 0)
    assert booking.status == "booked" and booking.starts_at == tomorrow_at(10)
    assert not AppointmentChange.objects.exists()


@pytest.mark.django_db
def test_cancelling_the_booking_cancels_the_session_with_the_reason(
    api_for: Any, personas: dict[str, User], team_patient: Patient, prescriber: AuditContext, chairs: list[Place]
) -> None:
    session = scheduled_at_ten(personas, team_patient, prescriber, chairs[0])
    answer = api_for("coordinator").post(
        f"/api/v1/appointments/{session.booking_id}/cancel",
        {"reason": "Patient unwell"},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    session.refresh_from_db()
    assert session.state == "cancelled"
    assert (
        SessionTransition.objects.get(session=session, to_state="cancelled").reason
        == "Booking cancelled: Patient unwell"
    )


@pytest.mark.django_db
def test_withdrawn_consent_frees_the_chair(
    personas: dict[str, User], team_patient: Patient, prescriber: AuditContext, chairs: list[Place]
) -> None:
    session = scheduled_at_ten(personas, team_patient, prescriber, chairs[0])
    signature = team_patient.consent_signatures.get()
    from kapclinic.consent.services import consent_withdraw

    consent_withdraw(
        ctx=AuditContext(user=personas["patient_user"], channel="portal"),
        signature_id=signature.pk,
        reason="Changed my mind",
    )
    session.refresh_from_db()
    booking = Appointment.objects.get(pk=session.booking_id or 0)
    assert session.state == "cancelled" and booking.status == "cancelled"
    assert AppointmentChange.objects.get(appointment=booking).kind == "cancelled"
    assert ConsentWithdrawal.objects.filter(signature=signature).exists()


@pytest.mark.django_db
def test_the_booking_form_and_api_do_not_book_a_dosing_session(
    api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    answer = api_for("coordinator").post(
        "/api/v1/appointments",
        {
            "kind": "dosing",
            "with_user": personas["nurse"].pk,
            "starts_at": tomorrow_at(10).isoformat(),
            "minutes": 180,
            "mode": "in_person",
            "patient": team_patient.pk,
        },
        content_type="application/json",
    )
    assert answer.status_code == 422 and "scheduling the plan" in answer.content.decode()
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_the_migration_books_sessions_already_scheduled(
    personas: dict[str, User], team_patient: Patient, chairs: list[Place]
) -> None:
    from importlib import import_module

    migration = import_module("kapclinic.dosing.migrations.0011_session_booking")
    session = proposed(team_patient, personas, tomorrow_at(10))
    DosingSession.objects.filter(pk=session.pk).update(state="scheduled", nurse=personas["nurse"], room="chair 2")
    nurseless = proposed(another_patient(personas, 5), personas, tomorrow_at(10))
    DosingSession.objects.filter(pk=nurseless.pk).update(state="scheduled")
    migration.sessions_book(apps, None)
    session.refresh_from_db()
    assert session.booking is not None and session.booking.place == chairs[1]
    assert session.booking.ends_at - session.booking.starts_at == timedelta(minutes=180)
    assert DosingSession.objects.get(pk=nurseless.pk).booking_id is None


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_schedules_into_the_last_chair_at_once_exactly_one_wins(
    personas: dict[str, User], team_patient: Patient
) -> None:
    assert connection.vendor == "postgresql"
    chair = Place.objects.create(name="Last chair", kind="chair")
    when = tomorrow_at(10)
    sessions = [proposed(team_patient, personas, when), proposed(another_patient(personas, 7), personas, when)]
    nurses = [personas["nurse"], personas["outsider_nurse"]]
    ctx = AuditContext(user=personas["prescriber"], channel="system")
    outcomes = at_once(
        [
            lambda n=n: session_schedule(ctx=ctx, session_id=sessions[n].pk, nurse_id=nurses[n].pk, place_id=chair.pk)  # type: ignore[misc]
            for n in range(2)
        ]
    )
    assert sorted(o[:7] for o in outcomes) == ["done", "refused"], outcomes
    assert any("Last chair is booked at 10:00" in o for o in outcomes)
    assert Appointment.objects.filter(place=chair).count() == 1
    assert DosingSession.objects.filter(state="scheduled").count() == 1

"""Booking reminders for patients (issue 16, item 4): sent once by the worker, by the channel the patient chose,
saying nothing clinical by default; the patient's bookings in the portal, confirmed or asked to be moved, and the
answer where staff look (the calendar, the coordinator's inbox)."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.home.inbox import inbox_for
from kapclinic.patients.models import Patient
from kapclinic.reminders import sms
from kapclinic.reminders.models import BookingReply, ReminderPreference, ReminderSent
from kapclinic.reminders.selectors import reminders_due
from kapclinic.reminders.services import reminder_send, reminders_send_due
from kapclinic.reminders.tasks import send_booking_reminders
from tests.probes.records import plan_make
from tests.test_reminder_rules import CLINICAL

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _texts_kept(settings: Any) -> Any:
    settings.KAPCLINIC_SMS_BACKEND = "kapclinic.reminders.sms.LocmemSmsBackend"
    settings.KAPCLINIC_CLINIC_NAME = "Riverside Clinic"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def _tomorrow_at(hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=1), time(hour, 0)))


def book(patient: Patient, people: dict[str, User], *, kind: str = "integration", hour: int = 14) -> Appointment:
    start = _tomorrow_at(hour)
    return Appointment.objects.create(
        kind=kind,
        patient=patient,
        with_user=people["therapist"],
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        mode="in_person",
        created_by=people["coordinator"],
    )


def day_before_at_ten() -> Any:
    """The clock at 10:00 the day before tomorrow's bookings (inside the day-before window)."""
    return time_machine.travel(_tomorrow_at(10) - timedelta(days=1), tick=False)


def test_a_reminder_is_sent_once_by_email_and_says_nothing_clinical(
    personas: dict[str, User], team_patient: Patient
) -> None:
    team_patient.email = "alder@example.test"
    team_patient.save()
    appointment = book(team_patient, personas)
    with day_before_at_ten():
        assert reminders_send_due() == 1
        assert reminders_send_due() == 0  # run again: nothing sent twice
        assert send_booking_reminders.call() == 0  # the worker's task, the same
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["alder@example.test"]
    assert "Reminder: your appointment at Riverside Clinic on " in email.body
    assert email.subject.startswith("Reminder: your appointment on ")
    assert not CLINICAL.search(f"{email.subject}\n{email.body}")
    sent = ReminderSent.objects.get()
    assert (sent.appointment, sent.which, sent.channel, sent.body) == (appointment, "day_before", "email", email.body)
    assert sms.outbox == []


def test_opted_out_sends_nothing(personas: dict[str, User], team_patient: Patient) -> None:
    team_patient.email = "alder@example.test"
    team_patient.save()
    ReminderPreference.objects.create(patient=team_patient, channel="none", updated_by=personas["patient_user"])
    book(team_patient, personas)
    with day_before_at_ten():
        assert reminders_send_due() == 0
    assert mail.outbox == [] and sms.outbox == [] and not ReminderSent.objects.exists()


def test_the_preferred_channel_is_used_and_a_dosing_session_carries_its_preparation(
    personas: dict[str, User], team_patient: Patient
) -> None:
    team_patient.email = "alder@example.test"
    team_patient.save()
    ReminderPreference.objects.create(patient=team_patient, channel="sms", updated_by=personas["patient_user"])
    plan_make(team_patient, personas, stamp=True, route="intranasal", starting_dose_mg=56, starting_dose_mg_per_kg=None)
    book(team_patient, personas, kind="dosing")
    with day_before_at_ten():
        assert reminders_send_due() == 1
    assert mail.outbox == []
    [(to, text)] = sms.outbox
    assert to == team_patient.phone
    assert "Eat nothing for 2 hours" in text and "Drink nothing for 30 minutes" in text  # the plan's route
    assert "do not drive until the next day" in text
    assert not CLINICAL.search(text)


def test_a_moved_booking_is_reminded_again_and_a_cancelled_one_not(
    personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    moved = book(team_patient, personas)
    cancelled = book(other_patient, personas, hour=15)
    with day_before_at_ten():
        assert reminders_send_due() == 2  # no email on file: by text (the clinic's default then)
        moved.starts_at += timedelta(hours=2)
        moved.ends_at += timedelta(hours=2)
        moved.save()
        cancelled.status = "cancelled"
        cancelled.save()
        assert reminders_send_due() == 1
    assert ReminderSent.objects.filter(appointment=moved).count() == 2


def test_a_booking_cancelled_after_it_was_found_is_not_reminded(
    personas: dict[str, User], team_patient: Patient
) -> None:
    appointment = book(team_patient, personas)
    with day_before_at_ten():
        [due] = reminders_due(now=timezone.now())
        Appointment.objects.filter(pk=appointment.pk).update(status="cancelled")
        assert reminder_send(due) is None
    assert sms.outbox == [] and not ReminderSent.objects.exists()


class RefusingSms:
    """A provider that refuses every text."""

    def send_text(self, to: str, body: str) -> None:
        raise ConnectionError("provider down")


def test_a_failed_send_is_retried_later_and_does_not_stop_the_others(
    settings: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    other_patient.email = "birch@example.test"
    other_patient.save()
    book(team_patient, personas)  # no email: by text, which fails
    book(other_patient, personas, hour=15)
    settings.KAPCLINIC_SMS_BACKEND = "tests.test_reminders.RefusingSms"
    with day_before_at_ten():
        assert reminders_send_due() == 1
        assert [m.to for m in mail.outbox] == [["birch@example.test"]]
        assert not ReminderSent.objects.filter(appointment__patient=team_patient).exists()
        settings.KAPCLINIC_SMS_BACKEND = "kapclinic.reminders.sms.LocmemSmsBackend"
        assert reminders_send_due() == 1  # the next run
    assert len(sms.outbox) == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_reminder_once(personas: dict[str, User], team_patient: Patient) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent writers need PostgreSQL (SQLite serialises them at the file level)")
    book(team_patient, personas)
    with day_before_at_ten():
        due = reminders_due(now=timezone.now())
        barrier = threading.Barrier(4)
        results: list[bool] = []

        def run() -> None:
            try:
                barrier.wait()
                results.append(reminder_send(due[0]) is not None)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert sorted(results) == [False, False, False, True]
    assert len(sms.outbox) == 1 and ReminderSent.objects.count() == 1


def test_the_command_queues_the_job_and_runs_it_with_now(personas: dict[str, User], team_patient: Patient) -> None:
    book(team_patient, personas)
    out: list[str] = []
    with day_before_at_ten():
        call_command("reminders_send", "--now", stdout=_Lines(out))
        call_command("reminders_send", stdout=_Lines(out))
    assert out[0].startswith("Booking reminders sent: 1") and out[1].startswith("Booking reminder job queued")


class _Lines:
    def __init__(self, into: list[str]) -> None:
        self.into = into

    def write(self, text: str) -> None:
        self.into.append(text)

    def flush(self) -> None:
        return None


# --- the portal --------------------------------------------------------------------------------------------


def test_the_patient_sees_their_bookings_confirms_and_asks_to_reschedule(
    client_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    mine = book(team_patient, personas)
    theirs = book(other_patient, personas, hour=16)
    client: Client = client_for("patient_user")
    page = client.get("/portal/bookings/")
    text = page.content.decode()
    assert page.status_code == 200 and "Integration session" in text and "I will be there" in text
    assert f"/portal/bookings/{theirs.pk}/" not in text  # their own only

    done = client.post(f"/portal/bookings/{mine.pk}/confirm/", follow=True)
    assert "the clinic knows you are coming" in done.content.decode()
    assert "✓ You confirmed" in done.content.decode()
    note = "<script>alert(1)</script> Tuesdays suit me"
    client.post(f"/portal/bookings/{mine.pk}/reschedule/", {"note": note})
    replies = list(BookingReply.objects.filter(appointment=mine).order_by("at", "id").values_list("kind", "note"))
    assert replies == [("confirmed", ""), ("reschedule", note)]
    again = client.get("/portal/bookings/").content.decode()
    assert "<script>alert(1)" not in again and "&lt;script&gt;alert(1)&lt;/script&gt; Tuesdays suit me" in again
    assert AccessEvent.objects.filter(action="booking.reply", patient=team_patient, outcome="allowed").count() == 2

    # Another patient's booking: not found, nothing written, the attempt audited.
    refused = client.post(f"/portal/bookings/{theirs.pk}/confirm/")
    assert refused.status_code == 404
    assert not BookingReply.objects.filter(appointment=theirs).exists()
    assert AccessEvent.objects.filter(action="booking.reply", patient=other_patient, outcome="denied").exists()


def test_the_bookings_page_reads_the_same_number_of_times_however_many_bookings(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    """Sign-in, the patient record and its access check, the bookings with their staff and place, the answers,
    the plan's route for the dosing sessions, and the audit row: not one more per booking."""
    plan_make(team_patient, personas, stamp=True)
    client = client_for("patient_user")

    def reads() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/portal/bookings/").status_code == 200
        return len(queries)

    book(team_patient, personas, kind="dosing", hour=9)
    one = reads()
    for hour, kind in ((11, "integration"), (13, "dosing"), (15, "preparation")):
        appointment = book(team_patient, personas, kind=kind, hour=hour)
        BookingReply.objects.create(
            appointment=appointment, kind="confirmed", for_starts_at=appointment.starts_at, by=personas["patient_user"]
        )
    assert reads() == one


def test_staff_are_refused_the_patients_answer(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    mine = book(team_patient, personas)
    assert client_for("coordinator").post(f"/portal/bookings/{mine.pk}/confirm/").status_code in (302, 403)
    assert api_for("therapist").post(f"/api/v1/portal/bookings/{mine.pk}/confirm").status_code == 403
    assert api_for("therapist").get("/api/v1/portal/bookings").status_code == 403
    assert not BookingReply.objects.exists()


def test_bad_answers_are_refused_with_a_clear_error_and_nothing_changed(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    mine = book(team_patient, personas)
    client = client_for("patient_user")
    long = client.post(f"/portal/bookings/{mine.pk}/reschedule/", {"note": "x" * 301})
    assert long.status_code == 422
    assert "Keep the note under 300 characters; this one has 301." in long.content.decode()
    assert AccessEvent.objects.filter(action="booking.reply", outcome="invalid").exists()
    mine.status = "cancelled"
    mine.save()
    late = client.post(f"/portal/bookings/{mine.pk}/confirm/")
    assert late.status_code == 409 and "no longer ahead of you" in late.content.decode()
    assert not BookingReply.objects.exists()


def test_the_reminder_preference_page_and_the_reminders_list(
    client_for: Any, settings: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    client = client_for("patient_user")
    book(team_patient, personas)
    with day_before_at_ten():
        reminders_send_due()
    page = client.get("/portal/bookings/reminders/").content.decode()
    assert "Reminders sent to you" in page and "Reminder: your appointment at Riverside Clinic on " in page
    assert "Text message (SMS)" in page  # no email on file: texts, the default

    # Email with no address on file: refused, nothing stored.
    refused = client.post("/portal/bookings/reminders/", {"channel": "email"})
    assert refused.status_code == 422 and "no email address for you" in refused.content.decode()
    assert not ReminderPreference.objects.exists()
    assert client.post("/portal/bookings/reminders/", {"channel": "none"}).status_code == 302
    assert ReminderPreference.objects.get(patient=team_patient).channel == "none"
    assert AccessEvent.objects.filter(action="reminder.preference", outcome="allowed").count() == 1

    # The clinic sends no texts: the choice is not offered, and refused if asked for.
    settings.KAPCLINIC_SMS_BACKEND = ""
    assert 'value="sms"' not in client.get("/portal/bookings/reminders/").content.decode()
    assert client.post("/portal/bookings/reminders/", {"channel": "sms"}).status_code == 422


def test_the_api_twins(api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient) -> None:
    mine = book(team_patient, personas, kind="dosing")
    theirs = book(other_patient, personas, hour=16)
    api = api_for("patient_user")
    listed = api.get("/api/v1/portal/bookings").json()["items"]
    assert [b["id"] for b in listed] == [mine.pk]
    assert listed[0]["preparation"][0].startswith("Eat nothing for 4 hours")  # no plan: the longest fasting
    assert api.post(f"/api/v1/portal/bookings/{mine.pk}/confirm").json()["kind"] == "confirmed"
    asked = api.post(
        f"/api/v1/portal/bookings/{mine.pk}/reschedule-request", {"note": "Mornings"}, content_type="application/json"
    )
    assert asked.status_code == 201 and asked.json() == {**asked.json(), "kind": "reschedule", "note": "Mornings"}
    assert api.get("/api/v1/portal/bookings").json()["items"][0]["reply"]["kind"] == "reschedule"
    assert api.post(f"/api/v1/portal/bookings/{theirs.pk}/confirm").status_code == 404

    assert api.get("/api/v1/portal/reminder-preference").json() == {
        "channel": "sms",
        "name_visit": False,
        "chosen": False,
    }
    bad = api.put("/api/v1/portal/reminder-preference", {"channel": "pigeon"}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["detail"][0]["msg"] == "Choose email, text message, or no reminders."
    good = api.put(
        "/api/v1/portal/reminder-preference", {"channel": "none", "name_visit": True}, content_type="application/json"
    )
    assert good.json() == {"channel": "none", "name_visit": True, "chosen": True}
    assert api.get("/api/v1/portal/reminders").json() == {"items": []}


# --- where staff see the answers ---------------------------------------------------------------------------


def test_the_answer_shows_on_the_calendar_and_in_the_coordinators_inbox(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    mine = book(team_patient, personas)
    note = "<script>alert(1)</script> after five"
    api_for("patient_user").post(
        f"/api/v1/portal/bookings/{mine.pk}/reschedule-request", {"note": note}, content_type="application/json"
    )
    coordinator = client_for("coordinator")
    # The week of the booking (tomorrow): on a Sunday, today's week (from Monday) ends before it.
    booked_on = timezone.localdate(mine.starts_at).isoformat()
    week = coordinator.get(f"/appointments/calendar/?start={booked_on}").content.decode()
    assert "↻ asks to reschedule" in week and "<script>alert(1)" not in week

    def asking(username: str) -> list[str]:
        ctx = AuditContext(user=personas[username], channel="system")
        return [i.text for s in inbox_for(ctx) if s.key == "reschedule" for i in s.items]

    detail = coordinator.get(f"/appointments/{mine.pk}/").content.decode()
    assert "↻ asks to reschedule" in detail and "&lt;script&gt;alert(1)&lt;/script&gt; after five" in detail
    assert len(asking("coordinator")) == 1 and "after five" in asking("coordinator")[0]
    assert len(asking("director")) == 1
    assert "reschedule" not in [s.key for s in inbox_for(AuditContext(user=personas["therapist"], channel="system"))]
    inbox = coordinator.get("/inbox/").content.decode()
    assert "Patients asking to reschedule" in inbox and "<script>alert(1)" not in inbox

    # Moved by the clinic: the request is answered, and leaves the inbox by itself (derived, not a copy).
    mine.starts_at += timedelta(hours=1)
    mine.ends_at += timedelta(hours=1)
    mine.save()
    assert asking("coordinator") == []
    assert "asks to reschedule" not in coordinator.get("/appointments/calendar/").content.decode()


def test_the_demo_has_reminders_sent_and_a_patient_asking_to_reschedule() -> None:
    call_command("demo_load", "--quiet")
    patient = Client()
    patient.force_login(User.objects.get(username="patient"))
    page = patient.get("/portal/bookings/reminders/").content.decode()
    assert "Reminders sent to you" in page and "Reminder: your appointment at" in page
    assert "I will be there" in patient.get("/portal/bookings/").content.decode()
    ctx = AuditContext(user=User.objects.get(username="coordinator"), channel="system")
    assert [s.count for s in inbox_for(ctx) if s.key == "reschedule"] == [1]

"""Secure messages (issue 16, item 6): who reads and writes a conversation, staff-only conversations, read state
per reader, "needs a clinical response", a message turned into a safety flag, refusals, the pages and the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent, Outcome
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.measures.models import SafetyFlag, SafetyFlagCode
from kapclinic.measures.selectors import open_safety_flags_for_patient
from kapclinic.messaging import selectors, services
from kapclinic.messaging.models import BODY_MAX, Message, MessageRead, MessageSafetyFlag, MessageThread
from kapclinic.patients.models import Patient
from tests.db_roles import REFUSED

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script>'


def ctx(user: User, channel: str = "page") -> AuditContext:
    return AuditContext(user=user, channel=channel)


def last_event(**filters: Any) -> AccessEvent:
    event = AccessEvent.objects.filter(**filters).order_by("-id").first()
    assert event is not None, f"no audit event {filters}"
    return event


def counts(thread: MessageThread) -> tuple[int, int]:
    """The (messages, unread) a thread list annotates."""
    return getattr(thread, "message_count"), getattr(thread, "unread_count")  # noqa: B009 - annotations


def start(user: User, patient: Patient, body: str = "How are you sleeping?", **kw: Any) -> MessageThread:
    return services.thread_start(ctx=ctx(user), patient_id=patient.pk, subject="Sleep", body=body, **kw)


@pytest.fixture
def p(personas: dict[str, User]) -> dict[str, User]:
    return personas


# --- services and selectors ----------------------------------------------------------------------------


def test_patient_and_team_talk_and_each_reader_has_their_own_read_state(
    p: dict[str, User], team_patient: Patient
) -> None:
    thread = start(p["therapist"], team_patient)
    services.message_send(
        ctx=ctx(p["patient_user"]), patient_id=team_patient.pk, thread_id=thread.pk, body="Better, thanks."
    )
    listed = selectors.threads_for_patient(ctx=ctx(p["nurse"]), patient_id=team_patient.pk).threads.get()
    assert counts(listed) == (2, 2)
    mine = selectors.threads_for_patient(ctx=ctx(p["therapist"]), patient_id=team_patient.pk).threads.get()
    assert counts(mine)[1] == 1  # the patient's answer; their own message counts as read

    assert services.thread_read_mark(ctx=ctx(p["nurse"]), patient_id=team_patient.pk, thread_id=thread.pk) == 2
    assert services.thread_read_mark(ctx=ctx(p["nurse"]), patient_id=team_patient.pk, thread_id=thread.pk) == 0
    nurse_view = selectors.threads_for_patient(ctx=ctx(p["nurse"]), patient_id=team_patient.pk).threads.get()
    therapist_view = selectors.threads_for_patient(ctx=ctx(p["therapist"]), patient_id=team_patient.pk).threads.get()
    assert (counts(nurse_view)[1], counts(therapist_view)[1]) == (0, 1)
    assert MessageRead.objects.filter(reader=p["nurse"]).count() == 2


def test_reading_a_conversation_is_audited(p: dict[str, User], team_patient: Patient) -> None:
    thread = start(p["therapist"], team_patient)
    view = selectors.thread_for_user(ctx=ctx(p["prescriber"]), patient_id=team_patient.pk, thread_id=thread.pk)
    assert [m.body for m in view.messages] == ["How are you sleeping?"]
    event = last_event(user=p["prescriber"], action="message.view")
    assert (event.patient_id, event.outcome, event.detail["thread"]) == (team_patient.pk, Outcome.ALLOWED, thread.pk)
    selectors.threads_for_patient(ctx=ctx(p["nurse"]), patient_id=team_patient.pk)
    assert last_event(user=p["nurse"], action="message.view").patient_id == team_patient.pk


def test_only_the_patient_and_their_care_team_read(
    p: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    thread = start(p["therapist"], team_patient)
    for outsider in ("outsider_therapist", "outsider_nurse"):
        with pytest.raises(AccessDenied, match="not on your care team"):
            selectors.thread_for_user(ctx=ctx(p[outsider]), patient_id=team_patient.pk, thread_id=thread.pk)
        assert last_event(user=p[outsider]).outcome == Outcome.DENIED
    for role in ("coordinator", "director", "auditor"):
        with pytest.raises(AccessDenied):
            selectors.threads_for_patient(ctx=ctx(p[role]), patient_id=team_patient.pk)
    # Another patient's conversation, asked for under this patient's id, does not exist.
    other = MessageThread.objects.create(patient=other_patient, subject="Other", started_by=p["director"])
    with pytest.raises(NotFound):
        selectors.thread_for_user(ctx=ctx(p["therapist"]), patient_id=team_patient.pk, thread_id=other.pk)
    # The patient user reaches only their own record.
    with pytest.raises(NotFound):
        selectors.threads_for_patient(ctx=ctx(p["patient_user"]), patient_id=other_patient.pk)


def test_a_staff_only_conversation_never_reaches_the_patient(p: dict[str, User], team_patient: Patient) -> None:
    staff = start(p["nurse"], team_patient, body="Seemed low at check-in; can you follow up?", staff_only=True)
    shared = start(p["therapist"], team_patient)
    listed = selectors.threads_for_patient(ctx=ctx(p["patient_user"]), patient_id=team_patient.pk).threads
    assert [t.pk for t in listed] == [shared.pk]
    assert {
        t.pk for t in selectors.threads_for_patient(ctx=ctx(p["therapist"]), patient_id=team_patient.pk).threads
    } == {
        staff.pk,
        shared.pk,
    }
    for call in (
        lambda: selectors.thread_for_user(ctx=ctx(p["patient_user"]), patient_id=team_patient.pk, thread_id=staff.pk),
        lambda: services.message_send(
            ctx=ctx(p["patient_user"]), patient_id=team_patient.pk, thread_id=staff.pk, body="Let me in"
        ),
        lambda: services.thread_read_mark(ctx=ctx(p["patient_user"]), patient_id=team_patient.pk, thread_id=staff.pk),
    ):
        with pytest.raises(NotFound, match="No such conversation"):
            call()
    assert last_event(user=p["patient_user"]).outcome == Outcome.NOT_FOUND
    assert Message.objects.filter(thread=staff).count() == 1
    # A patient cannot start a staff-only conversation either: theirs are always with the team.
    own = start(p["patient_user"], team_patient, staff_only=True)
    assert own.staff_only is False


@pytest.mark.parametrize(
    ("body", "message"),
    [("", "Write a message"), ("   \n ", "Write a message"), ("x" * (BODY_MAX + 1), "at most 5,000 characters")],
)
def test_an_empty_or_over_long_message_is_refused_audited_and_changes_nothing(
    p: dict[str, User], team_patient: Patient, body: str, message: str
) -> None:
    thread = start(p["therapist"], team_patient)
    with pytest.raises(ValidationError, match=message):
        services.message_send(ctx=ctx(p["patient_user"]), patient_id=team_patient.pk, thread_id=thread.pk, body=body)
    with pytest.raises(ValidationError, match=message):
        start(p["therapist"], team_patient, body=body)
    assert Message.objects.count() == 1 and MessageThread.objects.count() == 1
    event = last_event(user=p["therapist"], action="message.send")
    assert (event.outcome, event.patient_id) == (Outcome.INVALID, team_patient.pk)


def test_a_message_of_exactly_the_limit_is_kept(p: dict[str, User], team_patient: Patient) -> None:
    thread = start(p["therapist"], team_patient, body="y" * BODY_MAX)
    assert len(thread.messages.get().body) == BODY_MAX


def test_writing_about_a_patient_off_the_care_team_is_a_field_error(p: dict[str, User], other_patient: Patient) -> None:
    with pytest.raises(ValidationError, match="only write about patients on your care team") as raised:
        services.inbox_thread_start(ctx=ctx(p["therapist"]), patient_id=other_patient.pk, subject="Hi", body="Hello")
    assert "patient" in raised.value.message_dict
    assert not MessageThread.objects.exists()
    assert last_event(user=p["therapist"]).outcome == Outcome.DENIED


def test_needs_response_is_marked_by_a_clinician_and_cleared_by_the_teams_answer(
    p: dict[str, User], team_patient: Patient
) -> None:
    thread = start(p["patient_user"], team_patient, body="My dose made me dizzy for two days.")
    marked = services.thread_needs_response_set(
        ctx=ctx(p["nurse"]), patient_id=team_patient.pk, thread_id=thread.pk, needed=True
    )
    assert marked.needs_response and marked.needs_response_by == p["nurse"]
    assert last_event(user=p["nurse"], action="message.triage").detail["needs_response"] is True
    waiting = selectors.threads_waiting_for_user(ctx=ctx(p["prescriber"]))
    assert [t.pk for t in waiting] == [thread.pk]
    # The patient's own reply does not clear it; the team's does.
    services.message_send(ctx=ctx(p["patient_user"]), patient_id=team_patient.pk, thread_id=thread.pk, body="Still.")
    thread.refresh_from_db()
    assert thread.needs_response
    services.message_send(ctx=ctx(p["prescriber"]), patient_id=team_patient.pk, thread_id=thread.pk, body="Call me.")
    assert not MessageThread.objects.get(pk=thread.pk).needs_response
    with pytest.raises(AccessDenied):
        services.thread_needs_response_set(
            ctx=ctx(p["patient_user"]), patient_id=team_patient.pk, thread_id=thread.pk, needed=True
        )


def test_risk_words_raise_nothing_until_a_clinician_raises_a_flag(p: dict[str, User], team_patient: Patient) -> None:
    thread = start(p["patient_user"], team_patient, body="Some days I think about ending my life.")
    assert not SafetyFlag.objects.exists()
    message = thread.messages.get()
    with pytest.raises(ValidationError, match="Say why"):
        services.message_safety_flag_raise(
            ctx=ctx(p["therapist"]), patient_id=team_patient.pk, thread_id=thread.pk, message_id=message.pk, reason=" "
        )
    assert not SafetyFlag.objects.exists()
    assert last_event(user=p["therapist"]).outcome == Outcome.INVALID
    flag = services.message_safety_flag_raise(
        ctx=ctx(p["therapist"]),
        patient_id=team_patient.pk,
        thread_id=thread.pk,
        message_id=message.pk,
        reason="Passive suicidal ideation in a message.",
    )
    assert (flag.code, flag.raised_by, flag.response) == (SafetyFlagCode.MESSAGE_CONCERN, p["therapist"], None)
    assert flag.reason == "Passive suicidal ideation in a message."
    assert MessageSafetyFlag.objects.get(message=message).flag == flag
    assert [f.pk for f in open_safety_flags_for_patient(patient_id=team_patient.pk)] == [flag.pk]
    event = last_event(user=p["therapist"], action="safety.raise")
    assert event.detail["message"] == message.pk
    with pytest.raises(Conflict, match="already raised"):
        services.message_safety_flag_raise(
            ctx=ctx(p["nurse"]), patient_id=team_patient.pk, thread_id=thread.pk, message_id=message.pk, reason="Again"
        )
    with pytest.raises(AccessDenied):
        services.message_safety_flag_raise(
            ctx=ctx(p["outsider_therapist"]),
            patient_id=team_patient.pk,
            thread_id=thread.pk,
            message_id=message.pk,
            reason="Not mine",
        )


def test_messages_and_read_marks_are_append_only_in_the_database(p: dict[str, User], team_patient: Patient) -> None:
    thread = start(p["therapist"], team_patient)
    message = thread.messages.get()
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        Message.objects.filter(pk=message.pk).update(body="tampered")
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        MessageRead.objects.filter(message=message).delete()
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        MessageRead.objects.filter(message=message).update(reader=p["nurse"])
    unread = Message.objects.create(thread=thread, author=p["therapist"], body="No read marks yet.")
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        Message.objects.filter(pk=unread.pk).delete()
    message.refresh_from_db()
    assert message.body == "How are you sleeping?"


# --- pages ------------------------------------------------------------------------------------------------


def test_the_patient_portal_shows_the_crisis_text_and_escapes_script(
    p: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    portal = client_for("patient_user")
    page = portal.get("/portal/messages/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Messages are not for emergencies" in text
    assert escape(settings.KAPCLINIC_CRISIS_TEXT) in text
    assert "You have no messages yet." in text
    sent = portal.post("/portal/messages/", {"subject": "Question", "body": XSS})
    thread = MessageThread.objects.get()
    assert sent.status_code == 302 and sent["Location"] == f"/portal/messages/{thread.pk}/"
    shown = portal.get(f"/portal/messages/{thread.pk}/").content.decode()
    assert XSS not in shown and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in shown
    staff_page = client_for("therapist").get(f"/patients/{team_patient.pk}/messages/{thread.pk}/").content.decode()
    assert XSS not in staff_page and "&lt;script&gt;" in staff_page
    assert MessageRead.objects.filter(reader=p["therapist"]).count() == 1  # opening the page marked it read


def test_a_refused_message_shows_the_error_beside_the_field_with_the_typed_text(
    p: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    thread = start(p["therapist"], team_patient)
    portal = client_for("patient_user")
    too_long = "Long story. " + "z" * BODY_MAX
    page = portal.post(f"/portal/messages/{thread.pk}/", {"body": too_long})
    assert page.status_code == 422
    text = page.content.decode()
    assert "at most 5,000 characters" in text and 'class="field-error"' in text
    assert too_long in text
    assert Message.objects.count() == 1

    staff = client_for("therapist")
    page = staff.post("/messages/", {"patient": "", "subject": "Hello", "body": "Typed text kept"})
    assert page.status_code == 422
    page = staff.post(
        "/messages/", {"patient": str(Patient.objects.exclude(pk=team_patient.pk).first() or team_patient.pk + 999)}
    )
    assert page.status_code == 422


def test_writing_from_the_inbox_about_a_patient_off_the_team_keeps_the_text(
    p: dict[str, User], other_patient: Patient, client_for: Any
) -> None:
    page = client_for("therapist").post(
        "/messages/", {"patient": other_patient.pk, "subject": "Check-in", "body": "Typed text kept"}
    )
    assert page.status_code == 422
    text = page.content.decode()
    assert "You can only write about patients on your care team." in text
    assert "Typed text kept" in text and 'value="Check-in"' in text
    assert not MessageThread.objects.exists()
    assert last_event(user=p["therapist"]).patient_id == other_patient.pk


def test_the_chart_links_to_messages_and_the_staff_page_starts_a_staff_only_thread(
    p: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    nurse = client_for("nurse")
    chart = nurse.get(f"/patients/{team_patient.pk}/").content.decode()
    assert f"/patients/{team_patient.pk}/messages/" in chart
    empty = nurse.get(f"/patients/{team_patient.pk}/messages/").content.decode()
    assert "No conversations about this patient yet." in empty
    sent = nurse.post(
        f"/patients/{team_patient.pk}/messages/",
        {"subject": "Handover", "body": "BP high at check-in", "staff_only": "on"},
    )
    assert sent.status_code == 302
    assert MessageThread.objects.get().staff_only
    assert (
        "No conversations" not in client_for("therapist").get(f"/patients/{team_patient.pk}/messages/").content.decode()
    )
    assert "Handover" not in client_for("patient_user").get("/portal/messages/").content.decode()
    assert client_for("outsider_therapist").get(f"/patients/{team_patient.pk}/messages/").status_code == 403


def test_a_safety_flag_from_the_page_needs_a_reason(p: dict[str, User], team_patient: Patient, client_for: Any) -> None:
    thread = start(p["patient_user"], team_patient, body="I do not want to be here any more.")
    message = thread.messages.get()
    therapist = client_for("therapist")
    url = f"/patients/{team_patient.pk}/messages/{thread.pk}/{message.pk}/safety-flag/"
    refused = therapist.post(url, {"reason": ""})
    assert refused.status_code == 422 and "Say why" in refused.content.decode()
    assert not SafetyFlag.objects.exists()
    done = therapist.post(url, {"reason": "Hopelessness; call today."})
    assert done.status_code == 302
    assert SafetyFlag.objects.get().reason == "Hopelessness; call today."
    chart = therapist.get(f"/patients/{team_patient.pk}/").content.decode()
    assert "Concern raised from a message" in chart and "Hopelessness; call today." in chart


def test_many_conversations_are_paginated(p: dict[str, User], team_patient: Patient, client_for: Any) -> None:
    for n in range(23):
        MessageThread.objects.create(patient=team_patient, subject=f"Thread {n}", started_by=p["therapist"])
    page = client_for("therapist").get(f"/patients/{team_patient.pk}/messages/").content.decode()
    assert "Page 1 of 2" in page


# --- API ---------------------------------------------------------------------------------------------------


def test_api_sends_lists_reads_and_marks(p: dict[str, User], team_patient: Patient, api_for: Any) -> None:
    patient_api, nurse_api = api_for("patient_user"), api_for("nurse")
    url = f"/api/v1/patients/{team_patient.pk}/messages"
    created = patient_api.post(url, {"subject": "Ride", "body": "Who drives me home?"}, content_type="application/json")
    assert created.status_code == 201, created.content
    thread_id = created.json()["thread"]
    reply = nurse_api.post(url, {"thread": thread_id, "body": "Anyone you trust."}, content_type="application/json")
    assert reply.status_code == 201
    listed = nurse_api.get(url).json()
    assert listed["count"] == 1 and listed["items"][0]["unread_count"] == 1
    detail = nurse_api.get(f"{url}/{thread_id}").json()
    assert [m["body"] for m in detail["messages"]] == ["Who drives me home?", "Anyone you trust."]
    assert nurse_api.post(f"{url}/{thread_id}/read").json() == {"marked": 1}
    marked = nurse_api.post(f"{url}/{thread_id}/needs-response", {"needed": True}, content_type="application/json")
    assert marked.status_code == 200 and marked.json()["needs_response"] is True
    message_id = detail["messages"][0]["id"]
    flag = nurse_api.post(
        f"{url}/{thread_id}/{message_id}/safety-flag", {"reason": "Worried."}, content_type="application/json"
    )
    assert flag.status_code == 201 and flag.json()["code"] == "message_concern"


def test_api_refusals(p: dict[str, User], team_patient: Patient, other_patient: Patient, api_for: Any) -> None:
    url = f"/api/v1/patients/{team_patient.pk}/messages"
    staff_thread = start(p["nurse"], team_patient, staff_only=True)
    assert Client().get(url).status_code == 401
    assert api_for("outsider_therapist").get(url).status_code == 403
    assert api_for("director").get(url).status_code == 403
    assert api_for("patient_user").get(f"/api/v1/patients/{other_patient.pk}/messages").status_code == 404
    assert api_for("patient_user").get(f"{url}/{staff_thread.pk}").status_code == 404
    assert api_for("therapist").get(f"{url}/999999").status_code == 404
    empty = api_for("therapist").post(url, {"subject": "Hi", "body": ""}, content_type="application/json")
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "body"]
    too_long = api_for("therapist").post(
        url, {"thread": staff_thread.pk, "body": "q" * (BODY_MAX + 1)}, content_type="application/json"
    )
    assert too_long.status_code == 422
    assert Message.objects.count() == 1


# --- demo --------------------------------------------------------------------------------------------------


def test_the_demo_patient_has_a_conversation_with_their_therapist() -> None:
    call_command("demo_load", "--quiet")
    therapist, patient_user = User.objects.get(username="therapist"), User.objects.get(username="patient")
    patient = Patient.objects.get(user=patient_user)
    shown = selectors.threads_for_patient(ctx=ctx(patient_user), patient_id=patient.pk).threads
    assert [t.subject for t in shown] == [
        "Dreams since the last session (synthetic demo)",
        "A hard night (synthetic demo)",
    ]
    assert MessageSafetyFlag.objects.get(message__thread__patient=patient).flag.acknowledged_at is not None
    waiting = selectors.threads_waiting_for_user(ctx=ctx(therapist))
    assert [counts(t)[1] for t in waiting if t.patient_id == patient.pk] == [1]
    call_command("demo_load", "--quiet")
    assert MessageThread.objects.filter(patient=patient).count() == 3


def test_the_inbox_shows_what_waits_and_home_links_to_it(
    p: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    therapist = client_for("therapist")
    assert "Nothing waiting" in therapist.get("/messages/").content.decode()
    assert 'href="/messages/"' in therapist.get("/").content.decode()
    start(p["patient_user"], team_patient, body="Can we move Friday?")
    page = therapist.get("/messages/").content.decode()
    assert "Sleep" in page and "1 unread" in page and team_patient.mrn in page
    assert client_for("director").get("/messages/").status_code == 403
    assert client_for("patient_user").get("/messages/")["Location"] == "/portal/messages/"


def test_list_pages_do_not_grow_a_query_per_conversation(
    p: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    therapist = client_for("therapist")

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert therapist.get(url).status_code == 200
        return len(captured)

    start(p["patient_user"], team_patient)
    urls = [f"/patients/{team_patient.pk}/messages/", "/messages/"]
    few = [queries(url) for url in urls]
    for n in range(6):
        start(p["patient_user"], team_patient, body=f"Message {n}")
    assert [queries(url) for url in urls] == few

"""Writes per request (issue 15, item 3): a plain page GET does not write the session row; a poll that has
nothing new to show writes nothing (no audit rows either) and answers 204; the schedule page writes its
audit rows in one INSERT; SQLite keeps its connection across requests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import AlertAcknowledgement, DosingSession, MonitoringAlert, SessionState, VitalSign
from kapclinic.patients.models import Patient
from tests.probes.dosing import _alert, _session
from tests.probes.world import World


def world(client_for: Any, api_for: Any, personas: dict[str, User], team: Patient, other: Patient) -> World:
    return World(client_for("nurse"), api_for("nurse"), team, other, personas)


POLL = {"HTTP_X_KAPCLINIC_POLL": "1", "HTTP_HX_REQUEST": "true"}


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def _seen(body: str) -> str:
    marker = '"seen": "'
    start = body.index(marker) + len(marker)
    return body[start : body.index('"', start)]


def test_a_plain_page_get_does_not_write_the_session(client_for: Any, team_patient: Patient) -> None:
    client = client_for("coordinator")
    client.get("/patients/")  # the sign-in's first page may note the activity
    for path in ("/patients/", f"/patients/{team_patient.pk}/", "/"):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        assert not [sql for sql in _writes(queries) if "django_session" in sql], path


def test_activity_is_written_at_most_once_a_minute_and_polls_never(client_for: Any, team_patient: Patient) -> None:
    client = client_for("nurse")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client.get("/patients/")
        clock.shift(timedelta(seconds=61))
        with CaptureQueriesContext(connection) as polled:
            client.get("/dosing/alerts/", **POLL)
        assert not [sql for sql in _writes(polled) if "django_session" in sql]
        with CaptureQueriesContext(connection) as page:
            client.get("/patients/")
        assert [sql for sql in _writes(page) if "django_session" in sql]  # the idle clock moves on


def test_a_board_poll_with_nothing_new_writes_nothing(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    session = _session(world(client_for, api_for, personas, team_patient, other_patient), team_patient, "monitoring")
    nurse = client_for("nurse")
    first = nurse.get("/dosing/today/", **POLL)
    assert first.status_code == 200 and team_patient.mrn in first.content.decode()
    seen = _seen(first.content.decode())
    events = AccessEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        again = nurse.get("/dosing/today/", {"seen": seen}, **POLL)
    assert again.status_code == 204 and not _writes(queries)
    assert AccessEvent.objects.count() == events
    # The session moves on: the next poll shows it, and records the read.
    DosingSession.objects.filter(pk=session.pk).update(state=SessionState.RECOVERY, version=session.version + 1)
    moved = nurse.get("/dosing/today/", {"seen": seen}, **POLL)
    assert moved.status_code == 200 and _seen(moved.content.decode()) != seen
    assert AccessEvent.objects.filter(action="dosing.board.view").count() == 2
    # A page (not a poll) always answers in full, whatever it sends.
    assert nurse.get("/dosing/today/", {"seen": _seen(moved.content.decode())}).status_code == 200


def test_alert_polls_with_nothing_new_write_nothing(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    alert = _alert(world(client_for, api_for, personas, team_patient, other_patient), team_patient)
    session = alert.session
    for client, url in (
        (client_for("prescriber"), "/dosing/alerts/"),
        (client_for("nurse"), f"/dosing/sessions/{session.pk}/alerts/"),
    ):
        first = client.get(url, **POLL)
        assert first.status_code == 200 and "BP high" in first.content.decode()
        seen = _seen(first.content.decode())
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, {"seen": seen}, **POLL).status_code == 204
        assert not _writes(queries), url
        if "/sessions/" in url:
            # The sign-in's session and user, the session's patient with its alerts (one query), and the access
            # check's patient and care team: nothing of the session record is read for a poll with nothing new.
            assert len(queries) == 5, [q["sql"] for q in queries.captured_queries]
    # A new alert shows at the next poll of the session's panel, and that read is recorded.
    session_url = f"/dosing/sessions/{session.pk}/alerts/"
    nurse = client_for("nurse")
    seen = _seen(nurse.get(session_url, **POLL).content.decode())
    viewed = AccessEvent.objects.filter(action="session.view").count()
    vital = VitalSign.objects.create(
        session=session, measured_at=timezone.now(), spo2=86, recorded_by=personas["nurse"]
    )
    MonitoringAlert.objects.create(
        session=session, vital=vital, code="spo2_low", level="alert", message="SpO2 low", source="test"
    )
    fresh = nurse.get(session_url, {"seen": seen}, **POLL)
    assert fresh.status_code == 200 and "SpO2 low" in fresh.content.decode()
    assert AccessEvent.objects.filter(action="session.view").count() == viewed + 1
    # An acknowledgement changes the panel too.
    seen = _seen(fresh.content.decode())
    AlertAcknowledgement.objects.create(alert=alert, by=personas["nurse"], action_taken="Rechecked")
    assert nurse.get(session_url, {"seen": seen}, **POLL).status_code == 200


def test_the_open_alerts_poll_compares_ids_and_versions_before_reading_anything_whole(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    alert = _alert(world(client_for, api_for, personas, team_patient, other_patient), team_patient)
    prescriber = client_for("prescriber")
    seen = _seen(prescriber.get("/dosing/alerts/", **POLL).content.decode())
    with CaptureQueriesContext(connection) as queries:
        assert prescriber.get("/dosing/alerts/", {"seen": seen}, **POLL).status_code == 204
    alerts_read = [q["sql"] for q in queries.captured_queries if "dosing_monitoringalert" in q["sql"]]
    assert len(alerts_read) == 1 and "patients_patient" in alerts_read[0]  # the team check only
    assert '"patients_patient"."mrn"' not in alerts_read[0] and "dosing_vitalsign" not in alerts_read[0]
    # The alert's session moves on (a new version): the same poll then shows the list again, in full.
    DosingSession.objects.filter(pk=alert.session_id).update(version=alert.session.version + 1)
    moved = prescriber.get("/dosing/alerts/", {"seen": seen}, **POLL)
    assert moved.status_code == 200 and "BP high" in moved.content.decode() and _seen(moved.content.decode()) != seen
    # Acknowledged, the alert leaves the list: the poll answers with the list, now empty.
    seen = _seen(moved.content.decode())
    AlertAcknowledgement.objects.create(alert=alert, by=personas["nurse"], action_taken="Rechecked")
    emptied = prescriber.get("/dosing/alerts/", {"seen": seen}, **POLL)
    assert emptied.status_code == 200 and "BP high" not in emptied.content.decode()


def test_the_schedule_page_writes_its_audit_rows_in_one_insert(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    w = world(client_for, api_for, personas, team_patient, other_patient)
    _session(w, team_patient, SessionState.SCHEDULED)
    _session(w, other_patient, SessionState.SCHEDULED)
    client = client_for("director")
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/dosing/schedule/").content.decode()
    assert team_patient.mrn in body or team_patient.family_name in body
    inserts = [sql for sql in _writes(queries) if "audit_accessevent" in sql]
    assert len(inserts) == 1
    assert set(AccessEvent.objects.filter(action="dosing.schedule.view").values_list("patient_id", flat=True)) == {
        team_patient.pk,
        other_patient.pk,
    }


def test_sqlite_keeps_its_connection_across_requests() -> None:
    assert (settings.DATABASES["default"]["CONN_MAX_AGE"] or 0) > 0
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def test_a_home_page_with_several_audited_lists_writes_them_in_one_insert(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    """The nurse's home shows the caseload and today's sessions, each list an audited read: one INSERT for both
    (kapclinic/audit/page_reads.py), every row still there."""
    _session(world(client_for, api_for, personas, team_patient, other_patient), team_patient, SessionState.SCHEDULED)
    nurse = client_for("nurse")
    nurse.get("/")
    last = AccessEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with CaptureQueriesContext(connection) as queries:
        assert nurse.get("/").status_code == 200
    inserts = [sql for sql in _writes(queries) if "audit_accessevent" in sql]
    assert len(inserts) == 1
    recorded = set(AccessEvent.objects.filter(pk__gt=last).values_list("action", "patient_id"))
    assert len({action for action, _ in recorded}) >= 2  # the caseload and today's sessions, in that one INSERT
    assert all(patient == team_patient.pk for _, patient in recorded)


def test_a_refused_read_is_recorded_though_the_page_fails(client_for: Any, other_patient: Patient) -> None:
    """The batch is written on the way out whatever the view did: a refusal (404 page) keeps its row."""
    nurse = client_for("nurse")  # on the team patient's care team, not this one's
    refused = AccessEvent.objects.filter(patient=other_patient, outcome="denied").count()
    assert nurse.get(f"/patients/{other_patient.pk}/").status_code in (403, 404)
    assert AccessEvent.objects.filter(patient=other_patient, outcome="denied").count() == refused + 1


def test_reads_outside_a_request_and_inside_a_transaction_go_in_at_once(personas: dict[str, User]) -> None:
    from django.db import transaction

    from kapclinic.audit.context import AuditContext
    from kapclinic.audit.page_reads import page_reads
    from kapclinic.audit.services import access_event_record

    ctx = AuditContext(user=personas["director"], channel="page")
    before = AccessEvent.objects.count()
    access_event_record(ctx=ctx, action="test.outside")  # no batch open: written now
    assert AccessEvent.objects.count() == before + 1
    with page_reads():
        access_event_record(ctx=ctx, action="test.deferred")
        assert AccessEvent.objects.count() == before + 1  # held for the request's one INSERT
        with transaction.atomic():
            access_event_record(ctx=ctx, action="test.in_transaction")  # a write's audit goes in with it
            assert AccessEvent.objects.count() == before + 2
    assert AccessEvent.objects.count() == before + 3
    assert list(AccessEvent.objects.order_by("-pk").values_list("action", flat=True)[:3]) == [
        "test.deferred",
        "test.in_transaction",
        "test.outside",
    ]

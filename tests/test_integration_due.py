"""The therapist's "Integration sessions due": patients discharged from a dosing session with no integration
session since (issue 13, defect 3: the list was always empty)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import Discharge, DosingSession, SessionState
from kapclinic.patients.models import Patient
from kapclinic.therapy import services
from kapclinic.therapy.models import TherapyNote
from kapclinic.therapy.selectors import integration_sessions_due
from tests.probes.dosing import _session
from tests.probes.world import World


def _discharged(w: World, patient: Patient, nurse: User, hours_ago: int) -> DosingSession:
    session = _session(w, patient, SessionState.DISCHARGED)
    at = timezone.now() - timedelta(hours=hours_ago)
    Discharge.objects.create(session=session, criteria=[], driver_name="A. Friend", by=nurse, at=at)
    return session


def test_a_discharged_patient_is_due_until_an_integration_session_is_held(
    client_for: Any, nurse_world: World, personas: dict[str, User], team_patient: Patient
) -> None:
    therapist = personas["therapist"]
    w = nurse_world
    home = client_for("therapist")
    assert "No integration sessions due" in home.get("/").content.decode()
    session = _discharged(w, team_patient, personas["nurse"], hours_ago=26)
    due = integration_sessions_due(ctx=AuditContext(user=therapist, channel="test"))
    assert [(d.session.pk, d.days_waiting >= 1) for d in due] == [(session.pk, True)]
    page = home.get("/").content.decode()
    assert "TEAMPATIENT, Alder" in page and "Dosing session 1 discharged" in page
    assert "Start integration note" in page
    assert AccessEvent.objects.filter(action="integration.due_list", patient=team_patient).exists()
    # An integration note written before the discharge does not count; one since does, draft or signed.
    services.note_draft_create(
        ctx=AuditContext(user=therapist, channel="test"),
        patient_id=team_patient.pk,
        kind="integration",
        values={"body": "Before.", "occurred_at": timezone.now() - timedelta(days=3)},
    )
    assert integration_sessions_due(ctx=AuditContext(user=therapist, channel="test"))
    started = home.post(
        f"/patients/{team_patient.pk}/notes/new/", {"kind": "integration", "dosing_session": session.pk}
    )
    assert started.status_code == 302
    assert TherapyNote.objects.filter(patient=team_patient, kind="integration").count() == 2
    assert integration_sessions_due(ctx=AuditContext(user=therapist, channel="test")) == []
    assert "No integration sessions due" in home.get("/").content.decode()


def test_only_the_therapists_own_patients_and_only_discharged_sessions(
    nurse_world: World, personas: dict[str, User], team_patient: Patient
) -> None:
    w = nurse_world
    _discharged(w, team_patient, personas["nurse"], hours_ago=2)
    # The other therapist is on nobody's care team: nothing is due for them.
    assert integration_sessions_due(ctx=AuditContext(user=personas["outsider_therapist"], channel="test")) == []
    assert len(integration_sessions_due(ctx=AuditContext(user=personas["therapist"], channel="test"))) == 1


def test_a_later_session_that_is_not_discharged_yet_leaves_the_earlier_one_due(
    nurse_world: World, personas: dict[str, User], team_patient: Patient
) -> None:
    w = nurse_world
    first = _discharged(w, team_patient, personas["nurse"], hours_ago=50)
    DosingSession.objects.create(
        patient=team_patient, plan=first.plan, number=2, scheduled_for=timezone.now(), state=SessionState.MONITORING
    )
    due = integration_sessions_due(ctx=AuditContext(user=personas["therapist"], channel="test"))
    assert [d.session.pk for d in due] == [first.pk] and due[0].days_waiting >= 2

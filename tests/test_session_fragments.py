"""The dosing session screen drawn once per version of the patient's record (kapclinic/patients/fragments.py, as the
chart: tests/test_chart_fragments.py): every kind of change to the session shows on the next page, the due line
follows the clock on a page from the cache, the dose section (the ledger's products) is drawn on every request, and
every request audits its read with its own CSRF token.

Stale content here is a clinical-safety bug: each change is made with the ORM straight, as a writer other than the
session's services would make it (the admin, a device feed, a bulk insert), since the triggers must catch every one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import (
    AlertAcknowledgement,
    DosingSession,
    MonitoringAlert,
    SessionEvent,
    SessionState,
    SessionTransition,
    VitalSign,
)
from kapclinic.ledger.models import Product
from kapclinic.patients.fragments import CSRF_STAND_IN
from kapclinic.patients.models import Patient
from kapclinic.therapy.models import TherapyNote
from tests.probes.dosing import _session
from tests.probes.medications import dose_given_make
from tests.probes.world import World

pytestmark = pytest.mark.django_db


def _page(client: Any, session: DosingSession) -> str:
    response = client.get(f"/dosing/sessions/{session.pk}/")
    assert response.status_code == 200
    return str(response.content.decode())


# Each: change the session with the ORM (`look` draws the page, for a change in two steps); return what the next
# page must show, or, starting with "-", no longer show.
Change = Callable[[DosingSession, dict[str, User], Callable[[], str]], str]


def _vital_sign(session: DosingSession, people: dict[str, User], look: Callable[[], str]) -> str:
    VitalSign.objects.create(
        session=session, measured_at=timezone.now(), systolic=171, diastolic=99, recorded_by=people["nurse"]
    )
    return "171/99"


def _alert_raised(session: DosingSession, people: dict[str, User], look: Callable[[], str]) -> str:
    vital = VitalSign.objects.create(
        session=session, measured_at=timezone.now(), systolic=186, diastolic=100, recorded_by=people["nurse"]
    )
    MonitoringAlert.objects.create(
        session=session, vital=vital, code="bp_systolic_high", level="alert", message="Probe BP high", source="test"
    )
    return "Probe BP high"


def _alert_acknowledged(session: DosingSession, people: dict[str, User], look: Callable[[], str]) -> str:
    _alert_raised(session, people, look)
    assert "Rechecked in five minutes" not in look()
    alert = MonitoringAlert.objects.get(session=session)
    AlertAcknowledgement.objects.create(alert=alert, by=people["nurse"], action_taken="Rechecked in five minutes")
    return "Rechecked in five minutes"


def _event(session: DosingSession, people: dict[str, User], look: Callable[[], str]) -> str:
    SessionEvent.objects.create(
        session=session, kind="intervention", code="Probe reassurance", occurred_at=timezone.now(), by=people["nurse"]
    )
    return "Probe reassurance"


def _state_moved(session: DosingSession, people: dict[str, User], look: Callable[[], str]) -> str:
    DosingSession.objects.filter(pk=session.pk).update(state=SessionState.RECOVERY)
    SessionTransition.objects.create(
        session=session, from_state="monitoring", to_state="recovery", by=people["nurse"], reason="Probe recovery"
    )
    return "Probe recovery"


def _note_on_the_session(session: DosingSession, people: dict[str, User], look: Callable[[], str]) -> str:
    author = people["prescriber"]  # the viewer: an author sees their own note
    TherapyNote.objects.create(
        patient=session.patient, author=author, kind="in_session", occurred_at=timezone.now(), dosing_session=session
    )
    return "-No notes on this session yet."


def _nurse_renamed(session: DosingSession, people: dict[str, User], look: Callable[[], str]) -> str:
    User.objects.filter(pk=people["nurse"].pk).update(last_name="Quillfeather")
    return "Quillfeather"


CHANGES: dict[str, Change] = {
    "vital sign": _vital_sign,
    "alert raised": _alert_raised,
    "alert acknowledged": _alert_acknowledged,
    "event": _event,
    "state moved": _state_moved,
    "note on the session": _note_on_the_session,
    "the session's nurse renamed": _nurse_renamed,
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_each_kind_of_change_shows_on_the_next_session_page(
    change: str, client_for: Any, nurse_world: World, team_patient: Patient, personas: dict[str, User]
) -> None:
    session = _session(nurse_world, team_patient, SessionState.MONITORING)
    DosingSession.objects.filter(pk=session.pk).update(nurse=personas["nurse"])
    client = client_for("prescriber")
    _page(client, session)
    before = _page(client, session)  # from the cache
    expected = CHANGES[change](session, personas, lambda: _page(client, session))
    after = _page(client, session).replace(" ", "")
    if expected.startswith("-"):
        assert expected[1:] in before and expected[1:].replace(" ", "") not in after
    else:
        assert expected not in before and expected.replace(" ", "") in after


def test_the_page_from_the_cache_is_the_page_drawn_and_each_request_audits_its_read(
    client_for: Any, nurse_world: World, team_patient: Patient, personas: dict[str, User]
) -> None:
    session = _session(nurse_world, team_patient, SessionState.MONITORING)
    nurse = client_for("nurse")
    reads = AccessEvent.objects.filter(patient=team_patient, user=personas["nurse"]).count()
    drawn = _page(nurse, session)
    with CaptureQueriesContext(connection) as captured:
        kept = _page(nurse, session)
    assert not any("dosing_vitalsign" in q["sql"] for q in captured.captured_queries)  # the body: from the cache
    assert AccessEvent.objects.filter(patient=team_patient, user=personas["nurse"]).count() == reads + 2
    for page in (drawn, kept):
        assert CSRF_STAND_IN not in page and "kapclinic:next-due" not in page
        tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert tokens and all(len(t) == 64 for t in tokens)  # a masked token of the request's own secret
    assert re.sub(r'(value=|X-CSRFToken": )"[^"]+"', "", drawn) == re.sub(r'(value=|X-CSRFToken": )"[^"]+"', "", kept)


def test_the_page_is_each_users_own(
    client_for: Any, nurse_world: World, team_patient: Patient, personas: dict[str, User]
) -> None:
    """A draft note on the session shows to its author only: two users of one role never share a kept body."""
    session = _session(nurse_world, team_patient, SessionState.MONITORING)
    TherapyNote.objects.create(
        patient=team_patient,
        author=personas["prescriber"],
        kind="in_session",
        occurred_at=timezone.now(),
        dosing_session=session,
    )
    colleague = User.objects.create(username="second_prescriber", role=personas["prescriber"].role)
    second = Client()
    second.force_login(colleague)
    for _ in range(2):
        assert "No notes on this session yet." not in _page(client_for("prescriber"), session)
        assert "No notes on this session yet." in _page(second, session)


def test_the_due_line_follows_the_clock_on_a_page_from_the_cache(
    client_for: Any, nurse_world: World, team_patient: Patient, personas: dict[str, User]
) -> None:
    session = _session(nurse_world, team_patient, SessionState.MONITORING)
    dose_given_make(session, personas, started=timezone.now())
    nurse = client_for("nurse")
    now = _page(nurse, session)
    assert "Next vitals due" in now and "Vitals overdue" not in now
    with time_machine.travel(timezone.now() + timedelta(minutes=12)), CaptureQueriesContext(connection) as captured:
        later = _page(nurse, session)
    assert not any("dosing_vitalsign" in q["sql"] for q in captured.captured_queries)  # the body: from the cache
    assert "Vitals overdue: the next reading was due at" in later and "min ago" in later


def test_the_dose_section_is_drawn_on_every_request(client_for: Any, nurse_world: World, team_patient: Patient) -> None:
    """Its products, lots and stock change with the ledger, which moves no patient's record version."""
    session = _session(nurse_world, team_patient, SessionState.CLEARED)
    prescriber = client_for("prescriber")
    assert "Probe esketamine" not in _page(prescriber, session)
    Product.objects.create(
        name="Probe esketamine", form="vial", mg_per_unit=Decimal("10"), unit="mL", units_per_container=20
    )
    assert "Probe esketamine" in _page(prescriber, session)


def test_under_emergency_access_the_page_is_drawn_on_every_request(
    client_for: Any, nurse_world: World, other_patient: Patient
) -> None:
    """The grant is this user's and may end at any time: nothing of the page is kept."""
    session = _session(nurse_world, other_patient, SessionState.MONITORING)
    nurse = client_for("nurse")  # not on this patient's care team
    response = nurse.post(
        f"/patients/{other_patient.pk}/emergency-access/", {"reason": "Covering for a colleague, urgent call."}
    )
    assert response.status_code in (200, 302)
    for _ in range(2):
        with CaptureQueriesContext(connection) as captured:
            page = _page(nurse, session)
        assert "Emergency access: “Covering for a colleague" in page
        assert any("dosing_vitalsign" in q["sql"] for q in captured.captured_queries)  # read, not from the cache

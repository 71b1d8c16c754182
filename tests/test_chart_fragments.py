"""The chart and the patient banner drawn once per version of the record (kapclinic/patients/fragments.py): every
kind of change shows on the next page, the parts never cross users or roles where they differ, the CSRF token is
the request's own, and every page still audits its read.

Stale content is a clinical-safety bug: each change below is made as a writer other than the chart would make it
(the ORM straight, as the admin, the demo loader or a bulk insert do), since the triggers must catch every writer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.chart.record_version import LINKS, NOT_SHOWN, record_version, record_version_triggers_missing
from kapclinic.dosing.models import AlertAcknowledgement, DosingSession, SessionState, VitalSign
from kapclinic.intake.models import Evaluation
from kapclinic.measures.models import ScheduledMeasure
from kapclinic.patients.fragments import CSRF_STAND_IN
from kapclinic.patients.models import CareTeamMember, DuplicateFlag, Patient
from kapclinic.therapy.models import TherapyNote
from tests.probes.consent import _signature
from tests.probes.dosing import _alert, _session
from tests.probes.records import plan_make, response_make, suicide_risk_flag_make
from tests.probes.reminders import _booking
from tests.probes.world import World

pytestmark = pytest.mark.django_db


def test_every_record_version_trigger_is_in_the_database() -> None:
    assert record_version_triggers_missing() == []


def _reaches_patient(model: type[models.Model], depth: int = 0) -> bool:
    patient = apps.get_model("patients", "Patient")
    for field in model._meta.concrete_fields:
        if isinstance(field, models.ForeignKey) and field.related_model is not model:
            related = field.related_model
            assert isinstance(related, type)
            if related is patient or (depth < 2 and _reaches_patient(related, depth + 1)):
                return True
    return False


def test_every_table_about_a_patient_moves_the_version_or_is_named_as_not_shown() -> None:
    covered = {link.table for link in LINKS} | NOT_SHOWN
    about_a_patient = {m._meta.db_table for m in apps.get_models() if _reaches_patient(m)}
    assert sorted(about_a_patient - covered) == []


def _world(client_for: Any, api_for: Any, team_patient: Patient, other_patient: Patient, personas: Any) -> World:
    return World(client_for("prescriber"), api_for("prescriber"), team_patient, other_patient, personas)


def _chart(client: Any, patient: Patient) -> str:
    response = client.get(f"/patients/{patient.pk}/")
    assert response.status_code == 200
    return str(response.content.decode())


# Each: make a change with the ORM, return what the next chart must show (or, starting with "-", no longer show).
Change = Callable[[World, Patient], str]


def _pronouns(w: World, p: Patient) -> str:
    Patient.objects.filter(pk=p.pk).update(pronouns="xe/xem")
    return "xe/xem"


def _allergies(w: World, p: Patient) -> str:
    Evaluation.objects.update_or_create(
        patient=p, defaults={"data": {"allergies": ["Penicillin"]}, "recorded_by": w.people["prescriber"]}
    )
    return "Penicillin"


def _score(w: World, p: Patient) -> str:
    response_make(p, w.people["prescriber"], 23, source="paper", submitted_at=timezone.now())
    return ">23<"


def _safety_flag(w: World, p: Patient) -> str:
    suicide_risk_flag_make(p, w.people["prescriber"], 21)
    return "Suicide risk"


def _safety_flag_acknowledged(w: World, p: Patient) -> str:
    flag = suicide_risk_flag_make(p, w.people["prescriber"], 21)
    assert "Suicide risk" in _chart(w.page, p)
    type(flag).objects.filter(pk=flag.pk).update(
        acknowledged_at=timezone.now(), acknowledged_by=w.people["prescriber"], action_taken="Called, safe."
    )
    return "-Suicide risk"


def _plan(w: World, p: Patient) -> str:
    plan_make(p, w.people, stamp=True, session_count=7)
    return "7 sessions"


def _consent(w: World, p: Patient) -> str:
    _signature(w, p)
    return "-has not signed the treatment consent"


def _session_state(w: World, p: Patient) -> str:
    session = _session(w, p, SessionState.SCHEDULED)
    assert "Scheduled" in _chart(w.page, p)
    DosingSession.objects.filter(pk=session.pk).update(state=SessionState.CHECKED_IN)
    return "Checked in"


def _note(w: World, p: Patient) -> str:
    author = w.people["therapist"]
    note = TherapyNote(patient=p, author=author, kind="integration", occurred_at=timezone.now(), body="Probe.")
    note.signature_stamp(author.pk)
    note.save()
    return "✓ Signed"


def _care_team(w: World, p: Patient) -> str:
    CareTeamMember.objects.filter(patient=p, role="therapist").delete()
    return "not assigned"


def _staff_renamed(w: World, p: Patient) -> str:
    User.objects.filter(pk=w.people["nurse"].pk).update(last_name="Quillfeather")
    return "Quillfeather"


def _duplicate_renamed(w: World, p: Patient) -> str:
    DuplicateFlag.objects.create(patient=w.other, other=p, reasons="same date of birth")
    assert "Possible duplicate" in _chart(w.page, p)
    Patient.objects.filter(pk=w.other.pk).update(family_name="Zephyrine")
    return "ZEPHYRINE"


def _appointment(w: World, p: Patient) -> str:
    _booking(w, p)
    return "Integration session"


def _schedule(w: World, p: Patient) -> str:
    ScheduledMeasure.objects.create(
        patient=p,
        instrument="gad7",
        label="Week 9 check",
        due_on=timezone.localdate(),
        created_by=w.people["prescriber"],
    )
    return "Week 9 check"


CHANGES: dict[str, Change] = {
    "patient details": _pronouns,
    "allergies": _allergies,
    "score": _score,
    "safety flag raised": _safety_flag,
    "safety flag acknowledged": _safety_flag_acknowledged,
    "plan signed": _plan,
    "consent signed": _consent,
    "session state": _session_state,
    "therapy note signed": _note,
    "care team": _care_team,
    "staff member renamed": _staff_renamed,
    "duplicate renamed": _duplicate_renamed,
    "appointment booked": _appointment,
    "measure scheduled": _schedule,
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_each_kind_of_change_shows_on_the_next_chart(
    change: str, client_for: Any, api_for: Any, team_patient: Patient, other_patient: Patient, personas: Any
) -> None:
    w = _world(client_for, api_for, team_patient, other_patient, personas)
    _chart(w.page, team_patient)
    before = _chart(w.page, team_patient)  # from the cache
    expected = CHANGES[change](w, team_patient)
    after = _chart(w.page, team_patient)
    if expected.startswith("-"):
        assert expected[1:] not in after
    else:
        assert expected not in before and expected in after


def test_a_new_vital_sign_shows_on_the_next_session_page_and_chart(
    client_for: Any, api_for: Any, team_patient: Patient, other_patient: Patient, personas: Any
) -> None:
    w = _world(client_for, api_for, team_patient, other_patient, personas)
    session = _session(w, team_patient, SessionState.MONITORING)
    version = record_version(team_patient.pk)
    nurse = client_for("nurse")
    assert nurse.get(f"/dosing/sessions/{session.pk}/").status_code == 200
    VitalSign.objects.create(
        session=session, measured_at=timezone.now(), systolic=171, diastolic=99, recorded_by=personas["nurse"]
    )
    assert record_version(team_patient.pk) > version  # through the session: the trigger found its patient
    assert ">171/99<" in nurse.get(f"/dosing/sessions/{session.pk}/").content.decode().replace(" ", "")


def test_an_alert_acknowledged_moves_the_version_through_its_session(
    client_for: Any, api_for: Any, team_patient: Patient, other_patient: Patient, personas: Any
) -> None:
    w = _world(client_for, api_for, team_patient, other_patient, personas)
    alert = _alert(w, team_patient)
    version = record_version(team_patient.pk)
    AlertAcknowledgement.objects.create(alert=alert, by=personas["nurse"], action_taken="Rechecked.")
    assert record_version(team_patient.pk) > version


def test_a_write_to_another_patient_leaves_the_version_alone(
    team_patient: Patient, other_patient: Patient, personas: dict[str, User]
) -> None:
    version = record_version(team_patient.pk)
    response_make(other_patient, personas["prescriber"], 5)
    Patient.objects.filter(pk=other_patient.pk).update(pronouns="she/her")
    User.objects.filter(pk=personas["nurse"].pk).update(last_login=timezone.now())  # a sign-in shows nowhere
    assert record_version(team_patient.pk) == version


def test_each_request_audits_its_read_and_has_its_own_csrf_token(
    client_for: Any, team_patient: Patient, personas: dict[str, User]
) -> None:
    client = client_for("prescriber")
    reads = AccessEvent.objects.filter(patient=team_patient, user=personas["prescriber"]).count()
    pages = [_chart(client, team_patient) for _ in range(3)]
    assert AccessEvent.objects.filter(patient=team_patient, user=personas["prescriber"]).count() == reads + 3
    for page in pages:
        assert CSRF_STAND_IN not in page
        tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert tokens and all(len(t) == 64 for t in tokens)  # a masked token of the request's own secret
    # The part from the cache is the same page as the one drawn: only the token differs.
    first, second = (re.sub(r'(value=|X-CSRFToken": )"[^"]+"', "", p) for p in pages[:2])
    assert first == second


def test_the_parts_differ_by_who_is_looking(client_for: Any, team_patient: Patient, personas: dict[str, User]) -> None:
    Evaluation.objects.update_or_create(
        patient=team_patient, defaults={"data": {"allergies": ["Latex"]}, "recorded_by": personas["prescriber"]}
    )
    assert "Latex" in _chart(client_for("prescriber"), team_patient)
    coordinator = _chart(client_for("coordinator"), team_patient)
    assert "Latex" not in coordinator and "Clinical sections are not shown to your role." in coordinator
    assert "Latex" in _chart(client_for("prescriber"), team_patient)


def test_under_emergency_access_the_banner_says_so_every_time(
    client_for: Any, other_patient: Patient, personas: dict[str, User]
) -> None:
    client = client_for("nurse")
    response = client.post(
        f"/patients/{other_patient.pk}/emergency-access/", {"reason": "Covering for a colleague, urgent call."}
    )
    assert response.status_code in (200, 302)
    for _ in range(2):
        assert "Emergency access: “Covering for a colleague" in _chart(client, other_patient)


def test_two_patients_charts_from_the_cache_stay_each_their_own(
    client_for: Any, team_patient: Patient, other_patient: Patient
) -> None:
    client = client_for("prescriber")
    for _ in range(2):
        team, other = _chart(client, team_patient), _chart(client, other_patient)
        assert team_patient.mrn in team and other_patient.mrn not in team
        assert other_patient.mrn in other and team_patient.mrn not in other

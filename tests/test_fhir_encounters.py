"""FHIR Encounter: dosing sessions and the visits that took place (consultation, evaluation, preparation,
integration), read and searched under the clinical rule and audit, validated with the fhir.resources R4B models,
with US Core Encounter's required and must-support elements asserted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B.encounter import Encounter

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import DosingSession
from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.patients.models import Patient
from kapclinic.therapy.models import TherapyNote
from tests.probes.records import plan_make
from tests.test_fhir import VALIDATORS, fhir, ids

VALIDATORS["Encounter"] = Encounter
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
NOTE_TEXT = "Process: the patient spoke of the river dream"


@pytest.fixture
def visits(personas: dict[str, User], team_patient: Patient) -> dict[str, Any]:
    plan = plan_make(team_patient, personas, stamp=True)
    now = timezone.now()
    done = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=1, scheduled_for=now - timedelta(days=3, hours=1),
        started_at=now - timedelta(days=3), ended_at=now - timedelta(days=3) + timedelta(hours=2),
        state="discharged", nurse=personas["nurse"], therapist=personas["therapist"], room="Room 2",
    )  # fmt: skip
    planned = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=2, scheduled_for=now + timedelta(days=4), state="scheduled"
    )
    start = (now - timedelta(days=10)).replace(microsecond=0)
    evaluation = Appointment.objects.create(
        kind="evaluation", patient=team_patient, with_user=personas["prescriber"], starts_at=start,
        ends_at=start + timedelta(hours=1), mode="video", video_link="https://video.example/x", status="done",
        created_by=personas["coordinator"], outcome_note="Private outcome words",
    )  # fmt: skip
    booked = Appointment.objects.create(
        kind="integration", patient=team_patient, with_user=personas["therapist"], starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=1), mode="in_person", created_by=personas["coordinator"],
    )  # fmt: skip
    note = TherapyNote(
        patient=team_patient, author=personas["therapist"], kind="integration", occurred_at=now, body=NOTE_TEXT
    )
    note.signature_stamp(personas["therapist"].pk)
    note.save()
    return {"done": done, "planned": planned, "evaluation": evaluation, "booked": booked}


def _clean(body: dict[str, Any]) -> None:
    assert "river dream" not in str(body) and "Private outcome" not in str(body)


@pytest.mark.django_db
def test_a_dosing_session_is_a_us_core_encounter(
    api_for: Any, personas: dict[str, User], team_patient: Patient, visits: dict[str, Any]
) -> None:
    done: DosingSession = visits["done"]
    assert done.started_at is not None and done.ended_at is not None
    body = fhir(api_for("nurse"), f"Encounter/ds-{done.pk}")
    _clean(body)
    # US Core Encounter: status, class, type (1..*), subject required; identifier, participant, period,
    # reasonCode, location must-support.
    assert body["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-encounter"]
    assert body["status"] == "finished"
    assert body["class"] == {"system": ACT, "code": "AMB", "display": "ambulatory"}
    assert body["type"][0]["text"] == "Ketamine dosing session" and body["type"][0]["coding"][0]["code"] == "dosing"
    assert body["subject"] == {"reference": f"Patient/{team_patient.pk}"}
    assert body["identifier"][0]["value"] == str(done.pk)
    assert body["period"] == {
        "start": done.started_at.isoformat(timespec="seconds"),
        "end": done.ended_at.isoformat(timespec="seconds"),
    }
    assert [(p["type"][0]["coding"][0]["code"], p["individual"]["reference"]) for p in body["participant"]] == [
        ("PPRF", f"Practitioner/{personas['nurse'].pk}"),
        ("PART", f"Practitioner/{personas['therapist'].pk}"),
    ]
    assert body["reasonCode"][0]["coding"][0]["code"] == "F33.2"
    assert body["location"] == [{"location": {"display": "Room 2"}}]
    assert fhir(api_for("nurse"), f"Encounter/ds-{visits['planned'].pk}")["status"] == "planned"
    assert AccessEvent.objects.filter(action="patient.view_clinical", patient_id=team_patient.pk, channel="fhir")


@pytest.mark.django_db
def test_a_visit_that_took_place_is_an_encounter_and_one_still_booked_is_not(
    api_for: Any, personas: dict[str, User], visits: dict[str, Any]
) -> None:
    evaluation: Appointment = visits["evaluation"]
    body = fhir(api_for("therapist"), f"Encounter/ap-{evaluation.pk}")
    _clean(body)
    assert body["status"] == "finished" and body["class"]["code"] == "VR"
    assert body["type"][0]["text"] == "Medical and psychiatric evaluation"
    assert body["participant"][0]["individual"] == {"reference": f"Practitioner/{personas['prescriber'].pk}"}
    fhir(api_for("therapist"), f"Encounter/ap-{visits['booked'].pk}", status=404)
    fhir(api_for("therapist"), "Encounter/xx-1", status=404)
    fhir(api_for("therapist"), "Encounter/ds-999999999", status=404)


@pytest.mark.django_db
def test_encounter_search_by_patient_date_status_class_and_id(
    api_for: Any, team_patient: Patient, visits: dict[str, Any]
) -> None:
    api = api_for("prescriber")
    patient = str(team_patient.pk)
    done, planned, evaluation = f"ds-{visits['done'].pk}", f"ds-{visits['planned'].pk}", f"ap-{visits['evaluation'].pk}"
    everything = fhir(api, "Encounter", {"patient": patient})
    _clean(everything)
    assert ids(everything) == [planned, done, evaluation]  # newest first
    assert ids(fhir(api, "Encounter", {"patient": patient, "status": "finished"})) == [done, evaluation]
    assert ids(fhir(api, "Encounter", {"patient": patient, "status": "planned"})) == [planned]
    assert ids(fhir(api, "Encounter", {"patient": patient, "class": f"{ACT}|VR"})) == [evaluation]
    assert ids(fhir(api, "Encounter", {"patient": patient, "class": "AMB"})) == [planned, done]
    today = timezone.localdate()
    assert ids(fhir(api, "Encounter", {"patient": patient, "date": f"lt{today.isoformat()}"})) == [done, evaluation]
    assert ids(fhir(api, "Encounter", {"patient": patient, "date": f"ge{today.isoformat()}"})) == [planned]
    assert ids(fhir(api, "Encounter", {"_id": f"{evaluation},{done}"})) == [done, evaluation]
    # Paging across both sources: every encounter once.
    seen: list[str] = []
    page = fhir(api, "Encounter", {"patient": patient, "_count": "2"})
    while True:
        seen += ids(page)
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            break
        page = api.get(following[0]).json()
    assert seen == [planned, done, evaluation]
    assert AccessEvent.objects.filter(detail__fhir="Encounter search", patient_id=team_patient.pk).exists()


@pytest.mark.django_db
def test_encounters_keep_the_care_team_rule(
    api_for: Any, team_patient: Patient, other_patient: Patient, visits: dict[str, Any]
) -> None:
    done = f"ds-{visits['done'].pk}"
    fhir(api_for("outsider_nurse"), f"Encounter/{done}", status=403)
    fhir(api_for("outsider_nurse"), "Encounter", {"patient": str(team_patient.pk)}, status=403)
    fhir(api_for("outsider_nurse"), "Encounter", {"_id": done}, status=403)
    fhir(api_for("coordinator"), f"Encounter/{done}", status=403)
    assert fhir(api_for("patient_user"), f"Encounter/{done}")["id"] == done
    fhir(api_for("patient_user"), "Encounter", {"patient": str(other_patient.pk)}, status=404)
    assert "by patient" in fhir(api_for("therapist"), "Encounter", status=400)["issue"][0]["diagnostics"]
    assert len(ids(fhir(api_for("auditor"), "Encounter"))) == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"type": "dosing"}, "Unknown or unsupported search parameter 'type'"),
        ({"date": "sa2026"}, "Date prefix"),
        ({"location": "Room 2"}, "Unknown or unsupported"),
    ],
)
def test_unsupported_encounter_parameters_are_a_400(
    api_for: Any, team_patient: Patient, params: dict[str, str], words: str
) -> None:
    outcome = fhir(api_for("prescriber"), "Encounter", {"patient": str(team_patient.pk), **params}, status=400)
    assert words in outcome["issue"][0]["diagnostics"]


@pytest.mark.django_db
def test_the_encounter_stream(
    team_patient: Patient, visits: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(2):
        found = list(BULK_TYPES["Encounter"]([team_patient.pk], None))
    assert sorted(r["id"] for r in found) == sorted(
        [f"ds-{visits['done'].pk}", f"ds-{visits['planned'].pk}", f"ap-{visits['evaluation'].pk}"]
    )
    for resource in found:
        Encounter.model_validate(resource)
    _clean({"all": found})

"""FHIR CarePlan (the treatment plan), Consent (treatment consent signatures, inactive once withdrawn) and
Appointment (the calendar's bookings of registered patients): read and search under the Actions their pages use,
validated with the fhir.resources R4B models, with US Core CarePlan's required elements asserted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.consent import Consent

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment
from kapclinic.audit.models import AccessEvent
from kapclinic.consent.models import ConsentSignature, ConsentWithdrawal
from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.patients.models import Patient
from kapclinic.therapy.models import TherapyNote
from tests.probes.dosing import _ready
from tests.probes.records import plan_make
from tests.probes.world import World
from tests.test_fhir import VALIDATORS, fhir, ids

VALIDATORS.update({"CarePlan": CarePlan, "Consent": Consent, "Appointment": FhirAppointment})
NOTE_TEXT = "Process: the patient spoke of the river dream"


@pytest.fixture
def record(nurse_world: World, personas: dict[str, User], team_patient: Patient) -> dict[str, Any]:
    signed = _ready(nurse_world, team_patient)  # eligible, consented, a signed plan
    draft = plan_make(team_patient, personas, supersedes=signed, goals=["Sleep <well> & rest"])
    signature = ConsentSignature.objects.get(patient=team_patient)
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    booked = Appointment.objects.create(
        kind="integration", patient=team_patient, with_user=personas["therapist"], starts_at=start,
        ends_at=start + timedelta(hours=1), mode="in_person", created_by=personas["coordinator"],
    )  # fmt: skip
    earlier = start - timedelta(days=9)
    missed = Appointment.objects.create(
        kind="consultation", patient=team_patient, with_user=personas["prescriber"], starts_at=earlier,
        ends_at=earlier + timedelta(hours=1), mode="video", video_link="https://v.example/x",
        status="no_show", created_by=personas["coordinator"], outcome_note="Private outcome words",
    )  # fmt: skip
    note = TherapyNote(patient=team_patient, author=personas["therapist"], kind="integration", occurred_at=start,
                       body=NOTE_TEXT)  # fmt: skip
    note.signature_stamp(personas["therapist"].pk)
    note.save()
    return {"signed": signed, "draft": draft, "signature": signature, "booked": booked, "missed": missed}


def _clean(body: Any) -> None:
    assert "river dream" not in str(body) and "Private outcome" not in str(body)


@pytest.mark.django_db
def test_the_signed_plan_is_a_us_core_care_plan(
    api_for: Any, personas: dict[str, User], team_patient: Patient, record: dict[str, Any]
) -> None:
    signed, draft = record["signed"], record["draft"]
    body = fhir(api_for("therapist"), f"CarePlan/{signed.pk}")
    _clean(body)
    # US Core CarePlan: text (status, div), status, intent, category assess-plan, subject.
    assert body["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-careplan"]
    assert body["text"]["status"] == "generated" and body["text"]["div"].startswith(
        '<div xmlns="http://www.w3.org/1999/xhtml">'
    )
    assert body["status"] == "active" and body["intent"] == "plan"
    assert body["category"] == [
        {"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category", "code": "assess-plan"}]}
    ]
    assert body["subject"] == {"reference": f"Patient/{team_patient.pk}"}
    assert body["author"] == {"reference": f"Practitioner/{personas['prescriber'].pk}"}
    assert body["addresses"] == [{"reference": f"Condition/pl-{signed.pk}"}]
    # The draft (staff only) says what it replaces; its goals are escaped in the narrative.
    drafted = fhir(api_for("prescriber"), f"CarePlan/{draft.pk}")
    assert drafted["status"] == "draft" and drafted["replaces"] == [{"reference": f"CarePlan/{signed.pk}"}]
    assert "Sleep &lt;well&gt; &amp; rest" in drafted["text"]["div"]
    fhir(api_for("patient_user"), f"CarePlan/{draft.pk}", status=404)
    assert fhir(api_for("patient_user"), f"CarePlan/{signed.pk}")["status"] == "active"
    api = api_for("nurse")
    patient = str(team_patient.pk)
    assert ids(fhir(api, "CarePlan", {"patient": patient})) == [str(draft.pk), str(signed.pk)]
    assert ids(fhir(api, "CarePlan", {"patient": patient, "category": "assess-plan", "status": "active"})) == [
        str(signed.pk)
    ]
    assert ids(fhir(api, "CarePlan", {"patient": patient, "category": "careteam"})) == []
    assert ids(fhir(api_for("patient_user"), "CarePlan", {"patient": patient})) == [str(signed.pk)]
    fhir(api_for("coordinator"), f"CarePlan/{signed.pk}", status=403)  # the plan is clinical (PLAN_VIEW)
    fhir(api_for("outsider_nurse"), "CarePlan", {"patient": patient}, status=403)
    assert AccessEvent.objects.filter(action="plan.view", channel="fhir", patient_id=team_patient.pk).exists()


@pytest.mark.django_db
def test_consent_is_active_until_withdrawn(
    api_for: Any, personas: dict[str, User], team_patient: Patient, record: dict[str, Any]
) -> None:
    signature: ConsentSignature = record["signature"]
    body = fhir(api_for("coordinator"), f"Consent/{signature.pk}")  # the coordinator sees consents (CONSENT_VIEW)
    assert body["status"] == "active" and body["patient"] == {"reference": f"Patient/{team_patient.pk}"}
    assert body["scope"]["coding"][0]["code"] == "treatment"
    assert body["category"][0]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "59284-0",
        "display": "Consent Document",
    }
    assert body["provision"]["period"] == {"start": signature.signed_at.isoformat(timespec="seconds")}
    ConsentWithdrawal.objects.create(signature=signature, recorded_by=personas["nurse"], channel="clinic")
    withdrawn = fhir(api_for("nurse"), f"Consent/{signature.pk}")
    assert withdrawn["status"] == "inactive" and "end" in withdrawn["provision"]["period"]
    patient = str(team_patient.pk)
    assert ids(fhir(api_for("nurse"), "Consent", {"patient": patient, "status": "inactive"})) == [str(signature.pk)]
    assert ids(fhir(api_for("nurse"), "Consent", {"patient": patient, "status": "active"})) == []
    assert ids(fhir(api_for("patient_user"), "Consent", {"patient": patient})) == [str(signature.pk)]
    fhir(api_for("outsider_nurse"), f"Consent/{signature.pk}", status=403)
    fhir(api_for("outsider_nurse"), "Consent", {"_id": str(signature.pk)}, status=403)


@pytest.mark.django_db
def test_appointments_with_their_status(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient, record: dict[str, Any]
) -> None:
    booked, missed = record["booked"], record["missed"]
    api = api_for("coordinator")
    body = fhir(api, f"Appointment/{booked.pk}")
    assert body["status"] == "booked" and body["serviceType"][0]["text"] == "Integration session"
    assert body["start"] == booked.starts_at.isoformat(timespec="seconds")
    assert [p["actor"]["reference"] for p in body["participant"]] == [
        f"Patient/{team_patient.pk}",
        f"Practitioner/{personas['therapist'].pk}",
    ]
    assert fhir(api, f"Appointment/{missed.pk}")["status"] == "noshow"
    patient = str(team_patient.pk)
    everything = fhir(api, "Appointment", {"patient": patient})
    _clean(everything)
    assert str(booked.pk) in ids(everything) and str(missed.pk) in ids(everything)
    assert ids(fhir(api, "Appointment", {"patient": patient, "status": "noshow"})) == [str(missed.pk)]
    assert str(booked.pk) in ids(fhir(api, "Appointment", {"patient": patient, "status": "booked", "date": "ge2020"}))
    assert ids(fhir(api, "Appointment", {"patient": patient, "date": "lt2020"})) == []
    Appointment.objects.filter(pk=booked.pk).update(status="done")
    assert fhir(api, f"Appointment/{booked.pk}")["status"] == "fulfilled"
    fhir(api_for("outsider_nurse"), f"Appointment/{booked.pk}", status=403)
    fhir(api_for("patient_user"), "Appointment", {"patient": str(other_patient.pk)}, status=404)
    assert ids(fhir(api_for("patient_user"), "Appointment", {"patient": patient}))
    assert "by patient" in fhir(api_for("nurse"), "Appointment", status=400)["issue"][0]["diagnostics"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "params", "words"),
    [
        ("CarePlan", {"date": "2026"}, "Unknown or unsupported search parameter 'date'"),
        ("Consent", {"category": "59284-0"}, "Unknown or unsupported"),
        ("Appointment", {"actor": "Practitioner/1"}, "Unknown or unsupported"),
        ("Appointment", {"date": "xx2026"}, "Date prefix"),
    ],
)
def test_unsupported_plan_parameters_are_a_400(
    api_for: Any, team_patient: Patient, kind: str, params: dict[str, str], words: str
) -> None:
    outcome = fhir(api_for("prescriber"), kind, {"patient": str(team_patient.pk), **params}, status=400)
    assert words in outcome["issue"][0]["diagnostics"]


@pytest.mark.django_db
def test_the_plan_consent_and_appointment_streams(
    team_patient: Patient, record: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(3):
        careplans = list(BULK_TYPES["CarePlan"]([team_patient.pk], None))
        consents = list(BULK_TYPES["Consent"]([team_patient.pk], None))
        appointments = list(BULK_TYPES["Appointment"]([team_patient.pk], None))
    assert [c["id"] for c in careplans] == [str(record["signed"].pk)]  # drafts are not exported
    assert [c["id"] for c in consents] == [str(record["signature"].pk)]
    assert len(appointments) == 2
    for model, found in ((CarePlan, careplans), (Consent, consents), (FhirAppointment, appointments)):
        for resource in found:
            model.model_validate(resource)
    _clean([careplans, consents, appointments])

"""FHIR MedicationAdministration (ketamine and esketamine given) and MedicationRequest (the signed dose order):
read and search under the pages' clinical rule and audit, each answer validated with the fhir.resources R4B models,
and US Core MedicationRequest's must-support elements asserted (the models do not enforce them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent, EmergencyAccess
from kapclinic.dosing.models import Administration, DoseOrder, DosingSession
from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.patients.models import Patient
from kapclinic.therapy.models import TherapyNote
from tests.probes.dosing import _ready
from tests.probes.medications import dose_given_make, dose_order_make
from tests.probes.records import plan_make
from tests.probes.world import World
from tests.test_fhir import VALIDATORS, fhir, ids

VALIDATORS.update({"MedicationAdministration": MedicationAdministration, "MedicationRequest": MedicationRequest})
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
NOTE_TEXT = "Process: the patient spoke of the river dream"


@pytest.fixture
def given(personas: dict[str, User], team_patient: Patient) -> dict[str, Any]:
    """An IV ketamine session with its order and administration, a second order not yet given, and a therapy note
    (which must never leave through FHIR)."""
    plan = plan_make(team_patient, personas, stamp=True)
    when = timezone.now() - timedelta(hours=3)
    session = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=1, scheduled_for=when, state="discharged"
    )
    order, administration = dose_given_make(session, personas)
    later = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=2, scheduled_for=when + timedelta(days=3), state="scheduled"
    )
    waiting = dose_order_make(later, personas["prescriber"], order.product, "40")
    note = TherapyNote(
        patient=team_patient, author=personas["therapist"], kind="integration", occurred_at=when, body=NOTE_TEXT
    )
    note.signature_stamp(personas["therapist"].pk)
    note.save()
    return {"session": session, "order": order, "administration": administration, "waiting": waiting}


def _no_note(body: dict[str, Any]) -> None:
    assert "river dream" not in str(body)


@pytest.mark.django_db
def test_a_ketamine_administration_has_its_codes_dose_route_lot_times_and_performer(
    api_for: Any, personas: dict[str, User], team_patient: Patient, given: dict[str, Any]
) -> None:
    administration: Administration = given["administration"]
    body = fhir(api_for("nurse"), f"MedicationAdministration/{administration.pk}")
    _no_note(body)
    assert body["status"] == "completed"
    [medication] = body["contained"]
    assert body["medicationReference"]["reference"] == f"#{medication['id']}"
    codings = {(c["system"], c["code"]) for c in medication["code"]["coding"]}
    assert (RXNORM, "6130") in codings and ("http://hl7.org/fhir/sid/ndc", "0409-2051-05") in codings
    assert medication["batch"]["lotNumber"] == administration.lot.lot_number
    assert medication["batch"]["expirationDate"] == administration.lot.expires_on.isoformat()
    assert body["dosage"]["dose"] == {"value": 35.0, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    assert body["dosage"]["route"]["coding"] == [{"system": SNOMED, "code": "47625008", "display": "Intravenous route"}]
    assert body["effectivePeriod"]["start"] == administration.started_at.isoformat(timespec="seconds")
    assert "end" in body["effectivePeriod"]
    assert body["performer"] == [{"actor": {"reference": f"Practitioner/{personas['nurse'].pk}"}}]
    assert body["request"] == {"reference": f"MedicationRequest/{given['order'].pk}"}
    assert body["subject"] == {"reference": f"Patient/{team_patient.pk}"}
    assert body["context"] == {"reference": f"Encounter/ds-{given['session'].pk}"}
    assert AccessEvent.objects.filter(
        action="patient.view_clinical", patient_id=team_patient.pk, channel="fhir"
    ).exists()


@pytest.mark.django_db
def test_esketamine_is_text_and_ndc_with_the_nasal_route(
    nurse_world: World, personas: dict[str, User], api_for: Any, team_patient: Patient
) -> None:
    plan = _ready(nurse_world, team_patient, route="intranasal")
    session = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=1, scheduled_for=timezone.now(), state="monitoring"
    )
    _, administration = dose_given_make(session, personas, ndc="50458-028-02", dose_mg="56")
    body = fhir(api_for("prescriber"), f"MedicationAdministration/{administration.pk}")
    code = body["contained"][0]["code"]
    assert code["text"].startswith("esketamine")
    assert [c["system"] for c in code["coding"]] == ["http://hl7.org/fhir/sid/ndc"]  # no RxNorm code known
    assert body["dosage"]["route"]["coding"][0]["code"] == "46713006"
    assert body["status"] == "completed" and "end" not in body["effectivePeriod"]


@pytest.mark.django_db
def test_administration_search_by_patient_status_date_and_id(
    api_for: Any, team_patient: Patient, given: dict[str, Any]
) -> None:
    api = api_for("therapist")
    pk = str(given["administration"].pk)
    assert ids(fhir(api, "MedicationAdministration", {"patient": str(team_patient.pk)})) == [pk]
    assert ids(
        fhir(api, "MedicationAdministration", {"patient": f"Patient/{team_patient.pk}", "status": "completed"})
    ) == [pk]
    assert ids(fhir(api, "MedicationAdministration", {"patient": str(team_patient.pk), "status": "stopped"})) == []
    day = timezone.localdate(given["administration"].started_at).isoformat()  # the clinic's day, as the search reads it
    assert ids(
        fhir(api, "MedicationAdministration", {"patient": str(team_patient.pk), "effective-time": f"ge{day}"})
    ) == [pk]
    assert (
        ids(fhir(api, "MedicationAdministration", {"patient": str(team_patient.pk), "effective-time": "lt2020"})) == []
    )
    assert ids(fhir(api, "MedicationAdministration", {"_id": pk})) == [pk]
    shown = AccessEvent.objects.filter(action="patient.view_clinical", channel="fhir", patient_id=team_patient.pk)
    assert shown.filter(detail__fhir="MedicationAdministration search").exists()


@pytest.mark.django_db
def test_the_signed_order_is_a_us_core_medication_request(
    api_for: Any, personas: dict[str, User], team_patient: Patient, given: dict[str, Any]
) -> None:
    order: DoseOrder = given["order"]
    body = fhir(api_for("prescriber"), f"MedicationRequest/{order.pk}")
    _no_note(body)
    # US Core MedicationRequest must-supports: status, intent, category, reported, medication, subject, encounter,
    # authoredOn, requester, dosageInstruction (text, timing, route, dose).
    assert body["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-medicationrequest"]
    assert body["status"] == "completed" and body["intent"] == "order"
    assert body["category"][0]["coding"][0]["code"] == "outpatient" and body["reportedBoolean"] is False
    assert body["medicationCodeableConcept"]["coding"][0] == {"system": RXNORM, "code": "6130", "display": "ketamine"}
    assert body["subject"] == {"reference": f"Patient/{team_patient.pk}"}
    assert body["encounter"] == {"reference": f"Encounter/ds-{given['session'].pk}"}
    assert body["authoredOn"] == order.signed_at.isoformat(timespec="seconds")
    assert body["requester"] == {"reference": f"Practitioner/{personas['prescriber'].pk}"}
    [dosage] = body["dosageInstruction"]
    assert dosage["text"].startswith("35 mg intravenous route") and "40 min" in dosage["text"]
    assert dosage["timing"]["repeat"]["count"] == 1
    assert dosage["route"]["coding"][0]["code"] == "47625008"
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 35.0
    assert body["reasonCode"][0]["coding"][0] == {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F33.2"}
    assert fhir(api_for("prescriber"), f"MedicationRequest/{given['waiting'].pk}")["status"] == "active"


@pytest.mark.django_db
def test_request_search_by_patient_status_intent_and_authoredon(
    api_for: Any, personas: dict[str, User], team_patient: Patient, given: dict[str, Any]
) -> None:
    api = api_for("nurse")
    done, waiting = str(given["order"].pk), str(given["waiting"].pk)
    patient = str(team_patient.pk)
    assert set(ids(fhir(api, "MedicationRequest", {"patient": patient}))) == {done, waiting}
    assert ids(fhir(api, "MedicationRequest", {"patient": patient, "status": "active"})) == [waiting]
    assert ids(fhir(api, "MedicationRequest", {"patient": patient, "status": "completed,cancelled"})) == [done]
    assert ids(fhir(api, "MedicationRequest", {"patient": patient, "intent": "plan"})) == []
    assert (
        len(ids(fhir(api, "MedicationRequest", {"patient": patient, "intent": "order", "authoredon": "ge2020"}))) == 2
    )
    # A later order for the same session replaces one not given: cancelled.
    again = dose_order_make(given["waiting"].session, personas["prescriber"], given["order"].product, "45")
    assert ids(fhir(api, "MedicationRequest", {"patient": patient, "status": "active"})) == [str(again.pk)]
    assert fhir(api, f"MedicationRequest/{waiting}")["status"] == "cancelled"
    # Paging: one a page, every order once.
    first = fhir(api, "MedicationRequest", {"patient": patient, "_count": "1"})
    seen = ids(first)
    following = [link["url"] for link in first["link"] if link["relation"] == "next"]
    while following:
        page = api.get(following[0]).json()
        seen += ids(page)
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
    assert sorted(seen) == sorted([done, waiting, str(again.pk)])


@pytest.mark.django_db
def test_medications_keep_the_care_team_and_clinical_rules(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient, given: dict[str, Any]
) -> None:
    administration, order = given["administration"], given["order"]
    for path in (f"MedicationAdministration/{administration.pk}", f"MedicationRequest/{order.pk}"):
        fhir(api_for("outsider_nurse"), path, status=403)
        fhir(api_for("coordinator"), path, status=403)
        fhir(api_for("patient_user"), path)  # their own
    for kind in ("MedicationAdministration", "MedicationRequest"):
        fhir(api_for("outsider_nurse"), kind, {"patient": str(team_patient.pk)}, status=403)
        fhir(
            api_for("outsider_nurse"),
            kind,
            {"_id": str(administration.pk if kind[10] == "A" else order.pk)},
            status=403,
        )
        assert "by patient" in fhir(api_for("nurse"), kind, status=400)["issue"][0]["diagnostics"]
        fhir(api_for("patient_user"), kind, {"patient": str(other_patient.pk)}, status=404)
        assert ids(fhir(api_for("patient_user"), kind, {"patient": str(team_patient.pk)}))
        # The director sees every patient: no patient needed.
        assert ids(fhir(api_for("director"), kind))
        fhir(api_for("nurse"), kind, {"patient": "abc"}, status=400)
    fhir(api_for("nurse"), "MedicationAdministration/999999999", status=404)
    fhir(api_for("nurse"), "MedicationRequest/not-a-number", status=404)
    fhir(api_for("nurse"), f"MedicationRequest/{2**63}", status=404)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "params", "words"),
    [
        ("MedicationAdministration", {"code": "6130"}, "Unknown or unsupported search parameter 'code'"),
        ("MedicationAdministration", {"effective-time": "ap2026"}, "Date prefix"),
        ("MedicationRequest", {"medication": "6130"}, "Unknown or unsupported search parameter 'medication'"),
        ("MedicationRequest", {"authoredon": "2026/01/01"}, "Not a FHIR date"),
        ("MedicationRequest", {"status:not": "active"}, "modifier :not"),
    ],
)
def test_unsupported_medication_parameters_are_a_400(
    api_for: Any, team_patient: Patient, kind: str, params: dict[str, str], words: str
) -> None:
    outcome = fhir(api_for("prescriber"), kind, {"patient": str(team_patient.pk), **params}, status=400)
    assert words in outcome["issue"][0]["diagnostics"]


@pytest.mark.django_db
def test_the_bulk_streams_give_every_dose_and_order_validated(
    team_patient: Patient, other_patient: Patient, given: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(4):
        administrations = list(BULK_TYPES["MedicationAdministration"]([team_patient.pk, other_patient.pk], None))
        orders = list(BULK_TYPES["MedicationRequest"]([team_patient.pk], None))
    assert [a["id"] for a in administrations] == [str(given["administration"].pk)]
    assert {o["id"] for o in orders} == {str(given["order"].pk), str(given["waiting"].pk)}
    for resource in administrations:
        MedicationAdministration.model_validate(resource)
    for resource in orders:
        MedicationRequest.model_validate(resource)
    assert list(BULK_TYPES["MedicationRequest"]([other_patient.pk], None)) == []
    assert list(BULK_TYPES["MedicationRequest"]([team_patient.pk], timezone.now() + timedelta(days=1))) == []
    _no_note({"all": administrations + orders})


@pytest.mark.django_db
def test_a_search_under_emergency_access_is_recorded_as_one(
    api_for: Any, personas: dict[str, User], team_patient: Patient, given: dict[str, Any]
) -> None:
    now = timezone.now()
    EmergencyAccess.objects.create(
        user=personas["outsider_nurse"], patient=team_patient, reason="Covering the night shift",
        granted_at=now - timedelta(minutes=5), expires_at=now + timedelta(hours=1),
    )  # fmt: skip
    found = fhir(api_for("outsider_nurse"), "MedicationAdministration", {"patient": str(team_patient.pk)})
    assert ids(found) == [str(given["administration"].pk)]
    event = AccessEvent.objects.get(user=personas["outsider_nurse"], patient_id=team_patient.pk, channel="fhir")
    assert event.emergency and event.action == "patient.view_clinical"


@pytest.mark.django_db
def test_an_infusion_under_way_is_in_progress_and_one_stopped_early_stopped(
    api_for: Any, personas: dict[str, User], team_patient: Patient, given: dict[str, Any]
) -> None:
    session = DosingSession.objects.create(
        patient=team_patient, plan=given["session"].plan, number=3, scheduled_for=timezone.now(), state="discharged"
    )
    _, administration = dose_given_make(session, personas, infusion_ended=False)
    api = api_for("nurse")
    patient = str(team_patient.pk)
    assert fhir(api, f"MedicationAdministration/{administration.pk}")["status"] == "completed"  # discharged
    DosingSession.objects.filter(pk=session.pk).update(state="dosing")
    assert fhir(api, f"MedicationAdministration/{administration.pk}")["status"] == "in-progress"
    assert ids(fhir(api, "MedicationAdministration", {"patient": patient, "status": "in-progress"})) == [
        str(administration.pk)
    ]
    DosingSession.objects.filter(pk=session.pk).update(state="stopped_early")
    assert fhir(api, f"MedicationAdministration/{administration.pk}")["status"] == "stopped"
    assert ids(fhir(api, "MedicationAdministration", {"patient": patient, "status": "in-progress"})) == []
    assert ids(fhir(api, "MedicationAdministration", {"patient": patient, "status": "stopped"})) == [
        str(administration.pk)
    ]

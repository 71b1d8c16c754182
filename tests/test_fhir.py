"""The FHIR R4 face, first part (issue 17, items 1 and 2): CapabilityStatement, Patient, Practitioner and
vital-sign Observations, read and searched under the pages' rules and audit, each answer validated with the
fhir.resources R4B models; an unsupported parameter is a 400 OperationOutcome, never ignored."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.fhirresourcemodel import FHIRResourceModel
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import DosingSession, VitalSign
from kapclinic.fhir.search import SUPPORTED
from kapclinic.patients.models import Patient
from tests.probes.records import plan_make, response_make

MRN_SYSTEM = "urn:kapclinic:mrn"
VALIDATORS: dict[str, type[FHIRResourceModel]] = {
    "Patient": FhirPatient,
    "Practitioner": Practitioner,
    "Observation": Observation,
    "CapabilityStatement": CapabilityStatement,
}


def fhir(client: Client, path: str, params: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    answer = client.get(f"/fhir/{path}", params or {})
    assert answer.status_code == status, answer.content
    assert answer["Content-Type"].startswith("application/fhir+json")
    body: dict[str, Any] = answer.json()
    if status >= 400:
        OperationOutcome.model_validate(body)
    elif body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
        for entry in body["entry"]:
            VALIDATORS[entry["resource"]["resourceType"]].model_validate(entry["resource"])
    else:
        VALIDATORS[body["resourceType"]].model_validate(body)
    return body


def ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle["entry"]]


@pytest.fixture
def vitals(personas: dict[str, User], team_patient: Patient) -> list[VitalSign]:
    plan = plan_make(team_patient, personas, stamp=True)
    session = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=1, scheduled_for=timezone.now() - timedelta(hours=2), state="monitoring"
    )
    nurse = personas["nurse"]
    now = timezone.now()
    first = VitalSign.objects.create(
        session=session, measured_at=now - timedelta(minutes=90), systolic=128, diastolic=82, heart_rate=72,
        spo2=98, respiratory_rate=14, predose=True, recorded_by=nurse,
    )  # fmt: skip
    wrong = VitalSign.objects.create(
        session=session, measured_at=now - timedelta(minutes=40), systolic=210, heart_rate=70, recorded_by=nurse
    )
    fixed = VitalSign.objects.create(
        session=session, measured_at=now - timedelta(minutes=40), systolic=140, heart_rate=70, recorded_by=nurse,
        corrects=wrong, correction_reason="Typed 210 for 140",
    )  # fmt: skip
    return [first, wrong, fixed]


def test_the_capability_statement_is_open_and_says_exactly_what_is_supported(client: Client, db: None) -> None:
    statement = fhir(client, "metadata")
    CapabilityStatement.model_validate(statement)
    assert statement["fhirVersion"] == "4.0.1"
    offered = {r["type"]: {p["name"] for p in r["searchParam"]} for r in statement["rest"][0]["resource"]}
    assert offered == {kind: set(params) for kind, params in SUPPORTED.items()}


@pytest.mark.django_db
def test_a_patient_read_is_us_core_and_audited(api_for: Any, team_patient: Patient) -> None:
    patient = fhir(api_for("nurse"), f"Patient/{team_patient.pk}")
    assert patient["identifier"][0] == {
        "use": "usual",
        "type": patient["identifier"][0]["type"],
        "system": MRN_SYSTEM,
        "value": team_patient.mrn,
    }
    assert patient["name"][0] == {"use": "official", "family": "Teampatient", "given": ["Alder"]}
    assert patient["birthDate"] == "1984-03-14" and patient["gender"] == "unknown"
    assert AccessEvent.objects.filter(action="patient.view", patient_id=team_patient.pk, channel="fhir").exists()


@pytest.mark.django_db
def test_reads_keep_the_care_team_rule(api_for: Any, other_patient: Patient, team_patient: Patient) -> None:
    assert fhir(api_for("nurse"), f"Patient/{other_patient.pk}", status=403)["issue"][0]["code"] == "forbidden"
    # A patient's own token reads their own record only; another's does not exist for them.
    assert fhir(api_for("patient_user"), f"Patient/{team_patient.pk}")["id"] == str(team_patient.pk)
    fhir(api_for("patient_user"), f"Patient/{other_patient.pk}", status=404)
    fhir(api_for("nurse"), "Patient/999999999", status=404)
    fhir(api_for("nurse"), "Patient/not-a-number", status=404)
    assert Client().get(f"/fhir/Patient/{team_patient.pk}").status_code == 401
    assert api_for("nurse").post("/fhir/Patient", {}).status_code == 405


@pytest.mark.django_db
def test_patient_search_by_name_birthdate_and_identifier(
    api_for: Any, team_patient: Patient, other_patient: Patient
) -> None:
    api = api_for("prescriber")
    assert ids(fhir(api, "Patient", {"name": "teamp"})) == [str(team_patient.pk)]
    assert ids(fhir(api, "Patient", {"family": "OTHERPATIENT"})) == [str(other_patient.pk)]
    assert ids(fhir(api, "Patient", {"given": "ald"})) == [str(team_patient.pk)]
    assert ids(fhir(api, "Patient", {"family:exact": "Teampatien"})) == []
    assert ids(fhir(api, "Patient", {"birthdate": "1984-03-14"})) == [str(team_patient.pk)]
    assert ids(fhir(api, "Patient", {"birthdate": "1984"})) == [str(team_patient.pk)]
    assert set(ids(fhir(api, "Patient", {"birthdate": "ge1984-03-14"}))) == {
        str(team_patient.pk),
        str(other_patient.pk),
    }
    assert ids(fhir(api, "Patient", {"birthdate": "lt1990"})) == [str(team_patient.pk)]
    assert ids(fhir(api, "Patient", {"identifier": f"{MRN_SYSTEM}|{other_patient.mrn}"})) == [str(other_patient.pk)]
    assert ids(fhir(api, "Patient", {"identifier": f"urn:elsewhere|{other_patient.mrn}"})) == []
    assert ids(fhir(api, "Patient", {"_id": f"{team_patient.pk},{other_patient.pk}", "name": "birch"})) == [
        str(other_patient.pk)
    ]
    shown = AccessEvent.objects.filter(action="fhir.patient.search", channel="fhir")
    assert set(shown.values_list("patient_id", flat=True)) == {team_patient.pk, other_patient.pk}


@pytest.mark.django_db
def test_patient_search_pages_with_next_links_and_shows_a_team_only_its_team(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    for n in range(3):
        Patient.objects.create(
            mrn=f"K0000077{n}", given_name="Page", family_name=f"Pager{n}", birth_date=date(1970, 1, 1)
        )
    api = api_for("prescriber")
    first = fhir(api, "Patient", {"name": "pager", "_count": "2"})
    assert len(first["entry"]) == 2
    [following] = [link["url"] for link in first["link"] if link["relation"] == "next"]
    second = api.get(following)
    assert second.status_code == 200 and len(second.json()["entry"]) == 1
    assert not [link for link in second.json()["link"] if link["relation"] == "next"]
    # The nurse's search holds only the care team's patients.
    assert ids(fhir(api_for("nurse"), "Patient", {"birthdate": "ge1900"})) == [str(team_patient.pk)]
    # A patient's own token finds exactly their own record (patient/*.rs).
    assert ids(fhir(api_for("patient_user"), "Patient", {"birthdate": "ge1900"})) == [str(team_patient.pk)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"gender": "female"}, "Unknown or unsupported search parameter 'gender'"),
        ({"name:contains": "al"}, "modifier :contains"),
        ({"birthdate": "ap1984"}, "Date prefix 'ap'"),
        ({"birthdate": "14/03/1984"}, "Not a FHIR date"),
        ({"birthdate": "2026-12-04T10:00:00"}, "time zone"),
        ({"_count": "100000"}, "_count"),
        ({"_format": "xml"}, "JSON only"),
        ({"name": ""}, "empty value"),
    ],
)
def test_what_the_server_does_not_support_is_a_400_operation_outcome(
    api_for: Any, params: dict[str, str], words: str
) -> None:
    outcome = fhir(api_for("prescriber"), "Patient", params, status=400)
    assert words in outcome["issue"][0]["diagnostics"]
    assert not AccessEvent.objects.filter(action="fhir.patient.search").exists()


@pytest.mark.django_db
def test_vital_signs_are_us_core_observations(api_for: Any, team_patient: Patient, vitals: list[VitalSign]) -> None:
    first, wrong, fixed = vitals
    api = api_for("nurse")
    found = fhir(api, "Observation", {"patient": str(team_patient.pk), "category": "vital-signs"})
    by_id = {e["resource"]["id"]: e["resource"] for e in found["entry"]}
    bp = by_id[f"vs-{first.pk}-bp"]
    assert bp["code"]["coding"][0]["code"] == "85354-9"
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"]) for c in bp["component"]] == [
        ("8480-6", 128),
        ("8462-4", 82),
    ]
    assert bp["component"][0]["valueQuantity"]["code"] == "mm[Hg]"
    spo2 = by_id[f"vs-{first.pk}-spo2"]
    assert [c["code"] for c in spo2["code"]["coding"]] == ["59408-5", "2708-6"] and spo2["valueQuantity"]["unit"] == "%"
    assert by_id[f"vs-{first.pk}-rr"]["valueQuantity"] == {
        "value": 14,
        "unit": "/min",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    }
    # The correction replaces the wrong reading: one entered in error, one amended; a missing diastolic is absent.
    assert by_id[f"vs-{wrong.pk}-bp"]["status"] == "entered-in-error"
    assert by_id[f"vs-{fixed.pk}-bp"]["status"] == "amended" and by_id[f"vs-{first.pk}-hr"]["status"] == "final"
    assert "dataAbsentReason" in by_id[f"vs-{fixed.pk}-bp"]["component"][1]
    assert AccessEvent.objects.filter(
        action="patient.view_clinical", patient_id=team_patient.pk, channel="fhir"
    ).exists()
    # By code (a component's code finds its panel), by date, and one read.
    heart = fhir(api, "Observation", {"patient": str(team_patient.pk), "code": "http://loinc.org|8867-4"})
    assert sorted(ids(heart)) == sorted(f"vs-{v.pk}-hr" for v in vitals)
    systolic = fhir(api, "Observation", {"patient": str(team_patient.pk), "code": "8480-6"})
    assert {i.split("-")[2] for i in ids(systolic)} == {"bp"}
    since = (first.measured_at + timedelta(minutes=1)).isoformat()
    recent = fhir(api, "Observation", {"patient": str(team_patient.pk), "date": f"gt{since}", "code": "8867-4"})
    assert sorted(ids(recent)) == sorted([f"vs-{wrong.pk}-hr", f"vs-{fixed.pk}-hr"])
    assert ids(fhir(api, "Observation", {"patient": str(team_patient.pk), "category": "survey"})) == []
    assert ids(fhir(api, "Observation", {"patient": str(team_patient.pk), "category": "laboratory"})) == []
    assert fhir(api, f"Observation/vs-{first.pk}-hr")["valueQuantity"]["value"] == 72
    fhir(api, f"Observation/vs-{wrong.pk}-spo2", status=404)  # that set has no SpO2
    fhir(api, "Observation/nonsense", status=404)


@pytest.mark.django_db
def test_observations_keep_the_clinical_rule(
    api_for: Any, team_patient: Patient, other_patient: Patient, vitals: list[VitalSign]
) -> None:
    fhir(api_for("coordinator"), "Observation", {"patient": str(team_patient.pk)}, status=403)
    fhir(api_for("outsider_nurse"), "Observation", {"patient": str(team_patient.pk)}, status=403)
    fhir(api_for("outsider_nurse"), f"Observation/vs-{vitals[0].pk}-bp", status=403)
    assert "by patient" in fhir(api_for("nurse"), "Observation", status=400)["issue"][0]["diagnostics"]
    # Found by id, the patient is still checked: the outsider cannot read it that way either.
    fhir(api_for("outsider_nurse"), "Observation", {"_id": f"vs-{vitals[0].pk}-bp"}, status=403)
    assert ids(fhir(api_for("patient_user"), "Observation", {"patient": str(team_patient.pk), "code": "8867-4"}))


@pytest.mark.django_db
def test_practitioners_are_staff_with_their_licence(api_for: Any, personas: dict[str, User]) -> None:
    nurse = personas["nurse"]
    read = fhir(api_for("patient_user"), f"Practitioner/{nurse.pk}")
    assert (
        read["name"][0]["family"] == "Persona"
        and {"type": {"text": "RN number"}, "value": "TEST-RN-1"} in read["identifier"]
    )
    fhir(api_for("nurse"), f"Practitioner/{personas['patient_user'].pk}", status=404)  # a patient is not staff
    found = fhir(api_for("nurse"), "Practitioner", {"identifier": "TEST-MD-1"})
    assert ids(found) == [str(personas["prescriber"].pk)]


@pytest.mark.django_db
def test_questionnaire_totals_are_screening_observations_merged_with_vitals_newest_first(
    api_for: Any, personas: dict[str, User], team_patient: Patient, vitals: list[VitalSign]
) -> None:
    now = timezone.now()
    nurse = personas["nurse"]
    phq = response_make(team_patient, nurse, 14, submitted_at=now - timedelta(minutes=60))
    fixed = response_make(
        team_patient, nurse, 12, submitted_at=now - timedelta(minutes=30), corrects=phq, correction_reason="Item 3"
    )
    gad = response_make(team_patient, nurse, 9, instrument="gad7", submitted_at=now - timedelta(minutes=5))
    api = api_for("therapist")
    surveys = fhir(api, "Observation", {"patient": str(team_patient.pk), "category": "survey"})
    by_id = {e["resource"]["id"]: e["resource"] for e in surveys["entry"]}
    assert list(by_id) == [f"qr-{gad.pk}-total", f"qr-{fixed.pk}-total", f"qr-{phq.pk}-total"]
    assert by_id[f"qr-{phq.pk}-total"]["code"]["coding"][0]["code"] == "44261-6"
    assert by_id[f"qr-{phq.pk}-total"]["status"] == "entered-in-error"
    assert by_id[f"qr-{fixed.pk}-total"]["status"] == "amended"
    assert by_id[f"qr-{gad.pk}-total"]["valueQuantity"] == {
        "value": 9,
        "unit": "{score}",
        "system": "http://unitsofmeasure.org",
        "code": "{score}",
    }
    gad_only = fhir(api, "Observation", {"patient": str(team_patient.pk), "code": "http://loinc.org|70274-6"})
    assert ids(gad_only) == [f"qr-{gad.pk}-total"]
    assert fhir(api, f"Observation/qr-{fixed.pk}-total")["valueQuantity"]["value"] == 12
    # Everything, newest first, three observations a page at most, every record once across the pages.
    seen: list[str] = []
    page = fhir(api, "Observation", {"patient": str(team_patient.pk), "_count": "5"})
    while True:
        assert 1 <= len(page["entry"]) <= 5
        seen.extend(ids(page))
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            break
        page = api.get(following[0]).json()
    assert len(seen) == len(set(seen)) == 3 + 4 + 2 + 2  # the scores, the full set, the two partial sets (bp, hr)
    assert seen[0] == f"qr-{gad.pk}-total"  # the newest


@pytest.mark.django_db
def test_in_session_sedation_and_dissociation_totals_are_observations_with_the_clinics_code(
    api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    now = timezone.now()
    nurse = personas["nurse"]
    moaas = response_make(team_patient, nurse, 4, instrument="moaas", submitted_at=now - timedelta(minutes=20))
    cadss = response_make(team_patient, nurse, 7, instrument="cadss6", submitted_at=now - timedelta(minutes=10))
    api = api_for("nurse")
    surveys = fhir(api, "Observation", {"patient": str(team_patient.pk), "category": "survey"})
    by_id = {e["resource"]["id"]: e["resource"] for e in surveys["entry"]}
    assert by_id[f"qr-{moaas.pk}-total"]["code"]["coding"] == [
        {"system": "urn:kapclinic:instrument-total", "code": "moaas", "display": "MOAA/S (0-5) total"}
    ]
    assert by_id[f"qr-{cadss.pk}-total"]["valueQuantity"]["value"] == 7
    found = fhir(api, "Observation", {"patient": str(team_patient.pk), "code": "urn:kapclinic:instrument-total|cadss6"})
    assert ids(found) == [f"qr-{cadss.pk}-total"]
    # A bare code finds it too; the same code in another system does not.
    assert ids(fhir(api, "Observation", {"patient": str(team_patient.pk), "code": "moaas"})) == [f"qr-{moaas.pk}-total"]
    assert ids(fhir(api, "Observation", {"patient": str(team_patient.pk), "code": "http://loinc.org|moaas"})) == []
    assert fhir(api, f"Observation/qr-{moaas.pk}-total")["valueQuantity"]["value"] == 4

"""FHIR Condition (plan indications, evaluation diagnoses) and AllergyIntolerance (the evaluation's drug allergies,
or "no known drug allergy"): read and search under the clinical rule and audit, validated with the fhir.resources
R4B models, with US Core's required and must-support elements asserted."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.condition import Condition

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.intake.models import Evaluation
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.therapy.models import TherapyNote
from tests.probes.records import plan_make
from tests.test_fhir import VALIDATORS, fhir, ids

VALIDATORS.update({"Condition": Condition, "AllergyIntolerance": AllergyIntolerance})
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
NOTE_TEXT = "Process: the patient spoke of the river dream"


@pytest.fixture
def chart(personas: dict[str, User], team_patient: Patient, other_patient: Patient) -> dict[str, Any]:
    old = plan_make(team_patient, personas, stamp=True)
    plan = plan_make(team_patient, personas, stamp=True, supersedes=old, indication_code="F43.10",
                     indication_text="Post-traumatic stress disorder, unspecified")  # fmt: skip
    draft = plan_make(team_patient, personas, indication_code="F32.9")
    evaluation = Evaluation.objects.create(
        patient=team_patient,
        data={"diagnoses": ["F33.2", "F43.10"], "allergies": ["Penicillin", "Sulfa drugs"]},
        recorded_by=personas["prescriber"],
    )
    none_known = Evaluation.objects.create(
        patient=other_patient, data={"allergies": []}, recorded_by=personas["prescriber"]
    )
    note = TherapyNote(patient=team_patient, author=personas["therapist"], kind="integration",
                       occurred_at=evaluation.updated_at, body=NOTE_TEXT)  # fmt: skip
    note.signature_stamp(personas["therapist"].pk)
    note.save()
    return {"old": old, "plan": plan, "draft": draft, "evaluation": evaluation, "none_known": none_known}


def _clean(body: Any) -> None:
    assert "river dream" not in str(body)


def _us_core_condition(body: dict[str, Any], category: str) -> None:
    # US Core Condition: clinicalStatus, verificationStatus, category, code, subject, recordedDate (must-support;
    # category, code and subject required).
    assert body["clinicalStatus"]["coding"][0]["code"] == "active"
    assert body["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert body["category"][0]["coding"][0] == {
        "system": CATEGORY,
        "code": category,
        "display": {"problem-list-item": "Problem List Item", "encounter-diagnosis": "Encounter Diagnosis"}[category],
    }
    assert body["code"]["coding"][0]["system"] == ICD and body["recordedDate"]


@pytest.mark.django_db
def test_the_plan_indication_is_a_problem_and_the_evaluation_diagnoses_encounter_diagnoses(
    api_for: Any, personas: dict[str, User], team_patient: Patient, chart: dict[str, Any]
) -> None:
    plan: TreatmentPlan = chart["plan"]
    api = api_for("nurse")
    indication = fhir(api, f"Condition/pl-{plan.pk}")
    _us_core_condition(indication, "problem-list-item")
    assert indication["meta"]["profile"] == [
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-problems-health-concerns"
    ]
    assert indication["code"] == {"coding": [{"system": ICD, "code": "F43.10"}], "text": plan.indication_text}
    assert indication["subject"] == {"reference": f"Patient/{team_patient.pk}"}
    assert indication["recorder"] == {"reference": f"Practitioner/{personas['prescriber'].pk}"}
    fhir(api, f"Condition/pl-{chart['old'].pk}", status=404)  # replaced by the signed plan
    fhir(api, f"Condition/pl-{chart['draft'].pk}", status=404)  # not signed
    evaluation = chart["evaluation"]
    diagnosis = fhir(api, f"Condition/ev-{evaluation.pk}-F33.2")
    _us_core_condition(diagnosis, "encounter-diagnosis")
    assert diagnosis["code"]["coding"][0]["code"] == "F33.2"
    fhir(api, f"Condition/ev-{evaluation.pk}-F99", status=404)
    fhir(api, "Condition/pl-1-x", status=404)
    found = fhir(api, "Condition", {"patient": str(team_patient.pk)})
    _clean(found)
    assert ids(found) == [f"pl-{plan.pk}", f"ev-{evaluation.pk}-F33.2", f"ev-{evaluation.pk}-F43.10"]
    problems = fhir(api, "Condition", {"patient": str(team_patient.pk), "category": f"{CATEGORY}|problem-list-item"})
    assert ids(problems) == [f"pl-{plan.pk}"]
    assert len(ids(fhir(api, "Condition", {"patient": str(team_patient.pk), "category": "encounter-diagnosis"}))) == 2
    assert ids(fhir(api, "Condition", {"patient": str(team_patient.pk), "clinical-status": "resolved"})) == []
    assert ids(fhir(api, "Condition", {"_id": f"ev-{evaluation.pk}-F43.10"})) == [f"ev-{evaluation.pk}-F43.10"]
    paged = fhir(api, "Condition", {"patient": str(team_patient.pk), "_count": "2"})
    assert len(ids(paged)) == 2
    [following] = [link["url"] for link in paged["link"] if link["relation"] == "next"]
    assert ids(api.get(following).json()) == [f"ev-{evaluation.pk}-F43.10"]
    assert AccessEvent.objects.filter(detail__fhir="Condition search", patient_id=team_patient.pk).exists()


@pytest.mark.django_db
def test_allergies_as_recorded_and_no_known_drug_allergy(
    api_for: Any, team_patient: Patient, other_patient: Patient, chart: dict[str, Any]
) -> None:
    evaluation, none_known = chart["evaluation"], chart["none_known"]
    api = api_for("prescriber")
    found = fhir(api, "AllergyIntolerance", {"patient": str(team_patient.pk)})
    _clean(found)
    assert ids(found) == [f"ev-{evaluation.pk}-1", f"ev-{evaluation.pk}-2"]
    first = found["entry"][0]["resource"]
    # US Core AllergyIntolerance: clinicalStatus, verificationStatus, code, patient (must-support), its profile.
    assert first["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-allergyintolerance"]
    assert first["clinicalStatus"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
        "code": "active",
        "display": "Active",
    }
    assert first["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert first["code"] == {"text": "Penicillin"} and first["patient"] == {"reference": f"Patient/{team_patient.pk}"}
    nka = fhir(api, f"AllergyIntolerance/ev-{none_known.pk}-nka")
    assert nka["code"]["coding"] == [
        {"system": "http://snomed.info/sct", "code": "409137002", "display": "No known drug allergy"}
    ]
    assert nka["patient"] == {"reference": f"Patient/{other_patient.pk}"}
    assert ids(fhir(api, "AllergyIntolerance", {"patient": str(team_patient.pk), "clinical-status": "active"}))
    assert ids(fhir(api, "AllergyIntolerance", {"patient": str(team_patient.pk), "clinical-status": "inactive"})) == []
    fhir(api, f"AllergyIntolerance/ev-{evaluation.pk}-3", status=404)
    fhir(api, f"AllergyIntolerance/ev-{evaluation.pk}-nka", status=404)
    # An evaluation that never asked about allergies says nothing (not "none known").
    Evaluation.objects.filter(pk=evaluation.pk).update(data={"diagnoses": ["F33.2"]})
    assert ids(fhir(api, "AllergyIntolerance", {"patient": str(team_patient.pk)})) == []


@pytest.mark.django_db
def test_conditions_and_allergies_keep_the_care_team_rule(
    api_for: Any, team_patient: Patient, other_patient: Patient, chart: dict[str, Any]
) -> None:
    plan, evaluation = chart["plan"], chart["evaluation"]
    for path in (f"Condition/pl-{plan.pk}", f"AllergyIntolerance/ev-{evaluation.pk}-1"):
        fhir(api_for("outsider_nurse"), path, status=403)
        fhir(api_for("coordinator"), path, status=403)
        fhir(api_for("patient_user"), path)
    fhir(api_for("patient_user"), f"AllergyIntolerance/ev-{chart['none_known'].pk}-nka", status=404)
    for kind in ("Condition", "AllergyIntolerance"):
        fhir(api_for("outsider_nurse"), kind, {"patient": str(team_patient.pk)}, status=403)
        fhir(api_for("outsider_nurse"), kind, {"_id": f"ev-{evaluation.pk}-1"}, status=403 if kind[0] == "A" else 200)
        fhir(api_for("patient_user"), kind, {"patient": str(other_patient.pk)}, status=404)
        assert "by patient" in fhir(api_for("nurse"), kind, status=400)["issue"][0]["diagnostics"]
    assert len(ids(fhir(api_for("director"), "AllergyIntolerance"))) == 3  # every patient's


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "params", "words"),
    [
        ("Condition", {"code": "F33.2"}, "Unknown or unsupported search parameter 'code'"),
        ("Condition", {"onset-date": "2026"}, "Unknown or unsupported"),
        ("AllergyIntolerance", {"category": "medication"}, "Unknown or unsupported search parameter 'category'"),
        ("AllergyIntolerance", {"clinical-status:text": "active"}, "modifier :text"),
    ],
)
def test_unsupported_condition_parameters_are_a_400(
    api_for: Any, team_patient: Patient, kind: str, params: dict[str, str], words: str
) -> None:
    outcome = fhir(api_for("prescriber"), kind, {"patient": str(team_patient.pk), **params}, status=400)
    assert words in outcome["issue"][0]["diagnostics"]


@pytest.mark.django_db
def test_the_condition_and_allergy_streams(
    team_patient: Patient, other_patient: Patient, chart: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(3):
        conditions = list(BULK_TYPES["Condition"]([team_patient.pk, other_patient.pk], None))
        allergies = list(BULK_TYPES["AllergyIntolerance"]([team_patient.pk, other_patient.pk], None))
    assert len(conditions) == 3 and len(allergies) == 3
    for resource in conditions:
        Condition.model_validate(resource)
    for resource in allergies:
        AllergyIntolerance.model_validate(resource)
    _clean([conditions, allergies])

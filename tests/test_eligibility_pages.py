"""Evaluation, findings and the prescriber's decision through the API and the page."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, transaction

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.intake.models import EligibilityDecision
from kapclinic.patients.models import Patient
from tests.db_roles import REFUSED


def _put(api: Any, patient: Patient, body: dict[str, Any]) -> Any:
    return api.put(f"/api/v1/patients/{patient.pk}/evaluation", body, content_type="application/json")


def test_absolute_contraindication_refuses_eligible(api_for: Any, team_patient: Patient) -> None:
    prescriber = api_for("prescriber")
    saved = _put(prescriber, team_patient, {"diagnoses": ["F33.2"], "aneurysmal_vascular_disease": True})
    assert saved.status_code == 200, saved.content
    eligibility = prescriber.get(f"/api/v1/patients/{team_patient.pk}/eligibility").json()
    absolute = [f for f in eligibility["findings"] if f["severity"] == "absolute"]
    assert absolute and {"code", "severity", "message", "source", "evidence"} <= set(absolute[0])
    assert {f["severity"] for f in eligibility["findings"]} <= {"absolute", "relative", "interaction", "missing"}
    assert eligibility["derived"]["age"] > 18 and eligibility["derived"]["treatment_resistant"] is False
    refused = prescriber.post(
        f"/api/v1/patients/{team_patient.pk}/eligibility-decisions",
        {"decision": "eligible", "reason": "I accept the risk"},
        content_type="application/json",
    )
    assert refused.status_code == 422 and not EligibilityDecision.objects.exists()
    assert AccessEvent.objects.filter(action="eligibility.decide", outcome="denied").exists()
    not_eligible = prescriber.post(
        f"/api/v1/patients/{team_patient.pk}/eligibility-decisions",
        {"decision": "not_eligible"},
        content_type="application/json",
    )
    assert not_eligible.status_code == 201 and not_eligible.json()["rule_set_version"]


def test_relative_contraindication_needs_a_reason(api_for: Any, team_patient: Patient) -> None:
    prescriber = api_for("prescriber")
    _put(prescriber, team_patient, {"diagnoses": ["F33.2"], "systolic_bp": 150, "diastolic_bp": 92})
    findings = prescriber.get(f"/api/v1/patients/{team_patient.pk}/eligibility").json()["findings"]
    assert any(f["severity"] == "relative" for f in findings)
    url = f"/api/v1/patients/{team_patient.pk}/eligibility-decisions"
    no_reason = prescriber.post(url, {"decision": "eligible_with_precautions"}, content_type="application/json")
    assert no_reason.status_code == 422
    ok = prescriber.post(
        url,
        {"decision": "eligible_with_precautions", "reason": "BP repeated at 132/84 after rest; monitor each session"},
        content_type="application/json",
    )
    assert ok.status_code == 201
    decision = EligibilityDecision.objects.get()
    assert decision.findings and decision.evaluation_data["systolic_bp"] == 150
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        EligibilityDecision.objects.update(decision="eligible")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"weight_kg": 0}, "weight_kg", "outside 25 to 350 kg"),
        ({"weight_kg": 900}, "weight_kg", "outside 25 to 350 kg"),
        ({"diagnoses": ["F99.99"]}, "diagnoses", "Not an ICD-10-CM code: F99.99"),
        ({"psychosis": "maybe"}, "psychosis", "Choose one of"),
        ({"aneurysmal_vascular_disease": "yes"}, "aneurysmal_vascular_disease", "Answer yes (true)"),
        ({"favourite_colour": "blue"}, "favourite_colour", "not part of the evaluation"),
    ],
)
def test_bad_evaluation_values(
    api_for: Any, team_patient: Patient, body: dict[str, Any], field: str, message: str
) -> None:
    response = _put(api_for("prescriber"), team_patient, body)
    assert response.status_code == 422
    assert any(e["loc"][-1] == field and message in e["msg"] for e in response.json()["detail"]), response.json()


def test_only_the_prescriber_records_and_decides(
    api_for: Any, team_patient: Patient, personas: dict[str, User]
) -> None:
    assert _put(api_for("nurse"), team_patient, {"weight_kg": 70}).status_code == 403
    assert api_for("nurse").get(f"/api/v1/patients/{team_patient.pk}/eligibility").status_code == 200
    assert api_for("coordinator").get(f"/api/v1/patients/{team_patient.pk}/eligibility").status_code == 403
    assert (
        api_for("director")
        .post(
            f"/api/v1/patients/{team_patient.pk}/eligibility-decisions",
            {"decision": "not_eligible"},
            content_type="application/json",
        )
        .status_code
        == 403
    )


def test_page_shows_findings_with_sources_and_saves_the_evaluation(client_for: Any, team_patient: Patient) -> None:
    client = client_for("prescriber")
    page = client.get(f"/intake/patients/{team_patient.pk}/eligibility/").content.decode()
    assert "Missing information" in page and "Source:" in page
    response = client.post(
        f"/intake/patients/{team_patient.pk}/eligibility/",
        {"form": "evaluation", "diagnoses": "F33.2\nF41.1", "weight_kg": "72", "aneurysmal_vascular_disease": "yes"},
    )
    assert response.status_code == 302
    page = client.get(f"/intake/patients/{team_patient.pk}/eligibility/").content.decode()
    assert "Absolute contraindications (1)" in page or "Absolute contraindications (2)" in page
    refused = client.post(f"/intake/patients/{team_patient.pk}/eligibility/", {"decision": "eligible", "reason": "x"})
    assert refused.status_code == 422 and not EligibilityDecision.objects.exists()
    shown = refused.content.decode()  # the message beside the decision, and what was chosen and typed kept
    assert 'id="decision_error"' in shown and 'value="eligible" required checked' in shown and ">x</textarea>" in shown


def test_prior_trials_are_recorded_on_the_page_and_resistance_is_derived(
    client_for: Any, team_patient: Patient
) -> None:
    from kapclinic.intake.models import Evaluation

    page = client_for("prescriber")
    url = f"/intake/patients/{team_patient.pk}/eligibility/"
    assert "Prior treatment trials" in page.get(url).content.decode()
    trial = {"dose": "", "duration_weeks": "8", "response": "none", "adequate_dose": "yes", "current_episode": "yes"}
    body: dict[str, str] = {
        "form": "evaluation",
        "trials-TOTAL_FORMS": "3",
        "trials-INITIAL_FORMS": "0",
        "trials-MIN_NUM_FORMS": "0",
        "trials-MAX_NUM_FORMS": "20",
    }
    for i, drug in enumerate(["sertraline", "venlafaxine", ""]):
        body |= {f"trials-{i}-drug": drug} | {f"trials-{i}-{k}": v for k, v in trial.items()}
    saved = page.post(url, body)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    trials = Evaluation.objects.get(patient=team_patient).data["prior_trials"]
    assert [t["drug"] for t in trials] == ["sertraline", "venlafaxine"]
    assert trials[0]["adequate_dose"] is True and trials[0]["duration_weeks"] == 8
    shown = page.get(url).content.decode()
    assert "<strong>treatment-resistant</strong>" in shown
    bad = page.post(url, body | {"trials-0-duration_weeks": "-3"})
    assert bad.status_code == 422
    assert len(Evaluation.objects.get(patient=team_patient).data["prior_trials"]) == 2


def test_icd10_picker_finds_codes_by_code_and_by_words(client_for: Any, personas: dict[str, User]) -> None:
    staff = client_for("prescriber")
    by_code = staff.get("/intake/icd10/", {"q": "F33.2"}).content.decode()
    assert 'value="F33.2"' in by_code and "recurrent severe" in by_code
    by_words = staff.get("/intake/icd10/", {"q": "recurrent depressive severe"}).content.decode()
    assert 'value="F33.2"' in by_words or 'value="F33.3"' in by_words
    assert staff.get("/intake/icd10/", {"q": ""}).content.decode().strip() == ""
    assert client_for("patient_user").get("/intake/icd10/", {"q": "F33"}).status_code == 403


def test_no_known_allergies_is_not_the_same_as_not_asked(client_for: Any, team_patient: Patient) -> None:
    from kapclinic.intake.models import Evaluation

    page = client_for("prescriber")
    url = f"/intake/patients/{team_patient.pk}/eligibility/"
    assert "No known drug allergies" in page.get(url).content.decode()
    assert page.post(url, {"form": "evaluation", "allergies_none": "on"}).status_code == 302
    assert Evaluation.objects.get(patient=team_patient).data["allergies"] == []
    assert page.post(url, {"form": "evaluation", "allergies": ""}).status_code == 302
    assert Evaluation.objects.get(patient=team_patient).data["allergies"] is None


@pytest.mark.parametrize(
    "trial",
    [
        {"drug": 5},
        {"drug": "sertraline", "duration_weeks": "abc"},
        {"drug": "sertraline", "response": "bogus"},
        {"drug": "sertraline", "adequate_dose": "yes"},
    ],
)
def test_malformed_prior_trials_are_refused_and_the_page_keeps_working(
    api_for: Any, client_for: Any, team_patient: Patient, trial: dict[str, Any]
) -> None:
    response = _put(api_for("prescriber"), team_patient, {"prior_trials": [trial]})
    assert response.status_code == 422 and "prior_trials" in response.content.decode()
    assert api_for("prescriber").get(f"/api/v1/patients/{team_patient.pk}/eligibility").status_code == 200
    assert client_for("prescriber").get(f"/intake/patients/{team_patient.pk}/eligibility/").status_code == 200


def test_the_clinics_policy_file_sets_the_thresholds_and_the_decision_names_its_version(
    api_for: Any, team_patient: Patient, settings: Any, tmp_path: Any
) -> None:
    import json

    from kapclinic import policy

    prescriber = api_for("prescriber")
    _put(prescriber, team_patient, {"systolic_bp": 150, "diastolic_bp": 85})
    url = f"/api/v1/patients/{team_patient.pk}/eligibility"
    before = [f["message"] for f in prescriber.get(url).json()["findings"] if f["code"] == "blood_pressure"]
    assert before and "Precaution" in before[0]
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"eligibility": {"version": "clinic-bp-1", "bp_hold_systolic": 145}}))
    settings.KAPCLINIC_POLICY_FILE = str(path)
    policy._file.cache_clear()
    try:
        after = [f["message"] for f in prescriber.get(url).json()["findings"] if f["code"] == "blood_pressure"]
        assert "hold limit (145/100)" in after[0]
        decided = prescriber.post(
            f"/api/v1/patients/{team_patient.pk}/eligibility-decisions",
            {"decision": "not_eligible"},
            content_type="application/json",
        )
        assert decided.json()["policy_version"] == "clinic-bp-1"
        path.write_text(json.dumps({"eligibility": {"bp_hold_systolic": 145}}))  # changed without a new version
        policy._file.cache_clear()
        from django.core.exceptions import ImproperlyConfigured

        with pytest.raises(ImproperlyConfigured):
            policy.eligibility_policy()
    finally:
        policy._file.cache_clear()

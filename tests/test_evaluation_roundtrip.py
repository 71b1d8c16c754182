"""A saved evaluation reads back exactly as entered, and no stored value makes a page fail (issue 13, defect 1).

The walk found "PHQ-9 item 9: No" saved as the text "False", shown as "Yes" on reload, and the eligibility
screen answering 500 on every later visit (a string compared with an int) once C-SSRS was "not asked".
"""

from __future__ import annotations

from typing import Any

import pytest
from django import forms

from kapclinic.intake.evaluation_fields import RECORDED_FIELDS
from kapclinic.intake.evaluation_forms import EvaluationForm
from kapclinic.intake.models import Evaluation
from kapclinic.patients.models import Patient

# Free-text fields have no choices; each round posts one of these values.
TEXT_VALUES = {
    "diagnoses": ["F33.2\nF41.1", "F32.1", ""],
    "medications": ["sertraline 100 mg\nlamotrigine 50 mg", "bupropion", ""],
    "allergies": ["penicillin\nlatex", "sulfa", ""],
    "contraception": ["copper IUD", "none", ""],
    "height_cm": ["172", "160.5", ""],
    "weight_kg": ["72", "58.4", ""],
    "systolic_bp": ["118", "142", ""],
    "diastolic_bp": ["76", "91", ""],
    "heart_rate": ["64", "101", ""],
}
ROUNDS = 5  # enough to post every choice of the longest choice field (PHQ-9 item 9: unknown, 0, 1, 2, 3)


def _choices(form: EvaluationForm, name: str) -> list[str]:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return [str(value) for value, _ in field.choices]  # type: ignore[misc,union-attr]


def _round(form: EvaluationForm, n: int) -> dict[str, str]:
    """The n-th value of every evaluation field on the form (cycling through each field's choices)."""
    posted: dict[str, str] = {}
    for name in RECORDED_FIELDS:
        if name == "prior_trials":
            continue  # its own table, round-tripped in test_eligibility_pages
        values = TEXT_VALUES[name] if name in TEXT_VALUES else _choices(form, name)
        posted[name] = values[n % len(values)]
    return posted


def _shown(form: EvaluationForm, name: str) -> str:
    value = form[name].value()
    return "" if value is None else str(value)


def test_every_field_is_on_the_form() -> None:
    form = EvaluationForm()
    assert {n for n in RECORDED_FIELDS if n != "prior_trials"} <= set(form.fields)
    untested = [n for n in form.fields if not n.endswith("_none") and n not in TEXT_VALUES and n in RECORDED_FIELDS]
    assert all(isinstance(form.fields[n], forms.ChoiceField) for n in untested)


@pytest.mark.parametrize("n", range(ROUNDS))
def test_every_evaluation_field_reads_back_as_entered(client_for: Any, team_patient: Patient, n: int) -> None:
    page = client_for("prescriber")
    url = f"/intake/patients/{team_patient.pk}/eligibility/"
    posted = _round(EvaluationForm(), n)
    saved = page.post(url, {"form": "evaluation", **posted})
    assert saved.status_code == 302, saved.content.decode()[:3000]
    reloaded = page.get(url)
    assert reloaded.status_code == 200
    form = reloaded.context["form"]
    differences = {
        name: (posted[name], _shown(form, name))
        for name in posted
        if _shown(form, name).replace("\r", "") != posted[name].replace(".0", "")
        and not (name in ("height_cm", "weight_kg") and float(_shown(form, name) or 0) == float(posted[name] or 0))
    }
    assert differences == {}
    # The API reads the same evaluation without failing.
    api = page.get(f"/api/v1/patients/{team_patient.pk}/eligibility")
    assert api.status_code == 200


def test_phq9_item9_no_longer_a_yes_no_question(client_for: Any, team_patient: Patient) -> None:
    page = client_for("prescriber")
    url = f"/intake/patients/{team_patient.pk}/eligibility/"
    assert _choices(EvaluationForm(), "phq9_item9") == ["", "0", "1", "2", "3"]
    assert page.post(url, {"form": "evaluation", "phq9_item9": "0", "cssrs_risk": ""}).status_code == 302
    assert Evaluation.objects.get(patient=team_patient).data["phq9_item9"] == 0
    assert page.get(url).status_code == 200
    assert page.post(url, {"form": "evaluation", "phq9_item9": "2", "cssrs_risk": ""}).status_code == 302
    body = page.get(url).content.decode()
    assert "PHQ-9 item 9 is 2" in body  # the same-day risk assessment finding, not a 500


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phq9_item9": False}, "phq9_item9"),
        ({"phq9_item9": 4}, "phq9_item9"),
        ({"phq9_item9": "2"}, "phq9_item9"),
        ({"breastfeeding": "no"}, "breastfeeding"),
        ({"allergies": "penicillin"}, "allergies"),
        ({"systolic_bp": "high"}, "systolic_bp"),
    ],
)
def test_api_refuses_values_of_the_wrong_type(
    api_for: Any, team_patient: Patient, body: dict[str, Any], field: str
) -> None:
    response = api_for("prescriber").put(
        f"/api/v1/patients/{team_patient.pk}/evaluation", body, content_type="application/json"
    )
    assert response.status_code == 422, response.content
    assert field in response.content.decode()
    assert not Evaluation.objects.filter(patient=team_patient).exists()


BAD_STORED = ["False", "True", 7, -1, "x" * 300, ["F33.2"], {"a": 1}, 1.5, "yes"]


@pytest.mark.parametrize("stored", BAD_STORED)
def test_no_stored_value_makes_a_page_fail(
    client_for: Any, personas: dict[str, Any], team_patient: Patient, stored: object
) -> None:
    # Values written by an older version, a script or a bad import: every page shows them as unreadable.
    Evaluation.objects.create(
        patient=team_patient,
        recorded_by=personas["prescriber"],
        data=dict.fromkeys(RECORDED_FIELDS, stored),
    )
    page = client_for("prescriber")
    response = page.get(f"/intake/patients/{team_patient.pk}/eligibility/")
    assert response.status_code == 200
    assert "could not be read" in response.content.decode()
    assert page.get(f"/api/v1/patients/{team_patient.pk}/eligibility").status_code == 200
    assert page.get(f"/patients/{team_patient.pk}/").status_code == 200

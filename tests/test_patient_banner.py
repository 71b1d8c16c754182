"""The patient banner shows the real allergies and is on every page about one patient (issue 13, defect 2)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.chart.banner import NO_KNOWN_ALLERGIES, NOT_RECORDED, allergies_in_words
from kapclinic.intake.models import Evaluation
from kapclinic.intake.services import evaluation_save
from kapclinic.patients.models import Patient
from tests.probes.dosing import _session
from tests.probes.world import World


def _allergies_shown(html: str) -> str:
    found = re.search(r"<dt>Allergies</dt><dd>(?:<strong>)?(.*?)(?:</strong>)?</dd>", html)
    assert found, "no allergies in the banner"
    return found.group(1)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({}, NOT_RECORDED),
        ({"allergies": None}, NOT_RECORDED),
        ({"allergies": []}, NO_KNOWN_ALLERGIES),
        ({"allergies": ["penicillin", "latex"]}, "penicillin, latex"),
        ({"allergies": "penicillin"}, NOT_RECORDED),  # a stored value that cannot be read is not "none known"
        (None, NOT_RECORDED),
    ],
)
def test_allergies_in_words(data: dict[str, Any] | None, words: str) -> None:
    assert allergies_in_words(data) == words


def test_chart_banner_shows_the_recorded_allergies(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    chart = client_for("nurse")
    url = f"/patients/{team_patient.pk}/"
    assert _allergies_shown(chart.get(url).content.decode()) == NOT_RECORDED
    ctx = AuditContext(user=personas["prescriber"], channel="test")
    evaluation_save(ctx=ctx, patient_id=team_patient.pk, values={"allergies": ["penicillin", "latex"]})
    assert _allergies_shown(chart.get(url).content.decode()) == "penicillin, latex"
    evaluation_save(ctx=ctx, patient_id=team_patient.pk, values={"allergies": []})
    assert _allergies_shown(chart.get(url).content.decode()) == NO_KNOWN_ALLERGIES


def test_the_coordinator_sees_the_banner_without_clinical_facts(client_for: Any, team_patient: Patient) -> None:
    page = client_for("coordinator").get(f"/patients/{team_patient.pk}/").content.decode()
    assert 'class="patient-banner"' in page and "<dt>Allergies</dt>" not in page


def test_the_banner_is_on_every_page_about_one_patient(
    client_for: Any, nurse_world: World, personas: dict[str, User], team_patient: Patient
) -> None:
    Evaluation.objects.create(patient=team_patient, recorded_by=personas["prescriber"], data={"allergies": ["sulfa"]})
    session = _session(nurse_world, team_patient, "monitoring")
    pages = {
        "nurse": [
            f"/patients/{team_patient.pk}/",
            f"/dosing/sessions/{session.pk}/",
            f"/intake/patients/{team_patient.pk}/eligibility/",
            f"/plans/{session.plan_id}/",
            f"/patients/{team_patient.pk}/consent/",
            f"/measures/patients/{team_patient.pk}/phq9/",
        ],
        "therapist": [f"/patients/{team_patient.pk}/notes/"],
        "prescriber": [
            f"/patients/{team_patient.pk}/plans/",
            f"/patients/{team_patient.pk}/plans/new/",
            f"/patients/{team_patient.pk}/edit/",
        ],
    }
    for persona, urls in pages.items():
        client = client_for(persona)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (persona, url, response.status_code)
            html = response.content.decode()
            assert html.count('class="patient-banner"') == 1, url
            assert _allergies_shown(html) == "sulfa", url
            assert html.count("<h1") == 1, url  # the banner's name is the heading only where the page has none

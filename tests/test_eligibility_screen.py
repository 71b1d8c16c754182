"""The eligibility screen of a patient with no evaluation (issue 13, defect 9): one checklist of what is missing,
evidence in words, the evaluation form before the decision."""

from __future__ import annotations

from typing import Any

from kapclinic.patients.models import Patient


def test_no_evaluation_gives_one_short_checklist(client_for: Any, team_patient: Patient) -> None:
    page = client_for("prescriber").get(f"/intake/patients/{team_patient.pk}/eligibility/").content.decode()
    missing = page.split('id="g-missing"')[1].split("</section>")[0]
    assert missing.count('class="checklist"') == 3  # absolute, relative, the other checks
    assert "☐</span> Aneurysmal vascular disease" in missing and "Source: eligibility.md section 4" in missing
    assert "=None" not in page and ".unknown]" not in page  # no raw debug evidence
    assert page.index('id="evaluation"') < page.index('id="decision"')  # record the evaluation, then decide


def test_a_finding_shows_what_it_read_in_words(client_for: Any, team_patient: Patient) -> None:
    client = client_for("prescriber")
    url = f"/intake/patients/{team_patient.pk}/eligibility/"
    saved = client.post(url, {"form": "evaluation", "diagnoses": "F33.1", "aneurysmal_vascular_disease": "yes"})
    assert saved.status_code == 302
    page = client.get(url).content.decode()
    assert "Read: Aneurysmal vascular disease: yes; diagnoses: none" in page
    assert "aneurysmal_vascular_disease=" not in page

"""The referrer's progress report (issue 19 item 5): signed by a prescriber of the care team and kept as signed
(append-only, with its digest), printed as a one-page PDF from the kept row, audited; bad input keeps nothing."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, transaction

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import AdverseEvent
from kapclinic.outcomes.models import ReferrerReport
from kapclinic.patients.models import Patient
from kapclinic.signing import content_digest
from tests.probes.records import response_make
from tests.test_outcome_prompts import course_make

pytestmark = pytest.mark.django_db

FORM = {"addressed_to": "Dr Example Referrer, Sampletown Practice", "plan_ahead": "A booster session next month."}


@pytest.fixture
def responder(personas: dict[str, User], team_patient: Patient) -> Patient:
    """Six doses, PHQ-9 20 before the first and 8 after the last, nausea after the second dose."""
    _, times = course_make(team_patient, personas, days_ago=(40, 37, 33, 30, 26, 23), sessions=6)
    response_make(team_patient, personas["nurse"], 20, submitted_at=times[0] - timedelta(days=2))
    response_make(team_patient, personas["nurse"], 8, submitted_at=times[-1] + timedelta(days=2))
    AdverseEvent.objects.create(
        patient=team_patient, what="Nausea after the dose", severity="mild", action="Ondansetron",
        outcome="Resolved", occurred_at=times[1] + timedelta(minutes=40), by=personas["nurse"],
    )  # fmt: skip
    return team_patient


def _poppler(tool: str, content: bytes) -> str:
    """What poppler's `tool` (pdfinfo, pdftotext; poppler-utils from scripts/system-deps) says of the PDF."""
    found = shutil.which(tool)
    assert found is not None, f"{tool} is missing: run scripts/system-deps (Debian's poppler-utils)"
    done = subprocess.run(  # noqa: S603
        [found, "-", *(["-"] if tool == "pdftotext" else [])], input=content, capture_output=True, check=True
    )
    return done.stdout.decode()


def test_the_prescriber_signs_the_report_and_it_prints_on_one_page_from_what_was_kept(
    personas: dict[str, User], responder: Patient, client_for: Any
) -> None:
    client = client_for("prescriber")
    preview = client.get(f"/outcomes/patients/{responder.pk}/report/")
    body = preview.content.decode()
    assert preview.status_code == 200 and "<svg" in body and "Nausea after the dose" in body
    assert client.post(f"/outcomes/patients/{responder.pk}/report/", FORM).status_code == 302
    report = ReferrerReport.objects.get(patient=responder)
    assert report.signed_by == personas["prescriber"] and report.signed_at is not None
    assert report.content_hash == content_digest(report.signed_content()) and report.signature_intact
    outcome = report.content["instruments"][0]
    assert (outcome["baseline"], outcome["end"], outcome["response"], outcome["remission"]) == (20, 8, "yes", "no")
    assert [dose["session"] for dose in report.content["doses"]] == [1, 2, 3, 4, 5, 6]
    assert AccessEvent.objects.filter(action="outcome.report_sign", patient=responder).exists()
    pdf = client.get(f"/outcomes/reports/{report.pk}.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert AccessEvent.objects.filter(action="record.print", patient=responder, detail__what="progress_report").exists()
    assert "Pages:           1" in _poppler("pdfinfo", pdf.content)  # one page
    text = _poppler("pdftotext", pdf.content)
    assert "Dr Example Referrer" in text and report.content_hash in text and "A booster session" in text
    # Append-only: the kept report cannot be changed.
    with pytest.raises(DatabaseError), transaction.atomic():
        ReferrerReport.objects.filter(pk=report.pk).update(plan_ahead="Changed")


def test_bad_input_keeps_nothing_and_says_what_is_wrong(
    personas: dict[str, User], responder: Patient, client_for: Any
) -> None:
    page = client_for("prescriber").post(
        f"/outcomes/patients/{responder.pk}/report/", {"addressed_to": "Dr Typed Name", "plan_ahead": " "}
    )
    assert page.status_code in (400, 422) and "Dr Typed Name" in page.content.decode()
    assert not ReferrerReport.objects.exists()


def test_only_a_prescriber_of_the_care_team_signs(
    personas: dict[str, User], responder: Patient, client_for: Any
) -> None:
    assert client_for("therapist").post(f"/outcomes/patients/{responder.pk}/report/", FORM).status_code == 403
    assert client_for("director").post(f"/outcomes/patients/{responder.pk}/report/", FORM).status_code == 403
    assert not ReferrerReport.objects.exists()
    assert AccessEvent.objects.filter(action="outcome.report_sign", outcome="denied").count() == 2
    assert client_for("therapist").get(f"/outcomes/patients/{responder.pk}/report/").status_code == 200


def test_a_patient_without_a_dose_has_nothing_to_report(
    personas: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    page = client_for("prescriber").get(f"/outcomes/patients/{team_patient.pk}/report/")
    assert page.status_code == 409 and "nothing to report" in page.content.decode()

"""Printing (issue 16, item 8): PDFs of a signed therapy note, a dosing session record, a treatment plan and the
one-page chart summary; and the print stylesheet every page links.

Each PDF is a real WeasyPrint PDF (it starts with %PDF). WeasyPrint's text is not searchable in the PDF bytes and
pypdf is not a dependency, so the content checks read the HTML each PDF was rendered from (the spy below keeps it
and still renders the real PDF), as tests/test_consent.py does; and poppler's pdftotext (poppler-utils, installed by
scripts/system-deps) reads the patient's name and MRN back out of the PDF itself.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kapclinic import pdf
from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent, Outcome
from kapclinic.dosing.models import DosingSession, VitalSign
from kapclinic.intake.models import Evaluation
from kapclinic.patients.models import Patient
from kapclinic.patients.printing import PRINT_ACTION
from kapclinic.plans.models import TreatmentPlan
from kapclinic.therapy.models import TherapyNote
from tests.probes.records import check_in_make, plan_make, response_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def printed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The HTML of each PDF rendered during the test, in order; the PDF itself is still made."""
    pages: list[str] = []
    real = pdf.pdf_from_html

    def spy(html: str) -> bytes:
        pages.append(html)
        return real(html)

    monkeypatch.setattr(pdf, "pdf_from_html", spy)
    return pages


def _note(patient: Patient, author: User, *, kind: str = "integration", signed: bool = True) -> TherapyNote:
    note = TherapyNote(
        patient=patient,
        author=author,
        kind=kind,
        occurred_at=timezone.now() - timedelta(days=1),
        sections={"themes": "Grief for her father; relief at naming it.", "plan": "Integration again in one week."}
        if kind == "integration"
        else {},
        body="Walked by the river after the session." if kind != "process" else "My private hypothesis.",
    )
    if signed:
        note.signature_stamp(author.pk)
    note.save()
    return note


def _session(plan: TreatmentPlan, nurse: User) -> DosingSession:
    session = DosingSession.objects.create(
        patient=plan.patient, plan=plan, number=1, scheduled_for=timezone.now() - timedelta(hours=2), state="monitoring"
    )
    check_in_make(session, nurse, weight_kg="72.5")
    VitalSign.objects.create(
        session=session,
        measured_at=timezone.now() - timedelta(hours=1),
        systolic=131,
        diastolic=84,
        heart_rate=77,
        spo2=98,
        predose=True,
        recorded_by=nurse,
    )
    return session


def _pdf_text(content: bytes) -> str:
    """The PDF's text as poppler's pdftotext reads it (poppler-utils: scripts/system-deps installs it)."""
    pdftotext = shutil.which("pdftotext")
    assert pdftotext is not None, "pdftotext is missing: run scripts/system-deps (Debian's poppler-utils)"
    done = subprocess.run([pdftotext, "-layout", "-", "-"], input=content, capture_output=True, check=True)  # noqa: S603
    return done.stdout.decode()


def _assert_pdf(answer: Any, mrn: str, stem: str) -> None:
    assert answer.status_code == 200, answer.content[:300]
    assert answer["Content-Type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    text = _pdf_text(answer.content)
    assert mrn in text and "TEAMPATIENT, Alder" in text, text[:500]
    disposition = answer["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"{stem}-{mrn}-" in disposition and disposition.endswith('.pdf"')


def _printed_rows(user: User) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(action=PRINT_ACTION, user=user).order_by("id"))


# --- the four PDFs --------------------------------------------------------------------------------------


def test_a_signed_therapy_note_prints(
    client_for: Any, personas: dict[str, User], team_patient: Patient, printed: list[str]
) -> None:
    note = _note(team_patient, personas["therapist"])
    answer = client_for("therapist").get(f"/notes/{note.pk}/note.pdf")
    _assert_pdf(answer, team_patient.mrn, "therapy-note")
    html = printed[-1]
    for text in ("TEAMPATIENT, Alder", team_patient.mrn, "Integration session", "Grief for her father", "✓ Signed"):
        assert text in html, text
    assert "unchanged since signing" in html
    extracted = _pdf_text(answer.content)
    assert "Grief for her father" in extracted and "Signed by Therapist Persona" in " ".join(extracted.split())
    [row] = _printed_rows(personas["therapist"])
    assert row.patient_id == team_patient.pk and row.detail == {"what": "therapy_note", "id": note.pk, "output": "pdf"}


def test_the_care_team_prints_a_colleagues_signed_note_and_the_page_links_it(
    client_for: Any, personas: dict[str, User], team_patient: Patient, printed: list[str]
) -> None:
    note = _note(team_patient, personas["therapist"])
    client = client_for("prescriber")
    assert f'href="/notes/{note.pk}/note.pdf"' in client.get(f"/notes/{note.pk}/").content.decode()
    _assert_pdf(client.get(f"/notes/{note.pk}/note.pdf"), team_patient.mrn, "therapy-note")


def test_an_unsigned_note_is_refused_with_the_reason(
    client_for: Any, personas: dict[str, User], team_patient: Patient, printed: list[str]
) -> None:
    draft = _note(team_patient, personas["therapist"], signed=False)
    client = client_for("therapist")
    answer = client.get(f"/notes/{draft.pk}/note.pdf")
    assert answer.status_code == 409 and answer["Content-Type"].startswith("text/html")
    assert "Only a signed note can be printed or downloaded as a PDF: this one is a draft." in answer.content.decode()
    assert printed == [] and _printed_rows(personas["therapist"]) == []
    page = client.get(f"/notes/{draft.pk}/").content.decode()
    assert "note.pdf" not in page and "a PDF once it is signed" in page


def test_a_process_note_prints_for_its_author_only(
    client_for: Any, personas: dict[str, User], team_patient: Patient, printed: list[str]
) -> None:
    note = _note(team_patient, personas["therapist"], kind="process")
    _assert_pdf(client_for("therapist").get(f"/notes/{note.pk}/note.pdf"), team_patient.mrn, "therapy-note")
    assert "My private hypothesis." in printed[-1]
    # The care team's prescriber may not read it at all; a colleague it is shared with reads it but may not print it.
    assert client_for("prescriber").get(f"/notes/{note.pk}/note.pdf").status_code == 403
    from kapclinic.therapy.models import NoteShare

    NoteShare.objects.create(note=note, shared_with=personas["prescriber"], by=personas["therapist"])
    client = client_for("prescriber")
    assert client.get(f"/notes/{note.pk}/").status_code == 200
    refused = client.get(f"/notes/{note.pk}/note.pdf")
    assert refused.status_code == 403 and "printed only by its author" in refused.content.decode()
    assert len(printed) == 1
    denied = AccessEvent.objects.filter(action=PRINT_ACTION, user=personas["prescriber"], outcome=Outcome.DENIED)
    assert denied.count() == 1


def test_a_dosing_session_record_prints(
    client_for: Any, personas: dict[str, User], plan: TreatmentPlan, printed: list[str]
) -> None:
    session = _session(plan, personas["nurse"])
    client = client_for("nurse")
    assert (
        f'href="/dosing/sessions/{session.pk}/record.pdf"'
        in client.get(f"/dosing/sessions/{session.pk}/").content.decode()
    )
    answer = client.get(f"/dosing/sessions/{session.pk}/record.pdf")
    _assert_pdf(answer, plan.patient.mrn, "dosing-session")
    html = printed[-1]
    for text in (plan.patient.mrn, "TEAMPATIENT, Alder", "Dosing session 1 of", "131/84", "72.5 kg", "Not signed"):
        assert text in html, text
    assert [r.detail["what"] for r in _printed_rows(personas["nurse"])] == ["dosing_session"]


def test_a_treatment_plan_prints_and_a_draft_says_so(
    client_for: Any, personas: dict[str, User], plan: TreatmentPlan, printed: list[str]
) -> None:
    client = client_for("prescriber")
    assert f'href="/plans/{plan.pk}/plan.pdf"' in client.get(f"/plans/{plan.pk}/").content.decode()
    _assert_pdf(client.get(f"/plans/{plan.pk}/plan.pdf"), plan.patient.mrn, "treatment-plan")
    html = printed[-1]
    for text in (plan.patient.mrn, "Sleep through the night", plan.indication_text, "✓ Signed"):
        assert text in html, text
    assert "DRAFT" not in html
    draft = plan_make(plan.patient, personas, supersedes=None, first_session_on=plan.first_session_on)
    _assert_pdf(client.get(f"/plans/{draft.pk}/plan.pdf"), plan.patient.mrn, "treatment-plan")
    assert "DRAFT: not signed" in printed[-1]


def test_the_chart_summary_prints(
    client_for: Any, personas: dict[str, User], plan: TreatmentPlan, printed: list[str]
) -> None:
    patient = plan.patient
    Evaluation.objects.create(patient=patient, recorded_by=personas["prescriber"], data={"allergies": ["sulfa"]})
    response_make(patient, personas["nurse"], 14, severity="Moderate")
    DosingSession.objects.create(
        patient=patient, plan=plan, number=1, scheduled_for=timezone.now() + timedelta(days=3), state="scheduled"
    )
    client = client_for("prescriber")
    assert f'href="/patients/{patient.pk}/summary.pdf"' in client.get(f"/patients/{patient.pk}/").content.decode()
    _assert_pdf(client.get(f"/patients/{patient.pk}/summary.pdf"), patient.mrn, "chart-summary")
    html = printed[-1]
    for text in (
        "TEAMPATIENT, Alder",
        patient.mrn,
        "Allergies: sulfa",
        plan.indication_text,
        "✕ Not signed",  # no consent signature
        "PHQ-9",
        "Moderate",
        "Dosing session 1 (scheduled)",
        "process notes are never in a summary",
    ):
        assert text in html, text
    assert [r.detail["what"] for r in _printed_rows(personas["prescriber"])] == ["chart_summary"]


# --- who may print ----------------------------------------------------------------------------------------


def test_a_clinician_off_the_care_team_prints_nothing(
    client_for: Any, personas: dict[str, User], plan: TreatmentPlan, printed: list[str]
) -> None:
    patient = plan.patient
    note = _note(patient, personas["therapist"])
    session = _session(plan, personas["nurse"])
    urls = [
        f"/notes/{note.pk}/note.pdf",
        f"/dosing/sessions/{session.pk}/record.pdf",
        f"/plans/{plan.pk}/plan.pdf",
        f"/patients/{patient.pk}/summary.pdf",
    ]
    for outsider in ("outsider_nurse", "outsider_therapist"):
        client = client_for(outsider)
        for url in urls:
            answer = client.get(url)
            assert answer.status_code in (403, 404), (outsider, url, answer.status_code)
            assert patient.mrn not in answer.content.decode() or answer.status_code == 403
        denied = AccessEvent.objects.filter(user=personas[outsider], outcome=Outcome.DENIED, patient=patient)
        assert denied.exists()
    assert printed == []


def test_the_coordinator_prints_no_clinical_summary(client_for: Any, team_patient: Patient, printed: list[str]) -> None:
    assert client_for("coordinator").get(f"/patients/{team_patient.pk}/summary.pdf").status_code == 403
    assert printed == []


def test_a_patient_is_sent_to_the_portal(client_for: Any, plan: TreatmentPlan, printed: list[str]) -> None:
    client = client_for("patient_user")
    assert client.get(f"/patients/{plan.patient.pk}/summary.pdf")["Location"] == "/portal/"
    assert client.get(f"/plans/{plan.pk}/plan.pdf").status_code == 302
    assert printed == []


# --- the print stylesheet -------------------------------------------------------------------------------


def test_every_page_links_the_print_stylesheet(client_for: Any, team_patient: Patient) -> None:
    page = client_for("nurse").get(f"/patients/{team_patient.pk}/").content.decode()
    assert 'href="/static/kapclinic/print.css" media="print"' in page or 'print.css" media="print"' in page


def test_the_print_stylesheet_hides_the_screen_furniture() -> None:
    from pathlib import Path

    import kapclinic

    css = (Path(kapclinic.__file__).parent / "static" / "kapclinic" / "print.css").read_text()
    assert "@media print {" in css
    for selector in (".site-header", "nav", ".header-search", "button", ".button", "form", ".idle-warning"):
        assert selector in css
    assert 'a[href^="http"]::after' in css and "break-inside: avoid" in css

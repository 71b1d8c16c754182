"""The patient's own copy of their record from the portal (issue 17, item 5): one page offering it as a FHIR R4
collection Bundle (kapclinic/fhir/record.py) and as the clinic's JSON (chart/export.py); each download audited.

The Bundle holds what the FHIR face shows the patient with their own token, to the resource: the demo patient's
bundle is compared with their own searches of every type; it validates with the fhir.resources R4B models, and no
therapy note's text (the process note above all) is in it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from fhir.resources.R4B.bundle import Bundle

from kapclinic.accounts.models import User
from kapclinic.accounts.services import api_token_issue
from kapclinic.audit.models import AccessEvent
from kapclinic.fhir.record import NOT_THE_PATIENTS, patient_types
from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.patients.models import Patient
from kapclinic.therapy.models import TherapyNote
from tests.test_fhir_demo import MODELS

FHIR_COUNT = 100


def _search_all(client: Client, kind: str, patient_id: int) -> set[str]:
    """Every id a search of `kind` for the patient returns, page by page (the `next` links); a patient reads their
    Patient resource (they list no patients)."""
    if kind == "Patient":
        read = client.get(f"/fhir/Patient/{patient_id}")
        assert read.status_code == 200, read.content
        return {json.loads(read.content)["id"]}
    response = client.get(f"/fhir/{kind}", {"patient": str(patient_id), "_count": str(FHIR_COUNT)})
    ids: set[str] = set()
    while True:
        assert response.status_code == 200, response.content
        page = json.loads(response.content)
        ids.update(entry["resource"]["id"] for entry in page.get("entry", []))
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            return ids
        response = client.get(following[0].removeprefix("http://testserver"))


def _references(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["reference"]} if isinstance(value.get("reference"), str) else set()
        return found.union(*(_references(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value))
    return set()


@pytest.mark.django_db
def test_the_demo_patients_bundle_is_what_the_fhir_face_shows_them_and_validates() -> None:
    call_command("demo_load", "--quiet")
    user = User.objects.get(username="patient")
    patient = Patient.objects.get(user=user)
    portal = Client()
    portal.force_login(user)

    response = portal.get("/portal/record/fhir/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response["Content-Disposition"].startswith('attachment; filename="my-record-')
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    bundle = json.loads(body)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection" and "total" not in bundle
    by_type: dict[str, set[str]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        MODELS[resource["resourceType"]].model_validate(resource)
        assert entry["fullUrl"] == f"http://testserver/fhir/{resource['resourceType']}/{resource['id']}"
        by_type.setdefault(resource["resourceType"], set()).add(resource["id"])
    # What the patient's own token finds, type by type, is exactly what the bundle holds.
    _, raw = api_token_issue(user=user)
    own_token = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for kind in patient_types():
        assert by_type.get(kind, set()) == _search_all(own_token, kind, patient.pk), kind
    # The record is the demo's: vital signs, PHQ-9 totals, ketamine given; every practitioner named is in it.
    codes = {c["code"] for e in bundle["entry"] for c in e["resource"].get("code", {}).get("coding", [])}
    assert {"85354-9", "8867-4", "44261-6"} <= codes
    assert by_type["MedicationAdministration"] and by_type["Practitioner"]
    named = {r for r in _references(bundle) if r.startswith("Practitioner/")}
    assert named == {f"Practitioner/{pk}" for pk in by_type["Practitioner"]}
    # No therapy note's words, the process note's first.
    notes = list(TherapyNote.objects.filter(patient=patient).values_list("kind", "body", "sections"))
    assert "process" in {kind for kind, _, _ in notes}
    words = [text for _, note_body, sections in notes for text in [note_body, *sections.values()] if len(text) > 20]
    assert words and not [text for text in words if json.dumps(text)[1:-1] in body]
    assert AccessEvent.objects.filter(
        action="patient.fhir_export", patient_id=patient.pk, user=user, outcome="allowed"
    ).exists()


def test_every_streamed_type_is_the_patients_or_named_as_staff_only() -> None:
    assert set(patient_types()) | (NOT_THE_PATIENTS & set(BULK_TYPES)) == set(BULK_TYPES)


@pytest.mark.django_db
def test_the_record_page_offers_both_copies(
    client_for: Any, team_patient: Patient, django_assert_max_num_queries: Any
) -> None:
    portal = client_for("patient_user")
    with django_assert_max_num_queries(12):
        page = portal.get("/portal/record/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'href="/portal/record/fhir/"' in text and 'href="/portal/record/json/"' in text
    assert 'href="/portal/record/"' in portal.get("/portal/").content.decode()


@pytest.mark.django_db
def test_the_json_copy_is_the_clinics_export_of_their_own_record_audited(
    client_for: Any, team_patient: Patient
) -> None:
    response = client_for("patient_user").get("/portal/record/json/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="my-record-')
    record = json.loads(response.content)
    assert record["format"] == "kapclinic-record-1" and record["patient"]["mrn"] == team_patient.mrn
    assert "therapy_notes" not in record
    assert AccessEvent.objects.filter(action="patient.export", patient_id=team_patient.pk).count() == 1


@pytest.mark.django_db
def test_the_fhir_copy_of_a_small_record_is_audited_once(client_for: Any, team_patient: Patient) -> None:
    response = client_for("patient_user").get("/portal/record/fhir/")
    bundle = json.loads(response.content)
    Bundle.model_validate(bundle)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Patient"]
    assert AccessEvent.objects.filter(action="patient.fhir_export", patient_id=team_patient.pk).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["/portal/record/", "/portal/record/fhir/", "/portal/record/json/"])
def test_staff_are_sent_to_their_home_page(client_for: Any, team_patient: Patient, name: str) -> None:
    response = client_for("nurse").get(name)
    assert response.status_code == 302 and response["Location"] == "/"
    assert not AccessEvent.objects.filter(action__in=["patient.fhir_export", "patient.export"]).exists()

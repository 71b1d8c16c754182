"""A referral's FHIR Bundle for a test patient (issue 17 item 4), and the role-matrix probes of the import: upload
one through the page and the API (allowed means both kept it), and take an item through the API."""

from __future__ import annotations

import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from kapclinic.accounts.models import User
from kapclinic.fhir.models import ReferralChoice, ReferralImport
from kapclinic.patients.models import Patient
from kapclinic.roles import Action
from tests.probes.world import Probe, World

SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"


def referral_bundle(
    patient: Patient, *, kind: str = "collection", extra: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The referral of `referral_bundle_for`, about the patient."""
    return referral_bundle_for(
        patient.family_name, patient.given_name, patient.birth_date.isoformat(), kind=kind, extra=extra
    )


def referral_bundle_for(
    family: str, given: str, birth_date: str, *, kind: str = "collection", extra: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A small referral from a synthetic practice: the patient, one diagnosis, one medication, one allergy, a PHQ-9."""
    subject = {"reference": "urn:uuid:p1"}
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": "p1",
            "name": [{"use": "official", "family": family, "given": [given]}],
            "birthDate": birth_date,
        },
        {"resourceType": "Organization", "id": "o1", "name": "Synthetic Family Practice"},
        {
            "resourceType": "Condition",
            "id": "c1",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {
                "coding": [
                    {"system": SNOMED, "code": "370143000", "display": "Major depressive disorder"},
                    {"system": ICD10CM, "code": "F33.1", "display": "Major depressive disorder, recurrent, moderate"},
                ]
            },
            "subject": subject,
            "onsetDateTime": "2024-02-01",
        },
        {
            "resourceType": "MedicationRequest",
            "id": "m1",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": "312940", "display": "sertraline 50 MG Oral Tablet"}]
            },
            "subject": subject,
            "authoredOn": "2024-03-01",
        },
        {
            "resourceType": "AllergyIntolerance",
            "id": "a1",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": RXNORM, "code": "7980", "display": "penicillin G"}]},
            "patient": subject,
            "recordedDate": "2020-05-05",
        },
        {
            "resourceType": "Observation",
            "id": "s1",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "44261-6", "display": "PHQ-9 total score"}]},
            "subject": subject,
            "effectiveDateTime": "2024-03-01T10:00:00Z",
            "valueQuantity": {"value": 17, "unit": "{score}"},
        },
        *(extra or []),
    ]
    return {
        "resourceType": "Bundle",
        "type": kind,
        "identifier": {"value": "synthetic-referral-1"},
        "entry": [{"fullUrl": f"urn:uuid:{r.get('id', i)}", "resource": r} for i, r in enumerate(resources)],
    }


def referral_make(patient: Patient, by: User) -> ReferralImport:
    """A kept bundle for the patient, as if uploaded (for the route walk and the probes)."""
    return ReferralImport.objects.create(
        patient=patient,
        uploaded_by=by,
        bundle=json.dumps(referral_bundle(patient)),
        sha256="0" * 64,
        bundle_type="collection",
        source="Synthetic Family Practice",
        entries=6,
    )


def _referral_upload(w: World, patient: Patient) -> bool:
    raw = json.dumps(referral_bundle(patient)).encode()
    before = ReferralImport.objects.filter(patient=patient).count()
    w.page.post(
        f"/patients/{patient.pk}/referrals/",
        {"bundle": SimpleUploadedFile("referral.json", raw, content_type="application/json")},
    )
    w.api.post(f"/api/v1/patients/{patient.pk}/referral-imports", raw, content_type="application/fhir+json")
    made = ReferralImport.objects.filter(patient=patient).count() - before
    assert made != 1, "page and API disagree"
    return made == 2


def _referral_review(w: World, patient: Patient) -> bool:
    referral = referral_make(patient, w.people["coordinator"])
    seen = w.api.get(f"/api/v1/referral-imports/{referral.pk}").status_code == 200
    page = w.page.get(f"/patients/{patient.pk}/referrals/{referral.pk}/").status_code == 200
    assert seen == page, "page and API disagree"
    w.api.post(f"/api/v1/referral-imports/{referral.pk}/choices", {"leave": ["e2"]}, content_type="application/json")
    chose = ReferralChoice.objects.filter(referral=referral).exists()
    assert seen == chose, "reading and choosing disagree"
    return chose


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.REFERRAL_UPLOAD: (_referral_upload, True),
    Action.REFERRAL_REVIEW: (_referral_review, True),
}

"""The demo clinic through the FHIR face: every resource every stream gives for every demo patient validates with
the fhir.resources R4B models, and no therapy note's text is in any of them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.fhirresourcemodel import FHIRResourceModel
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.patients.models import Patient
from kapclinic.therapy.models import TherapyNote
from tests.test_fhir import VALIDATORS

MODELS: dict[str, type[FHIRResourceModel]] = {
    **VALIDATORS,
    "MedicationAdministration": MedicationAdministration,
    "MedicationRequest": MedicationRequest,
    "Encounter": Encounter,
    "Condition": Condition,
    "AllergyIntolerance": AllergyIntolerance,
    "CarePlan": CarePlan,
    "Consent": Consent,
    "Appointment": Appointment,
    "QuestionnaireResponse": QuestionnaireResponse,
    "Provenance": Provenance,
}


@pytest.mark.django_db
def test_every_demo_resource_validates_and_holds_no_note_text() -> None:
    call_command("demo_load", "--quiet")
    patients = list(Patient.objects.values_list("pk", flat=True))
    counts: dict[str, int] = {}
    text: list[str] = []
    for kind, stream in BULK_TYPES.items():
        model = MODELS[kind]
        for resource in stream(patients, None):
            model.model_validate(resource)
            counts[kind] = counts.get(kind, 0) + 1
            text.append(json.dumps(resource))
    everything = "\n".join(text)
    bodies: list[Any] = list(TherapyNote.objects.values_list("body", flat=True))
    assert bodies and not [body for body in bodies if len(body) > 20 and body in everything]
    assert {"Patient", "Observation", "MedicationAdministration", "MedicationRequest", "Encounter"} <= set(counts)
    assert {"QuestionnaireResponse", "Provenance"} <= set(counts)

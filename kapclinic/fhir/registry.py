"""Every FHIR type the server holds, as a stream of resources for a set of patients (the Bulk Data exporter's
source, kapclinic/fhir/bulk.py): `BULK_TYPES[type](patient_ids, since)` yields that type's resources for those
patients, changed or recorded since `since` when given. Each stream reads in chunks (iterator(chunk_size=2000)) with
what its builder needs joined or annotated up front: no query per row, memory flat in the number of rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef

from kapclinic.dosing.models import VitalSign
from kapclinic.fhir import conditions, encounters, medications, plans
from kapclinic.fhir.reads import _SCORED  # the instruments whose total is an Observation
from kapclinic.fhir.resources import Resource, patient_resource, score_observation, vital_observations
from kapclinic.fhir.search import SUPPORTED
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.patients.models import Patient

CHUNK = 2000
ResourcesFor = Callable[[list[int], datetime | None], Iterator[Resource]]


def patient_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    rows = Patient.objects.filter(pk__in=patient_ids)
    if since is not None:
        rows = rows.filter(updated_at__gte=since)
    system = settings.KAPCLINIC_FHIR_MRN_SYSTEM
    for patient in rows.order_by("id").iterator(chunk_size=CHUNK):
        yield patient_resource(patient, mrn_system=system)


def observation_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    """Vital signs (each set up to four observations) and questionnaire totals that are a sum (resources.py)."""
    vitals = VitalSign.objects.select_related("session").filter(session__patient_id__in=patient_ids)
    vitals = vitals.annotate(replaced=Exists(VitalSign.objects.filter(corrects_id=OuterRef("pk"))))
    scores = QuestionnaireResponse.objects.filter(
        patient_id__in=patient_ids, total__isnull=False, instrument__in=_SCORED
    ).annotate(replaced=Exists(QuestionnaireResponse.objects.filter(corrects_id=OuterRef("pk"))))
    if since is not None:
        vitals = vitals.filter(recorded_at__gte=since)
        scores = scores.filter(submitted_at__gte=since)
    for vital in vitals.order_by("id").iterator(chunk_size=CHUNK):
        yield from vital_observations([vital], None, superseded={vital.pk} if vital.replaced else set())
    for response in scores.order_by("id").iterator(chunk_size=CHUNK):
        yield score_observation(response, superseded=response.replaced)


BULK_TYPES: dict[str, ResourcesFor] = {
    "Patient": patient_resources_for,
    "Observation": observation_resources_for,
    "MedicationAdministration": medications.administration_resources_for,
    "MedicationRequest": medications.order_resources_for,
    "Encounter": encounters.encounter_resources_for,
    "Condition": conditions.condition_resources_for,
    "AllergyIntolerance": conditions.allergy_resources_for,
    "CarePlan": plans.careplan_resources_for,
    "Consent": plans.consent_resources_for,
    "Appointment": plans.appointment_resources_for,
}

# Every searchable type bound to a patient streams (Practitioner is staff, not a patient's record).
assert set(BULK_TYPES) == set(SUPPORTED) - {"Practitioner"}, "register each new FHIR type's stream here"

"""The resource types a Bulk Data export can write, each a streaming builder (issue 17, item 3).

`BULK_TYPES[type](patient_ids, since)` yields that type's resources for one chunk of patients, changed at or after
`since` when given: a few queries per chunk whatever its size (no query per row), rows read with .iterator() so a
chunk is never held whole. The resources are the FHIR face's own (resources.py), given rows rather than model
instances: a named tuple of exactly the fields the resource function reads, from values_list (making a model
instance per row cost more than building the resource). A resource function that starts reading another field
needs it added here (the tests fail with an AttributeError until it is). Psychotherapy notes are never a type here.
The other types stream model instances with what their builders need joined up front (their modules' *_for).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.db.models import Q, QuerySet

from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.dosing.models import VitalSign
from kapclinic.fhir import conditions, encounters, medications, part2, plans, provenance, questionnaires
from kapclinic.fhir.resources import patient_resource, score_code, score_observation, vital_set_observations
from kapclinic.fhir.search import SUPPORTED
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.patients.models import Patient

Resource = dict[str, Any]
Builder = Callable[[list[int], datetime | None], Iterator[Resource]]
ROWS_PER_FETCH = 2000


class PatientRow(NamedTuple):
    pk: int
    mrn: str
    family_name: str
    given_name: str
    preferred_name: str
    birth_date: date
    sex_at_birth: str
    preferred_language: str
    phone: str
    email: str
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    country: str
    updated_at: datetime


class VitalRow(NamedTuple):
    pk: int
    measured_at: datetime
    recorded_at: datetime
    recorded_by_id: int
    corrects_id: int | None
    systolic: int | None
    diastolic: int | None
    heart_rate: int | None
    spo2: int | None
    respiratory_rate: int | None
    patient_id: int  # the session's


class ScoreRow(NamedTuple):
    pk: int
    patient_id: int
    instrument: str
    total: int | None
    source: str
    entered_by_id: int
    submitted_at: datetime
    corrects_id: int | None


_VITAL_FIELDS = (*VitalRow._fields[:-1], "session__patient_id")
_SCORED = [code for code in INSTRUMENTS if score_code(code) is not None]


def _rows(rows: QuerySet[Any], fields: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    return rows.order_by("pk").values_list(*fields).iterator(chunk_size=ROWS_PER_FETCH)


def patients_bulk(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    rows = Patient.objects.filter(pk__in=patient_ids)
    if since is not None:
        rows = rows.filter(updated_at__gte=since)
    system = settings.KAPCLINIC_FHIR_MRN_SYSTEM
    for row in _rows(rows, PatientRow._fields):
        yield patient_resource(cast(Patient, PatientRow(*row)), mrn_system=system)


def _vitals(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    """Each set of vital signs as its observations. A reading a later correction replaced is entered-in-error:
    with `since`, a reading whose correction came after `since` is written again with that status."""
    of_chunk = VitalSign.objects.filter(session__patient_id__in=patient_ids)
    corrected = of_chunk.filter(corrects__isnull=False)
    superseded = set(corrected.values_list("corrects_id", flat=True))
    rows = of_chunk
    if since is not None:
        changed = corrected.filter(recorded_at__gte=since).values_list("corrects_id", flat=True)
        rows = rows.filter(Q(recorded_at__gte=since) | Q(pk__in=list(changed)))
    for row in _rows(rows, _VITAL_FIELDS):
        vital = VitalRow(*row)
        yield from vital_set_observations(
            cast(VitalSign, vital), patient_id=vital.patient_id, superseded=vital.pk in superseded
        )


def _scores(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    """Questionnaire totals (PHQ-9, GAD-7, ... each a sum with a LOINC code) as screening observations."""
    of_chunk = QuestionnaireResponse.objects.filter(
        patient_id__in=patient_ids, total__isnull=False, instrument__in=_SCORED
    )
    corrected = of_chunk.filter(corrects__isnull=False)
    superseded = set(corrected.values_list("corrects_id", flat=True))
    rows = of_chunk
    if since is not None:
        changed = corrected.filter(submitted_at__gte=since).values_list("corrects_id", flat=True)
        rows = rows.filter(Q(submitted_at__gte=since) | Q(pk__in=list(changed)))
    for row in _rows(rows, ScoreRow._fields):
        response = ScoreRow(*row)
        yield score_observation(cast(QuestionnaireResponse, response), superseded=response.pk in superseded)


def observations_bulk(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    yield from _vitals(patient_ids, since)
    yield from _scores(patient_ids, since)


BULK_TYPES: dict[str, Builder] = {
    "Patient": patients_bulk,
    "Observation": observations_bulk,
    "MedicationAdministration": medications.administration_resources_for,
    "MedicationRequest": medications.order_resources_for,
    "Encounter": encounters.encounter_resources_for,
    "Condition": conditions.condition_resources_for,
    "AllergyIntolerance": conditions.allergy_resources_for,
    "CarePlan": plans.careplan_resources_for,
    "Consent": plans.consent_resources_for,
    "Appointment": plans.appointment_resources_for,
    "QuestionnaireResponse": questionnaires.response_resources_for,
    "Provenance": provenance.provenance_resources_for,
}
# 42 CFR Part 2 (part2.py): each stream labels the resources of its chunk's Part 2 patients (untouched when the
# clinic is not a Part 2 program).
BULK_TYPES.update({kind: part2.labelled_builder(builder) for kind, builder in BULK_TYPES.items()})

# Every searchable type bound to a patient streams. Not: Practitioner (staff, not a patient's record),
# Questionnaire (the instruments, the same for everyone), AuditEvent (the audit trail is read where it is, by the
# director and the auditor, never exported with a patient's record).
NOT_EXPORTED = {"Practitioner", "Questionnaire", "AuditEvent"}
assert set(BULK_TYPES) == set(SUPPORTED) - NOT_EXPORTED, "register each new FHIR type's stream here"

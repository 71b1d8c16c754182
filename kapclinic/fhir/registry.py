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
from itertools import chain
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, Func, Q, QuerySet
from django.db.models.sql.compiler import SQLCompiler

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
    updated_at: str  # its instant text (InstantText), as the other rows' times


class VitalRow(NamedTuple):
    pk: int
    measured_at: str
    recorded_at: str
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
    submitted_at: str
    corrects_id: int | None


_VITAL_FIELDS = (*VitalRow._fields[:-1], "session__patient_id")
_SCORED = [code for code in INSTRUMENTS if score_code(code) is not None]
_TIMES = {"updated_at", "measured_at", "recorded_at", "submitted_at"}


class InstantText(Func):
    """A timestamp column as its FHIR instant text, written by the database: UTC to the second, the same text as
    resources.instant() of the aware datetime Django would read (tests compare them, on both databases). The export
    then neither parses a datetime per column (Django's converters) nor formats it back: a row of plain values."""

    output_field = CharField()
    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')"

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        # SQLite keeps a datetime as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]" (Django's adapter).
        template = "strftime('%%%%Y-%%%%m-%%%%dT%%%%H:%%%%M:%%%%S+00:00', %(expressions)s)"
        sql, params = super().as_sql(compiler, connection, template=template, **extra_context)
        return sql, list(params)


def _select(fields: tuple[str, ...]) -> list[str | InstantText]:
    """The columns to read for a row type, its times as their instant text."""
    return [InstantText(name) if name in _TIMES else name for name in fields]


def _rows(rows: QuerySet[Any], fields: list[str | InstantText]) -> Iterator[tuple[Any, ...]]:
    return rows.order_by("pk").values_list(*fields).iterator(chunk_size=ROWS_PER_FETCH)


_PATIENT_SELECT = _select(PatientRow._fields)
_VITAL_SELECT = _select(_VITAL_FIELDS)
_SCORE_SELECT = _select(ScoreRow._fields)


def patients_bulk(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    rows = Patient.objects.filter(pk__in=patient_ids)
    if since is not None:
        rows = rows.filter(updated_at__gte=since)
    system = settings.KAPCLINIC_FHIR_MRN_SYSTEM
    for row in _rows(rows, _PATIENT_SELECT):
        yield patient_resource(cast(Patient, PatientRow._make(row)), mrn_system=system)


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

    def observations(row: tuple[Any, ...]) -> list[Resource]:
        vital = VitalRow._make(row)
        return vital_set_observations(
            cast(VitalSign, vital), patient_id=vital.patient_id, superseded=vital.pk in superseded
        )

    return chain.from_iterable(map(observations, _rows(rows, _VITAL_SELECT)))


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

    def observation(row: tuple[Any, ...]) -> Resource:
        response = ScoreRow._make(row)
        return score_observation(cast(QuestionnaireResponse, response), superseded=response.pk in superseded)

    return map(observation, _rows(rows, _SCORE_SELECT))


def observations_bulk(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    # Plain iterators chained (no generator frame resumed per resource); each stream's queries run when it starts.
    return chain.from_iterable(stream(patient_ids, since) for stream in (_vitals, _scores))


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

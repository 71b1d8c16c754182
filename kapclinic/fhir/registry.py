"""The resource types a Bulk Data export can write, each a streaming builder (issue 17, item 3).

`BULK_TYPES[type](patient_ids, since)` yields that type's resources for one chunk of patients, changed at or after
`since` when given: a few queries per chunk whatever its size (no query per row), rows read with .iterator() so a
chunk is never held whole. The resources are the FHIR face's own (resources.py); psychotherapy notes are never a
type here. Other resource types join this table as their builders arrive (MERGE NOTE: the branch that adds them
extends the same dict).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import F, Q

from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.dosing.models import VitalSign
from kapclinic.fhir.resources import patient_resource, score_code, score_observation, vital_keys, vital_observation
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.patients.models import Patient

Resource = dict[str, Any]
Builder = Callable[[list[int], datetime | None], Iterator[Resource]]
ROWS_PER_FETCH = 2000


def patients_bulk(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    rows = Patient.objects.filter(pk__in=patient_ids)
    if since is not None:
        rows = rows.filter(updated_at__gte=since)
    system = settings.KAPCLINIC_FHIR_MRN_SYSTEM
    for patient in rows.order_by("pk").iterator(chunk_size=ROWS_PER_FETCH):
        yield patient_resource(patient, mrn_system=system)


_VITAL_FIELDS = (
    "id", "measured_at", "recorded_at", "recorded_by_id", "corrects_id",
    "systolic", "diastolic", "heart_rate", "spo2", "respiratory_rate",
)  # fmt: skip
_SCORED = [code for code in INSTRUMENTS if score_code(code) is not None]


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
    rows = rows.only(*_VITAL_FIELDS).annotate(export_patient_id=F("session__patient_id"))
    for vital in rows.order_by("pk").iterator(chunk_size=ROWS_PER_FETCH):
        patient_id = vital.export_patient_id  # type: ignore[attr-defined]  # the annotation
        replaced = vital.pk in superseded
        for key in vital_keys(vital):
            yield vital_observation(vital, key, patient_id=patient_id, superseded=replaced)


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
    rows = rows.only(
        "id", "patient_id", "instrument", "total", "source", "entered_by_id", "submitted_at", "corrects_id"
    )
    for response in rows.order_by("pk").iterator(chunk_size=ROWS_PER_FETCH):
        yield score_observation(response, superseded=response.pk in superseded)


def observations_bulk(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    yield from _vitals(patient_ids, since)
    yield from _scores(patient_ids, since)


BULK_TYPES: dict[str, Builder] = {"Patient": patients_bulk, "Observation": observations_bulk}

"""42 CFR Part 2 on the FHIR face (issue 17, item 2): every resource about a patient whose records are Part 2 records
(kapclinic/clinical/part2.py: the clinic is a Part 2 program, KAPCLINIC_PART2_PROGRAM, and treats or diagnoses the
patient for a substance use disorder) carries the Part 2 security labels in meta.security and the redisclosure
notice (42 CFR 2.32) in a meta extension, in reads, searches and bulk export alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from django.conf import settings

from kapclinic.clinical.part2 import LABELS, REDISCLOSURE_NOTICE, is_substance_use_disorder
from kapclinic.intake.models import Evaluation
from kapclinic.plans.models import TreatmentPlan

Resource = dict[str, Any]
NOTICE_EXTENSION = "urn:kapclinic:fhir:redisclosure-notice"
SECURITY = [{"system": system, "code": code, "display": display} for system, code, display in LABELS]


def part2_program() -> bool:
    return bool(settings.KAPCLINIC_PART2_PROGRAM)


def part2_patients(patient_ids: Iterable[int]) -> set[int]:
    """Of these patients, those whose records are Part 2 records (none when the clinic is not a Part 2 program): a
    plan's indication or the evaluation's diagnoses name a substance use disorder. Two queries."""
    ids = sorted(set(patient_ids))
    if not ids or not part2_program():
        return set()
    found = {
        pid
        for pid, code in TreatmentPlan.objects.filter(patient_id__in=ids).values_list("patient_id", "indication_code")
        if is_substance_use_disorder(code)
    }
    for pid, data in (
        Evaluation.objects.filter(patient_id__in=ids).exclude(patient_id__in=found).values_list("patient_id", "data")
    ):
        diagnoses = data.get("diagnoses") if isinstance(data, dict) else None
        if isinstance(diagnoses, list) and any(isinstance(c, str) and is_substance_use_disorder(c) for c in diagnoses):
            found.add(pid)
    return found


def patient_of(resource: Resource) -> int | None:
    """The patient a resource is about: a Patient itself, or its subject/patient (a Provenance: its patient's)."""
    if resource.get("resourceType") == "Patient":
        raw = str(resource.get("id", ""))
        return int(raw) if raw.isdigit() else None
    for field in ("subject", "patient"):
        reference = resource.get(field)
        if isinstance(reference, dict):
            raw = str(reference.get("reference", ""))
            if raw.startswith("Patient/") and raw[8:].isdigit():
                return int(raw[8:])
    return None


def label(resource: Resource) -> Resource:
    """The resource with the Part 2 labels and notice (a new meta: the builders share meta dicts between
    resources)."""
    meta = dict(resource.get("meta") or {})
    meta["security"] = [*meta.get("security", []), *SECURITY]
    meta["extension"] = [*meta.get("extension", []), {"url": NOTICE_EXTENSION, "valueString": REDISCLOSURE_NOTICE}]
    resource["meta"] = meta
    return resource


def labelled_answer(body: Resource) -> Resource:
    """A read's resource or a searchset's entries, labelled where their patient's records are Part 2 records."""
    if not part2_program():
        return body
    if body.get("resourceType") == "Bundle":
        resources = [entry["resource"] for entry in body.get("entry", []) if "resource" in entry]
    else:
        resources = [body]
    flagged = part2_patients(pid for r in resources if (pid := patient_of(r)) is not None)
    for resource in resources:
        if patient_of(resource) in flagged:
            label(resource)
    return body


Builder = Callable[[list[int], datetime | None], Iterator[Resource]]


def labelled_builder(builder: Builder) -> Builder:
    """A bulk stream that labels the Part 2 patients' resources of each chunk (one lookup per chunk; the stream
    itself, untouched, when the clinic is not a Part 2 program)."""

    def stream(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
        flagged = part2_patients(patient_ids)
        if not flagged:
            return builder(patient_ids, since)
        return (label(r) if patient_of(r) in flagged else r for r in builder(patient_ids, since))

    stream.__name__ = getattr(builder, "__name__", "stream")
    stream.__doc__ = builder.__doc__
    return stream

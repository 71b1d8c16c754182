"""Diagnoses and allergies as US Core Condition and AllergyIntolerance resources; reads, searches and bulk streams.

Conditions: the indication of each signed plan not replaced by a signed plan (id pl-<plan id>, a problem-list item)
and the ICD-10-CM diagnoses of the prescriber's evaluation (id ev-<evaluation id>-<code>, encounter diagnoses).
Allergies: the evaluation's list (free text, id ev-<evaluation id>-<position>: an edited list renumbers them), or,
when the list was asked and is empty, one "no known drug allergy" (SNOMED CT 409137002, the form's own words;
not in codes.md: [verify]). An evaluation that never asked about allergies gives none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from kapclinic.audit.context import AuditContext
from kapclinic.errors import NotFound
from kapclinic.fhir.doors import read_door, record_pk, search_door, search_record
from kapclinic.fhir.medications import ICD10CM, SNOMED
from kapclinic.fhir.resources import Resource, instant
from kapclinic.fhir.search import Search, Token
from kapclinic.fhir.terminology import US_CORE
from kapclinic.intake.models import Evaluation
from kapclinic.plans.models import TreatmentPlan
from kapclinic.roles import Action

US_CORE_PROBLEMS = f"{US_CORE}/StructureDefinition/us-core-condition-problems-health-concerns"
US_CORE_ENCOUNTER_DIAGNOSIS = f"{US_CORE}/StructureDefinition/us-core-condition-encounter-diagnosis"
US_CORE_ALLERGY = f"{US_CORE}/StructureDefinition/us-core-allergyintolerance"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
NO_KNOWN_DRUG_ALLERGY = ("409137002", "No known drug allergy")  # [verify]: not in codes.md
CATEGORY_DISPLAY = {"problem-list-item": "Problem List Item", "encounter-diagnosis": "Encounter Diagnosis"}
ACTION = Action.PATIENT_VIEW_CLINICAL


def _coded(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _condition(
    *, id: str, category: str, profile: str, patient_id: int, code: str, text: str, recorded: datetime, by: int | None
) -> Resource:
    resource: Resource = {
        "resourceType": "Condition",
        "id": id,
        "meta": {"profile": [profile], "lastUpdated": instant(recorded)},
        "clinicalStatus": _coded(CONDITION_CLINICAL, "active", "Active"),
        "verificationStatus": _coded(CONDITION_VERIFICATION, "confirmed", "Confirmed"),
        "category": [_coded(CONDITION_CATEGORY, category, CATEGORY_DISPLAY[category])],
        "code": {"coding": [{"system": ICD10CM, "code": code}], "text": text},
        "subject": {"reference": f"Patient/{patient_id}"},
        "recordedDate": instant(recorded),
    }
    if by is not None:
        resource["recorder"] = {"reference": f"Practitioner/{by}"}
    return resource


def indication_condition(plan: TreatmentPlan) -> Resource:
    """The plan's indication: the problem the course treats."""
    assert plan.signed_at is not None
    return _condition(
        id=f"pl-{plan.pk}",
        category="problem-list-item",
        profile=US_CORE_PROBLEMS,
        patient_id=plan.patient_id,
        code=plan.indication_code,
        text=plan.indication_text or plan.indication_code,
        recorded=plan.signed_at,
        by=plan.signed_by_id,
    )


def _diagnoses(evaluation: Evaluation) -> list[str]:
    found = evaluation.data.get("diagnoses")
    if not isinstance(found, list):
        return []
    return [code for code in found if isinstance(code, str) and code and len(code) <= 10]


def diagnosis_conditions(evaluation: Evaluation) -> list[Resource]:
    """The evaluation's diagnoses, each an encounter diagnosis of the evaluation."""
    return [
        _condition(
            id=f"ev-{evaluation.pk}-{code}",
            category="encounter-diagnosis",
            profile=US_CORE_ENCOUNTER_DIAGNOSIS,
            patient_id=evaluation.patient_id,
            code=code,
            text=code,
            recorded=evaluation.updated_at,
            by=evaluation.recorded_by_id,
        )
        for code in _diagnoses(evaluation)
    ]


def allergy_resources(evaluation: Evaluation) -> list[Resource]:
    """The evaluation's drug allergies as recorded (text), or one "no known drug allergy" when none were found."""
    found = evaluation.data.get("allergies")
    if not isinstance(found, list):
        return []
    names = [name for name in found if isinstance(name, str) and name.strip()]

    def allergy(id: str, code: dict[str, Any]) -> Resource:
        return {
            "resourceType": "AllergyIntolerance",
            "id": id,
            "meta": {"profile": [US_CORE_ALLERGY], "lastUpdated": instant(evaluation.updated_at)},
            "clinicalStatus": _coded(ALLERGY_CLINICAL, "active", "Active"),
            "verificationStatus": _coded(ALLERGY_VERIFICATION, "confirmed", "Confirmed"),
            "category": ["medication"],
            "code": code,
            "patient": {"reference": f"Patient/{evaluation.patient_id}"},
            "recordedDate": instant(evaluation.updated_at),
            "recorder": {"reference": f"Practitioner/{evaluation.recorded_by_id}"},
        }

    if not names:
        code, display = NO_KNOWN_DRUG_ALLERGY
        return [allergy(f"ev-{evaluation.pk}-nka", {**_coded(SNOMED, code, display), "text": display})]
    return [allergy(f"ev-{evaluation.pk}-{n}", {"text": name.strip()}) for n, name in enumerate(names, 1)]


# --- reads and searches --------------------------------------------------------------------------------------


def _plans() -> QuerySet[TreatmentPlan]:
    """Signed plans not replaced by a later signed plan: the indications in force."""
    replaced = TreatmentPlan.objects.filter(supersedes_id=OuterRef("pk"), signed_at__isnull=False)
    return TreatmentPlan.objects.filter(signed_at__isnull=False).exclude(Exists(replaced))


def _split(raw: str) -> tuple[str, int | None, str]:
    """ "pl-<id>" or "ev-<id>-<part>" → (kind, id, part)."""
    kind, _, rest = raw.partition("-")
    number, _, part = rest.partition("-")
    pk = record_pk(number)
    if pk is None or kind not in ("pl", "ev") or (kind == "pl") == bool(part):
        return "", None, ""
    return kind, pk, part


def condition_read(*, ctx: AuditContext, condition_id: str) -> Resource:
    kind, pk, _ = _split(condition_id)
    if kind == "pl":
        plan = _plans().filter(pk=pk or 0).first()
        if plan is not None:
            read_patient(ctx, plan.patient_id)
            return indication_condition(plan)
    elif kind == "ev":
        evaluation = Evaluation.objects.filter(pk=pk or 0).first()
        if evaluation is not None:
            for resource in diagnosis_conditions(evaluation):
                if resource["id"] == condition_id:
                    read_patient(ctx, evaluation.patient_id)
                    return resource
    raise NotFound("No condition with that id.")


def allergy_read(*, ctx: AuditContext, allergy_id: str) -> Resource:
    kind, pk, _ = _split(allergy_id)
    evaluation = Evaluation.objects.filter(pk=pk or 0).first() if kind == "ev" else None
    if evaluation is not None:
        for resource in allergy_resources(evaluation):
            if resource["id"] == allergy_id:
                read_patient(ctx, evaluation.patient_id)
                return resource
    raise NotFound("No allergy or intolerance with that id.")


def read_patient(ctx: AuditContext, patient_id: int) -> None:
    read_door(ctx=ctx, patient_id=patient_id, action=ACTION)


def _codes(tokens: list[Token] | None, system: str) -> set[str] | None:
    return None if tokens is None else {tk.code for tk in tokens if tk.system in (None, system)}


def _page(search: Search, found: Iterable[Resource], patient_of: Any) -> tuple[list[Resource], bool, list[int]]:
    window: list[Resource] = []
    for n, resource in enumerate(found):
        if n >= search.offset:
            window.append(resource)
            if len(window) > search.count:
                break
    page = window[: search.count]
    return page, len(window) > search.count, [patient_of(r) for r in page]


def _subject(resource: Resource) -> int:
    reference: str = (resource.get("subject") or resource["patient"])["reference"]
    return int(reference.removeprefix("Patient/"))


def condition_search(*, ctx: AuditContext, search: Search) -> tuple[list[Resource], bool]:
    """A patient's conditions (plan indications, then evaluation diagnoses, by patient), filtered by category,
    clinical status and id."""
    door = search_door(ctx=ctx, search=search, action=ACTION)
    plans, evaluations = _plans(), Evaluation.objects.all()
    if door.named is not None:
        plans = plans.filter(patient_id__in=list(door.named))
        evaluations = evaluations.filter(patient_id__in=list(door.named))
    categories = _codes(search.tokens.get("category"), CONDITION_CATEGORY)
    statuses = _codes(search.tokens.get("clinical-status"), CONDITION_CLINICAL)
    wanted = {tk.code for tk in search.tokens["_id"]} if "_id" in search.tokens else None
    if wanted is not None:
        picked = [_split(code) for code in wanted]
        plans = plans.filter(pk__in=[pk for kind, pk, _ in picked if kind == "pl"])
        evaluations = evaluations.filter(pk__in=[pk for kind, pk, _ in picked if kind == "ev"])
    if categories is not None and "problem-list-item" not in categories:
        plans = plans.none()
    if categories is not None and "encounter-diagnosis" not in categories:
        evaluations = evaluations.none()
    if statuses is not None and "active" not in statuses:
        plans, evaluations = plans.none(), evaluations.none()

    def found() -> Iterator[Resource]:
        for plan in plans.order_by("patient_id", "-signed_at", "-id").iterator(chunk_size=500):
            yield indication_condition(plan)
        for evaluation in evaluations.order_by("patient_id", "id").iterator(chunk_size=500):
            for resource in diagnosis_conditions(evaluation):
                if wanted is None or resource["id"] in wanted:
                    yield resource

    page, more, shown = _page(search, found(), _subject)
    search_record(ctx=ctx, door=door, search=search, shown=shown)
    return page, more


def allergy_search(*, ctx: AuditContext, search: Search) -> tuple[list[Resource], bool]:
    door = search_door(ctx=ctx, search=search, action=ACTION)
    evaluations = Evaluation.objects.all()
    if door.named is not None:
        evaluations = evaluations.filter(patient_id__in=list(door.named))
    statuses = _codes(search.tokens.get("clinical-status"), ALLERGY_CLINICAL)
    wanted = {tk.code for tk in search.tokens["_id"]} if "_id" in search.tokens else None
    if wanted is not None:
        evaluations = evaluations.filter(pk__in=[pk for kind, pk, _ in map(_split, wanted) if kind == "ev"])
    if statuses is not None and "active" not in statuses:
        evaluations = evaluations.none()

    def found() -> Iterator[Resource]:
        for evaluation in evaluations.order_by("patient_id", "id").iterator(chunk_size=500):
            for resource in allergy_resources(evaluation):
                if wanted is None or resource["id"] in wanted:
                    yield resource

    page, more, shown = _page(search, found(), _subject)
    search_record(ctx=ctx, door=door, search=search, shown=shown)
    return page, more


# --- bulk streams --------------------------------------------------------------------------------------------


def condition_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    plans = _plans().filter(patient_id__in=patient_ids)
    evaluations = Evaluation.objects.filter(patient_id__in=patient_ids)
    if since is not None:
        plans = plans.filter(signed_at__gte=since)
        evaluations = evaluations.filter(updated_at__gte=since)
    for plan in plans.order_by("id").iterator(chunk_size=2000):
        yield indication_condition(plan)
    for evaluation in evaluations.order_by("id").iterator(chunk_size=2000):
        yield from diagnosis_conditions(evaluation)


def allergy_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    evaluations = Evaluation.objects.filter(patient_id__in=patient_ids)
    if since is not None:
        evaluations = evaluations.filter(updated_at__gte=since)
    for evaluation in evaluations.order_by("id").iterator(chunk_size=2000):
        yield from allergy_resources(evaluation)

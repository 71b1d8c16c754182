"""Who signed or recorded what, when, as US Core Provenance (issue 17, item 1): read, search (patient, target),
`_revinclude=Provenance:target` on the other types' searches, and the bulk stream.

One Provenance per signed or recorded record the FHIR face shows, its id the record's kind and row id:
  mr-<id>  the prescriber's signed dose order (MedicationRequest), signed with a digest
  ma-<id>  the nurse's record of the dose given (MedicationAdministration)
  cp-<id>  the signed treatment plan (CarePlan, and its indication, Condition/pl-<id>), signed with a digest
  co-<id>  the patient's consent signature (Consent), signed with a digest
  ds-<id>  the signed dosing session record (Encounter/ds-<id>), signed with a digest
  ev-<id>  the evaluation's diagnoses and allergies (Condition and AllergyIntolerance ev-<id>-...), recorded
  qr-<id>  a questionnaire response (QuestionnaireResponse, and its total, Observation/qr-<id>-total)
  vs-<id>  a set of vital signs (its Observations vs-<id>-<key>)
Therapy notes are not FHIR resources here (no note text, never a psychotherapy process note, leaves through
FHIR), so no Provenance names them. A signature is given as who signed and when (the record's digest is a hash
of its content, not a signature a recipient could verify: it is not sent).
A Provenance is read as a clinical record of its patient (PATIENT_VIEW_CLINICAL)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Model, QuerySet

from kapclinic.audit.context import AuditContext
from kapclinic.consent.models import ConsentSignature
from kapclinic.dosing.models import Administration, DoseOrder, DosingSession, VitalSign
from kapclinic.errors import NotFound
from kapclinic.fhir import part2
from kapclinic.fhir.conditions import allergy_resources, diagnosis_conditions
from kapclinic.fhir.doors import read_door, record_pk, search_door, search_record
from kapclinic.fhir.resources import Resource, instant, score_code, vital_keys
from kapclinic.fhir.search import Search, SearchError
from kapclinic.fhir.terminology import US_CORE
from kapclinic.intake.models import Evaluation
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.plans.models import TreatmentPlan
from kapclinic.roles import Action

US_CORE_PROVENANCE = f"{US_CORE}/StructureDefinition/us-core-provenance"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"
AUTHOR_SIGNATURE = ("1.2.840.10065.1.12.1.1", "Author's Signature")
ACTION = Action.PATIENT_VIEW_CLINICAL


@dataclass(frozen=True)
class Signing:
    """What one Provenance says: the records, who, when, whether signed."""

    patient_id: int
    targets: list[str]
    who: str  # "Practitioner/<id>" or "Patient/<id>"
    recorded: datetime
    signed: bool
    role: str = "author"


def provenance_resource(kind: str, pk: int, signing: Signing) -> Resource:
    """A US Core Provenance: the targets, when recorded, the author (on behalf of the clinic when staff: US Core's
    provenance-1 asks onBehalfOf of a Practitioner agent; the clinic has no Organization resource, so by name)."""
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": signing.role, "display": signing.role.title()}]},
        "who": {"reference": signing.who},
    }
    if signing.who.startswith("Practitioner/"):
        agent["onBehalfOf"] = {"display": settings.KAPCLINIC_CLINIC_NAME}
    resource: Resource = {
        "resourceType": "Provenance",
        "id": f"{kind}-{pk}",
        "meta": {"profile": [US_CORE_PROVENANCE]},
        "target": [{"reference": target} for target in signing.targets],
        "recorded": instant(signing.recorded),
        "agent": [agent],
    }
    if signing.signed:
        code, display = AUTHOR_SIGNATURE
        resource["signature"] = [
            {
                "type": [{"system": SIGNATURE_TYPE, "code": code, "display": display}],
                "when": instant(signing.recorded),
                "who": {"reference": signing.who},
            }
        ]
    return resource


def _order(o: DoseOrder) -> Signing:
    return Signing(
        o.session.patient_id, [f"MedicationRequest/{o.pk}"], f"Practitioner/{o.signed_by_id}", o.signed_at, True
    )


def _administration(a: Administration) -> Signing:
    return Signing(
        a.session.patient_id, [f"MedicationAdministration/{a.pk}"], f"Practitioner/{a.by_id}", a.at, False, "performer"
    )


def _plan(p: TreatmentPlan) -> Signing:
    assert p.signed_at is not None
    return Signing(
        p.patient_id, [f"CarePlan/{p.pk}", f"Condition/pl-{p.pk}"], f"Practitioner/{p.signed_by_id}", p.signed_at, True
    )


def _consent(s: ConsentSignature) -> Signing:
    return Signing(s.patient_id, [f"Consent/{s.pk}"], f"Patient/{s.patient_id}", s.signed_at, True)


def _session(s: DosingSession) -> Signing:
    assert s.signed_at is not None
    return Signing(s.patient_id, [f"Encounter/ds-{s.pk}"], f"Practitioner/{s.signed_by_id}", s.signed_at, True)


def _evaluation(e: Evaluation) -> Signing:
    targets = [f"{r['resourceType']}/{r['id']}" for r in (*diagnosis_conditions(e), *allergy_resources(e))]
    return Signing(e.patient_id, targets, f"Practitioner/{e.recorded_by_id}", e.updated_at, False)


def _response(r: QuestionnaireResponse) -> Signing:
    who = f"Patient/{r.patient_id}" if r.source == "portal" else f"Practitioner/{r.entered_by_id}"
    targets = [f"QuestionnaireResponse/{r.pk}"]
    if r.total is not None and score_code(r.instrument) is not None:  # its total is an Observation too
        targets.append(f"Observation/qr-{r.pk}-total")
    return Signing(r.patient_id, targets, who, r.submitted_at, False)


def _vitals(v: VitalSign) -> Signing:
    targets = [f"Observation/vs-{v.pk}-{key}" for key in vital_keys(v)]
    return Signing(v.session.patient_id, targets, f"Practitioner/{v.recorded_by_id}", v.recorded_at, False)


@dataclass(frozen=True)
class Source:
    """One kind of record with a Provenance: its rows, their patient's field, and what its Provenance says."""

    rows: Callable[[], QuerySet[Any]]
    patient_field: str
    signing: Callable[[Any], Signing]
    changed_field: str


SOURCES: dict[str, Source] = {
    "mr": Source(lambda: DoseOrder.objects.select_related("session"), "session__patient_id", _order, "signed_at"),
    "ma": Source(
        lambda: Administration.objects.select_related("session"), "session__patient_id", _administration, "at"
    ),
    "cp": Source(lambda: TreatmentPlan.objects.filter(signed_at__isnull=False), "patient_id", _plan, "signed_at"),
    "co": Source(lambda: ConsentSignature.objects.all(), "patient_id", _consent, "signed_at"),
    "ds": Source(lambda: DosingSession.objects.filter(signed_at__isnull=False), "patient_id", _session, "signed_at"),
    "ev": Source(lambda: Evaluation.objects.all(), "patient_id", _evaluation, "updated_at"),
    "qr": Source(lambda: QuestionnaireResponse.objects.all(), "patient_id", _response, "submitted_at"),
    "vs": Source(lambda: VitalSign.objects.select_related("session"), "session__patient_id", _vitals, "recorded_at"),
}
# Which Provenance kind names a target, by its reference ("MedicationRequest/12" → mr-12; "Observation/vs-3-bp" →
# vs-3): the target's type, and how its id gives the Provenance's row id.
_TARGET_KINDS: dict[str, Callable[[str], tuple[str, str] | None]] = {
    "MedicationRequest": lambda raw: ("mr", raw),
    "MedicationAdministration": lambda raw: ("ma", raw),
    "CarePlan": lambda raw: ("cp", raw),
    "Consent": lambda raw: ("co", raw),
    "QuestionnaireResponse": lambda raw: ("qr", raw),
    "Encounter": lambda raw: ("ds", raw[3:]) if raw.startswith("ds-") else None,
    "Condition": lambda raw: ("cp", raw[3:]) if raw.startswith("pl-") else _evaluation_part(raw),
    "AllergyIntolerance": lambda raw: _evaluation_part(raw),
    "Observation": lambda raw: (raw[:2], raw.split("-")[1]) if raw[:3] in ("vs-", "qr-") and "-" in raw[3:] else None,
}


def _evaluation_part(raw: str) -> tuple[str, str] | None:
    return ("ev", raw.split("-")[1]) if raw.startswith("ev-") and raw.count("-") >= 2 else None


def _built(pairs: Iterable[tuple[str, Model]]) -> list[tuple[int, Resource]]:
    """(patient id, Provenance) for each (kind, row), the Part 2 patients' labelled."""
    made = []
    for kind, row in pairs:
        signing = SOURCES[kind].signing(row)
        if signing.targets:
            made.append((signing.patient_id, provenance_resource(kind, row.pk, signing)))
    flagged = part2.part2_patients(pid for pid, _ in made)
    return [(pid, part2.label(r) if pid in flagged else r) for pid, r in made]


def _wanted(references: Iterable[str]) -> dict[str, set[int]]:
    """The Provenance rows the target references name, by kind (unknown or malformed references name none)."""
    wanted: dict[str, set[int]] = {}
    for reference in references:
        kind_of, _, raw = reference.partition("/")
        parse = _TARGET_KINDS.get(kind_of)
        found = parse(raw) if parse is not None and raw else None
        if found is not None and (pk := record_pk(found[1])) is not None:
            wanted.setdefault(found[0], set()).add(pk)
    return wanted


def _rows_for(wanted: dict[str, set[int]], patients: list[int] | None = None) -> list[tuple[int, Resource]]:
    pairs: list[tuple[str, Model]] = []
    for kind, pks in wanted.items():
        source = SOURCES[kind]
        rows = source.rows().filter(pk__in=sorted(pks))
        if patients is not None:
            rows = rows.filter(**{f"{source.patient_field}__in": patients})
        pairs.extend((kind, row) for row in rows)
    return _built(pairs)


def _targets_of(resource: Resource) -> set[str]:
    return {t["reference"] for t in resource["target"]}


def revincluded(found: list[Resource]) -> list[Resource]:
    """`_revinclude=Provenance:target`: the Provenances naming any of the resources found (already through their
    type's door), each once."""
    references = {f"{r['resourceType']}/{r['id']}" for r in found}
    made = _rows_for(_wanted(references))
    return [r for _, r in sorted(made, key=lambda m: m[1]["id"]) if _targets_of(r) & references]


def provenance_read(*, ctx: AuditContext, provenance_id: str) -> Resource:
    kind, _, raw = provenance_id.partition("-")
    pk = record_pk(raw)
    if kind in SOURCES and pk is not None:
        made = _rows_for({kind: {pk}})
        if made and made[0][1]["id"] == provenance_id:
            read_door(ctx=ctx, patient_id=made[0][0], action=ACTION)
            return made[0][1]
    raise NotFound("No provenance with that id.")


def _all_for(patient_ids: list[int], since: datetime | None = None) -> list[tuple[int, Resource]]:
    pairs: list[tuple[str, Model]] = []
    for kind, source in SOURCES.items():
        rows = source.rows().filter(**{f"{source.patient_field}__in": patient_ids})
        if since is not None:
            rows = rows.filter(**{f"{source.changed_field}__gte": since})
        pairs.extend((kind, row) for row in rows.order_by("pk"))
    return _built(pairs)


def provenance_search(*, ctx: AuditContext, search: Search) -> tuple[list[Resource], bool]:
    """By patient (every signed or recorded record of theirs, newest first) and/or target; by _id."""
    door = search_door(ctx=ctx, search=search, action=ACTION)
    targets = search.references.get("target")
    ids = search.tokens.get("_id")
    if door.named is None and targets is None and ids is None:
        raise SearchError("Search Provenance by patient or target: e.g. ?patient=123 or ?target=CarePlan/4.")
    patients = list(door.named) if door.named is not None else None
    if targets is not None or ids is not None:
        wanted = _wanted(targets or [])
        if ids is not None:
            by_id: dict[str, set[int]] = {}
            for token in ids:
                kind, _, raw = token.code.partition("-")
                if kind in SOURCES and (pk := record_pk(raw)) is not None:
                    by_id.setdefault(kind, set()).add(pk)
            wanted = by_id if targets is None else {k: v & by_id.get(k, set()) for k, v in wanted.items()}
        made = _rows_for(wanted, patients)
        if targets is not None:
            made = [(pid, r) for pid, r in made if _targets_of(r) & set(targets)]
    else:
        assert patients is not None
        made = _all_for(patients)
    made.sort(key=lambda m: (m[1]["recorded"], m[1]["id"]), reverse=True)
    window = made[search.offset : search.offset + search.count + 1]
    page = window[: search.count]
    search_record(ctx=ctx, door=door, search=search, shown=(pid for pid, _ in page))
    return [r for _, r in page], len(window) > search.count


def provenance_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    """Every Provenance of these patients (recorded or signed since `since`), for the bulk export."""
    for _, resource in _all_for(patient_ids, since):
        yield resource

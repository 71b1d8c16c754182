"""Ketamine and esketamine as FHIR R4: the prescriber's signed dose order (DoseOrder) as a US Core
MedicationRequest, the dose given (Administration) as a MedicationAdministration; their reads, searches and bulk
streams. Codes from ../shared/domain/codes.md: RxNorm 6130 for the ketamine ingredient (marked [verify] there);
esketamine has no RxNorm code in codes.md ([unverified]), so it is coded by the product's NDC where the product has
one, and by text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from kapclinic.audit.context import AuditContext
from kapclinic.clinical.session_states import FINISHED, SessionState
from kapclinic.dosing.models import Administration, DoseOrder
from kapclinic.errors import NotFound
from kapclinic.fhir.doors import patient_bound_search, read_door, record_pk, token_pks, token_q
from kapclinic.fhir.reads import Page, _date_q
from kapclinic.fhir.resources import Resource, instant
from kapclinic.fhir.search import Search
from kapclinic.fhir.terminology import UCUM, US_CORE
from kapclinic.ledger.models import Product
from kapclinic.roles import Action

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
US_CORE_MEDICATION_REQUEST = f"{US_CORE}/StructureDefinition/us-core-medicationrequest"
MEDICATION_REQUEST_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
KETAMINE = ("6130", "ketamine")  # RxNorm ingredient (codes.md: [verify])
ESKETAMINE_TEXT = "esketamine"  # no RxNorm code in codes.md ([unverified]): text and NDC only
# The routes (SNOMED CT, codes.md "Routes").
ROUTES = {
    "iv": ("47625008", "Intravenous route"),
    "im": ("78421000", "Intramuscular route"),
    "intranasal": ("46713006", "Nasal route"),
    "sublingual": ("37839007", "Sublingual route"),
}
ACTION = Action.PATIENT_VIEW_CLINICAL


def encounter_reference(session_id: int) -> dict[str, str]:
    """The dosing session as an Encounter (kapclinic/fhir/encounters.py names it ds-<session id>)."""
    return {"reference": f"Encounter/ds-{session_id}"}


def medication_concept(route: str, product: Product) -> dict[str, Any]:
    """The drug: esketamine when given intranasally (Spravato), racemic ketamine otherwise; the product's NDC
    as a second coding where the ledger has one."""
    codings: list[dict[str, str]] = []
    if route == "intranasal":
        text = ESKETAMINE_TEXT
    else:
        text = KETAMINE[1]
        codings.append({"system": RXNORM, "code": KETAMINE[0], "display": KETAMINE[1]})
    if product.ndc:
        codings.append({"system": NDC, "code": product.ndc, "display": product.name})
    concept: dict[str, Any] = {"text": f"{text} ({product.name})"}
    if codings:
        concept["coding"] = codings
    return concept


def route_concept(route: str) -> dict[str, Any]:
    found = ROUTES.get(route)
    if found is None:
        return {"text": route}
    return {"coding": [{"system": SNOMED, "code": found[0], "display": found[1]}], "text": found[1]}


def _mg(value: Decimal) -> dict[str, Any]:
    return {"value": float(value.normalize()), "unit": "mg", "system": UCUM, "code": "mg"}


# --- MedicationAdministration --------------------------------------------------------------------------------


def administration_status(administration: Administration) -> str:
    """stopped: the session was stopped early; in-progress: an infusion not yet ended in a session still under way;
    completed otherwise."""
    state = administration.session.state
    if state == SessionState.STOPPED_EARLY:
        return "stopped"
    if administration.ended_at is None and administration.route == "iv" and state not in _ENDED:
        return "in-progress"
    return "completed"


_ENDED = [state.value for state in FINISHED]
_STOPPED = Q(session__state=SessionState.STOPPED_EARLY)
_RUNNING = Q(ended_at__isnull=True, route="iv") & ~Q(session__state__in=_ENDED)
_STATUS_Q = {"stopped": _STOPPED, "in-progress": ~_STOPPED & _RUNNING, "completed": ~_STOPPED & ~_RUNNING}


def administration_resource(administration: Administration) -> Resource:
    """One dose given: what (the drug and its lot, as a contained Medication: a lot has no other place in R4's
    MedicationAdministration), how much, by which route, when, by whom, under which order and session."""
    session = administration.session
    lot = administration.lot
    product = lot.product
    period: dict[str, str] = {"start": instant(administration.started_at)}
    if administration.ended_at is not None:
        period["end"] = instant(administration.ended_at)
    route = ROUTES.get(administration.route, ("", administration.route))[1].lower()
    dosage: dict[str, Any] = {
        "text": f"{administration.given_mg.normalize()} mg {route}",
        "route": route_concept(administration.route),
        "dose": _mg(administration.given_mg),
    }
    if administration.infusion_rate_ml_per_h is not None:
        rate = administration.infusion_rate_ml_per_h.normalize()
        dosage["rateQuantity"] = {"value": float(rate), "unit": "mL/h", "system": UCUM, "code": "mL/h"}
    return {
        "resourceType": "MedicationAdministration",
        "id": str(administration.pk),
        "contained": [
            {
                "resourceType": "Medication",
                "id": "med",
                "code": medication_concept(administration.route, product),
                "batch": {"lotNumber": lot.lot_number, "expirationDate": lot.expires_on.isoformat()},
            }
        ],
        "status": administration_status(administration),
        "category": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/medication-admin-category",
                    "code": "outpatient",
                    "display": "Outpatient",
                }
            ]
        },
        "medicationReference": {
            "reference": "#med",
            "display": medication_concept(administration.route, product)["text"],
        },
        "subject": {"reference": f"Patient/{session.patient_id}"},
        "context": encounter_reference(session.pk),
        "effectivePeriod": period,
        "performer": [{"actor": {"reference": f"Practitioner/{administration.by_id}"}}],
        "request": {"reference": f"MedicationRequest/{administration.order_id}"},
        "dosage": dosage,
    }


def _administrations() -> QuerySet[Administration]:
    return Administration.objects.select_related("session", "lot__product")


def administration_read(*, ctx: AuditContext, administration_id: str) -> Resource:
    pk = record_pk(administration_id)
    found = _administrations().filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise NotFound("No medication administration with that id.")
    read_door(ctx=ctx, patient_id=found.session.patient_id, action=ACTION)
    return administration_resource(found)


def administration_search(*, ctx: AuditContext, search: Search) -> Page[Administration]:
    rows = _administrations()
    if (ids := search.tokens.get("_id")) is not None:
        rows = rows.filter(pk__in=token_pks(ids))
    if (status := token_q(search.tokens.get("status"), _STATUS_Q)) is not None:
        rows = rows.filter(status)
    for bound in search.dates.get("effective-time", []):
        rows = rows.filter(_date_q("started_at", bound))
    return patient_bound_search(
        ctx=ctx,
        search=search,
        action=ACTION,
        rows=rows,
        patient_field="session__patient_id",
        patient_of=lambda a: a.session.patient_id,
        order=("-started_at", "-id"),
    )


def administration_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    """Every dose given to these patients (recorded since `since`), streamed."""
    rows = _administrations().filter(session__patient_id__in=patient_ids)
    if since is not None:
        rows = rows.filter(at__gte=since)
    for administration in rows.order_by("id").iterator(chunk_size=2000):
        yield administration_resource(administration)


# --- MedicationRequest ---------------------------------------------------------------------------------------


def _orders() -> QuerySet[DoseOrder]:
    """Orders with what their status needs: given (an administration names it) or replaced (a later order for the
    same session)."""
    later = DoseOrder.objects.filter(session_id=OuterRef("session_id")).filter(
        Q(signed_at__gt=OuterRef("signed_at")) | Q(signed_at=OuterRef("signed_at"), id__gt=OuterRef("id"))
    )
    return DoseOrder.objects.select_related("session__plan", "product").annotate(
        given=Exists(Administration.objects.filter(order_id=OuterRef("pk"))),
        replaced=Exists(later),
    )


_REQUEST_STATUS_Q = {
    "completed": Q(given=True),
    "cancelled": Q(given=False) & (Q(replaced=True) | Q(session__state__in=_ENDED)),
    "active": Q(given=False, replaced=False) & ~Q(session__state__in=_ENDED),
}


def order_status(order: DoseOrder) -> str:
    """completed: the dose was given; cancelled: replaced by a later order, or the session ended without it;
    active: waiting to be given."""
    if getattr(order, "given", False):
        return "completed"
    if getattr(order, "replaced", False) or order.session.state in _ENDED:
        return "cancelled"
    return "active"


def order_resource(order: DoseOrder) -> Resource:
    """The prescriber's signed order for one session's dose as a US Core MedicationRequest (intent order)."""
    session = order.session
    plan = session.plan
    route = ROUTES.get(order.route, ("", order.route))[1].lower()
    text = f"{order.dose_mg.normalize()} mg {route}, once, at dosing session {session.number}"
    if order.infusion_minutes:
        text += f", infused over {order.infusion_minutes} min"
    dosage: dict[str, Any] = {
        "sequence": 1,
        "text": text,
        "timing": {"event": [instant(session.scheduled_for)], "repeat": {"count": 1}},
        "route": route_concept(order.route),
        "doseAndRate": [{"doseQuantity": _mg(order.dose_mg)}],
    }
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": str(order.pk),
        "meta": {"profile": [US_CORE_MEDICATION_REQUEST]},
        "status": order_status(order),
        "intent": "order",
        "category": [
            {"coding": [{"system": MEDICATION_REQUEST_CATEGORY, "code": "outpatient", "display": "Outpatient"}]}
        ],
        "reportedBoolean": False,
        "medicationCodeableConcept": medication_concept(order.route, order.product),
        "subject": {"reference": f"Patient/{session.patient_id}"},
        "encounter": encounter_reference(session.pk),
        "authoredOn": instant(order.signed_at),
        "requester": {"reference": f"Practitioner/{order.signed_by_id}"},
        "dosageInstruction": [dosage],
    }
    if plan.indication_code:
        resource["reasonCode"] = [
            {"coding": [{"system": ICD10CM, "code": plan.indication_code}], "text": plan.indication_text}
        ]
    return resource


def order_read(*, ctx: AuditContext, order_id: str) -> Resource:
    pk = record_pk(order_id)
    found = _orders().filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise NotFound("No medication request with that id.")
    read_door(ctx=ctx, patient_id=found.session.patient_id, action=ACTION)
    return order_resource(found)


def order_search(*, ctx: AuditContext, search: Search) -> Page[DoseOrder]:
    rows = _orders()
    if (ids := search.tokens.get("_id")) is not None:
        rows = rows.filter(pk__in=token_pks(ids))
    if (status := token_q(search.tokens.get("status"), _REQUEST_STATUS_Q)) is not None:
        rows = rows.filter(status)
    if (intents := search.tokens.get("intent")) is not None and "order" not in {tk.code for tk in intents}:
        rows = rows.none()
    for bound in search.dates.get("authoredon", []):
        rows = rows.filter(_date_q("signed_at", bound))
    return patient_bound_search(
        ctx=ctx,
        search=search,
        action=ACTION,
        rows=rows,
        patient_field="session__patient_id",
        patient_of=lambda o: o.session.patient_id,
        order=("-signed_at", "-id"),
    )


def order_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    """Every dose order of these patients (signed since `since`), streamed."""
    rows = _orders().filter(session__patient_id__in=patient_ids)
    if since is not None:
        rows = rows.filter(signed_at__gte=since)
    for order in rows.order_by("id").iterator(chunk_size=2000):
        yield order_resource(order)

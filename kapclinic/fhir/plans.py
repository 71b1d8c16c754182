"""The treatment plan as a US Core CarePlan, the treatment consent's signatures as Consent, and the calendar's
appointments of registered patients as Appointment: reads, searches and bulk streams, each under the Action its
pages use (PLAN_VIEW: a patient sees only signed plans; CONSENT_VIEW; PATIENT_VIEW for appointments: who comes
when, as the coordinator sees it). No consultation outcome note and no plan note leaves through FHIR."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from html import escape
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from kapclinic.appointments.models import Appointment, AppointmentKind, AppointmentStatus
from kapclinic.audit.context import AuditContext
from kapclinic.consent.models import ConsentSignature, ConsentWithdrawal
from kapclinic.dosing.models import Route
from kapclinic.errors import NotFound
from kapclinic.fhir.doors import patient_bound_search, read_door, record_pk, token_pks, token_q
from kapclinic.fhir.medications import ICD10CM
from kapclinic.fhir.reads import Page, _date_q
from kapclinic.fhir.resources import Resource, instant
from kapclinic.fhir.search import Search
from kapclinic.fhir.terminology import LOINC, US_CORE
from kapclinic.plans.models import TreatmentPlan
from kapclinic.roles import Action, Role

US_CORE_CAREPLAN = f"{US_CORE}/StructureDefinition/us-core-careplan"
CAREPLAN_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
# LOINC 59284-0 "Consent Document" (the R4 examples' category; not in codes.md: [verify]).
CONSENT_CATEGORY = ("59284-0", "Consent Document")
XHTML = "http://www.w3.org/1999/xhtml"


def _one(raw: str, rows: QuerySet[Any], what: str) -> Any:
    pk = record_pk(raw)
    found = rows.filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise NotFound(f"No {what} with that id.")
    return found


# --- CarePlan ------------------------------------------------------------------------------------------------


def plan_status(plan: TreatmentPlan) -> str:
    """draft until signed; revoked once a later signed plan replaces it; active otherwise."""
    if plan.signed_at is None:
        return "draft"
    return "revoked" if getattr(plan, "replaced", False) else "active"


def _narrative(plan: TreatmentPlan) -> str:
    dose = plan.starting_dose_label
    route = Route(plan.route).label if plan.route in Route.values else plan.route
    lines = [
        f"Treatment plan for {plan.indication_text} ({plan.indication_code}).",
        f"{route}: {plan.session_count} dosing sessions, every {plan.interval_days} days, "
        f"from {plan.first_session_on.isoformat()}; starting dose {dose}.",
    ]
    goals = [str(goal) for goal in plan.goals if isinstance(goal, str)] if isinstance(plan.goals, list) else []
    body = "".join(f"<p>{escape(line)}</p>" for line in lines)
    if goals:
        body += "<p>Goals:</p><ul>" + "".join(f"<li>{escape(goal)}</li>" for goal in goals) + "</ul>"
    return f'<div xmlns="{XHTML}">{body}</div>'


def careplan_resource(plan: TreatmentPlan) -> Resource:
    """The plan as a US Core CarePlan (category assess-plan, intent plan) with its narrative; the course of dosing
    sessions as its activity; the indication it addresses as text and code (the Condition pl-<id>)."""
    status = plan_status(plan)
    drug = "esketamine" if plan.route == "intranasal" else "ketamine"
    resource: Resource = {
        "resourceType": "CarePlan",
        "id": str(plan.pk),
        "meta": {"profile": [US_CORE_CAREPLAN], "lastUpdated": instant(plan.updated_at)},
        "text": {"status": "generated", "div": _narrative(plan)},
        "status": status,
        "intent": "plan",
        "category": [{"coding": [{"system": CAREPLAN_CATEGORY, "code": "assess-plan"}]}],
        "title": f"{drug.capitalize()}-assisted psychotherapy course",
        "description": f"{plan.session_count} {drug} dosing sessions every {plan.interval_days} days",
        "subject": {"reference": f"Patient/{plan.patient_id}"},
        "period": {"start": plan.first_session_on.isoformat()},
        "created": instant(plan.created_at),
        "contributor": [{"reference": f"Practitioner/{plan.therapist_id}"}],
        "activity": [
            {
                "detail": {
                    "kind": "MedicationRequest",
                    "code": {"text": f"{drug} dosing session"},
                    "reasonCode": [{"coding": [{"system": ICD10CM, "code": plan.indication_code}]}],
                    "status": "in-progress"
                    if status == "active"
                    else "not-started"
                    if status == "draft"
                    else "stopped",
                    "description": f"{plan.session_count} sessions, starting dose {plan.starting_dose_label}",
                }
            }
        ],
    }
    if plan.signed_at is not None:
        resource["author"] = {"reference": f"Practitioner/{plan.signed_by_id}"}
        if status == "active":  # the Condition of the indication in force (kapclinic/fhir/conditions.py)
            resource["addresses"] = [{"reference": f"Condition/pl-{plan.pk}"}]
    if plan.supersedes_id is not None:
        resource["replaces"] = [{"reference": f"CarePlan/{plan.supersedes_id}"}]
    return resource


def _plans(ctx: AuditContext | None) -> QuerySet[TreatmentPlan]:
    replaced = TreatmentPlan.objects.filter(supersedes_id=OuterRef("pk"), signed_at__isnull=False)
    rows = TreatmentPlan.objects.annotate(replaced=Exists(replaced))
    if ctx is not None and ctx.user.role == Role.PATIENT:
        rows = rows.filter(signed_at__isnull=False)  # a draft is the prescriber's work in progress (plan pages)
    return rows


_PLAN_STATUS_Q = {
    "draft": Q(signed_at__isnull=True),
    "active": Q(signed_at__isnull=False, replaced=False),
    "revoked": Q(signed_at__isnull=False, replaced=True),
}


def careplan_read(*, ctx: AuditContext, careplan_id: str) -> Resource:
    plan: TreatmentPlan = _one(careplan_id, _plans(None), "care plan")
    read_door(ctx=ctx, patient_id=plan.patient_id, action=Action.PLAN_VIEW)
    if ctx.user.role == Role.PATIENT and plan.signed_at is None:
        raise NotFound("No care plan with that id.")
    return careplan_resource(plan)


def careplan_search(*, ctx: AuditContext, search: Search) -> Page[TreatmentPlan]:
    rows = _plans(ctx)
    if (ids := search.tokens.get("_id")) is not None:
        rows = rows.filter(pk__in=token_pks(ids))
    if (status := token_q(search.tokens.get("status"), _PLAN_STATUS_Q)) is not None:
        rows = rows.filter(status)
    categories = search.tokens.get("category")
    if categories is not None and not any(tk.code == "assess-plan" for tk in categories):
        rows = rows.none()
    return patient_bound_search(
        ctx=ctx,
        search=search,
        action=Action.PLAN_VIEW,
        rows=rows,
        patient_field="patient_id",
        patient_of=lambda p: p.patient_id,
        order=("-created_at", "-id"),
    )


def careplan_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    """Every signed plan of these patients (drafts are work in progress), changed since `since`."""
    rows = _plans(None).filter(patient_id__in=patient_ids, signed_at__isnull=False)
    if since is not None:
        rows = rows.filter(updated_at__gte=since)
    for plan in rows.order_by("id").iterator(chunk_size=2000):
        yield careplan_resource(plan)


# --- Consent -------------------------------------------------------------------------------------------------


def _withdrawal(signature: ConsentSignature) -> ConsentWithdrawal | None:
    try:
        return signature.withdrawal
    except ConsentWithdrawal.DoesNotExist:
        return None


def consent_resource(signature: ConsentSignature) -> Resource:
    """One signature of a consent text: active from its signing, inactive once withdrawn (the period ends then)."""
    version = signature.version
    withdrawal = _withdrawal(signature)
    period = {"start": instant(signature.signed_at)}
    if withdrawal is not None:
        period["end"] = instant(withdrawal.withdrawn_at)
    code, display = CONSENT_CATEGORY
    return {
        "resourceType": "Consent",
        "id": str(signature.pk),
        "status": "inactive" if withdrawal is not None else "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "treatment", "display": "Treatment"}]},
        "category": [{"coding": [{"system": LOINC, "code": code, "display": display}], "text": version.title}],
        "patient": {"reference": f"Patient/{signature.patient_id}"},
        "dateTime": instant(signature.signed_at),
        "performer": [{"reference": f"Patient/{signature.patient_id}"}],
        "policyRule": {"text": f"{version.title}, version {version.number} ({version.document})"},
        "provision": {"type": "permit", "period": period},
    }


def _signatures() -> QuerySet[ConsentSignature]:
    return ConsentSignature.objects.select_related("version", "withdrawal")


_CONSENT_STATUS_Q = {"active": Q(withdrawal__isnull=True), "inactive": Q(withdrawal__isnull=False)}


def consent_read(*, ctx: AuditContext, consent_id: str) -> Resource:
    signature: ConsentSignature = _one(consent_id, _signatures(), "consent")
    read_door(ctx=ctx, patient_id=signature.patient_id, action=Action.CONSENT_VIEW)
    return consent_resource(signature)


def consent_search(*, ctx: AuditContext, search: Search) -> Page[ConsentSignature]:
    rows = _signatures()
    if (ids := search.tokens.get("_id")) is not None:
        rows = rows.filter(pk__in=token_pks(ids))
    if (status := token_q(search.tokens.get("status"), _CONSENT_STATUS_Q)) is not None:
        rows = rows.filter(status)
    return patient_bound_search(
        ctx=ctx,
        search=search,
        action=Action.CONSENT_VIEW,
        rows=rows,
        patient_field="patient_id",
        patient_of=lambda s: s.patient_id,
        order=("-signed_at", "-id"),
    )


def consent_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    rows = _signatures().filter(patient_id__in=patient_ids)
    if since is not None:
        rows = rows.filter(Q(signed_at__gte=since) | Q(withdrawal__withdrawn_at__gte=since))
    for signature in rows.order_by("id").iterator(chunk_size=2000):
        yield consent_resource(signature)


# --- Appointment ---------------------------------------------------------------------------------------------

APPOINTMENT_STATUS = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.DONE: "fulfilled",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.NO_SHOW: "noshow",
}


def appointment_resource(appointment: Appointment) -> Resource:
    """A booking of a registered patient: what kind, when, with whom, in person or by video; its status."""
    assert appointment.patient_id is not None
    label = AppointmentKind(appointment.kind).label if appointment.kind in AppointmentKind.values else appointment.kind
    status = APPOINTMENT_STATUS.get(AppointmentStatus(appointment.status), "booked")
    attendance = "declined" if status == "cancelled" else "accepted"
    resource: Resource = {
        "resourceType": "Appointment",
        "id": str(appointment.pk),
        "status": status,
        "serviceType": [
            {"coding": [{"system": "urn:kapclinic:encounter-type", "code": appointment.kind}], "text": label}
        ],
        "description": f"{label} ({'video' if appointment.mode == 'video' else 'in person'})",
        "start": instant(appointment.starts_at),
        "end": instant(appointment.ends_at),
        "created": instant(appointment.created_at),
        "participant": [
            {"actor": {"reference": f"Patient/{appointment.patient_id}"}, "required": "required", "status": attendance},
            {
                "actor": {"reference": f"Practitioner/{appointment.with_user_id}"},
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    if appointment.place is not None:
        resource["participant"].append(
            {"actor": {"display": appointment.place.name}, "required": "information-only", "status": "accepted"}
        )
    return resource


def _appointments() -> QuerySet[Appointment]:
    return Appointment.objects.select_related("place").filter(patient__isnull=False)


_APPOINTMENT_STATUS_Q = {fhir: Q(status=ours.value) for ours, fhir in APPOINTMENT_STATUS.items()}


def appointment_read(*, ctx: AuditContext, appointment_id: str) -> Resource:
    appointment: Appointment = _one(appointment_id, _appointments(), "appointment")
    assert appointment.patient_id is not None
    read_door(ctx=ctx, patient_id=appointment.patient_id, action=Action.PATIENT_VIEW)
    return appointment_resource(appointment)


def appointment_search(*, ctx: AuditContext, search: Search) -> Page[Appointment]:
    rows = _appointments()
    if (ids := search.tokens.get("_id")) is not None:
        rows = rows.filter(pk__in=token_pks(ids))
    if (status := token_q(search.tokens.get("status"), _APPOINTMENT_STATUS_Q)) is not None:
        rows = rows.filter(status)
    for bound in search.dates.get("date", []):
        rows = rows.filter(_date_q("starts_at", bound))
    return patient_bound_search(
        ctx=ctx,
        search=search,
        action=Action.PATIENT_VIEW,
        rows=rows,
        patient_field="patient_id",
        patient_of=lambda a: a.patient_id or 0,
        order=("-starts_at", "-id"),
    )


def appointment_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    rows = _appointments().filter(patient_id__in=patient_ids)
    if since is not None:
        changed = Q(created_at__gte=since) | Q(ends_at__gte=since) | Q(changes__at__gte=since)
        rows = rows.filter(changed).distinct()
    for appointment in rows.order_by("id").iterator(chunk_size=2000):
        yield appointment_resource(appointment)

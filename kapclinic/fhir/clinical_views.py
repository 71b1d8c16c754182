"""The FHIR types bound to a patient beyond Patient and Observation (issue 17, item 1): thin views on the reads of
kapclinic/fhir/medications.py (and the other type modules), through views.py's fhir_view (who asks; refusals as
OperationOutcomes) and its searchset Bundle."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from kapclinic.audit.context import AuditContext
from kapclinic.fhir import conditions, encounters, medications, plans
from kapclinic.fhir.views import _answer, _bundle, _search, fhir_view


@fhir_view
def medication_administration_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "MedicationAdministration")
    page = medications.administration_search(ctx=ctx, search=search)
    found = [medications.administration_resource(a) for a in page.items]
    return _bundle(request, "MedicationAdministration", found, search, more=page.more, rows=len(page.items))


@fhir_view
def medication_administration_read(request: HttpRequest, ctx: AuditContext, administration_id: str) -> HttpResponse:
    return _answer(medications.administration_read(ctx=ctx, administration_id=administration_id))


@fhir_view
def medication_request_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "MedicationRequest")
    page = medications.order_search(ctx=ctx, search=search)
    found = [medications.order_resource(o) for o in page.items]
    return _bundle(request, "MedicationRequest", found, search, more=page.more, rows=len(page.items))


@fhir_view
def medication_request_read(request: HttpRequest, ctx: AuditContext, order_id: str) -> HttpResponse:
    return _answer(medications.order_read(ctx=ctx, order_id=order_id))


@fhir_view
def encounter_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "Encounter")
    found, more = encounters.encounter_search(ctx=ctx, search=search)
    return _bundle(request, "Encounter", found, search, more=more, rows=len(found))


@fhir_view
def encounter_read(request: HttpRequest, ctx: AuditContext, encounter_id: str) -> HttpResponse:
    return _answer(encounters.encounter_read(ctx=ctx, encounter_id=encounter_id))


@fhir_view
def condition_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "Condition")
    found, more = conditions.condition_search(ctx=ctx, search=search)
    return _bundle(request, "Condition", found, search, more=more, rows=len(found))


@fhir_view
def condition_read(request: HttpRequest, ctx: AuditContext, condition_id: str) -> HttpResponse:
    return _answer(conditions.condition_read(ctx=ctx, condition_id=condition_id))


@fhir_view
def allergy_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "AllergyIntolerance")
    found, more = conditions.allergy_search(ctx=ctx, search=search)
    return _bundle(request, "AllergyIntolerance", found, search, more=more, rows=len(found))


@fhir_view
def allergy_read(request: HttpRequest, ctx: AuditContext, allergy_id: str) -> HttpResponse:
    return _answer(conditions.allergy_read(ctx=ctx, allergy_id=allergy_id))


@fhir_view
def careplan_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "CarePlan")
    page = plans.careplan_search(ctx=ctx, search=search)
    found = [plans.careplan_resource(p) for p in page.items]
    return _bundle(request, "CarePlan", found, search, more=page.more, rows=len(page.items))


@fhir_view
def careplan_read(request: HttpRequest, ctx: AuditContext, careplan_id: str) -> HttpResponse:
    return _answer(plans.careplan_read(ctx=ctx, careplan_id=careplan_id))


@fhir_view
def consent_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "Consent")
    page = plans.consent_search(ctx=ctx, search=search)
    found = [plans.consent_resource(s) for s in page.items]
    return _bundle(request, "Consent", found, search, more=page.more, rows=len(page.items))


@fhir_view
def consent_read(request: HttpRequest, ctx: AuditContext, signature_id: str) -> HttpResponse:
    return _answer(plans.consent_read(ctx=ctx, consent_id=signature_id))


@fhir_view
def appointment_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "Appointment")
    page = plans.appointment_search(ctx=ctx, search=search)
    found = [plans.appointment_resource(a) for a in page.items]
    return _bundle(request, "Appointment", found, search, more=page.more, rows=len(page.items))


@fhir_view
def appointment_read(request: HttpRequest, ctx: AuditContext, appointment_id: str) -> HttpResponse:
    return _answer(plans.appointment_read(ctx=ctx, appointment_id=appointment_id))

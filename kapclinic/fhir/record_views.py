"""The FHIR types of issue 17's second part: Questionnaire (the instruments), QuestionnaireResponse (the patients'
answers), Provenance (who signed or recorded what, when) and AuditEvent (the audit trail, director and auditor
only). Thin views on their modules, through views.py's fhir_view and searchset Bundle."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from kapclinic.audit.context import AuditContext
from kapclinic.fhir import audit_events, provenance, questionnaires
from kapclinic.fhir.views import _answer, _bundle, _search, fhir_view


@fhir_view
def questionnaire_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "Questionnaire")
    found, more = questionnaires.questionnaire_search(search=search)
    return _bundle(request, "Questionnaire", found, search, more=more, rows=len(found))


@fhir_view
def questionnaire_read(request: HttpRequest, ctx: AuditContext, questionnaire_id: str) -> HttpResponse:
    return _answer(questionnaires.questionnaire_read(questionnaire_id_=questionnaire_id))


@fhir_view
def questionnaire_response_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "QuestionnaireResponse")
    page = questionnaires.response_search(ctx=ctx, search=search)
    found = [questionnaires.response_resource(r) for r in page.items]
    return _bundle(request, "QuestionnaireResponse", found, search, more=page.more, rows=len(page.items))


@fhir_view
def questionnaire_response_read(request: HttpRequest, ctx: AuditContext, response_id: str) -> HttpResponse:
    return _answer(questionnaires.response_read(ctx=ctx, response_id=response_id))


@fhir_view
def provenance_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "Provenance")
    found, more = provenance.provenance_search(ctx=ctx, search=search)
    return _bundle(request, "Provenance", found, search, more=more, rows=len(found))


@fhir_view
def provenance_read(request: HttpRequest, ctx: AuditContext, provenance_id: str) -> HttpResponse:
    return _answer(provenance.provenance_read(ctx=ctx, provenance_id=provenance_id))


@fhir_view
def audit_event_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "AuditEvent")
    found, more = audit_events.audit_event_search(ctx=ctx, search=search)
    return _bundle(request, "AuditEvent", found, search, more=more, rows=len(found))


@fhir_view
def audit_event_read(request: HttpRequest, ctx: AuditContext, audit_event_id: str) -> HttpResponse:
    return _answer(audit_events.audit_event_read(ctx=ctx, audit_event_id=audit_event_id))

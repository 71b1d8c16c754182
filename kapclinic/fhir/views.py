"""The FHIR R4 face (issue 17): /fhir/metadata, and read and search of Patient, Practitioner and Observation
(vital signs). Thin: who is asking (a bearer token, as the API, or the signed-in session), the reads in reads.py,
the resources in resources.py; every refusal an OperationOutcome with the status FHIR gives it."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.views.decorators.http import require_GET

from kapclinic.accounts.models import User
from kapclinic.accounts.services import mfa_required_for
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.fhir import part2, provenance, reads, resources
from kapclinic.fhir.search import Search, SearchError, search_parse
from kapclinic.fhir.smart import Caller, bearer_caller, scope_refusal

FHIR_JSON = "application/fhir+json"
SOFTWARE_VERSION = "0.1"
View = Callable[..., HttpResponseBase]


def _answer(body: dict[str, Any], status: int = 200, content_type: str = FHIR_JSON) -> HttpResponse:
    if status == 200 and content_type == FHIR_JSON:
        body = part2.labelled_answer(body)  # 42 CFR Part 2 labels on a Part 2 patient's resources
    return HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=f"{content_type}; charset=utf-8"
    )


def _outcome(status: int, code: str, text: str) -> HttpResponse:
    return _answer(resources.operation_outcome(code, text), status)


def _caller(request: HttpRequest) -> Caller | None:
    """The bearer token's user (an API token; or a SMART access token: its client's account, with its scopes), or
    the signed-in session's once any second factor is passed (as the API)."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return bearer_caller(header[7:].strip())
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated or user.must_change_password:
        return None
    if not user.is_verified() and mfa_required_for(user, request.session):  # type: ignore[attr-defined]
        return None
    return Caller(user)


def fhir_answered(
    request: HttpRequest, view: View, args: Any, kwargs: Any, *, scopes_checked: bool
) -> HttpResponseBase:
    """Run a FHIR view as its caller: 401 without one; 403 for what a SMART token's scopes do not grant (unless the
    view checks them itself: `scopes_checked`; `request.fhir_caller` carries them); the reads' refusals as
    OperationOutcomes: 400 (SearchError), 404, 403."""
    caller = _caller(request)
    if caller is None:
        response = _outcome(401, "login", "Send a valid bearer token (POST /api/v1/auth/token).")
        response["WWW-Authenticate"] = "Bearer"
        return response
    request.fhir_caller = caller  # type: ignore[attr-defined]
    ctx = AuditContext.from_request(request, user=caller.user, channel=caller.channel)
    if not scopes_checked and (refused := scope_refusal(request, caller, ctx)):
        return _outcome(403, "forbidden", refused)
    try:
        return view(request, ctx, *args, **kwargs)
    except SearchError as error:
        # Bad input is audited too (issue 17, "Bad input"); nothing was read or changed.
        detail = {"fhir": request.path, "query": request.META.get("QUERY_STRING", "")[:300], "reason": str(error)}
        access_event_record(ctx=ctx, action="fhir.request", outcome=Outcome.INVALID, detail=detail)
        return _outcome(400, "not-supported" if "support" in str(error) else "invalid", str(error))
    except NotFound as error:
        return _outcome(404, "not-found", error.message)
    except AccessDenied as error:
        return _outcome(403, "forbidden", error.message)


def fhir_view(view: View) -> View:
    """A read or search: GET only, as its caller (fhir_answered); a view that checks the scopes itself sets
    `fhir_scopes_checked`."""

    @require_GET
    @wraps(view)
    def answered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return fhir_answered(request, view, args, kwargs, scopes_checked=getattr(view, "fhir_scopes_checked", False))

    return answered


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir").rstrip("/")


def _search(request: HttpRequest, resource_type: str) -> Search:
    pairs = [(name, value) for name in request.GET for value in request.GET.getlist(name)]
    return search_parse(resource_type, pairs, timezone.get_current_timezone())


def _bundle(
    request: HttpRequest, resource_type: str, found: list[dict[str, Any]], search: Search, *, more: bool, rows: int
) -> HttpResponse:
    """A searchset page; `rows`: how many rows it read (the next page's offset moves by rows: an observation page
    reads sets of vital signs, each giving up to four observations)."""
    base = _base(request)
    query = request.GET.copy()
    self_url = f"{base}/{resource_type}" + (f"?{query.urlencode()}" if query else "")
    next_url = None
    if more:
        query["_offset"] = str(search.offset + rows)
        next_url = f"{base}/{resource_type}?{query.urlencode()}"
    # _revinclude=Provenance:target (search.py REVINCLUDES): who signed or recorded what was found.
    included = provenance.revincluded(found) if search.revincludes else []
    return _answer(resources.searchset(base, found, self_url=self_url, next_url=next_url, included=included))


@require_GET
def metadata(request: HttpRequest) -> HttpResponse:
    """The CapabilityStatement, open to anyone (FHIR clients read it before they authenticate): no data."""
    statement = resources.capability_statement(
        _base(request), published=timezone.now(), software_version=SOFTWARE_VERSION
    )
    return _answer(statement)


@fhir_view
def patient_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "Patient")
    page = reads.patient_search(ctx=ctx, search=search, mrn_system=settings.KAPCLINIC_FHIR_MRN_SYSTEM)
    found = [resources.patient_resource(p, mrn_system=settings.KAPCLINIC_FHIR_MRN_SYSTEM) for p in page.items]
    return _bundle(request, "Patient", found, search, more=page.more, rows=len(page.items))


@fhir_view
def patient_read(request: HttpRequest, ctx: AuditContext, patient_id: str) -> HttpResponse:
    if not patient_id.isdigit():
        raise NotFound("No patient with that id.")
    patient = reads.patient_read(ctx=ctx, patient_id=int(patient_id))
    return _answer(resources.patient_resource(patient, mrn_system=settings.KAPCLINIC_FHIR_MRN_SYSTEM))


@fhir_view
def practitioner_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "Practitioner")
    page = reads.practitioner_search(search=search)
    system = settings.KAPCLINIC_FHIR_STAFF_SYSTEM
    found = [resources.practitioner_resource(u, staff_system=system) for u in page.items]
    return _bundle(request, "Practitioner", found, search, more=page.more, rows=len(page.items))


@fhir_view
def practitioner_read(request: HttpRequest, ctx: AuditContext, practitioner_id: str) -> HttpResponse:
    if not practitioner_id.isdigit():
        raise NotFound("No practitioner with that id.")
    user = reads.practitioner_read(practitioner_id=int(practitioner_id))
    return _answer(resources.practitioner_resource(user, staff_system=settings.KAPCLINIC_FHIR_STAFF_SYSTEM))


@fhir_view
def observation_search(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    search = _search(request, "Observation")
    page = reads.observation_search(ctx=ctx, search=search)
    return _bundle(request, "Observation", page.resources, search, more=page.more, rows=page.records)


@fhir_view
def observation_read(request: HttpRequest, ctx: AuditContext, observation_id: str) -> HttpResponse:
    return _answer(reads.observation_read(ctx=ctx, observation_id=observation_id))

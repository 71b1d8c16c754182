"""FHIR Bulk Data export, the HTTP side (Bulk Data Access IG v2; issue 17, item 3): the kick-off, the status URL
(poll, manifest, DELETE to cancel), the files, and the Groups that can be exported. The worker builds the files
(tasks.py).

Who may export (an object rule on the PATIENT_VIEW_CLINICAL row, accounts/routes.py): the director exports the
whole clinic (`$export`, `Patient/$export`) and any caseload; a clinician (prescriber, nurse, therapist) exports
their own caseload only; nobody else (the auditor reviews records where they are, a patient reads their own).

A Group here is a clinician's caseload: Group id = the staff user's id, its members the patients on whose care
team that user is (patients.CareTeamMember). There is no Group table: the care team is the one source.
A job, its status and its files are visible to their requester only; anyone else gets 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kapclinic.accounts.models import User
from kapclinic.accounts.smart import scopes_allow
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record, access_events_record_many
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.fhir import resources
from kapclinic.fhir.models import ExportJob, ExportKind, ExportStatus
from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.fhir.search import SearchError
from kapclinic.fhir.services import export_cancel, export_start
from kapclinic.fhir.smart import Caller
from kapclinic.fhir.tasks import export_folder
from kapclinic.fhir.views import _answer, _outcome, fhir_answered
from kapclinic.patients.access import on_care_team_of
from kapclinic.patients.models import Patient
from kapclinic.roles import Role

NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
KICKOFF_PARAMETERS = ("_type", "_since", "_outputFormat")
CLINICIANS = (Role.PRESCRIBER, Role.NURSE, Role.THERAPIST)
View = Callable[..., HttpResponseBase]


# A kick-off the server will not start is a 400 OperationOutcome with the reason, as a search's (views.fhir_answered).
BadRequest = SearchError


def bulk_view(*methods: str) -> Callable[[View], View]:
    """As views.fhir_view: authenticate (bearer token or session), refusals as OperationOutcomes; and for a
    DELETE by a signed-in browser, the CSRF check a bearer token does not need."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @require_http_methods(list(methods))
        @wraps(view)
        def answered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            bearer = request.headers.get("Authorization", "")[:7].lower() == "bearer "
            if request.method == "DELETE" and not bearer:
                refused = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, None, (), {})  # type: ignore[arg-type]
                if refused is not None:
                    return _outcome(403, "forbidden", "The CSRF check failed.")
            # The export views check the SMART scopes themselves, per exported type (scopes_allow).
            return fhir_answered(request, view, args, kwargs, scopes_checked=True)

        return answered

    return decorate


# --- Who may export what ----------------------------------------------------------------------------------------


def _caseload_owner(group_id: str) -> User:
    owner = None
    if group_id.isdigit() and int(group_id) < 2**63:
        owner = User.objects.filter(pk=int(group_id), role__in=CLINICIANS).first()
    if owner is None:
        raise NotFound("No Group with that id (a Group is a clinician's caseload: the clinician's user id).")
    return owner


def export_check(ctx: AuditContext, kind: str, group_id: str | None = None) -> User | None:
    """Refuse (audited) whoever may not export this; return the caseload's clinician for a Group."""
    role = ctx.user.role
    if role != Role.DIRECTOR and (kind != ExportKind.GROUP or role not in CLINICIANS):
        access_event_record(ctx=ctx, action="fhir.bulk_export", outcome=Outcome.DENIED, detail={"kind": kind})
        raise AccessDenied(
            "Only the director exports the whole clinic; a clinician exports their own caseload (Group/<your id>)."
        )
    if group_id is None:
        return None
    owner = _caseload_owner(group_id)
    if role != Role.DIRECTOR and owner.pk != ctx.user.pk:
        access_event_record(ctx=ctx, action="fhir.bulk_export", outcome=Outcome.DENIED, detail={"group": owner.pk})
        raise AccessDenied("A clinician exports their own caseload only.")
    return owner


# --- The kick-off -------------------------------------------------------------------------------------------------


def _instant(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise BadRequest(f"_since must be a FHIR instant, e.g. 2026-01-01T00:00:00Z: {raw!r}.") from error
    if moment.tzinfo is None:
        raise BadRequest(f"_since needs its time zone: {raw!r}.")
    return moment


def kickoff_parse(request: HttpRequest) -> tuple[list[str], datetime | None]:
    """The types and `since` asked for; BadRequest for anything this server does not do."""
    if "respond-async" not in request.headers.get("Prefer", "").replace(" ", "").split(","):
        raise BadRequest("A bulk export is asynchronous: send the header 'Prefer: respond-async'.")
    for name in request.GET:
        if name not in KICKOFF_PARAMETERS:
            raise BadRequest(
                f"The $export parameter {name!r} is not supported; supported: {', '.join(KICKOFF_PARAMETERS)}."
            )
        if len(request.GET.getlist(name)) > 1:
            raise BadRequest(f"Give {name!r} once.")
    output_format = request.GET.get("_outputFormat")
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise BadRequest(f"_outputFormat {output_format!r} is not supported; this server writes NDJSON only.")
    types = list(BULK_TYPES)
    if (raw := request.GET.get("_type")) is not None:
        asked = [t.strip() for t in raw.split(",")]
        unknown = [t for t in asked if t not in BULK_TYPES]
        if unknown or not asked:
            raise BadRequest(
                f"_type {', '.join(unknown) or raw!r} is not supported for export; supported: {', '.join(BULK_TYPES)}."
            )
        types = list(dict.fromkeys(asked))
    since = _instant(raw) if (raw := request.GET.get("_since")) is not None else None
    return types, since


def _scoped_types(request: HttpRequest, ctx: AuditContext, types: list[str], *, asked: bool) -> list[str]:
    """A SMART system client exports only the types its scopes let it read (system/Observation.rs, ...): the
    types it asked for each need one (else 403, audited); without _type, the types its scopes cover."""
    caller: Caller = request.fhir_caller  # type: ignore[attr-defined]
    if caller.grants is None:
        return types
    allowed = [t for t in types if scopes_allow(caller.grants, t, "r")]
    if allowed and (allowed == types or not asked):
        return allowed
    missing = [t for t in types if t not in allowed] or types
    access_event_record(
        ctx=ctx,
        action="smart.scope",
        outcome=Outcome.DENIED,
        detail={"client_id": caller.client_id, "asked": ["$export", *missing]},
    )
    raise AccessDenied(f"The token's scopes do not grant reading {', '.join(missing)} (e.g. system/{missing[0]}.rs).")


def _kickoff(request: HttpRequest, ctx: AuditContext, kind: str, group_id: str | None = None) -> HttpResponse:
    owner = export_check(ctx, kind, group_id)
    types, since = kickoff_parse(request)
    types = _scoped_types(request, ctx, types, asked="_type" in request.GET)
    job = export_start(
        ctx=ctx, kind=kind, owner=owner, types=types, since=since, request_url=request.build_absolute_uri()
    )
    response = HttpResponse(status=202)
    response["Content-Location"] = request.build_absolute_uri(reverse("fhir:export_status", args=[job.pk]))
    return response


@bulk_view("GET")
def system_export(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    return _kickoff(request, ctx, ExportKind.SYSTEM)


@bulk_view("GET")
def patient_export(request: HttpRequest, ctx: AuditContext) -> HttpResponse:
    return _kickoff(request, ctx, ExportKind.PATIENT)


@bulk_view("GET")
def group_export(request: HttpRequest, ctx: AuditContext, group_id: str) -> HttpResponse:
    return _kickoff(request, ctx, ExportKind.GROUP, group_id)


@bulk_view("GET")
def group_read(request: HttpRequest, ctx: AuditContext, group_id: str) -> HttpResponse:
    """A caseload as a FHIR Group (R4: type person, actual), to whoever may export it; its members are listed
    (each an audited list of that patient)."""
    owner = export_check(ctx, ExportKind.GROUP, group_id)
    assert owner is not None
    _scoped_types(request, ctx, ["Group"], asked=True)
    members = list(Patient.objects.filter(on_care_team_of(owner.pk)).order_by("pk").values_list("pk", flat=True))
    access_events_record_many(ctx=ctx, action="fhir.group.read", patient_ids=members)
    return _answer(
        {
            "resourceType": "Group",
            "id": str(owner.pk),
            "type": "person",
            "actual": True,
            "name": f"Caseload of {owner.display_name}",
            "managingEntity": {"reference": f"Practitioner/{owner.pk}"},
            "quantity": len(members),
            "member": [{"entity": {"reference": f"Patient/{pk}"}} for pk in members],
        }
    )


# --- Status, manifest, cancel, files ------------------------------------------------------------------------------


def _job_of(ctx: AuditContext, job_id: Any) -> ExportJob:
    job = ExportJob.objects.filter(pk=job_id, requester=ctx.user).first()
    if job is None or job.status == ExportStatus.CANCELLED:
        raise NotFound("No export with that id.")
    return job


def _expired(job: ExportJob) -> bool:
    return job.expires_at is not None and job.expires_at <= timezone.now()


@bulk_view("GET", "DELETE")
def export_status(request: HttpRequest, ctx: AuditContext, job_id: Any) -> HttpResponse:
    """202 with X-Progress while it runs; the manifest when done; an OperationOutcome when it failed."""
    job = _job_of(ctx, job_id)
    if request.method == "DELETE":
        if not export_cancel(ctx=ctx, job_id=job.pk):
            raise NotFound("No export with that id.")
        return HttpResponse(status=202)
    if job.status in (ExportStatus.ACCEPTED, ExportStatus.IN_PROGRESS):
        response = HttpResponse(status=202)
        response["X-Progress"] = f"{job.status}: {job.patients_done} patients written"
        response["Retry-After"] = "5"
        return response
    if job.status == ExportStatus.FAILED:
        return _outcome(500, "exception", job.error or "The export failed.")
    if _expired(job):
        raise NotFound("That export has expired; start a new one.")
    base = request.build_absolute_uri("/")[:-1]
    manifest = {
        "transactionTime": resources.instant(job.transaction_time),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {
                "type": f.resource_type,
                "url": base + reverse("fhir:export_file", args=[job.pk, f.name]),
                "count": f.count,
            }
            for f in job.files.all()
        ],
        "error": [],
    }
    response = _answer(manifest, content_type="application/json")
    if job.expires_at is not None:
        response["Expires"] = http_date(job.expires_at.timestamp())
    return response


@bulk_view("GET")
def export_file(request: HttpRequest, ctx: AuditContext, job_id: Any, file_name: str) -> HttpResponseBase:
    """One NDJSON file, streamed from disk, to the requester, until the export expires."""
    job = _job_of(ctx, job_id)
    found = job.files.filter(name=file_name).first() if job.status == ExportStatus.COMPLETED else None
    path = export_folder(job.pk) / file_name if found is not None else None
    if found is None or path is None or _expired(job) or not path.is_file():
        raise NotFound("No such export file (or it has expired).")
    access_event_record(ctx=ctx, action="fhir.bulk_export.download", detail={"job": str(job.pk), "file": file_name})
    return FileResponse(path.open("rb"), content_type=NDJSON)

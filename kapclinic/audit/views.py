from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.roles import Action, may
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.audit.selectors import (
    AuditFilter,
    access_events_for,
    audit_patient_id,
    emergency_accesses_to_review,
    require_audit_browse,
)
from kapclinic.audit.services import emergency_access_review
from kapclinic.csvsafe import csv_lines
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.web import current_user, forbidden, querystring_without_page, safe_next

CSV_COLUMNS = [
    "occurred_at",
    "username",
    "role",
    "patient_mrn",
    "action",
    "outcome",
    "channel",
    "method",
    "path",
    "client_address",
    "emergency",
    "reason",
    "detail",
]


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _filters(request: HttpRequest) -> tuple[AuditFilter, list[str]]:
    errors = []
    patient_id = None
    patient_ref = request.GET.get("patient", "").strip()
    if patient_ref:
        try:
            patient_id = audit_patient_id(patient_ref)
        except NotFound as exc:
            errors.append(exc.message)
    date_from = _parse_date(request.GET.get("from", ""))
    date_to = _parse_date(request.GET.get("to", ""))
    if request.GET.get("from") and date_from is None:
        errors.append("The start date is not a date.")
    if request.GET.get("to") and date_to is None:
        errors.append("The end date is not a date.")
    if date_from and date_to and date_from > date_to:
        errors.append("The start date is after the end date.")
    filters = AuditFilter(
        patient_id=patient_id,
        username=request.GET.get("user", "").strip()[:150],
        date_from=date_from,
        date_to=date_to,
        emergency_only=request.GET.get("emergency") == "1",
    )
    return filters, errors


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    filters, errors = _filters(request)
    ctx = AuditContext.from_request(request)
    try:
        if errors:  # show the errors, read nothing
            require_audit_browse(ctx)
            events = AccessEvent.objects.none()
        else:
            events = access_events_for(ctx=ctx, filters=filters)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    user = current_user(request)
    return render(
        request,
        "audit/log.html",
        {
            "page": page,
            "errors": errors,
            "params": request.GET,
            "querystring": querystring_without_page(request),
            "to_review": list(emergency_accesses_to_review()[:50]),
            "can_review": may(user.role, Action.EMERGENCY_REVIEW),
        },
    )


def _csv_rows(events: Iterator[AccessEvent]) -> Iterator[str]:
    return csv_lines(
        CSV_COLUMNS,
        (
            [
                e.occurred_at.isoformat(),
                e.username,
                e.role,
                e.patient.mrn if e.patient else "",
                e.action,
                e.outcome,
                e.channel,
                e.method,
                e.path,
                e.client_address or "",
                "yes" if e.emergency else "no",
                e.reason,
                e.detail,
            ]
            for e in events
        ),
    )


@login_required
def audit_export(request: HttpRequest) -> HttpResponseBase:
    filters, errors = _filters(request)
    if errors:
        return HttpResponse("\n".join(errors), status=400, content_type="text/plain")
    try:
        events = access_events_for(ctx=AuditContext.from_request(request), filters=filters, export=True)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(_csv_rows(events.iterator(chunk_size=2000)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="kapclinic-audit-{stamp}.csv"'
    return response


@login_required
@require_POST
def emergency_review(request: HttpRequest, grant_id: int) -> HttpResponse:
    try:
        emergency_access_review(
            ctx=AuditContext.from_request(request), grant_id=grant_id, note=request.POST.get("note", "")
        )
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    except (NotFound, Conflict) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Marked as reviewed.")
    return redirect(safe_next(request, request.POST.get("next"), "audit:log"))

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import (
    current_user,
    querystring_without_page,
    refusal_text,
    refusals_as_plain_pages,
    safe_next,
    submitted,
)
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.audit.services import emergency_access_review
from kapclinic.csvsafe import csv_lines
from kapclinic.errors import NotFound
from kapclinic.oversight.forms import EmergencyReviewForm
from kapclinic.oversight.selectors import (
    AuditFilter,
    access_events_for,
    audit_patient_id,
    emergency_accesses_to_review,
    require_audit_browse,
)
from kapclinic.patients.models import Patient
from kapclinic.roles import Action, may

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


# The action codes in the clinic's words; any other code reads as "Noun: verb" (the CSV keeps the codes).
ACTION_WORDS = {
    "auth.sign_in": "Signed in",
    "auth.sign_out": "Signed out",
    "audit.browse": "Read the audit log",
    "audit.export": "Exported the audit log",
    "patient.register": "Registered the patient",
    "patient.view": "Opened the chart",
    "patient.list": "Listed patients",
    "portal.use": "Opened the portal",
    "portal.response": "Answered a questionnaire",
    "plan.view": "Read the treatment plan",
    "plan.write": "Wrote the treatment plan",
    "plan.sign": "Signed the treatment plan",
    "eligibility.view": "Read eligibility",
    "eligibility.decide": "Decided eligibility",
    "evaluation.record": "Recorded the evaluation",
    "measure.view": "Read scores",
    "measure.overdue_list": "Listed overdue questionnaires",
    "dose.order": "Ordered a dose",
    "session.check_in": "Checked in for a session",
    "session.administer": "Gave a dose",
    "session.vitals": "Recorded vital signs",
    "session.recovery": "Recorded recovery",
    "session.event": "Recorded a session event",
    "consent.sign": "Signed consent",
    "consent.witness": "Witnessed consent",
    "appointment.book": "Booked an appointment",
}


def action_words(code: str) -> str:
    """Return an audit action in words: "patient.view" is "Opened the chart", "ledger.count" is "Ledger: count"."""
    if code in ACTION_WORDS:
        return ACTION_WORDS[code]
    noun, _, verb = code.partition(".")
    words = noun.replace("_", " ").capitalize()
    return f"{words}: {verb.replace('_', ' ').replace('.', ' ')}" if verb else words


def detail_words(detail: object) -> str:
    """Return an event's detail in words ("username: director; offset: 20"), leaving out empty values."""
    if not isinstance(detail, dict):
        return ""

    def value_words(value: object) -> str:
        if value is True:
            return "yes"
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return str(value)

    return "; ".join(f"{str(k).replace('_', ' ')}: {value_words(v)}" for k, v in detail.items() if v)


def _patient_by_name(reference: str) -> tuple[int | None, list[Patient]]:
    """Return the one patient whose name holds every word of `reference`, or the several who do."""
    query = Q()
    for word in reference.split()[:4]:
        query &= Q(given_name__icontains=word) | Q(family_name__icontains=word) | Q(preferred_name__icontains=word)
    found = list(Patient.objects.filter(query).order_by("family_name", "given_name")[:11])
    return (found[0].pk if len(found) == 1 else None), found


def _filters(request: HttpRequest) -> tuple[AuditFilter, list[str], list[Patient]]:
    errors = []
    choices: list[Patient] = []
    patient_id = None
    patient_ref = request.GET.get("patient", "").strip()[:100]
    if patient_ref:
        try:
            patient_id = audit_patient_id(patient_ref)
        except NotFound as exc:  # not an MRN or id: a name
            patient_id, choices = _patient_by_name(patient_ref)
            if not choices:
                errors.append(f"{exc.message} No patient has that name either.")
            elif patient_id is None:
                errors.append(f"Several patients match “{patient_ref[:40]}”: choose one below.")
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
    return filters, errors, choices


@login_required
@refusals_as_plain_pages
def audit_log(request: HttpRequest) -> HttpResponse:
    filters, errors, choices = _filters(request)
    ctx = AuditContext.from_request(request)
    if errors:  # show the errors, read nothing
        require_audit_browse(ctx)
        events = AccessEvent.objects.none()
    else:
        events = access_events_for(ctx=ctx, filters=filters)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    user = current_user(request)
    return render(
        request,
        "audit/log.html",
        {
            "page": page,
            "rows": [(e, action_words(e.action), detail_words(e.detail)) for e in page.object_list],
            "errors": errors,
            "choices": choices if errors else [],
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
@refusals_as_plain_pages
def audit_export(request: HttpRequest) -> HttpResponseBase:
    filters, errors, _ = _filters(request)
    if errors:
        return HttpResponse("\n".join(errors), status=400, content_type="text/plain")
    events = access_events_for(ctx=AuditContext.from_request(request), filters=filters, export=True)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(_csv_rows(events.iterator(chunk_size=2000)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="kapclinic-audit-{stamp}.csv"'
    return response


@login_required
@require_POST
@refusals_as_plain_pages
def emergency_review(request: HttpRequest, grant_id: int) -> HttpResponse:
    form = EmergencyReviewForm(request.POST)
    ctx = AuditContext.from_request(request)
    reviewed = submitted(
        form, lambda: emergency_access_review(ctx=ctx, grant_id=grant_id, note=form.cleaned_data["note"])
    )
    if reviewed is not None:
        messages.success(request, "Marked as reviewed.")
    else:
        # The review form sits on the director's home page (an app above this one): the refusal goes back there.
        messages.error(request, refusal_text(form))
    return redirect(safe_next(request, request.POST.get("next"), "audit:log"))

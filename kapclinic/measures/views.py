from __future__ import annotations

import uuid
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import current_user, forbidden, not_found, safe_next
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.measures import services
from kapclinic.measures.forms import question_fields, submit_form
from kapclinic.patients.access import patient_get_for_user
from kapclinic.roles import Action, may


@login_required
def paper_entry(request: HttpRequest, patient_id: int, code: str) -> HttpResponse:
    """Staff enter a paper form (or a clinician rating) on the patient's behalf; recorded as such."""
    if not may(current_user(request).role, Action.MEASURE_ENTER):
        return forbidden(request, "Your role does not enter questionnaires.")
    instrument = INSTRUMENTS.get(code)
    if instrument is None:
        return not_found(request, "There is no such questionnaire.")
    ctx = AuditContext.from_request(request)
    try:
        access = patient_get_for_user(
            ctx=ctx, patient_id=patient_id, action=Action.MEASURE_ENTER, record_allowed=request.method != "POST"
        )
    except NotFound as exc:
        return not_found(request, exc.message)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    errors: list[str] = []
    values: dict[str, object] = {}
    if request.method == "POST":
        submitted = submit_form(ctx=ctx, patient_id=patient_id, instrument=instrument, data=request.POST)
        if submitted.response is not None:
            messages.success(request, f"The {instrument.name} was recorded.")
            return redirect("chart:patient", patient_id=patient_id)
        errors, values = submitted.errors, submitted.values
    return render(
        request,
        "measures/paper_entry.html",
        {
            "patient": access.patient,
            "instrument": instrument,
            "questions": question_fields(instrument, values),
            "errors": errors,
            "client_token": request.POST.get("client_token") or uuid.uuid4(),
            "allow_skip": True,
        },
        status=422 if errors else 200,
    )


@login_required
@require_POST
def safety_acknowledge(request: HttpRequest, flag_id: int) -> HttpResponse:
    try:
        flag = services.safety_flag_acknowledge(
            ctx=AuditContext.from_request(request), flag_id=flag_id, action_taken=request.POST.get("action_taken", "")
        )
    except NotFound as exc:
        return not_found(request, exc.message)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    except (ValidationError, Conflict) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect(safe_next(request, request.POST.get("next"), "home:home"))
    messages.success(request, "The safety flag was acknowledged.")
    return redirect(safe_next(request, request.POST.get("next"), f"/patients/{flag.patient_id}/"))


@login_required
@require_POST
def schedule_apply(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Schedule the standard measures for a patient from the chart."""
    try:
        baseline = date.fromisoformat(request.POST.get("baseline_on", ""))
        course_end = date.fromisoformat(request.POST.get("course_end_on", ""))
    except ValueError:
        messages.error(request, "Enter the baseline and end-of-course dates.")
        return redirect("chart:patient", patient_id=patient_id)
    try:
        created = services.measure_schedule_apply(
            ctx=AuditContext.from_request(request),
            patient_id=patient_id,
            instruments=request.POST.getlist("instruments"),
            baseline_on=baseline,
            course_end_on=course_end,
        )
    except NotFound as exc:
        return not_found(request, exc.message)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{len(created)} questionnaire{'s' if len(created) != 1 else ''} scheduled.")
    return redirect("chart:patient", patient_id=patient_id)

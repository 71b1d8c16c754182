from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import current_user, forbidden, not_found, refused_status, safe_next, submitted
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.errors import NotFound
from kapclinic.measures import services
from kapclinic.measures.forms import AcknowledgeForm, QuestionnaireForm, ScheduleForm, question_fields
from kapclinic.measures.models import SafetyFlag
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.roles import Action, may


@login_required
@refusals_as_pages
def paper_entry(request: HttpRequest, patient_id: int, code: str) -> HttpResponse:
    """Staff enter a paper form (or a clinician rating) on the patient's behalf; recorded as such."""
    if not may(current_user(request).role, Action.MEASURE_ENTER):
        return forbidden(request, "Your role does not enter questionnaires.")
    instrument = INSTRUMENTS.get(code)
    if instrument is None:
        return not_found(request, "There is no such questionnaire.")
    ctx = AuditContext.from_request(request)
    access = patient_get_for_user(
        ctx=ctx, patient_id=patient_id, action=Action.MEASURE_ENTER, record_allowed=request.method != "POST"
    )
    form = QuestionnaireForm(request.POST or None, instrument=instrument)
    status = 200
    if request.method == "POST":
        stored = form.submit(ctx, patient_id)
        if stored is not None:
            messages.success(request, f"The {instrument.name} was recorded.")
            return redirect("chart:patient", patient_id=patient_id)
        status = refused_status(form)
    return render(
        request,
        "measures/paper_entry.html",
        {
            "patient": access.patient,
            "instrument": instrument,
            "questions": question_fields(instrument, form.answers()),
            "errors": form.problems() if form.is_bound else [],
            "client_token": request.POST.get("client_token") or uuid.uuid4(),
            "allow_skip": True,
        },
        status=status,
    )


@login_required
@require_POST
@refusals_as_pages
def safety_acknowledge(request: HttpRequest, flag_id: int) -> HttpResponse:
    """Close a safety flag from any page that lists it; a refusal shows the flag with what was typed and why."""
    flag = SafetyFlag.objects.select_related("patient", "response", "raised_by").filter(pk=flag_id).first()
    if flag is None:
        raise NotFound("No such safety flag.")
    ctx = AuditContext.from_request(request)
    # Checked before anything of the flag is shown again; the service checks it too and audits the change.
    patient_get_for_user(ctx=ctx, patient_id=flag.patient_id, action=Action.SAFETY_ACKNOWLEDGE, record_allowed=False)
    form = AcknowledgeForm(request.POST)
    acknowledged = submitted(
        form,
        lambda: services.safety_flag_acknowledge(
            ctx=ctx, flag_id=flag_id, action_taken=form.cleaned_data["action_taken"]
        ),
    )
    back = safe_next(request, request.POST.get("next"), f"/patients/{flag.patient_id}/")
    if acknowledged is not None:
        messages.success(request, "The safety flag was acknowledged.")
        return redirect(back)
    flag.refresh_from_db()
    return render(
        request,
        "measures/acknowledge.html",
        {"flag": flag, "form": form, "back": back},
        status=refused_status(form),
    )


@login_required
@require_POST
@refusals_as_pages
def schedule_apply(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Schedule the standard measures for a patient from the chart; a refusal shows the form with its reasons."""
    ctx = AuditContext.from_request(request)
    # Checked before the patient is named on a page; the service checks it too and audits the change.
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MEASURE_ENTER, record_allowed=False)
    form = ScheduleForm(request.POST)
    created = submitted(
        form,
        lambda: services.measure_schedule_apply(
            ctx=ctx,
            patient_id=patient_id,
            instruments=form.cleaned_data["instruments"],
            baseline_on=form.cleaned_data["baseline_on"],
            course_end_on=form.cleaned_data["course_end_on"],
        ),
    )
    if created is not None:
        messages.success(request, f"{len(created)} questionnaire{'s' if len(created) != 1 else ''} scheduled.")
        return redirect("chart:patient", patient_id=patient_id)
    return render(
        request, "measures/schedule.html", {"patient": access.patient, "form": form}, status=refused_status(form)
    )

"""Outcome pages: a clinician's open prompts, one prompt with its answer, a patient's outcome."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from kapclinic.accounts.web import current_user, querystring_without_page, refused_status, submitted
from kapclinic.audit.context import AuditContext
from kapclinic.errors import AccessDenied
from kapclinic.outcomes import services
from kapclinic.outcomes.forms import PromptActionForm
from kapclinic.outcomes.selectors import open_prompts_page, patient_outcome, prompt_get
from kapclinic.patients.access import is_on_care_team
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.roles import Action, Scope, may, scope_for


@login_required
@refusals_as_pages
def prompts(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not may(user.role, Action.OUTCOME_VIEW):
        raise AccessDenied("Your role does not see outcome prompts.")
    page = open_prompts_page(ctx=AuditContext.from_request(request), page=request.GET.get("page"))
    return render(request, "outcomes/prompts.html", {"page": page, "querystring": querystring_without_page(request)})


@login_required
@refusals_as_pages
def prompt(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """The prompt with its evidence; the care team answers it here (POST)."""
    ctx = AuditContext.from_request(request)
    form = PromptActionForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        call = lambda: services.prompt_act(  # noqa: E731 - the service call the form runs when valid
            ctx=ctx, prompt_id=prompt_id, choice=form.cleaned_data["choice"], reason=form.cleaned_data["reason"]
        )
        if submitted(form, call) is not None:
            messages.success(request, "Your answer is on the record; the prompt is cleared.")
            return redirect("outcomes:prompt", prompt_id=prompt_id)
        status = refused_status(form)
    found = prompt_get(ctx=ctx, prompt_id=prompt_id)
    user = current_user(request)
    scope = scope_for(user.role, Action.OUTCOME_PROMPT_ACT)
    can_act = found.is_open and (
        scope is Scope.ALL or (scope is Scope.TEAM and is_on_care_team(user_id=user.pk, patient_id=found.patient_id))
    )
    return render(
        request,
        "outcomes/prompt.html",
        {"prompt": found, "patient": found.patient, "form": form, "can_act": can_act},
        status=status,
    )


@login_required
@refusals_as_pages
def patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    status = patient_outcome(ctx=AuditContext.from_request(request), patient_id=patient_id)
    return render(request, "outcomes/patient.html", {"status": status, "patient": status.patient})

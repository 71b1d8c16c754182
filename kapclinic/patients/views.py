from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import (
    current_user,
    forbidden,
    refusal_text,
    refusals_as_plain_pages,
    refused_status,
    submitted,
)
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.errors import AccessDenied
from kapclinic.patients import services
from kapclinic.patients.access import emergency_access_grant, patient_get_for_user
from kapclinic.patients.forms import (
    CareTeamForm,
    ContactForm,
    DuplicateConfirmForm,
    EmergencyAccessForm,
    PatientForm,
    PatientSearchForm,
    PortalAccountForm,
)
from kapclinic.patients.models import Patient
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.selectors import patient_search_for_user
from kapclinic.roles import Action, Role, Scope, may, scope_for


@login_required
@refusals_as_plain_pages
def patient_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if user.role == Role.PATIENT:
        return redirect("portal:home")
    search = PatientSearchForm(request.GET)
    query = search.query()
    per_page = 25
    page_number = search.page_number()
    page = patient_search_for_user(
        ctx=AuditContext.from_request(request), query=query, limit=per_page, offset=(page_number - 1) * per_page
    )
    context = {
        "page": page,
        "q": query,
        "page_number": page_number,
        "can_register": may(user.role, Action.PATIENT_REGISTER),
        "team_only": scope_for(user.role, Action.PATIENT_LIST) is Scope.TEAM,
    }
    template = "patients/_results.html" if request.htmx else "patients/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
def patient_register(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not may(user.role, Action.PATIENT_REGISTER):
        return forbidden(request, "Your role cannot register patients.")
    form = PatientForm(request.POST or None)
    confirm = DuplicateConfirmForm(request.POST or None)
    duplicates = []
    if request.method == "POST" and confirm.is_valid():
        try:
            patient = submitted(
                form,
                lambda: services.patient_register(
                    ctx=AuditContext.from_request(request),
                    values=form.values(),
                    allow_duplicate=confirm.cleaned_data["confirm_not_duplicate"],
                ),
            )
        except services.PossibleDuplicates as exc:  # not a refusal: the page asks to confirm a different person
            duplicates = exc.matches
            patient = None
        if patient is not None:
            messages.success(request, f"{patient.full_name} was registered with MRN {patient.mrn}.")
            return redirect("chart:patient", patient_id=patient.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "patients/register.html", {"form": form, "duplicates": duplicates, "confirm": confirm}, status=status
    )


@login_required
@refusals_as_pages
def patient_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = current_user(request)
    if user.role == Role.PATIENT:
        return redirect("portal:home")
    full = may(user.role, Action.PATIENT_EDIT)
    action = Action.PATIENT_EDIT if full else Action.PATIENT_EDIT_CONTACT
    ctx = AuditContext.from_request(request)
    # Opening the form shows the record: audited now. A save is audited by the service.
    access = patient_get_for_user(
        ctx=ctx, patient_id=patient_id, action=action, record_allowed=request.method != "POST"
    )
    form_class = PatientForm if full else ContactForm
    patient = access.patient
    form = form_class(request.POST or None, instance=patient, initial={"version": patient.version})
    if request.method == "POST" and not form.is_valid():
        access_event_record(
            ctx=ctx,
            action=action,
            patient_id=patient.pk,
            outcome=Outcome.INVALID,
            detail={"fields": sorted(form.errors)},
        )
    status = 200
    if request.method == "POST":
        saved = submitted(
            form,
            lambda: services.patient_update(
                ctx=ctx, patient_id=patient_id, values=form.values(), expected_version=form.cleaned_data.get("version")
            ),
        )
        if saved is not None:
            messages.success(request, "The patient's details were saved.")
            return redirect("chart:patient", patient_id=patient_id)
        status = refused_status(form)
    return render(
        request, "patients/edit.html", {"form": form, "patient": patient, "contact_only": not full}, status=status
    )


@login_required
@require_POST
@refusals_as_pages
def emergency_access(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Break the glass: open a chart outside the care team, with a reason that is recorded and reviewed."""
    ctx = AuditContext.from_request(request)
    form = EmergencyAccessForm(request.POST)
    try:
        patient_get_for_user(ctx=ctx, patient_id=patient_id, record_allowed=False)
    except AccessDenied as exc:
        # The refusal this page is for; any other (no emergency access for this role) is the 403 page.
        if not exc.emergency_possible:
            raise
    else:
        return redirect("chart:patient", patient_id=patient_id)  # already reachable: nothing to grant
    granted = submitted(
        form,
        lambda: emergency_access_grant(
            ctx=ctx, patient=Patient.objects.get(pk=patient_id), reason=form.cleaned_data["reason"]
        ),
    )
    if granted is None:
        return forbidden(
            request,
            "Emergency access needs a reason of at least 10 characters.",
            context={"emergency_form": form, "patient_id": patient_id},
        )
    messages.warning(request, "Emergency access granted. It is recorded and will be reviewed by the clinic director.")
    return redirect("chart:patient", patient_id=patient_id)


@login_required
@require_POST
@refusals_as_pages
def care_team_assign(request: HttpRequest, patient_id: int) -> HttpResponse:
    form = CareTeamForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role and a clinician.")
        return redirect("chart:patient", patient_id=patient_id)
    # In a tuple: the service answers None when it clears the role, which is not a refusal.
    assigned = submitted(
        form,
        lambda: (
            services.care_team_assign(
                ctx=AuditContext.from_request(request),
                patient_id=patient_id,
                role=form.cleaned_data["role"],
                user_id=form.cleaned_data["user"],
            ),
        ),
    )
    # The form sits on the chart page, which the chart app (above this one) draws: the refusal goes back as a message.
    if assigned is None:
        messages.error(request, refusal_text(form))
    else:
        messages.success(request, "The care team was updated.")
    return redirect("chart:patient", patient_id=patient_id)


@login_required
@require_POST
@refusals_as_pages
def portal_account(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Open the patient's portal login and show its temporary password once."""
    form = PortalAccountForm(request.POST)
    opened = submitted(
        form,
        lambda: services.portal_account_open(
            ctx=AuditContext.from_request(request), patient_id=patient_id, username=form.cleaned_data["username"]
        ),
    )
    if opened is None:
        # The form sits on the chart page, which the chart app draws: the refusal goes back as a message.
        messages.error(request, refusal_text(form))
        return redirect("chart:patient", patient_id=patient_id)
    user, temporary = opened
    return render(
        request, "patients/portal_account.html", {"patient_id": patient_id, "login": user, "temporary": temporary}
    )

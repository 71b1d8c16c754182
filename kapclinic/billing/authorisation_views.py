"""The prior-authorisation page of a patient: the authorisations with the sessions counted against each, who went
on past a warning, and the form the coordinator or biller records a payer's letter with. Thin over
kapclinic/billing/authorisations.py."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from kapclinic.accounts.web import current_user, refused_status, submitted
from kapclinic.audit.context import AuditContext
from kapclinic.billing import authorisations
from kapclinic.billing.authorisation_forms import AuthorisationForm
from kapclinic.billing.models import PriorAuthorisation
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.selectors import chart_header
from kapclinic.roles import Action, may


@login_required
@refusals_as_pages
def prior_authorisations(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = current_user(request)
    ctx = AuditContext.from_request(request)
    if request.method == "POST":
        # Refused (audited) before the form is read when the role may not record one.
        patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.AUTHORISATION_RECORD, record_allowed=False)
    replaceable = [
        (a.pk, f"{a.number} ({a.effective_from.isoformat()} to {a.effective_to.isoformat()})")
        for a in PriorAuthorisation.objects.filter(patient_id=patient_id, replaced_by__isnull=True)
    ]
    form = AuthorisationForm(request.POST if request.method == "POST" else None, replaceable=replaceable)
    status = 200
    if request.method == "POST":
        made = submitted(
            form, lambda: authorisations.prior_authorisation_add(ctx=ctx, patient_id=patient_id, given=_given(form))
        )
        if made is not None:
            flash.success(request, f"Prior authorisation {made.number} recorded.")
            return redirect("billing:prior_authorisations", patient_id=patient_id)
        status = refused_status(form)
    found = authorisations.authorisations_for_patient(ctx=ctx, patient_id=patient_id)
    return render(
        request,
        "billing/prior_authorisations.html",
        {
            "patient": found.access.patient,
            "access": found.access,
            "header": chart_header(patient=found.access.patient),
            "safety_flags": [],
            "authorisations": found.authorisations,
            "went_on": found.went_on,
            "form": form,
            "can_record": may(user.role, Action.AUTHORISATION_RECORD),
        },
        status=status,
    )


def _given(form: AuthorisationForm) -> authorisations.AuthorisationInput:
    data = form.cleaned_data
    return authorisations.AuthorisationInput(
        payer_id=data["payer"].pk,
        covers=data["covers"],
        code=data["code"],
        number=data["number"],
        approved_units=data["approved_units"],
        effective_from=data["effective_from"],
        effective_to=data["effective_to"],
        note=data["note"],
        replaces_id=data["replaces"],
    )

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from kapclinic.accounts.roles import Action, Role
from kapclinic.audit.context import AuditContext
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.web import current_user, forbidden


@login_required
def portal_home(request: HttpRequest) -> HttpResponse:
    """The patient's own start page: their details, and what is due (later issues fill it in)."""
    user = current_user(request)
    if user.role != Role.PATIENT:
        return redirect("home:home")
    patient_id = Patient.objects.filter(user=user).values_list("pk", flat=True).first()
    if patient_id is None:
        return forbidden(request, "Your login is not linked to a patient record yet. Please call the clinic.")
    try:
        access = patient_get_for_user(
            ctx=AuditContext.from_request(request), patient_id=patient_id, action=Action.PORTAL_USE
        )
    except (AccessDenied, NotFound) as exc:
        return forbidden(request, exc.message)
    return render(request, "portal/home.html", {"patient": access.patient})

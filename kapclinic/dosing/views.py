"""Dosing pages: confirming proposed sessions, the dosing schedule, the patient's preparation checklist."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import apply_validation_errors, current_user, forbidden, not_found
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.dosing import services
from kapclinic.dosing.forms import ChecklistForm
from kapclinic.dosing.models import DosingSession, PreparationChecklist, SessionState
from kapclinic.dosing.selectors import sessions_between
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.roles import Action, Role, Scope, scope_for


@login_required
@require_POST
def session_schedule(request: HttpRequest, session_id: int) -> HttpResponse:
    nurse = request.POST.get("nurse") or ""
    try:
        session = services.session_schedule(
            ctx=AuditContext.from_request(request),
            session_id=session_id,
            room=request.POST.get("room", ""),
            nurse_id=int(nurse) if nurse.isdigit() else None,
            version=int(request.POST["version"]) if request.POST.get("version", "").isdigit() else None,
        )
    except NotFound as exc:
        return not_found(request, exc.message)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    except (ValidationError, Conflict) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        plan_id = DosingSession.objects.filter(pk=session_id).values_list("plan_id", flat=True).first()
        return redirect("plans:detail", plan_id=plan_id)
    messages.success(request, f"Session {session.number} is scheduled; the checklist is now in the patient's portal.")
    return redirect("plans:detail", plan_id=session.plan_id)


@login_required
def schedule(request: HttpRequest) -> HttpResponse:
    """The dosing schedule for the coming days: state and preparation checklist of each session."""
    user = current_user(request)
    scope = scope_for(user.role, Action.PATIENT_VIEW_CLINICAL)
    if user.role == Role.PATIENT or scope is Scope.NONE:
        return forbidden(request, "Your role does not see the dosing schedule.")
    today = timezone.localdate()
    try:
        days = min(max(int(request.GET.get("days", "14")), 1), 62)
    except ValueError:
        days = 14
    sessions = sessions_between(today, today + timedelta(days=days - 1)).exclude(state=SessionState.CANCELLED)
    if scope is Scope.TEAM:
        sessions = sessions.filter(patient__care_team__user=user)
    rows = list(sessions[:500])
    ctx = AuditContext.from_request(request)
    for patient_id in sorted({s.patient_id for s in rows}):
        access_event_record(ctx=ctx, action="dosing.schedule.view", patient_id=patient_id)
    return render(request, "dosing/schedule.html", {"sessions": rows, "days": days, "today": today})


def _portal_session(request: HttpRequest, session_id: int) -> tuple[Patient, DosingSession] | HttpResponse:
    user = current_user(request)
    if user.role != Role.PATIENT:
        return redirect("home:home")
    session = DosingSession.objects.select_related("patient").filter(pk=session_id, patient__user=user).first()
    if session is None:
        return not_found(request, "No such session.")
    try:
        patient_get_for_user(
            ctx=AuditContext.from_request(request), patient_id=session.patient_id, action=Action.CHECKLIST_COMPLETE
        )
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    return session.patient, session


@login_required
def portal_checklist(request: HttpRequest, session_id: int) -> HttpResponse:
    found = _portal_session(request, session_id)
    if isinstance(found, HttpResponse):
        return found
    patient, session = found
    checklist = PreparationChecklist.objects.filter(session=session).first()
    form = ChecklistForm(instance=checklist)
    status = 200
    if request.method == "POST":
        form = ChecklistForm(request.POST, instance=checklist)
        if form.is_valid():
            try:
                services.checklist_save(
                    ctx=AuditContext.from_request(request),
                    session_id=session.pk,
                    values={name: form.cleaned_data[name] for name in services.CHECKLIST_FIELDS},
                )
            except ValidationError as exc:
                apply_validation_errors(form, exc)
                status = 422
            except Conflict as exc:
                messages.error(request, exc.message)
                status = 409
            else:
                messages.success(request, "Thank you: your checklist is saved. The nurse will go over it with you.")
                return redirect("portal:home")
        else:
            status = 422
    return render(
        request,
        "dosing/portal_checklist.html",
        {"patient": patient, "session": session, "form": form, "checklist": checklist},
        status=status,
    )

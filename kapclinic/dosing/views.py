"""Dosing pages: confirming proposed sessions, the dosing schedule, the patient's preparation checklist."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import current_user, forbidden, not_found, refusal_text, refused_status, submitted
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many
from kapclinic.dosing import services
from kapclinic.dosing.forms import SCHEDULE_FIELDS, SCHEDULE_REFUSED, ChecklistForm, SessionScheduleForm
from kapclinic.dosing.models import DosingSession, PreparationChecklist, SessionState
from kapclinic.dosing.selectors import sessions_between
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.roles import Action, Role, Scope, scope_for


@login_required
@require_POST
@refusals_as_pages
def session_schedule(request: HttpRequest, session_id: int) -> HttpResponse:
    form = SessionScheduleForm(request.POST)
    session = submitted(
        form,
        lambda: services.session_schedule(
            ctx=AuditContext.from_request(request),
            session_id=session_id,
            nurse_id=form.cleaned_data["nurse"],
            place_id=form.cleaned_data["place"],
            starts_at=form.cleaned_data["starts_at"],
            version=form.cleaned_data["version"],
            go_on_reason=form.cleaned_data["go_on_reason"],
        ),
    )
    if session is None:
        # The button sits in the plan page's session table, which the plans app (above this one) draws:
        # the refusal goes back there as a message.
        found = DosingSession.objects.filter(pk=session_id).values_list("plan_id", "number").first()
        if found is None:
            return not_found(request, "No such dosing session.")
        plan_id, number = found
        messages.error(request, f"Session {number} was not scheduled: {refusal_text(form)}")
        # What was typed, and each field's error, for the plan page to show in the session's row (read once there).
        request.session[SCHEDULE_REFUSED] = {
            "session": session_id,
            "values": {name: request.POST.get(name, "")[:1000] for name in SCHEDULE_FIELDS},
            "errors": {
                name: " ".join(str(m) for m in form.errors[name]) for name in SCHEDULE_FIELDS if name in form.errors
            },
        }
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
    # Each patient shown is an audited read: one row each, in one INSERT (and one lock of the audit chain).
    access_events_record_many(ctx=ctx, action="dosing.schedule.view", patient_ids=sorted({s.patient_id for s in rows}))
    return render(request, "dosing/schedule.html", {"sessions": rows, "days": days, "today": today})


@login_required
@refusals_as_pages
def portal_checklist(request: HttpRequest, session_id: int) -> HttpResponse:
    user = current_user(request)
    if user.role != Role.PATIENT:
        return redirect("home:home")
    session = DosingSession.objects.select_related("patient").filter(pk=session_id, patient__user=user).first()
    if session is None:
        return not_found(request, "No such session.")
    ctx = AuditContext.from_request(request)
    patient_get_for_user(ctx=ctx, patient_id=session.patient_id, action=Action.CHECKLIST_COMPLETE)
    checklist = PreparationChecklist.objects.filter(session=session).first()
    form = ChecklistForm(instance=checklist)
    status = 200
    if request.method == "POST":
        form = ChecklistForm(request.POST, instance=checklist)
        saved = submitted(
            form,
            lambda: services.checklist_save(
                ctx=ctx,
                session_id=session.pk,
                values={name: form.cleaned_data[name] for name in services.CHECKLIST_FIELDS},
            ),
        )
        if saved is not None:
            messages.success(request, "Thank you: your checklist is saved. The nurse will go over it with you.")
            return redirect("portal:home")
        status = refused_status(form)
    return render(
        request,
        "dosing/portal_checklist.html",
        {"patient": session.patient, "session": session, "form": form, "checklist": checklist},
        status=status,
    )

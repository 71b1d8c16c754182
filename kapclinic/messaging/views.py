"""Secure-message pages: a patient's conversations on the chart (staff), one conversation, the staff inbox, and
the patient's messages in the portal. Thin: every rule is in services.py and selectors.py."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import (
    current_user,
    forbidden,
    querystring_without_page,
    refusals_as_plain_pages,
    refused_status,
    submitted,
)
from kapclinic.audit.context import AuditContext
from kapclinic.measures.selectors import open_safety_flags_for_patient
from kapclinic.measures.services import SAFETY_REASON_MAX
from kapclinic.messaging import selectors, services
from kapclinic.messaging.forms import (
    InboxThreadStartForm,
    PatientThreadStartForm,
    ReplyForm,
    SafetyFlagForm,
    ThreadStartForm,
)
from kapclinic.patients.access import portal_patient_id
from kapclinic.patients.models import Patient
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.selectors import chart_header
from kapclinic.roles import Action, Role, may

THREADS_PER_PAGE = 20


def _crisis() -> dict[str, Any]:
    # The clinic's one crisis text (settings.KAPCLINIC_CRISIS_TEXT), shown wherever a patient writes.
    return {"crisis_text": settings.KAPCLINIC_CRISIS_TEXT}


# --- staff: a patient's conversations ----------------------------------------------------------------------


@login_required
@refusals_as_pages
def patient_threads(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's conversations (newest activity first, paginated) and a form to start one."""
    user = current_user(request)
    if user.role == Role.PATIENT:
        return redirect("messaging_portal:home")
    ctx = AuditContext.from_request(request)
    form = ThreadStartForm(request.POST or None)
    status = 200
    if request.method == "POST":
        thread = submitted(
            form,
            lambda: services.thread_start(
                ctx=ctx,
                patient_id=patient_id,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                staff_only=form.cleaned_data["staff_only"],
            ),
        )
        if thread is not None:
            flash.success(request, "Message sent.")
            return redirect("messaging:thread", patient_id=patient_id, thread_id=thread.pk)
        status = refused_status(form)
    found = selectors.threads_for_patient(ctx=ctx, patient_id=patient_id)
    page = Paginator(found.threads, THREADS_PER_PAGE).get_page(request.GET.get("page"))
    patient = found.access.patient
    return render(
        request,
        "messaging/patient_threads.html",
        {
            "patient": patient,
            "access": found.access,
            **_banner(user.role, patient),
            "page": page,
            "querystring": querystring_without_page(request),
            "form": form,
            "can_send": may(user.role, Action.MESSAGE_SEND),
        },
        status=status,
    )


def _banner(role: str, patient: Patient) -> dict[str, Any]:
    """What chart/_banner.html shows beside identity."""
    return {
        "header": chart_header(patient=patient),
        "safety_flags": open_safety_flags_for_patient(patient_id=patient.pk) if may(role, Action.MEASURE_VIEW) else [],
    }


@login_required
@refusals_as_pages
def thread(request: HttpRequest, patient_id: int, thread_id: int) -> HttpResponse:
    """One conversation: its messages (new ones marked, then read), a reply, triage for the care team."""
    user = current_user(request)
    if user.role == Role.PATIENT:
        return redirect("messaging_portal:thread", thread_id=thread_id)
    ctx = AuditContext.from_request(request)
    form = ReplyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if _reply_sent(ctx, form, patient_id, thread_id):
            flash.success(request, "Message sent.")
            return redirect("messaging:thread", patient_id=patient_id, thread_id=thread_id)
        status = refused_status(form)
    return _thread_page(request, patient_id, thread_id, form=form, status=status)


def _reply_sent(ctx: AuditContext, form: ReplyForm, patient_id: int, thread_id: int) -> bool:
    """Send the reply typed in `form` (staff page and portal alike); False when refused (errors on the form)."""
    sent = submitted(
        form,
        lambda: services.message_send(
            ctx=ctx, patient_id=patient_id, thread_id=thread_id, body=form.cleaned_data["body"]
        ),
    )
    return sent is not None


def _thread_shown(ctx: AuditContext, patient_id: int, thread_id: int) -> selectors.ThreadView:
    """The thread as the user may see it, its unread messages marked read: they are on the page now."""
    view = selectors.thread_for_user(ctx=ctx, patient_id=patient_id, thread_id=thread_id)
    if view.unread_ids:
        services.thread_read_mark(ctx=ctx, patient_id=patient_id, thread_id=thread_id)
    return view


def _thread_page(
    request: HttpRequest,
    patient_id: int,
    thread_id: int,
    *,
    form: ReplyForm,
    status: int = 200,
    flag_form: SafetyFlagForm | None = None,
    flag_message_id: int | None = None,
) -> HttpResponse:
    user = current_user(request)
    ctx = AuditContext.from_request(request)
    view = _thread_shown(ctx, patient_id, thread_id)
    patient = view.access.patient
    return render(
        request,
        "messaging/thread.html",
        {
            "patient": patient,
            "access": view.access,
            **_banner(user.role, patient),
            "thread": view.thread,
            "messages_shown": view.messages,
            "unread_ids": view.unread_ids,
            "form": form,
            "can_send": may(user.role, Action.MESSAGE_SEND),
            "can_triage": may(user.role, Action.MESSAGE_TRIAGE),
            "flag_form": flag_form or SafetyFlagForm(),
            "flag_message_id": flag_message_id,
            "reason_max": SAFETY_REASON_MAX,
        },
        status=status,
    )


@login_required
@require_POST
@refusals_as_pages
def thread_needs_response(request: HttpRequest, patient_id: int, thread_id: int) -> HttpResponse:
    """Mark the conversation as needing a clinical response, or clear the mark."""
    needed = request.POST.get("needed") == "1"
    services.thread_needs_response_set(
        ctx=AuditContext.from_request(request), patient_id=patient_id, thread_id=thread_id, needed=needed
    )
    flash.success(request, "Marked as needing a clinical response." if needed else "Mark cleared.")
    return redirect("messaging:thread", patient_id=patient_id, thread_id=thread_id)


@login_required
@require_POST
@refusals_as_pages
def message_safety_flag(request: HttpRequest, patient_id: int, thread_id: int, message_id: int) -> HttpResponse:
    """Turn a message into a safety flag, with the clinician's reason."""
    flag_form = SafetyFlagForm(request.POST)
    flag = submitted(
        flag_form,
        lambda: services.message_safety_flag_raise(
            ctx=AuditContext.from_request(request),
            patient_id=patient_id,
            thread_id=thread_id,
            message_id=message_id,
            reason=flag_form.cleaned_data["reason"],
        ),
        fallback_field="reason",
    )
    if flag is not None:
        flash.success(request, "Safety flag raised: it shows on the chart until someone acknowledges it.")
        return redirect("messaging:thread", patient_id=patient_id, thread_id=thread_id)
    return _thread_page(
        request,
        patient_id,
        thread_id,
        form=ReplyForm(),
        status=refused_status(flag_form),
        flag_form=flag_form,
        flag_message_id=message_id,
    )


# --- staff: the inbox ----------------------------------------------------------------------------------------


@login_required
@refusals_as_plain_pages
def inbox(request: HttpRequest) -> HttpResponse:
    """The conversations waiting on the user (unread, or needing a clinical response), and a new message."""
    user = current_user(request)
    if user.role == Role.PATIENT:
        return redirect("messaging_portal:home")
    if not may(user.role, Action.MESSAGE_VIEW):
        return forbidden(request, "Your role does not read patients' messages.")
    ctx = AuditContext.from_request(request)
    patients = selectors.recipients_for_user(ctx=ctx)
    form = InboxThreadStartForm(request.POST or None, patients=patients)
    status = 200
    if request.method == "POST":
        started = submitted(
            form,
            lambda: services.inbox_thread_start(
                ctx=ctx,
                patient_id=form.cleaned_data["patient"],
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                staff_only=form.cleaned_data["staff_only"],
            ),
        )
        if started is not None:
            flash.success(request, "Message sent.")
            return redirect("messaging:thread", patient_id=started.patient_id, thread_id=started.pk)
        status = refused_status(form)
    return render(
        request,
        "messaging/inbox.html",
        {"waiting": selectors.threads_waiting_for_user(ctx=ctx), "form": form},
        status=status,
    )


# --- the patient's messages (portal) ---------------------------------------------------------------------


@login_required
@refusals_as_plain_pages
def portal_threads(request: HttpRequest) -> HttpResponse:
    """The patient's conversations with their care team, and a new one; with the crisis text."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    ctx = AuditContext.from_request(request)
    form = PatientThreadStartForm(request.POST or None)
    status = 200
    if request.method == "POST":
        started = submitted(
            form,
            lambda: services.thread_start(
                ctx=ctx, patient_id=patient_id, subject=form.cleaned_data["subject"], body=form.cleaned_data["body"]
            ),
        )
        if started is not None:
            flash.success(request, "Sent to your care team.")
            return redirect("messaging_portal:thread", thread_id=started.pk)
        status = refused_status(form)
    found = selectors.threads_for_patient(ctx=ctx, patient_id=patient_id)
    page = Paginator(found.threads, THREADS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "messaging/portal_threads.html",
        {"page": page, "querystring": querystring_without_page(request), "form": form, **_crisis()},
        status=status,
    )


@login_required
@refusals_as_plain_pages
def portal_thread(request: HttpRequest, thread_id: int) -> HttpResponse:
    """One of the patient's conversations, and a reply; with the crisis text."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    ctx = AuditContext.from_request(request)
    form = ReplyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if _reply_sent(ctx, form, patient_id, thread_id):
            flash.success(request, "Sent to your care team.")
            return redirect("messaging_portal:thread", thread_id=thread_id)
        status = refused_status(form)
    view = _thread_shown(ctx, patient_id, thread_id)
    return render(
        request,
        "messaging/portal_thread.html",
        {
            "thread": view.thread,
            "messages_shown": view.messages,
            "unread_ids": view.unread_ids,
            "form": form,
            **_crisis(),
        },
        status=status,
    )

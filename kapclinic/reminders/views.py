"""The patient's bookings and reminders in the portal: upcoming bookings to confirm or ask to move, the reminders
sent, and how reminders reach them. Thin: the rules are in services.py, selectors.py and clinical/reminders.py."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import current_user, refusals_as_plain_pages, refused_status, submitted
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.reminders import preparation_lines
from kapclinic.patients.access import patient_get_for_user, portal_patient_id
from kapclinic.reminders import selectors, services
from kapclinic.reminders.forms import ConfirmForm, PreferenceForm, RescheduleForm
from kapclinic.reminders.models import ReplyKind
from kapclinic.reminders.sms import sms_offered
from kapclinic.roles import Action


def _bookings_page(
    request: HttpRequest, patient_id: int, *, form: ConfirmForm | None = None, form_for: int = 0, status: int = 200
) -> HttpResponse:
    bookings = selectors.portal_bookings(ctx=AuditContext.from_request(request), patient_id=patient_id)
    return render(
        request,
        "reminders/portal_bookings.html",
        {
            "bookings": [
                {"view": b, "steps": preparation_lines(b.preparation) if b.preparation else []} for b in bookings
            ],
            "form": form or RescheduleForm(),
            "form_for": form_for,
            "clinic_address": settings.KAPCLINIC_CLINIC_ADDRESS,
        },
        status=status,
    )


@login_required
@refusals_as_plain_pages
def bookings(request: HttpRequest) -> HttpResponse:
    """The patient's upcoming bookings, each to confirm or to ask for another time, with what to prepare."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    return _bookings_page(request, patient_id)


@login_required
@require_POST
@refusals_as_plain_pages
def confirm(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """The patient will come: the booking shows as confirmed on the clinic's calendar."""
    return _answer(request, appointment_id, ConfirmForm(request.POST), ReplyKind.CONFIRMED)


@login_required
@require_POST
@refusals_as_plain_pages
def reschedule(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """The patient asks for another time, with an optional note: the coordinator's inbox shows it."""
    return _answer(request, appointment_id, RescheduleForm(request.POST), ReplyKind.RESCHEDULE)


THANKS = {
    ReplyKind.CONFIRMED: "Thank you: the clinic knows you are coming.",
    ReplyKind.RESCHEDULE: "Sent: the clinic will call or write to you to find another time.",
}


def _answer(request: HttpRequest, appointment_id: int, form: ConfirmForm, kind: ReplyKind) -> HttpResponse:
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    reply = submitted(
        form,
        lambda: services.booking_reply_record(
            ctx=AuditContext.from_request(request),
            appointment_id=appointment_id,
            kind=kind,
            note=form.cleaned_data.get("note", ""),
        ),
        fallback_field="note",
    )
    if reply is not None:
        flash.success(request, THANKS[kind])
        return redirect("reminders_portal:bookings")
    return _bookings_page(request, patient_id, form=form, form_for=appointment_id, status=refused_status(form))


@login_required
@refusals_as_plain_pages
def reminders(request: HttpRequest) -> HttpResponse:
    """The reminders sent to the patient, and how reminders reach them (or none)."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    ctx = AuditContext.from_request(request)
    preference = selectors.preference_for(patient_id)
    patient = patient_get_for_user(
        ctx=ctx, patient_id=patient_id, action=Action.PORTAL_USE, record_allowed=False
    ).patient
    current = services.reminder_channel(patient, preference)
    initial: dict[str, Any] = {"channel": current.value, "name_visit": bool(preference and preference.name_visit)}
    form = PreferenceForm(request.POST or None, initial=initial, sms=sms_offered())
    status = 200
    if request.method == "POST":
        saved = submitted(
            form,
            lambda: services.reminder_preference_set(
                ctx=ctx,
                patient_id=patient_id,
                channel=form.cleaned_data["channel"],
                name_visit=form.cleaned_data["name_visit"],
            ),
        )
        if saved is not None:
            flash.success(request, "Saved: reminders will follow your choice from now on.")
            return redirect("reminders_portal:reminders")
        status = refused_status(form)
    _, sent = selectors.portal_reminders(ctx=ctx, patient_id=patient_id)
    return render(
        request,
        "reminders/portal_reminders.html",
        {"patient": patient, "sent": sent, "form": form, "current": current, "chosen": preference is not None},
        status=status,
    )

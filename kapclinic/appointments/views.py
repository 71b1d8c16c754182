from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from kapclinic.accounts.roles import Action, may
from kapclinic.appointments import services
from kapclinic.appointments.calendar import appointments_ics
from kapclinic.appointments.forms import BookingForm, OutcomeForm
from kapclinic.appointments.models import Appointment, AppointmentStatus
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.intake.models import Inquiry
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.web import apply_validation_errors, current_user, forbidden, not_found


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 12 else None


@login_required
def book(request: HttpRequest) -> HttpResponse:
    """Book an appointment for an inquiry (?inquiry=) or a patient (?patient=)."""
    if not may(current_user(request).role, Action.APPOINTMENT_BOOK):
        return forbidden(request, "Your role does not book appointments.")
    inquiry_id, patient_id = _int(request.GET.get("inquiry")), _int(request.GET.get("patient"))
    inquiry = Inquiry.objects.filter(pk=inquiry_id).first() if inquiry_id else None
    patient = Patient.objects.filter(pk=patient_id).first() if patient_id else None
    if inquiry is None and patient is None:
        return not_found(request, "Book from an inquiry or from a patient's chart.")
    if patient is not None and request.method != "POST":
        # The form names the patient: opening it is a read of their record, checked and audited.
        try:
            patient_get_for_user(
                ctx=AuditContext.from_request(request), patient_id=patient.pk, action=Action.APPOINTMENT_BOOK
            )
        except (AccessDenied, NotFound) as exc:
            return forbidden(request, exc.message)
    form = BookingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            appointment = services.appointment_book(
                ctx=AuditContext.from_request(request),
                kind=data["kind"],
                with_user_id=data["with_user"],
                starts_at=data["starts_at"],
                minutes=data["minutes"],
                mode=data["mode"],
                video_link=data["video_link"] or "",
                patient_id=patient.pk if patient else None,
                inquiry_id=inquiry.pk if inquiry and not patient else None,
            )
        except ValidationError as exc:
            apply_validation_errors(form, exc)
        except (AccessDenied, NotFound) as exc:
            return forbidden(request, exc.message)
        else:
            messages.success(request, "The appointment was booked.")
            return redirect("appointments:detail", appointment_id=appointment.pk)
    name = patient.full_name if patient else inquiry.full_name if inquiry else ""
    status = 422 if request.method == "POST" else 200
    return render(request, "appointments/book.html", {"form": form, "name": name}, status=status)


def _appointment_for(request: HttpRequest, appointment_id: int) -> Appointment | HttpResponse:
    appointment = (
        Appointment.objects.select_related("patient", "inquiry", "with_user").filter(pk=appointment_id).first()
    )
    if appointment is None:
        return not_found(request, "No such appointment.")
    ctx = AuditContext.from_request(request)
    if appointment.patient_id is not None:
        try:
            patient_get_for_user(ctx=ctx, patient_id=appointment.patient_id, action=Action.APPOINTMENT_BOOK)
        except (AccessDenied, NotFound) as exc:
            return forbidden(request, exc.message)
    elif not may(current_user(request).role, Action.INQUIRY_VIEW):
        return forbidden(request, "Your role does not see inquiries.")
    else:
        access_event_record(ctx=ctx, action="appointment.view", detail={"appointment": appointment.pk})
    return appointment


@login_required
def detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    found = _appointment_for(request, appointment_id)
    if isinstance(found, HttpResponse):
        return found
    form = OutcomeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.consultation_outcome_record(
                ctx=AuditContext.from_request(request),
                appointment_id=found.pk,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["outcome_note"],
                send_pre_screen=form.cleaned_data["send_pre_screen"],
            )
        except ValidationError as exc:
            apply_validation_errors(form, exc)
        except (Conflict, NotFound, AccessDenied) as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "The consultation's outcome was recorded.")
            return redirect("appointments:detail", appointment_id=found.pk)
    return render(
        request,
        "appointments/detail.html",
        {"appointment": found, "form": form, "can_record": may(current_user(request).role, Action.APPOINTMENT_BOOK)},
        status=422 if request.method == "POST" else 200,
    )


@login_required
def ics_one(request: HttpRequest, appointment_id: int) -> HttpResponse:
    found = _appointment_for(request, appointment_id)
    if isinstance(found, HttpResponse):
        return found
    response = HttpResponse(appointments_ics([found]), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="appointment-{found.pk}.ics"'
    return response


@login_required
def ics_mine(request: HttpRequest) -> HttpResponse:
    """The signed-in staff member's own booked appointments from today on, as a calendar file."""
    user = current_user(request)
    mine = Appointment.objects.filter(
        with_user=user, status=AppointmentStatus.BOOKED, ends_at__gte=timezone.now()
    ).select_related("patient", "inquiry")
    access_event_record(
        ctx=AuditContext.from_request(request), action="appointment.calendar", detail={"count": mine.count()}
    )
    response = HttpResponse(appointments_ics(mine), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-appointments.ics"'
    return response

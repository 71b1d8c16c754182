from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import current_user, forbidden, not_found, refused_status, submitted
from kapclinic.appointments import services
from kapclinic.appointments.calendar import appointments_ics
from kapclinic.appointments.forms import (
    BookingForm,
    CalendarForm,
    ChangeReasonForm,
    ClosureForm,
    HoursForm,
    OutcomeForm,
    RescheduleForm,
    TimeOffForm,
    owner_ids,
)
from kapclinic.appointments.models import Appointment, AppointmentChange, AppointmentStatus
from kapclinic.appointments.selectors import availability_board, calendar_week
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.intake.models import Inquiry
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.roles import Action, Scope, may, scope_for


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 12 else None


@login_required
@refusals_as_pages
def book(request: HttpRequest) -> HttpResponse:
    """Book an appointment for an inquiry (?inquiry=) or a patient (?patient=)."""
    if not may(current_user(request).role, Action.APPOINTMENT_BOOK):
        return forbidden(request, "Your role does not book appointments.")
    inquiry_id, patient_id = _int(request.GET.get("inquiry")), _int(request.GET.get("patient"))
    inquiry = Inquiry.objects.filter(pk=inquiry_id).first() if inquiry_id else None
    patient = Patient.objects.filter(pk=patient_id).first() if patient_id else None
    if inquiry is None and patient is None:
        return not_found(request, "Book from an inquiry or from a patient's chart.")
    if patient is not None:
        # The form names the patient, also when a post is shown again with its errors: checked first. Opening it
        # is an audited read; a post's booking is audited by the service.
        patient_get_for_user(
            ctx=AuditContext.from_request(request),
            patient_id=patient.pk,
            action=Action.APPOINTMENT_BOOK,
            record_allowed=request.method != "POST",
        )
    form = BookingForm(request.POST or None, booker=current_user(request))
    status = 200
    if request.method == "POST":
        appointment = submitted(
            form,
            lambda: services.appointment_book(
                ctx=AuditContext.from_request(request),
                kind=form.cleaned_data["kind"],
                with_user_id=form.cleaned_data["with_user"],
                starts_at=form.cleaned_data["starts_at"],
                minutes=form.cleaned_data["minutes"],
                mode=form.cleaned_data["mode"],
                video_link=form.cleaned_data["video_link"] or "",
                patient_id=patient.pk if patient else None,
                inquiry_id=inquiry.pk if inquiry and not patient else None,
                place_id=form.cleaned_data["place"],
            ),
        )
        if appointment is not None:
            messages.success(request, "The appointment was booked.")
            return redirect("appointments:detail", appointment_id=appointment.pk)
        status = refused_status(form)
    name = patient.full_name if patient else inquiry.full_name if inquiry else ""
    return render(request, "appointments/book.html", {"form": form, "name": name}, status=status)


def _appointment_for(request: HttpRequest, appointment_id: int) -> Appointment:
    """The appointment, if the user may see whom it is for (the read audited); else NotFound or AccessDenied."""
    appointment = (
        Appointment.objects.select_related("patient", "inquiry", "with_user").filter(pk=appointment_id).first()
    )
    if appointment is None:
        raise NotFound("No such appointment.")
    ctx = AuditContext.from_request(request)
    if appointment.patient_id is not None:
        patient_get_for_user(ctx=ctx, patient_id=appointment.patient_id, action=Action.APPOINTMENT_BOOK)
    elif not may(current_user(request).role, Action.INQUIRY_VIEW):
        raise AccessDenied("Your role does not see inquiries.")
    else:
        access_event_record(ctx=ctx, action="appointment.view", detail={"appointment": appointment.pk})
    return appointment


def _detail_page(
    request: HttpRequest,
    appointment: Appointment,
    *,
    outcome_form: OutcomeForm | None = None,
    change_forms: dict[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The appointment, its history, and the forms to record an outcome, move, cancel or mark did not attend."""
    can_change = may(current_user(request).role, Action.APPOINTMENT_BOOK)
    started = appointment.starts_at <= timezone.now()
    booked = appointment.status == AppointmentStatus.BOOKED
    local = timezone.localtime(appointment.starts_at)
    given = change_forms or {}
    offered = {
        "cancel": can_change and booked and not started,
        "no-show": can_change and booked and started,
        "reschedule": can_change and booked and not started,  # a booking under way is not moved
    }
    user = current_user(request)
    # A dosing booking's session screen, for the roles that see clinical records (not the coordinator).
    session = getattr(appointment, "dosing_session", None)
    session_shown = session is not None and scope_for(user.role, Action.PATIENT_VIEW_CLINICAL) is not Scope.NONE
    return render(
        request,
        "appointments/detail.html",
        {
            "appointment": appointment,
            "session": session if session_shown else None,
            "form": outcome_form or OutcomeForm(),
            "can_record": can_change,
            "history": AppointmentChange.objects.filter(appointment=appointment).select_related("by", "from_with_user"),
            "can_cancel": offered["cancel"],
            "can_no_show": offered["no-show"],
            "can_reschedule": offered["reschedule"],
            # A change refused because the appointment moved on: its form is gone, so the reason shows at the top.
            "moved_on": [e for what, form in given.items() if not offered[what] for e in form.non_field_errors()],
            "cancel_form": given.get("cancel") or ChangeReasonForm(prefix="cancel"),
            "no_show_form": given.get("no-show") or ChangeReasonForm(prefix="no-show"),
            "reschedule_form": given.get("reschedule")
            or RescheduleForm(
                prefix="move",
                kind=appointment.kind,
                initial={
                    "starts_at": local.strftime("%Y-%m-%dT%H:%M"),
                    "minutes": int((appointment.ends_at - appointment.starts_at).total_seconds() // 60),
                    "with_user": appointment.with_user_id,
                },
            ),
            "open_change": next(iter(given), ""),
        },
        status=status,
    )


@login_required
@refusals_as_pages
def detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    found = _appointment_for(request, appointment_id)
    form = OutcomeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        recorded = submitted(
            form,
            lambda: services.consultation_outcome_record(
                ctx=AuditContext.from_request(request),
                appointment_id=found.pk,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["outcome_note"],
                send_pre_screen=form.cleaned_data["send_pre_screen"],
            ),
        )
        if recorded is not None:
            messages.success(request, "The consultation's outcome was recorded.")
            return redirect("appointments:detail", appointment_id=found.pk)
        status = refused_status(form)
    return _detail_page(request, found, outcome_form=form, status=status)


CHANGE_DONE = {
    "cancel": "The appointment was cancelled.",
    "no-show": "The appointment is marked did not attend.",
    "reschedule": "The appointment was moved.",
}


@login_required
@require_POST
@refusals_as_pages
def change(request: HttpRequest, appointment_id: int, what: str) -> HttpResponse:
    """Cancel, mark did not attend, or move an appointment, with a reason (thin over the services, like the API)."""
    if what not in CHANGE_DONE:
        return not_found(request, "No such change.")
    found = _appointment_for(request, appointment_id)
    ctx = AuditContext.from_request(request)
    form: forms.Form
    if what == "reschedule":
        form = RescheduleForm(request.POST, prefix="move", kind=found.kind)
    else:
        form = ChangeReasonForm(request.POST, prefix=what)

    def changed() -> Appointment:
        data = form.cleaned_data
        if what == "cancel":
            return services.appointment_cancel(ctx=ctx, appointment_id=found.pk, reason=data["reason"])
        if what == "no-show":
            return services.appointment_no_show(ctx=ctx, appointment_id=found.pk, reason=data["reason"])
        return services.appointment_reschedule(
            ctx=ctx,
            appointment_id=found.pk,
            starts_at=data["starts_at"],
            minutes=data["minutes"],
            with_user_id=data["with_user"],
            reason=data["reason"],
        )

    if submitted(form, changed) is not None:
        messages.success(request, CHANGE_DONE[what])
        return redirect("appointments:detail", appointment_id=found.pk)
    found.refresh_from_db()  # a conflict means it moved on: show it as it is now
    return _detail_page(request, found, change_forms={what: form}, status=refused_status(form))


@login_required
@refusals_as_pages
def ics_one(request: HttpRequest, appointment_id: int) -> HttpResponse:
    found = _appointment_for(request, appointment_id)
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


_AVAILABILITY_FORMS = {"hours": HoursForm, "time_off": TimeOffForm, "closure": ClosureForm}


@login_required
@refusals_as_pages
def availability(request: HttpRequest) -> HttpResponse:
    """Rooms and chairs, working and opening hours, time off and closures: the coordinator's and director's page."""
    user = current_user(request)
    if not may(user.role, Action.AVAILABILITY_MANAGE):
        return forbidden(request, "Your role does not manage rooms, hours or closures.")
    # Each form with its own prefix: three forms on one page, and every field's id unique for its label.
    forms_shown: dict[str, forms.Form] = {name: form(prefix=name) for name, form in _AVAILABILITY_FORMS.items()}
    status = 200
    if request.method == "POST":
        which = request.POST.get("form", "")
        if which not in _AVAILABILITY_FORMS:
            return HttpResponseBadRequest("Unknown form: choose hours, time off or a closure.")
        form = _AVAILABILITY_FORMS[which](request.POST, prefix=which)
        forms_shown[which] = form
        ctx = AuditContext.from_request(request)
        recorded = submitted(form, lambda: _availability_write(ctx, which, form), fallback_field=None)
        if recorded is not None:
            messages.success(request, "Recorded.")
            return redirect("appointments:availability")
        status = refused_status(form)
    context = {"board": availability_board(), "forms": forms_shown}
    return render(request, "appointments/availability.html", context, status=status)


def _availability_write(ctx: AuditContext, which: str, form: forms.Form) -> object:
    data = form.cleaned_data
    if which == "hours":
        assert isinstance(form, HoursForm)
        return services.working_hours_record(
            ctx=ctx,
            rule=form.rule(),
            starts=data["starts"],
            ends=data["ends"],
            since=data["since"],
            until=data["until"],
            **owner_ids(data["owner"]),
        )
    if which == "time_off":
        return services.time_off_record(
            ctx=ctx,
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            reason=data["reason"],
            **owner_ids(data["owner"]),
        )
    return services.closure_record(ctx=ctx, starts_at=data["starts_at"], ends_at=data["ends_at"], reason=data["reason"])


@login_required
@refusals_as_pages
def calendar(request: HttpRequest) -> HttpResponse:
    """A week (or a day) of appointments, for one staff member or one room, or all the user may see."""
    form = CalendarForm(request.GET or None, initial={"start": timezone.localdate(), "view": "week"})
    chosen = form.cleaned_data if form.is_valid() else {}
    today = timezone.localdate()
    first = chosen.get("start") or today
    one_day = chosen.get("view") == "day"
    if not one_day:
        first -= timedelta(days=first.weekday())  # weeks start on Monday
    days = calendar_week(
        ctx=AuditContext.from_request(request),
        first=first,
        days=1 if one_day else 7,
        staff_id=chosen.get("staff"),
        place_id=chosen.get("place"),
    )
    step = timedelta(days=1 if one_day else 7)
    query = request.GET.copy()
    links = {}
    for name, moved in (("previous", first - step), ("next", first + step), ("today", today)):
        query["start"] = moved.isoformat()
        links[name] = query.urlencode()
    context = {"form": form, "days": days, "today": today, "one_day": one_day, "links": links}
    return render(request, "appointments/calendar.html", context, status=200 if not form.errors else 422)

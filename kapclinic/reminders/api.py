"""The patient's bookings and reminder choice over JSON (the portal's twins): the same services and selectors as
the pages, so the same rules (their own bookings only, every read and write audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.reminders import preparation_lines
from kapclinic.errors import AccessDenied
from kapclinic.patients.access import patient_get_for_user, portal_patient_id
from kapclinic.reminders import selectors, services
from kapclinic.reminders.models import NOTE_MAX, BookingReply, ReminderPreference, ReplyKind
from kapclinic.roles import Action

router = Router(tags=["portal"])


class BookingReplyOut(Schema):
    kind: Literal["confirmed", "reschedule"]
    note: str
    at: datetime


class PortalBookingOut(Schema):
    id: int
    kind: str
    kind_label: str
    starts_at: datetime
    ends_at: datetime
    mode: str
    with_user: str = Field(description="the member of staff the appointment is with")
    place: str
    preparation: list[str] = Field(description="what to do before a dosing session (fasting, a ride home)")
    reply: BookingReplyOut | None = Field(description="the patient's newest answer at the booked time, if any")


class PortalBookingListOut(Schema):
    items: list[PortalBookingOut]


class RescheduleRequestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", description=f"optional, up to {NOTE_MAX} characters: e.g. the times that suit")


class ReminderPreferenceOut(Schema):
    channel: Literal["email", "sms", "none"] = Field(description="how reminders go now; none: opted out")
    name_visit: bool = Field(description="reminders may name the kind of visit (off: where and when only)")
    chosen: bool = Field(description="false: the clinic's default, the patient has not chosen")


class ReminderPreferenceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(description="email, sms or none (no reminders)")
    name_visit: bool = False


class SentReminderOut(Schema):
    id: int
    appointment: int
    which: Literal["day_before", "on_the_day"]
    channel: Literal["email", "sms"]
    to: str
    subject: str
    body: str
    sent_at: datetime


class SentReminderListOut(Schema):
    items: list[SentReminderOut]


def _own(request: HttpRequest) -> tuple[AuditContext, int]:
    """The caller's own patient record; staff (and a login not linked to a record) are refused."""
    ctx = api_context(request)
    patient_id = portal_patient_id(ctx.user)
    if patient_id is None:
        raise AccessDenied("The portal is for patients: staff see bookings on the calendar.")
    return ctx, patient_id


def _reply_out(reply: BookingReply | None) -> dict[str, Any] | None:
    return None if reply is None else {"kind": reply.kind, "note": reply.note, "at": reply.at}


@router.get("/portal/bookings", response={200: PortalBookingListOut, **ERROR_ANSWERS})
def booking_list(request: HttpRequest) -> dict[str, Any]:
    """The caller's own upcoming bookings, soonest first, with what to prepare and their answer."""
    ctx, patient_id = _own(request)
    bookings = selectors.portal_bookings(ctx=ctx, patient_id=patient_id)
    return {
        "items": [
            {
                "id": b.appointment.pk,
                "kind": b.appointment.kind,
                "kind_label": b.appointment.get_kind_display(),
                "starts_at": b.appointment.starts_at,
                "ends_at": b.appointment.ends_at,
                "mode": b.appointment.mode,
                "with_user": b.appointment.with_user.display_name,
                "place": b.appointment.place.name if b.appointment.place else "",
                "preparation": preparation_lines(b.preparation) if b.preparation else [],
                "reply": _reply_out(b.reply),
            }
            for b in bookings
        ]
    }


@router.post("/portal/bookings/{appointment_id}/confirm", response={201: BookingReplyOut, **ERROR_ANSWERS})
def booking_confirm(request: HttpRequest, appointment_id: DbId) -> Status[dict[str, Any] | None]:
    """Confirm one's own booking (409 if it was cancelled or its time has passed)."""
    reply = services.booking_reply_record(
        ctx=api_context(request), appointment_id=appointment_id, kind=ReplyKind.CONFIRMED
    )
    return Status(201, _reply_out(reply))


@router.post("/portal/bookings/{appointment_id}/reschedule-request", response={201: BookingReplyOut, **ERROR_ANSWERS})
def booking_reschedule_request(
    request: HttpRequest, appointment_id: DbId, payload: RescheduleRequestIn
) -> Status[dict[str, Any] | None]:
    """Ask the clinic for another time for one's own booking, with an optional short note."""
    reply = services.booking_reply_record(
        ctx=api_context(request), appointment_id=appointment_id, kind=ReplyKind.RESCHEDULE, note=payload.note
    )
    return Status(201, _reply_out(reply))


def _preference_out(ctx: AuditContext, patient_id: int, preference: ReminderPreference | None) -> dict[str, Any]:
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PORTAL_USE, record_allowed=False)
    return {
        "channel": services.reminder_channel(access.patient, preference).value,
        "name_visit": bool(preference and preference.name_visit),
        "chosen": preference is not None,
    }


@router.get("/portal/reminder-preference", response={200: ReminderPreferenceOut, **ERROR_ANSWERS})
def preference_read(request: HttpRequest) -> dict[str, Any]:
    """How the caller's reminders reach them now, and whether they may name the kind of visit."""
    ctx, patient_id = _own(request)
    out = _preference_out(ctx, patient_id, selectors.preference_for(patient_id))
    access_event_record(ctx=ctx, action="portal.reminders", patient_id=patient_id)
    return out


@router.put("/portal/reminder-preference", response={200: ReminderPreferenceOut, **ERROR_ANSWERS})
def preference_write(request: HttpRequest, payload: ReminderPreferenceIn) -> dict[str, Any]:
    """Choose email, sms or none (no reminders), and whether reminders may name the kind of visit."""
    ctx, patient_id = _own(request)
    preference = services.reminder_preference_set(
        ctx=ctx, patient_id=patient_id, channel=payload.channel, name_visit=payload.name_visit
    )
    return _preference_out(ctx, patient_id, preference)


@router.get("/portal/reminders", response={200: SentReminderListOut, **ERROR_ANSWERS})
def reminder_list(request: HttpRequest) -> dict[str, Any]:
    """The reminders sent to the caller, newest first, with the words sent."""
    ctx, patient_id = _own(request)
    _, sent = selectors.portal_reminders(ctx=ctx, patient_id=patient_id)
    return {
        "items": [
            {
                "id": r.pk,
                "appointment": r.appointment_id,
                "which": r.which,
                "channel": r.channel,
                "to": r.to,
                "subject": r.subject,
                "body": r.body,
                "sent_at": r.sent_at,
            }
            for r in sent
        ]
    }

"""Appointments over the API: booking (the same checks as the page), moves, cancellations, no-shows and consultation
outcomes: thin twins of the page over the same services."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId, DbInt
from kapclinic.appointments import services
from kapclinic.appointments.models import Appointment

router = Router(tags=["appointments"])


class BookingIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="consultation, evaluation, preparation or integration")
    with_user: DbId
    starts_at: datetime
    minutes: DbInt = 30
    mode: str = Field(description="in_person or video")
    video_link: str = Field(default="", description="https only, for a video appointment")
    patient: DbId | None = None
    inquiry: DbId | None = None
    place: DbId | None = Field(default=None, description="the room it holds (in person only)")


class AppointmentOut(Schema):
    id: int
    kind: str
    patient: int | None = Field(alias="patient_id")
    inquiry: int | None = Field(alias="inquiry_id")
    with_user: int = Field(alias="with_user_id")
    place: int | None = Field(alias="place_id")
    starts_at: datetime
    ends_at: datetime
    mode: str
    video_link: str
    status: str
    outcome: str
    outcome_note: str


@router.post("/appointments", response={201: AppointmentOut, **ERROR_ANSWERS})
def appointment_create(request: HttpRequest, payload: BookingIn) -> Status[Appointment]:
    """Book; a clash with the staff member's or the patient's other appointments answers 422."""
    values = payload.dict()
    appointment = services.appointment_book(
        ctx=api_context(request),
        kind=values["kind"],
        with_user_id=values["with_user"],
        starts_at=values["starts_at"],
        minutes=values["minutes"],
        mode=values["mode"],
        video_link=values["video_link"],
        patient_id=values["patient"],
        inquiry_id=values["inquiry"],
        place_id=values["place"],
    )
    return Status(201, appointment)


class OutcomeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(description="proceed, refer or declined")
    note: str = ""
    send_pre_screen: bool = True


@router.post("/appointments/{appointment_id}/outcome", response={200: AppointmentOut, **ERROR_ANSWERS})
def consultation_outcome(request: HttpRequest, appointment_id: DbId, payload: OutcomeIn) -> Appointment:
    """Record a free consultation's outcome; proceeding sends the pre-screen questionnaires to the portal."""
    return services.consultation_outcome_record(
        ctx=api_context(request), appointment_id=appointment_id, **payload.dict()
    )


class ChangeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="Why (kept in the appointment's history)", max_length=services.REASON_MAX)


class RescheduleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    starts_at: datetime
    minutes: DbInt = 30
    with_user: DbId | None = Field(
        default=None, description="Another staff member who holds this kind; default: the same"
    )
    reason: str = Field(description="Why it moves (kept in the appointment's history)", max_length=services.REASON_MAX)


@router.post("/appointments/{appointment_id}/cancel", response={200: AppointmentOut, **ERROR_ANSWERS})
def appointment_cancel(request: HttpRequest, appointment_id: DbId, payload: ChangeIn) -> Appointment:
    """Cancel a booked appointment that has not started, with the reason; 409 once started or not booked."""
    return services.appointment_cancel(ctx=api_context(request), appointment_id=appointment_id, reason=payload.reason)


@router.post("/appointments/{appointment_id}/no-show", response={200: AppointmentOut, **ERROR_ANSWERS})
def appointment_no_show(request: HttpRequest, appointment_id: DbId, payload: ChangeIn) -> Appointment:
    """Mark that the person did not attend a booked appointment that has started, with the reason."""
    return services.appointment_no_show(ctx=api_context(request), appointment_id=appointment_id, reason=payload.reason)


@router.post("/appointments/{appointment_id}/reschedule", response={200: AppointmentOut, **ERROR_ANSWERS})
def appointment_reschedule(request: HttpRequest, appointment_id: DbId, payload: RescheduleIn) -> Appointment:
    """Move a booked appointment; a clash answers 422 with the next free times in its message."""
    return services.appointment_reschedule(
        ctx=api_context(request),
        appointment_id=appointment_id,
        starts_at=payload.starts_at,
        minutes=payload.minutes,
        with_user_id=payload.with_user,
        reason=payload.reason,
    )


class FreeTimesOut(Schema):
    kind: str
    minutes: int
    staff: int
    place: int | None
    starts: list[datetime] = Field(
        description="the next starts when the staff member, the room and the patient are free"
    )


class FreeTimesQuery(Schema):
    # Optional in the schema so that a role that may not book is told so first, whatever it sends (422 after).
    kind: str = Field(default="", description="consultation, evaluation, preparation, integration or dosing")
    staff: DbId | None = None
    start: datetime | None = Field(default=None, alias="from", description="from when (default now)")
    minutes: DbInt | None = Field(default=None, description="default: the kind's length (needed for dosing)")
    place: DbId | None = None
    patient: DbId | None = None


@router.get("/availability", response={200: FreeTimesOut, **ERROR_ANSWERS})
def availability(request: HttpRequest, filters: Query[FreeTimesQuery]) -> dict[str, object]:
    """The next free start times for a kind of booking with a staff member (and a room, and a patient): within
    their hours, outside time off, closures and other bookings. 422 for a kind or staff member that cannot."""
    return services.free_times_for(
        ctx=api_context(request),
        kind=filters.kind,
        staff_id=filters.staff,
        wanted=filters.start,
        minutes=filters.minutes,
        place_id=filters.place,
        patient_id=filters.patient,
    )

"""Appointments over the API: booking (the same checks as the page), moves, cancellations, no-shows and consultation
outcomes: thin twins of the page over the same services."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import AliasChoices, ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import BOOKING_ANSWERS, ERROR_ANSWERS, DbId, DbInt
from kapclinic.appointments import services
from kapclinic.appointments.models import Appointment, AppointmentKind, AppointmentMode
from kapclinic.appointments.selectors import calendar_week
from kapclinic.clinical.availability import booking_minutes

router = Router(tags=["appointments"])


class BookingIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(
        description="consultation, evaluation, preparation or integration (a dosing session is booked by "
        "scheduling the plan's session: POST /dosing-sessions/{id}/schedule)"
    )
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


@router.post("/appointments", response={201: AppointmentOut, **BOOKING_ANSWERS})
def appointment_create(request: HttpRequest, payload: BookingIn) -> Status[Appointment]:
    """Book; a clash with the staff member's, the room's or the patient's other bookings answers 409 with the next
    free times."""
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

    starts_at: datetime = Field(validation_alias=AliasChoices("starts_at", "start"), description="the new start")
    minutes: DbInt | None = Field(
        default=None, description="The new length; default the same (a dosing session keeps its route's length)"
    )
    with_user: DbId | None = Field(
        default=None, description="Another staff member who holds this kind; default: the same"
    )
    reason: str = Field(description="Why it moves (kept in the appointment's history)", max_length=services.REASON_MAX)


@router.post("/appointments/{appointment_id}/cancel", response={200: AppointmentOut, **BOOKING_ANSWERS})
@router.post(
    "/bookings/{appointment_id}/cancel",
    response={200: AppointmentOut, **BOOKING_ANSWERS},
    operation_id="booking_cancel",
)
def appointment_cancel(request: HttpRequest, appointment_id: DbId, payload: ChangeIn) -> Appointment:
    """Cancel a booked appointment that has not started, with the reason; 409 once started or not booked."""
    return services.appointment_cancel(ctx=api_context(request), appointment_id=appointment_id, reason=payload.reason)


@router.post("/appointments/{appointment_id}/no-show", response={200: AppointmentOut, **BOOKING_ANSWERS})
@router.post(
    "/bookings/{appointment_id}/no-show",
    response={200: AppointmentOut, **BOOKING_ANSWERS},
    operation_id="booking_no_show",
)
def appointment_no_show(request: HttpRequest, appointment_id: DbId, payload: ChangeIn) -> Appointment:
    """Mark that the person did not attend a booked appointment that has started, with the reason."""
    return services.appointment_no_show(ctx=api_context(request), appointment_id=appointment_id, reason=payload.reason)


@router.post("/appointments/{appointment_id}/reschedule", response={200: AppointmentOut, **BOOKING_ANSWERS})
@router.post(
    "/bookings/{appointment_id}/reschedule",
    response={200: AppointmentOut, **BOOKING_ANSWERS},
    operation_id="booking_reschedule",
)
def appointment_reschedule(request: HttpRequest, appointment_id: DbId, payload: RescheduleIn) -> Appointment:
    """Move a booked appointment that has not started (a dosing session's moves its session); a clash answers 409
    with the next free times."""
    return services.appointment_reschedule(
        ctx=api_context(request),
        appointment_id=appointment_id,
        starts_at=payload.starts_at,
        minutes=payload.minutes,
        with_user_id=payload.with_user,
        reason=payload.reason,
    )


class FreeTimeOut(Schema):
    start: datetime
    staff: int
    staff_name: str


class FreeTimesOut(Schema):
    kind: str
    minutes: int
    staff: int | None = Field(description="the staff member asked about; null: anyone who holds the kind")
    place: int | None
    starts: list[datetime] = Field(
        description="the next starts when the staff member (or someone), the room and the patient are free"
    )
    options: list[FreeTimeOut] = Field(description="each free start with who is free then, earliest first")


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


# --- The calendar and bookings of every kind (issue 16, item 9) ----------------------------------------------------

CALENDAR_LONGEST_DAYS = 31


class CalendarQuery(Schema):
    start: date | None = Field(default=None, description="first day (default today)")
    end: date | None = Field(
        default=None, description="last day, inclusive (default a week from start; at most 31 days)"
    )
    staff: DbId | None = None
    room: DbId | None = Field(default=None, description="a room or chair")


class BookingOut(AppointmentOut):
    kind_label: str
    person: str = Field(description="the patient's or inquirer's name (names and kinds only: no clinical content)")
    staff_name: str
    place_name: str
    session: int | None = Field(description="the dosing session a dosing booking holds")

    @staticmethod
    def resolve_kind_label(obj: Appointment) -> str:
        return obj.get_kind_display()

    @staticmethod
    def resolve_person(obj: Appointment) -> str:
        return obj.person_name

    @staticmethod
    def resolve_staff_name(obj: Appointment) -> str:
        return obj.with_user.display_name

    @staticmethod
    def resolve_place_name(obj: Appointment) -> str:
        return obj.place.name if obj.place is not None else ""

    @staticmethod
    def resolve_session(obj: Appointment) -> int | None:
        return getattr(getattr(obj, "dosing_session", None), "pk", None)


@router.get("/calendar", response={200: list[BookingOut], **ERROR_ANSWERS})
def calendar(request: HttpRequest, filters: Query[CalendarQuery]) -> list[Appointment]:
    """The bookings of every kind from `start` to `end` for a staff member or a room, or all the user may see;
    the same rules and audit as the calendar page."""
    first = filters.start or timezone.localdate()
    last = filters.end or first + timedelta(days=6)
    if last < first:
        raise ValidationError({"end": "The end cannot be before the start."})
    if (last - first).days >= CALENDAR_LONGEST_DAYS:
        raise ValidationError({"end": f"Ask for at most {CALENDAR_LONGEST_DAYS} days at a time."})
    days = calendar_week(
        ctx=api_context(request),
        first=first,
        days=(last - first).days + 1,
        staff_id=filters.staff,
        place_id=filters.room,
    )
    return [appointment for day in days for appointment in day.appointments]


class BookingRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="consultation, evaluation, preparation or integration")
    start: datetime
    staff: list[DbId] = Field(
        min_length=1, max_length=1, description="who holds it (one; on-site staff are checked, not booked)"
    )
    patient: DbId | None = None
    inquiry: DbId | None = None
    room: DbId | None = Field(default=None, description="the room it takes (in person)")
    minutes: DbInt | None = Field(default=None, description="default: the kind's length")
    mode: str = Field(default="", description="in_person or video (default: video when a link is given)")
    video_link: str = Field(default="", description="https only, for a video booking")


@router.post("/bookings", response={201: AppointmentOut, **BOOKING_ANSWERS})
def booking_create(request: HttpRequest, payload: BookingRequest) -> Status[Appointment]:
    """Book any kind but a dosing session (that is booked by scheduling its plan's session: POST
    /dosing-sessions/{id}/schedule). A clash answers 409 with the clash and the next free times."""
    if payload.kind == AppointmentKind.DOSING:
        raise ValidationError(
            {"kind": "A dosing session is booked by scheduling it: POST /api/v1/dosing-sessions/{id}/schedule."}
        )
    minutes = payload.minutes
    if minutes is None:
        minutes = booking_minutes(payload.kind) if payload.kind in AppointmentKind.values else 30
    mode = payload.mode or (AppointmentMode.VIDEO if payload.video_link else AppointmentMode.IN_PERSON)
    appointment = services.appointment_book(
        ctx=api_context(request),
        kind=payload.kind,
        with_user_id=payload.staff[0],
        starts_at=payload.start,
        minutes=minutes,
        mode=mode,
        video_link=payload.video_link,
        patient_id=payload.patient,
        inquiry_id=payload.inquiry,
        place_id=payload.room,
    )
    return Status(201, appointment)

"""Appointments over the API: booking (the same double-booking check as the page) and consultation outcomes."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.appointments import services
from kapclinic.appointments.models import Appointment
from kapclinic.web import api_context

router = Router(tags=["appointments"])


class BookingIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="consultation, evaluation, preparation or integration")
    with_user: int
    starts_at: datetime
    minutes: int = 30
    mode: str = Field(description="in_person or video")
    video_link: str = ""
    patient: int | None = None
    inquiry: int | None = None


class AppointmentOut(Schema):
    id: int
    kind: str
    patient: int | None = Field(alias="patient_id")
    inquiry: int | None = Field(alias="inquiry_id")
    with_user: int = Field(alias="with_user_id")
    starts_at: datetime
    ends_at: datetime
    mode: str
    video_link: str
    status: str
    outcome: str
    outcome_note: str


@router.post("/appointments", response={201: AppointmentOut})
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
    )
    return Status(201, appointment)


class OutcomeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(description="proceed, refer or declined")
    note: str = ""
    send_pre_screen: bool = True


@router.post("/appointments/{appointment_id}/outcome", response=AppointmentOut)
def consultation_outcome(request: HttpRequest, appointment_id: int, payload: OutcomeIn) -> Appointment:
    """Record a free consultation's outcome; proceeding sends the pre-screen questionnaires to the portal."""
    return services.consultation_outcome_record(
        ctx=api_context(request), appointment_id=appointment_id, **payload.dict()
    )

"""Dosing sessions over the API: scheduling proposed sessions and the patient's preparation checklist."""

from __future__ import annotations

from datetime import date as date_type
from datetime import datetime
from decimal import Decimal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId, DbInt
from kapclinic.dosing import services, session_services
from kapclinic.dosing.models import (
    AdverseEvent,
    AdverseEventReview,
    AlertAcknowledgement,
    DoseOrder,
    DosingSession,
    PreparationChecklist,
)
from kapclinic.dosing.selectors import sessions_on
from kapclinic.ledger.services import WitnessCredentials

router = Router(tags=["dosing sessions"])


class ScheduleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    nurse: DbId | None = Field(default=None, description="the nurse booked for the session's whole length")
    place: DbId | None = Field(default=None, description="the chair (IV) or room it takes, when the clinic has any")
    starts_at: datetime | None = Field(default=None, description="default: the time the plan proposed")
    version: DbInt | None = None
    go_on_reason: str = Field(
        default="",
        max_length=1000,
        description="after a 422 warning on go_on_reason (a prior authorisation used up or out of its dates): why "
        "the session is scheduled anyway; recorded with who and when",
    )


class DosingSessionOut(Schema):
    id: int
    patient: int
    plan: int
    number: int
    scheduled_for: datetime
    state: str
    room: str
    nurse: int | None
    therapist: int | None
    version: int

    @staticmethod
    def resolve_patient(obj: DosingSession) -> int:
        return obj.patient_id

    @staticmethod
    def resolve_plan(obj: DosingSession) -> int:
        return obj.plan_id

    @staticmethod
    def resolve_nurse(obj: DosingSession) -> int | None:
        return obj.nurse_id

    @staticmethod
    def resolve_therapist(obj: DosingSession) -> int | None:
        return obj.therapist_id


class ChecklistIn(Schema):
    model_config = ConfigDict(extra="forbid")

    fasting_since: datetime | None = None
    medications_held: bool = False
    ride_name: str = ""
    ride_phone: str = ""
    no_driving_until_next_day: bool = False


class ChecklistOut(Schema):
    fasting_since: datetime | None
    medications_held: bool
    ride_name: str
    ride_phone: str
    no_driving_until_next_day: bool
    complete: bool
    completed_at: datetime | None
    confirmed_at: datetime | None

    @staticmethod
    def resolve_complete(obj: PreparationChecklist) -> bool:
        return obj.is_complete


@router.post("/dosing-sessions/{session_id}/schedule", response={200: DosingSessionOut, **ERROR_ANSWERS})
def session_schedule(request: HttpRequest, session_id: DbId, payload: ScheduleIn) -> DosingSession:
    """Confirm a proposed session: book its nurse and chair or room (a prescriber on site). 422 without current
    consent, an eligible decision and a signed plan, or when the nurse, the place or the patient is taken then
    (with the next free times)."""
    return services.session_schedule(
        ctx=api_context(request),
        session_id=session_id,
        nurse_id=payload.nurse,
        place_id=payload.place,
        starts_at=payload.starts_at,
        version=payload.version,
        go_on_reason=payload.go_on_reason,
    )


@router.put("/dosing-sessions/{session_id}/checklist", response={200: ChecklistOut, **ERROR_ANSWERS})
def checklist_put(request: HttpRequest, session_id: DbId, payload: ChecklistIn) -> PreparationChecklist:
    """The patient's preparation checklist for an upcoming session (the patient only, until check-in)."""
    return services.checklist_save(ctx=api_context(request), session_id=session_id, values=payload.dict())


class VitalIn(Schema):
    """One reading from a device or a script. `measured_at` defaults to now."""

    model_config = ConfigDict(extra="forbid")

    systolic: DbInt | None = None
    diastolic: DbInt | None = None
    heart_rate: DbInt | None = None
    spo2: DbInt | None = None
    respiratory_rate: DbInt | None = None
    measured_at: datetime | None = None
    source: str = "device"


class AlertOut(Schema):
    id: int
    code: str
    level: str
    message: str
    source: str
    raised_at: datetime


class VitalOut(Schema):
    id: int
    session: int
    measured_at: datetime
    systolic: int | None
    diastolic: int | None
    heart_rate: int | None
    spo2: int | None
    respiratory_rate: int | None
    predose: bool
    source: str
    alerts: list[AlertOut]
    clearance: str | None = None


@router.post("/dosing-sessions/{session_id}/vitals", response={201: VitalOut, **ERROR_ANSWERS})
def vitals_post(request: HttpRequest, session_id: DbId, payload: VitalIn) -> Status[dict[str, object]]:
    """Store a reading (nurse, or a device with a nurse's token); returns it with the alerts it raised at once."""
    values = payload.dict(exclude={"measured_at", "source"}, exclude_none=True)
    vital, alerts, clearance = session_services.vital_record(
        ctx=api_context(request),
        session_id=session_id,
        values=values,
        measured_at=payload.measured_at,
        source=payload.source,
    )
    return Status(
        201,
        {
            "id": vital.pk,
            "session": vital.session_id,
            "measured_at": vital.measured_at,
            "systolic": vital.systolic,
            "diastolic": vital.diastolic,
            "heart_rate": vital.heart_rate,
            "spo2": vital.spo2,
            "respiratory_rate": vital.respiratory_rate,
            "predose": vital.predose,
            "source": vital.source,
            "alerts": alerts,
            "clearance": clearance.status if clearance else None,
        },
    )


class BoardSessionOut(DosingSessionOut):
    open_alerts: int
    route: str
    patient_mrn: str

    @staticmethod
    def resolve_route(obj: DosingSession) -> str:
        return obj.plan.route

    @staticmethod
    def resolve_patient_mrn(obj: DosingSession) -> str:
        return obj.patient.mrn


@router.get("/dosing-sessions", response={200: list[BoardSessionOut], **ERROR_ANSWERS})
def sessions_list(request: HttpRequest, date: date_type | None = None) -> list[DosingSession]:
    """A day's sessions (default today) that the caller may see, with state, room and open alerts."""
    return sessions_on(date or timezone.localdate(), ctx=api_context(request))


class AckIn(Schema):
    model_config = ConfigDict(extra="forbid")

    action_taken: str


class AckOut(Schema):
    alert: int
    by: int
    at: datetime
    action_taken: str

    @staticmethod
    def resolve_alert(obj: AlertAcknowledgement) -> int:
        return obj.alert_id

    @staticmethod
    def resolve_by(obj: AlertAcknowledgement) -> int:
        return obj.by_id


@router.post("/alerts/{alert_id}/acknowledgement", response={201: AckOut, **ERROR_ANSWERS})
def alert_ack(request: HttpRequest, alert_id: DbId, payload: AckIn) -> Status[AlertAcknowledgement]:
    """Acknowledge an alert as the caller (the acknowledging user is always the caller)."""
    return Status(
        201,
        session_services.alert_acknowledge(
            ctx=api_context(request), alert_id=alert_id, action_taken=payload.action_taken
        ),
    )


class AdverseEventIn(Schema):
    model_config = ConfigDict(extra="forbid")

    what: str
    severity: str
    action: str
    occurred_at: datetime
    serious: bool = False
    outcome: str = ""
    session: DbId | None = None


class AdverseEventOut(Schema):
    id: int
    patient: int
    session: int | None
    what: str
    severity: str
    serious: bool
    action: str
    outcome: str
    occurred_at: datetime

    @staticmethod
    def resolve_patient(obj: AdverseEvent) -> int:
        return obj.patient_id

    @staticmethod
    def resolve_session(obj: AdverseEvent) -> int | None:
        return obj.session_id


@router.post("/patients/{patient_id}/adverse-events", response={201: AdverseEventOut, **ERROR_ANSWERS})
def adverse_event_post(request: HttpRequest, patient_id: DbId, payload: AdverseEventIn) -> Status[AdverseEvent]:
    """Record an adverse event (what, severity, action, outcome); the director sees it until reviewed."""
    values = payload.dict()
    values["session_id"] = values.pop("session")
    return Status(201, session_services.adverse_event_record(ctx=api_context(request), patient_id=patient_id, **values))


class ReviewIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str


class ReviewOut(Schema):
    event: int
    by: int
    at: datetime
    note: str

    @staticmethod
    def resolve_event(obj: AdverseEventReview) -> int:
        return obj.event_id

    @staticmethod
    def resolve_by(obj: AdverseEventReview) -> int:
        return obj.by_id


@router.post("/adverse-events/{event_id}/review", response={201: ReviewOut, **ERROR_ANSWERS})
def adverse_event_review_post(request: HttpRequest, event_id: DbId, payload: ReviewIn) -> Status[AdverseEventReview]:
    """The director's review of an adverse event (it then leaves the dashboard)."""
    return Status(
        201, session_services.adverse_event_review(ctx=api_context(request), event_id=event_id, note=payload.note)
    )


# --- The session's steps, with the same services (and so the same rules) as the session screen. ---------------


class StepOut(Schema):
    """The session after a step: its state and version (send the version back to guard against a stale view)."""

    id: int
    state: str
    version: int


def _after(session_id: int) -> DosingSession:
    return DosingSession.objects.get(pk=session_id)


class CheckInIn(Schema):
    model_config = ConfigDict(extra="forbid")

    identity_confirmed: bool
    checklist_confirmed: bool
    pregnancy_test: str
    weight_kg: Decimal
    checklist_note: str = ""
    last_food_at: datetime | None = Field(None, description="When the patient last ate (default: the checklist's)")
    last_liquid_at: datetime | None = Field(None, description="When the patient last drank")
    escort_confirmed: bool | None = Field(None, description="Escort or ride home confirmed (default: the checklist's)")
    substances_today: bool | None = Field(None, description="Alcohol or other substances today")
    substances_note: str = Field("", description="What and when, if substances_today")
    version: DbInt | None = None


@router.post("/dosing-sessions/{session_id}/check-in", response={200: StepOut, **ERROR_ANSWERS})
def check_in_post(request: HttpRequest, session_id: DbId, payload: CheckInIn) -> DosingSession:
    session_services.session_check_in(ctx=api_context(request), session_id=session_id, **payload.dict())
    return _after(session_id)


class OverrideIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str
    version: DbInt | None = None


@router.post("/dosing-sessions/{session_id}/clearance-override", response={200: StepOut, **ERROR_ANSWERS})
def clearance_override_post(request: HttpRequest, session_id: DbId, payload: OverrideIn) -> DosingSession:
    """The prescriber clears a hold with a reason; a do-not-dose finding answers 422."""
    session_services.clearance_override(ctx=api_context(request), session_id=session_id, **payload.dict())
    return _after(session_id)


class OrderIn(Schema):
    model_config = ConfigDict(extra="forbid")

    product: DbId
    escalate: bool = False
    override_reason: str = ""
    indication: str = Field(
        "",
        description="Esketamine only, when the plan has no indication (plans written before it was asked): trd or mdsi",
    )
    infusion_minutes: DbInt | None = Field(
        None, description="IV only: the planned infusion minutes, 2 to 100 (default 40: 0.5 mg/kg over 40 min)"
    )
    version: DbInt | None = None


class OrderOut(Schema):
    id: int
    dose_mg: Decimal
    volume_ml: Decimal | None
    units: Decimal | None
    working: list[str]
    hard_stops: list[dict[str, str]]
    override_reason: str
    esketamine_indication: str
    infusion_minutes: int | None
    policy_version: str
    signed_at: datetime


@router.post("/dosing-sessions/{session_id}/orders", response={201: OrderOut, **ERROR_ANSWERS})
def order_post(request: HttpRequest, session_id: DbId, payload: OrderIn) -> Status[DoseOrder]:
    """The prescriber signs the dose order: calculated from the plan and today's weight, with its working."""
    values = payload.dict()
    values["product_id"] = values.pop("product")
    return Status(201, session_services.dose_order_sign(ctx=api_context(request), session_id=session_id, **values))


class AdministrationIn(Schema):
    """Amounts in the product's unit (mL or devices); a remainder is wasted with the witness's own password."""

    model_config = ConfigDict(extra="forbid")

    lot: DbId
    location: DbId
    started_at: datetime
    drawn: Decimal
    given: Decimal
    ended_at: datetime | None = None
    infusion_rate_ml_per_h: Decimal | None = None
    short_infusion_reason: str = Field(
        "", max_length=2000, description="IV ended far sooner than planned (a bolus): why; required then"
    )
    witness_username: str = ""
    witness_password: str = ""
    version: DbInt | None = None


@router.post("/dosing-sessions/{session_id}/administration", response={200: StepOut, **ERROR_ANSWERS})
def administration_post(request: HttpRequest, session_id: DbId, payload: AdministrationIn) -> DosingSession:
    values = payload.dict(exclude={"witness_username", "witness_password", "lot", "location"})
    session_services.administration_record(
        ctx=api_context(request),
        session_id=session_id,
        lot_id=payload.lot,
        location_id=payload.location,
        witness=WitnessCredentials(payload.witness_username, payload.witness_password)
        if payload.witness_username
        else None,
        **values,
    )
    return _after(session_id)


class AdvanceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    to: str
    at: datetime | None = None
    reason: str = Field(
        "", max_length=2000, description="IV infusion ended far sooner than planned (a bolus): why; required then"
    )
    version: DbInt | None = None


@router.post("/dosing-sessions/{session_id}/advance", response={200: StepOut, **ERROR_ANSWERS})
def advance_post(request: HttpRequest, session_id: DbId, payload: AdvanceIn) -> DosingSession:
    """Infusion ended (to "monitoring") or monitoring over (to "recovery")."""
    return session_services.session_advance(ctx=api_context(request), session_id=session_id, **payload.dict())


class EventIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str
    code: str
    occurred_at: datetime | None = None
    severity: str = ""
    value: str = ""
    note: str = ""


@router.post("/dosing-sessions/{session_id}/events", response={201: StepOut, **ERROR_ANSWERS})
def event_post(request: HttpRequest, session_id: DbId, payload: EventIn) -> Status[DosingSession]:
    """A side effect, intervention, rescue medication or score (e.g. MOAA/S, CADSS-6), with its time."""
    session_services.event_record(ctx=api_context(request), session_id=session_id, **payload.dict())
    return Status(201, _after(session_id))


class DischargeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    driver_name: str
    moaas: DbInt | None = None
    oriented: bool = False
    walks_steadily: bool = False
    nausea_controlled: bool = False
    # The exit suicide check is a question: left out (null) is not answered, which never meets discharge.
    new_suicidal_ideation: bool | None = Field(default=None, description="The exit check's answer; null: not asked")
    escort_present: bool = False
    override_reason: str = ""
    version: DbInt | None = None


@router.post("/dosing-sessions/{session_id}/discharge", response={200: StepOut, **ERROR_ANSWERS})
def discharge_post(request: HttpRequest, session_id: DbId, payload: DischargeIn) -> DosingSession:
    """Discharge; an unmet criterion answers 422 unless the prescriber overrides with a reason."""
    answers = payload.dict(exclude={"driver_name", "override_reason", "version"})
    session_services.session_discharge(
        ctx=api_context(request),
        session_id=session_id,
        answers=answers,
        driver_name=payload.driver_name,
        override_reason=payload.override_reason,
        version=payload.version,
    )
    return _after(session_id)


class StopIn(Schema):
    model_config = ConfigDict(extra="forbid")

    outcome: str
    reason: str
    version: DbInt | None = None


@router.post("/dosing-sessions/{session_id}/stop", response={200: StepOut, **ERROR_ANSWERS})
def stop_post(request: HttpRequest, session_id: DbId, payload: StopIn) -> DosingSession:
    return session_services.session_stop(ctx=api_context(request), session_id=session_id, **payload.dict())


class SessionSignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    version: DbInt | None = None


@router.post("/dosing-sessions/{session_id}/sign", response={200: StepOut, **ERROR_ANSWERS})
def sign_post(request: HttpRequest, session_id: DbId, payload: SessionSignIn) -> DosingSession:
    """Sign the finished session record; afterwards nothing in it can change."""
    return session_services.session_sign(ctx=api_context(request), session_id=session_id, version=payload.version)


class RemsEnrollmentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    enrolled_on: date_type
    reference: str


@router.post("/patients/{patient_id}/rems-enrollments", response={201: dict[str, object], **ERROR_ANSWERS})
def rems_enrollment_post(
    request: HttpRequest, patient_id: DbId, payload: RemsEnrollmentIn
) -> Status[dict[str, object]]:
    """Record the patient's Spravato REMS enrollment (checked before the first esketamine dose)."""
    enrollment = session_services.rems_enrollment_record(
        ctx=api_context(request), patient_id=patient_id, **payload.dict()
    )
    return Status(201, {"id": enrollment.pk, "enrolled_on": enrollment.enrolled_on, "reference": enrollment.reference})


class RemsSubmitIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reference: str = ""


@router.post("/dosing-sessions/{session_id}/rems-submission", response={201: StepOut, **ERROR_ANSWERS})
def rems_submit_post(request: HttpRequest, session_id: DbId, payload: RemsSubmitIn) -> Status[DosingSession]:
    """Mark the session's REMS monitoring form submitted (stops its 7-day clock on the director's dashboard)."""
    session_services.rems_submit(ctx=api_context(request), session_id=session_id, reference=payload.reference)
    return Status(201, _after(session_id))

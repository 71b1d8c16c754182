"""Treatment plans and proposed sessions over the API, with the same rules as the pages (the same services)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, ClockTime, DbId, DbInt
from kapclinic.dosing.models import DosingSession
from kapclinic.plans import services
from kapclinic.plans.models import TreatmentPlan
from kapclinic.plans.selectors import plan_get, plans_for_patient

router = Router(tags=["treatment plans"])


class PlanIn(Schema):
    model_config = ConfigDict(extra="forbid")

    indication_code: str = Field(description="ICD-10-CM code, e.g. F33.2")
    indication_text: str
    route: str = Field(description="iv, im, intranasal or sublingual")
    esketamine_indication: str = Field(
        "", description="Intranasal esketamine only (required there): trd or mdsi; the US label doses them differently"
    )
    dose: Decimal = Field(description="Starting dose: mg/kg for iv and im, mg for intranasal and sublingual")
    titration: str = "none"
    titration_step: Decimal | None = None
    titration_ceiling: Decimal | None = None
    session_count: DbInt
    interval_days: DbInt = Field(description="2, 3, 7 or 14")
    first_session_on: date
    session_time: ClockTime
    session_minutes: DbInt = 180
    therapist: DbId = Field(description="User id of the therapist")
    goals: list[str] = Field(description="The patient's goals, in their words")
    measures: list[str] = Field(default_factory=list, description="Instrument codes due before each session")
    notes: str = ""


class PlanUpdateIn(PlanIn):
    version: DbInt | None = None


class ProposedSessionOut(Schema):
    id: int
    number: int
    scheduled_for: datetime
    state: str
    room: str
    version: int


class PlanOut(Schema):
    id: int
    patient: int = Field(alias="patient_id")
    indication_code: str
    indication_text: str
    route: str
    esketamine_indication: str
    starting_dose_mg_per_kg: Decimal | None
    starting_dose_mg: Decimal | None
    titration: str
    titration_step: Decimal | None
    titration_ceiling: Decimal | None
    session_count: int
    interval_days: int
    first_session_on: date
    session_time: ClockTime
    session_minutes: int
    therapist: int = Field(alias="therapist_id")
    goals: list[str]
    measures: list[str]
    notes: str
    dosing_policy_version: str
    supersedes: int | None = Field(alias="supersedes_id")
    signed_by: int | None = Field(alias="signed_by_id")
    signed_at: datetime | None
    signed_digest: str
    version: int
    sessions: list[ProposedSessionOut]

    @staticmethod
    def resolve_sessions(obj: TreatmentPlan) -> list[DosingSession]:
        return list(DosingSession.objects.filter(plan=obj).order_by("number"))


@router.get("/patients/{patient_id}/plans", response={200: list[PlanOut], **ERROR_ANSWERS})
def plans_list(request: HttpRequest, patient_id: DbId) -> list[TreatmentPlan]:
    """The patient's treatment plans, newest first (drafts included)."""
    _, plans = plans_for_patient(ctx=api_context(request), patient_id=patient_id)
    return plans


@router.post("/patients/{patient_id}/plans", response={201: PlanOut, **ERROR_ANSWERS})
def plan_create(request: HttpRequest, patient_id: DbId, payload: PlanIn) -> Status[TreatmentPlan]:
    """Write a draft plan (prescriber). A dose above the policy maximum is refused with 422."""
    plan = services.plan_draft_create(ctx=api_context(request), patient_id=patient_id, raw=payload.dict())
    return Status(201, plan)


@router.get("/plans/{plan_id}", response={200: PlanOut, **ERROR_ANSWERS})
def plan_read(request: HttpRequest, plan_id: DbId) -> TreatmentPlan:
    return plan_get(ctx=api_context(request), plan_id=plan_id)


@router.put("/plans/{plan_id}", response={200: PlanOut, **ERROR_ANSWERS})
def plan_update(request: HttpRequest, plan_id: DbId, payload: PlanUpdateIn) -> TreatmentPlan:
    """Change a draft; a signed plan answers 409."""
    raw = payload.dict(exclude={"version"})
    return services.plan_draft_update(ctx=api_context(request), plan_id=plan_id, raw=raw, version=payload.version)


@router.post("/plans/{plan_id}/sign", response={200: PlanOut, **ERROR_ANSWERS})
def plan_sign(request: HttpRequest, plan_id: DbId) -> TreatmentPlan:
    """Sign the plan (prescriber; needs an eligible decision): proposes its dosing sessions."""
    return services.plan_sign(ctx=api_context(request), plan_id=plan_id)

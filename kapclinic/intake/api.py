from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Body, Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context, api_user
from kapclinic.apitypes import ERROR_ANSWERS, DbId, Offset
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.eligibility import treatment_resistance
from kapclinic.errors import AccessDenied
from kapclinic.intake import services
from kapclinic.intake.models import EligibilityDecision, Evaluation, Inquiry
from kapclinic.intake.selectors import eligibility_for_patient, snapshot_for
from kapclinic.intake.services import eligibility_decide, evaluation_save
from kapclinic.patients.api import DuplicatesOut
from kapclinic.patients.models import Patient
from kapclinic.patients.services import PossibleDuplicates
from kapclinic.roles import Action, may

router = Router(tags=["intake"])


class InquiryIn(Schema):
    model_config = ConfigDict(extra="forbid")

    given_name: str
    family_name: str
    phone: str = ""
    email: str = ""
    reason: str
    birth_date: date | None = None
    referral_source: str = ""
    insurance_payer: str = ""
    consent_to_contact: bool = False
    source: str = Field(default="phone", description="phone or referral (the public web form has its own page)")


class InquiryOut(Schema):
    id: int
    given_name: str
    family_name: str
    phone: str
    email: str
    reason: str
    birth_date: date | None
    referral_source: str
    insurance_payer: str
    consent_to_contact: bool
    source: str
    status: str
    patient: int | None = Field(alias="patient_id")
    created_at: datetime


@router.post("/inquiries", response={201: InquiryOut, **ERROR_ANSWERS})
def inquiry_create(request: HttpRequest, payload: InquiryIn) -> Status[Inquiry]:
    """Record an inquiry (coordinator or director); a phone number or an email address is required."""
    values = payload.dict(exclude={"source"})
    inquiry = services.inquiry_record(
        ctx=AuditContext.from_request(request, user=api_user(request), channel="api"),
        values=values,
        source=payload.source,
    )
    return Status(201, inquiry)


class EvaluationOut(Schema):
    data: dict[str, Any]
    version: int
    updated_at: datetime


class FindingOut(Schema):
    code: str
    severity: str
    message: str
    source: str
    evidence: dict[str, Any]


class DecisionOut(Schema):
    id: int
    decision: str
    reason: str
    decided_by: str
    decided_at: datetime
    rule_set_version: str
    policy_version: str
    em_code: str
    em_basis: str
    em_minutes: int | None


class DerivedOut(Schema):
    age: int
    bmi: float | None
    treatment_resistant: bool
    treatment_resistance: str
    baseline_scores: dict[str, int]


class EligibilityOut(Schema):
    findings: list[FindingOut]
    decision: DecisionOut | None
    derived: DerivedOut


class DecisionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    decision: str = Field(description="eligible, eligible_with_precautions or not_eligible")
    reason: str = Field(default="", max_length=4000)
    em_code: str = Field(default="", max_length=5, description="office E/M level, 99202-99205 or 99212-99215")
    em_basis: str = Field(default="", max_length=4, description="mdm or time")
    em_minutes: int | None = Field(default=None, description="total minutes on the day (needed by time)")


def _decision_out(decision: EligibilityDecision) -> dict[str, object]:
    return {
        "id": decision.pk,
        "decision": decision.decision,
        "reason": decision.reason,
        "decided_by": decision.decided_by.username,
        "decided_at": decision.decided_at,
        "rule_set_version": decision.rule_set_version,
        "policy_version": decision.policy_version,
        "em_code": decision.em_code,
        "em_basis": decision.em_basis,
        "em_minutes": decision.em_minutes,
    }


@router.put("/patients/{patient_id}/evaluation", response={200: EvaluationOut, **ERROR_ANSWERS})
def evaluation_put(request: HttpRequest, patient_id: DbId, payload: Body[dict[str, Any]]) -> Evaluation:
    """Record evaluation fields (prescriber); only the fields sent change. Field names as in GET /eligibility."""
    return evaluation_save(ctx=api_context(request), patient_id=patient_id, values=payload)


@router.get("/patients/{patient_id}/eligibility", response={200: EligibilityOut, **ERROR_ANSWERS})
def eligibility_get(request: HttpRequest, patient_id: DbId) -> dict[str, object]:
    """Every finding of the eligibility rules for the current evaluation, with reason and source; the decision."""
    findings, decision = eligibility_for_patient(ctx=api_context(request), patient_id=patient_id)
    evaluation = Evaluation.objects.filter(patient_id=patient_id).first()
    snapshot = snapshot_for(Patient.objects.get(pk=patient_id), evaluation.data if evaluation else {})
    resistant, why = treatment_resistance(snapshot.prior_trials)
    return {
        "findings": [f.as_dict() for f in findings],
        "decision": _decision_out(decision) if decision else None,
        "derived": {
            "age": snapshot.age,
            "bmi": snapshot.bmi,
            "treatment_resistant": resistant,
            "treatment_resistance": why,
            "baseline_scores": dict(snapshot.baseline_scores or {}),
        },
    }


@router.post("/patients/{patient_id}/eligibility-decisions", response={201: DecisionOut, **ERROR_ANSWERS})
def eligibility_decision_post(request: HttpRequest, patient_id: DbId, payload: DecisionIn) -> Status[dict[str, object]]:
    """Decide (prescriber). Eligible despite an absolute contraindication is refused; a relative one needs a reason."""
    decision = eligibility_decide(
        ctx=api_context(request),
        patient_id=patient_id,
        decision=payload.decision,
        reason=payload.reason,
        em_code=payload.em_code,
        em_basis=payload.em_basis,
        em_minutes=payload.em_minutes,
    )
    return Status(201, _decision_out(decision))


class InquiryListParams(Schema):
    status: str = Field(default="", description="new, contacted, consultation_booked, converted or closed")
    search: str = Field(default="", max_length=100)
    limit: int = Field(default=25, ge=1, le=100)
    offset: Offset = 0


class InquiryListOut(Schema):
    items: list[InquiryOut]
    count: int


@router.get("/inquiries", response={200: InquiryListOut, **ERROR_ANSWERS})
def inquiry_list(request: HttpRequest, params: Query[InquiryListParams]) -> dict[str, object]:
    """The coordinator's list: by status, searched by name, email or phone; newest first, paginated."""
    user = api_user(request)
    if not may(user.role, Action.INQUIRY_VIEW):
        raise AccessDenied("Your role does not see inquiries.")
    found = services.inquiries_search(status=params.status, query=params.search)
    access_event_record(
        ctx=api_context(request),
        action="inquiry.list",
        detail={"status": params.status, "q": params.search, "api": True},
    )
    return {"items": list(found[params.offset : params.offset + params.limit]), "count": found.count()}


class StatusIn(Schema):
    model_config = ConfigDict(extra="forbid")

    status: str
    closed_reason: str = ""


@router.post("/inquiries/{inquiry_id}/status", response={200: InquiryOut, **ERROR_ANSWERS})
def inquiry_status(request: HttpRequest, inquiry_id: DbId, payload: StatusIn) -> Inquiry:
    return services.inquiry_set_status(ctx=api_context(request), inquiry_id=inquiry_id, **payload.dict())


class ConversionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    birth_date: date | None = None
    sex_at_birth: str = ""
    allow_duplicate: bool = False


class ConversionOut(Schema):
    patient: int
    mrn: str


@router.post("/inquiries/{inquiry_id}/conversion", response={201: ConversionOut, **ERROR_ANSWERS, 409: DuplicatesOut})
def inquiry_conversion(request: HttpRequest, inquiry_id: DbId, payload: ConversionIn) -> Status[dict[str, object]]:
    """Register the inquirer as a patient from the inquiry (nothing re-typed); a possible duplicate answers 409."""
    try:
        patient = services.inquiry_convert(ctx=api_context(request), inquiry_id=inquiry_id, **payload.dict())
    except PossibleDuplicates as exc:
        return Status(
            409,
            {
                "detail": "This may be a patient who is already registered. Send allow_duplicate=true if not.",
                "duplicates": [{"id": m.patient.pk, "mrn": m.patient.mrn, "reasons": m.reasons} for m in exc.matches],
            },
        )
    return Status(201, {"patient": patient.pk, "mrn": patient.mrn})

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Body, Field, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.audit.context import AuditContext
from kapclinic.intake import services
from kapclinic.intake.eligibility import eligibility_decide, eligibility_for_patient, evaluation_save
from kapclinic.intake.models import EligibilityDecision, Evaluation, Inquiry
from kapclinic.web import api_user

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


@router.post("/inquiries", response={201: InquiryOut})
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


class EligibilityOut(Schema):
    findings: list[FindingOut]
    decision: DecisionOut | None


class DecisionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    decision: str = Field(description="eligible, eligible_with_precautions or not_eligible")
    reason: str = Field(default="", max_length=4000)


def _decision_out(decision: EligibilityDecision) -> dict[str, object]:
    return {
        "id": decision.pk,
        "decision": decision.decision,
        "reason": decision.reason,
        "decided_by": decision.decided_by.username,
        "decided_at": decision.decided_at,
        "rule_set_version": decision.rule_set_version,
        "policy_version": decision.policy_version,
    }


def _ctx(request: HttpRequest) -> AuditContext:
    return AuditContext.from_request(request, user=api_user(request), channel="api")


@router.put("/patients/{patient_id}/evaluation", response=EvaluationOut)
def evaluation_put(request: HttpRequest, patient_id: int, payload: Body[dict[str, Any]]) -> Evaluation:
    """Record evaluation fields (prescriber); only the fields sent change. Field names as in GET /eligibility."""
    return evaluation_save(ctx=_ctx(request), patient_id=patient_id, values=payload)


@router.get("/patients/{patient_id}/eligibility", response=EligibilityOut)
def eligibility_get(request: HttpRequest, patient_id: int) -> dict[str, object]:
    """Every finding of the eligibility rules for the current evaluation, with reason and source; the decision."""
    findings, decision = eligibility_for_patient(ctx=_ctx(request), patient_id=patient_id)
    return {
        "findings": [f.as_dict() for f in findings],
        "decision": _decision_out(decision) if decision else None,
    }


@router.post("/patients/{patient_id}/eligibility-decisions", response={201: DecisionOut})
def eligibility_decision_post(request: HttpRequest, patient_id: int, payload: DecisionIn) -> Status[dict[str, object]]:
    """Decide (prescriber). Eligible despite an absolute contraindication is refused; a relative one needs a reason."""
    decision = eligibility_decide(
        ctx=_ctx(request), patient_id=patient_id, decision=payload.decision, reason=payload.reason
    )
    return Status(201, _decision_out(decision))

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.audit.context import AuditContext
from kapclinic.intake import services
from kapclinic.intake.models import Inquiry
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

"""Consent in the JSON API: the same services and rules as the pages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId
from kapclinic.audit.context import AuditContext
from kapclinic.consent import services
from kapclinic.consent.models import ConsentSignature, ConsentVersion, ConsentWithdrawal, ConsentWitness
from kapclinic.consent.selectors import (
    consent_for_patient,
    consent_signature_for_user,
    consent_versions,
    withdrawal_of,
)
from kapclinic.consent.views import signature_pdf_response
from kapclinic.roles import Action

router = Router(tags=["consent"])


class RiskIn(Schema):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=40, description="short, stable across versions, e.g. nausea")
    text: str = Field(max_length=600, description="what the patient reads and ticks")


class RiskOut(Schema):
    code: str
    text: str


class VersionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    document: str | None = Field(default=None, max_length=60, description="default: the consent signed before dosing")
    title: str = Field(max_length=200)
    body: str = Field(max_length=50_000)
    risks: list[RiskIn] = Field(description="at least one; the patient ticks each to sign")
    change_summary: str = Field(default="", max_length=300, description="required from version 2 on")


class VersionOut(Schema):
    id: int
    document: str
    number: int
    title: str
    body: str
    risks: list[RiskOut]
    change_summary: str
    body_digest: str
    published_at: datetime
    published_by: str

    @staticmethod
    def resolve_published_by(obj: ConsentVersion) -> str:
        return obj.published_by.username


class VersionBriefOut(Schema):
    id: int
    document: str
    number: int
    title: str


class WitnessOut(Schema):
    id: int
    witness: str
    witnessed_at: datetime
    note: str

    @staticmethod
    def resolve_witness(obj: ConsentWitness) -> str:
        return obj.witness.username


class WithdrawalOut(Schema):
    id: int
    withdrawn_at: datetime
    recorded_by: str
    reason: str
    channel: str

    @staticmethod
    def resolve_recorded_by(obj: ConsentWithdrawal) -> str:
        return obj.recorded_by.username


class SignatureOut(Schema):
    id: int
    patient: int = Field(alias="patient_id")
    version: VersionBriefOut
    typed_name: str
    risks_acknowledged: list[str]
    signed_at: datetime
    client_address: str | None
    channel: str
    recorded_by: str
    digest: str
    digest_intact: bool
    witnesses: list[WitnessOut]
    withdrawal: WithdrawalOut | None

    @staticmethod
    def resolve_recorded_by(obj: ConsentSignature) -> str:
        return obj.recorded_by.username

    @staticmethod
    def resolve_digest_intact(obj: ConsentSignature) -> bool:
        return obj.signature_intact

    @staticmethod
    def resolve_witnesses(obj: ConsentSignature) -> list[ConsentWitness]:
        return list(obj.witnesses.all())

    @staticmethod
    def resolve_withdrawal(obj: ConsentSignature) -> ConsentWithdrawal | None:
        return withdrawal_of(obj)


class PatientConsentsOut(Schema):
    state: str = Field(description="current, none, withdrawn or expired")
    message: str
    expires_on: date | None
    current: SignatureOut | None
    latest_version_id: int | None
    signatures: list[SignatureOut]


class SignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    version_id: DbId = Field(description="must be the latest version of its consent")
    typed_name: str = Field(max_length=200, description="the patient's full legal name: given and family name")
    risks_acknowledged: list[str] = Field(description="the code of every key risk of the version")
    channel: Literal["portal", "clinic"] | None = Field(
        default=None,
        description="portal: the patient signs with their own login (default for patients); clinic: a staff "
        "member records it on the clinic's device and is recorded as witness (default for staff)",
    )


class WitnessIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=300)


class WithdrawalIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000, description="required when staff record it")


@router.get("/consent-versions", response={200: list[VersionOut], **ERROR_ANSWERS})
def version_list(request: HttpRequest, document: str | None = None) -> list[ConsentVersion]:
    """Every published version of the consent texts, newest first per document (not patient data)."""
    versions = consent_versions()
    return [v for v in versions if document is None or v.document == document]


@router.post("/consent-versions", response={201: VersionOut, **ERROR_ANSWERS})
def version_publish(request: HttpRequest, payload: VersionIn) -> Status[ConsentVersion]:
    """Publish the next version of a consent text (director). Earlier versions never change."""
    version = services.consent_version_publish(
        ctx=api_context(request),
        document=payload.document,
        title=payload.title,
        body=payload.body,
        risks=[r.dict() for r in payload.risks],
        change_summary=payload.change_summary,
    )
    return Status(201, version)


@router.get("/patients/{patient_id}/consents", response={200: PatientConsentsOut, **ERROR_ANSWERS})
def patient_consents(request: HttpRequest, patient_id: DbId) -> dict[str, object]:
    """The patient's consent status (in force, none, withdrawn or expired, and why) and every signature."""
    consent = consent_for_patient(ctx=api_context(request), patient_id=patient_id, action=Action.CONSENT_VIEW)
    return {
        "state": consent.status.state.value,
        "message": consent.status.message,
        "expires_on": consent.status.expires_on,
        "current": consent.status.current,
        "latest_version_id": consent.latest_version.pk if consent.latest_version else None,
        "signatures": consent.signatures,
    }


def _signature(ctx: AuditContext, signature_id: int) -> ConsentSignature:
    signature, _ = consent_signature_for_user(
        ctx=ctx, signature_id=signature_id, action=Action.CONSENT_VIEW, record_allowed=False
    )
    return signature


@router.post("/patients/{patient_id}/consents", response={201: SignatureOut, **ERROR_ANSWERS})
def consent_sign(request: HttpRequest, patient_id: DbId, payload: SignIn) -> Status[ConsentSignature]:
    """Sign the latest version: the patient's full legal name typed and every key risk acknowledged."""
    ctx = api_context(request)
    signature = services.consent_sign(
        ctx=ctx,
        patient_id=patient_id,
        version_id=payload.version_id,
        typed_name=payload.typed_name,
        risks_acknowledged=payload.risks_acknowledged,
        user_agent=str(request.META.get("HTTP_USER_AGENT", "")),
        channel=payload.channel,
    )
    return Status(201, _signature(ctx, signature.pk))


@router.post("/consents/{signature_id}/witness", response={201: SignatureOut, **ERROR_ANSWERS})
def consent_witness(request: HttpRequest, signature_id: DbId, payload: WitnessIn) -> Status[ConsentSignature]:
    """Record the caller as a witness of the signature (staff who may witness for the patient; once each)."""
    ctx = api_context(request)
    services.consent_witness(ctx=ctx, signature_id=signature_id, note=payload.note)
    return Status(201, _signature(ctx, signature_id))


@router.post("/consents/{signature_id}/withdrawal", response={201: SignatureOut, **ERROR_ANSWERS})
def consent_withdrawal(request: HttpRequest, signature_id: DbId, payload: WithdrawalIn) -> Status[ConsentSignature]:
    """Withdraw the consent in force; the patient's dosing sessions not yet started are cancelled."""
    ctx = api_context(request)
    services.consent_withdraw(ctx=ctx, signature_id=signature_id, reason=payload.reason)
    return Status(201, _signature(ctx, signature_id))


@router.get(
    "/consents/{signature_id}/pdf",
    response={200: None, **ERROR_ANSWERS},
    openapi_extra={
        "responses": {
            "200": {
                "description": "The signed consent as a PDF document",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def consent_pdf(request: HttpRequest, signature_id: DbId) -> HttpResponse:
    """The signed consent as PDF: the exact text, risks ticked, typed name, time, address, witnesses, digest."""
    signature, _ = consent_signature_for_user(ctx=api_context(request), signature_id=signature_id)
    return signature_pdf_response(request, signature)

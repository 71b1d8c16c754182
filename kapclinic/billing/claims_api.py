"""Claims and remittances over JSON: the same services as the biller's pages (kapclinic/billing/claims.py,
remittances.py), so the same rules and the same audit. The 837P file comes back as X12 text."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId
from kapclinic.billing import claims as service
from kapclinic.billing import remittances
from kapclinic.billing.models import Claim
from kapclinic.clinical.claims import MAX_LINES

router = Router(tags=["claims"])

MAX_PAGE = 100
X12_MEDIA_TYPE = "application/edi-x12"


class ClaimLineOut(Schema):
    position: int
    charge: int
    code: str
    modifiers: list[str]
    units: int
    date_of_service: date
    pointers: list[int] = Field(description="1-based indexes into the claim's diagnoses")
    amount_cents: int


class ClaimEventOut(Schema):
    state: str
    reason: str
    codes: list[str]
    at: datetime
    by: int
    remittance: int | None
    paid_cents: int | None
    patient_cents: int | None


class ClaimOut(Schema):
    id: int
    number: str = Field(description="CLM01 of the 837P, returned by the payer in the 835's CLP01")
    patient: int
    coverage: int
    payer: int
    payer_name: str
    rendering_provider: int
    state: str
    frequency_code: str
    replaces: int | None
    diagnoses: list[str]
    place_of_service: str
    total_cents: int
    payer_claim_number: str
    created_at: datetime
    lines: list[ClaimLineOut]
    events: list[ClaimEventOut]


class ClaimSummaryOut(Schema):
    id: int
    number: str
    patient: int
    payer: int
    state: str
    total_cents: int
    created_at: datetime


class ClaimListOut(Schema):
    count: int
    items: list[ClaimSummaryOut]


class ClaimIn(Schema):
    model_config = ConfigDict(extra="forbid")

    charges: list[DbId] = Field(min_length=1, max_length=MAX_LINES, description="approved charge line ids")
    coverage: DbId | None = Field(default=None, description="default: the primary coverage in force")


class ClaimListParams(Schema):
    state: Literal["draft", "submitted", "paid", "partly_paid", "denied", "resubmitted"] | None = None
    payer: DbId | None = None
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class MarkIn(Schema):
    model_config = ConfigDict(extra="forbid")

    state: Literal["submitted", "denied"]
    reason: str = Field(default="", max_length=2000)


class ResubmitIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)
    charges: list[DbId] | None = Field(default=None, max_length=MAX_LINES, description="default: the claim's lines")


def _claim_out(claim: Claim) -> dict[str, Any]:
    return {
        "id": claim.pk,
        "number": claim.number,
        "patient": claim.patient_id,
        "coverage": claim.coverage_id,
        "payer": claim.payer_id,
        "payer_name": claim.payer.name,
        "rendering_provider": claim.rendering_provider_id,
        "state": claim.state,
        "frequency_code": claim.frequency_code,
        "replaces": claim.replaces_id,
        "diagnoses": claim.diagnoses,
        "place_of_service": claim.place_of_service,
        "total_cents": claim.total_cents,
        "payer_claim_number": claim.payer_claim_number,
        "created_at": claim.created_at,
        "lines": [
            {
                "position": cl.position,
                "charge": cl.line_id,
                "code": cl.line.code,
                "modifiers": cl.line.modifiers,
                "units": cl.line.units,
                "date_of_service": cl.line.date_of_service,
                "pointers": cl.pointers,
                "amount_cents": cl.amount_cents,
            }
            for cl in service.claim_lines(claim)
        ],
        "events": [
            {
                "state": e.state,
                "reason": e.reason,
                "codes": e.codes,
                "at": e.at,
                "by": e.by_id,
                "remittance": e.remittance_id,
                "paid_cents": e.paid_cents,
                "patient_cents": e.patient_cents,
            }
            for e in service.claim_events(claim)
        ],
    }


def _reread(request: HttpRequest, claim_id: int, op: str) -> dict[str, Any]:
    return _claim_out(service.claim_read(ctx=api_context(request), claim_id=claim_id, op=op))


@router.post("/claims", response={201: ClaimOut, **ERROR_ANSWERS})
def claim_create(request: HttpRequest, payload: ClaimIn) -> Status[dict[str, Any]]:
    """A draft claim from approved charge lines of one patient, to the coverage in force on the dates of service."""
    claim = service.claim_create(ctx=api_context(request), line_ids=payload.charges, coverage_id=payload.coverage)
    return Status(201, _reread(request, claim.pk, "created"))


@router.get("/claims", response={200: ClaimListOut, **ERROR_ANSWERS})
def claim_list(request: HttpRequest, params: Query[ClaimListParams]) -> dict[str, Any]:
    ctx = api_context(request)
    found = service.claims(ctx=ctx, state=params.state or "", payer_id=params.payer)
    page = list(found[params.offset : params.offset + params.limit])
    service.claims_shown(ctx=ctx, shown=page)
    return {
        "count": found.count(),
        "items": [
            {
                "id": c.pk,
                "number": c.number,
                "patient": c.patient_id,
                "payer": c.payer_id,
                "state": c.state,
                "total_cents": c.total_cents,
                "created_at": c.created_at,
            }
            for c in page
        ],
    }


@router.get("/claims/{claim_id}", response={200: ClaimOut, **ERROR_ANSWERS})
def claim_read(request: HttpRequest, claim_id: DbId) -> dict[str, Any]:
    return _reread(request, claim_id, "view")


@router.get(
    "/claims/{claim_id}/837",
    response=ERROR_ANSWERS,
    openapi_extra={
        "responses": {
            200: {"description": "the 837P file", "content": {X12_MEDIA_TYPE: {"schema": {"type": "string"}}}}
        }
    },
)
def claim_837(request: HttpRequest, claim_id: DbId) -> HttpResponse:
    """The claim as an ANSI X12 005010X222A1 837P file."""
    text = service.claim_file_for(ctx=api_context(request), claim_ids=[claim_id])
    response = HttpResponse(text, content_type=f"{X12_MEDIA_TYPE}; charset=ascii")
    response["Content-Disposition"] = f'attachment; filename="claim-KC{claim_id}.837"'
    return response


@router.post("/claims/{claim_id}/mark", response={200: ClaimOut, **ERROR_ANSWERS})
def claim_mark(request: HttpRequest, claim_id: DbId, payload: MarkIn) -> dict[str, Any]:
    """By hand: the claim was sent (submitted), or the payer denied it (denied, with the reason)."""
    service.claim_mark(ctx=api_context(request), claim_id=claim_id, state=payload.state, reason=payload.reason)
    return _reread(request, claim_id, "view")


@router.post("/claims/{claim_id}/resubmit", response={201: ClaimOut, **ERROR_ANSWERS})
def claim_resubmit(request: HttpRequest, claim_id: DbId, payload: ResubmitIn) -> Status[dict[str, Any]]:
    """A replacement claim (frequency 7) for a sent claim; the old one becomes "resubmitted"."""
    claim = service.claim_resubmit(
        ctx=api_context(request), claim_id=claim_id, reason=payload.reason, line_ids=payload.charges
    )
    return Status(201, _reread(request, claim.pk, "created"))


class PostedClaimOut(Schema):
    claim: int
    number: str
    state: str
    paid_cents: int
    patient_cents: int = Field(description="left to the patient (PR): not posted, it stays on the line")
    codes: list[str]


class RemittanceOut(Schema):
    remittance: int
    already_posted: bool = Field(description="the same file was posted before: nothing was posted now")
    payer_name: str
    trace_number: str
    paid_on: date
    total_cents: int
    entries: int = Field(description="money ledger entries written now")
    claims: list[PostedClaimOut]


class RemittanceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    x12: str = Field(min_length=1, max_length=5_000_000, description="the 835 file's text")


@router.post(
    "/remittances",
    response={201: RemittanceOut, 200: RemittanceOut, **ERROR_ANSWERS},
    openapi_extra={
        "requestBody": {
            "content": {
                X12_MEDIA_TYPE: {"schema": {"type": "string"}},
                "application/json": {"schema": RemittanceIn.model_json_schema()},
            }
        }
    },
)
def remittance_post(request: HttpRequest) -> Status[dict[str, Any]]:
    """Post an 835 remittance (the file as the body, or JSON {"x12": "..."}): all or nothing; the same file again
    posts nothing (200 with already_posted)."""
    ctx = api_context(request)
    if (request.content_type or "").startswith("application/json"):
        try:
            text = RemittanceIn.model_validate_json(request.body).x12
        except ValueError:
            raise ValidationError({"file": 'Send the 835 as the body, or as JSON {"x12": "..."}.'}) from None
    else:
        try:
            text = request.body.decode("ascii")
        except UnicodeDecodeError:
            raise ValidationError({"file": "An 835 file is plain ASCII text."}) from None
    posting = remittances.remittance_post(ctx=ctx, text=text)
    r = posting.remittance
    return Status(
        200 if posting.already_posted else 201,
        {
            "remittance": r.pk,
            "already_posted": posting.already_posted,
            "payer_name": r.payer_name,
            "trace_number": r.trace_number,
            "paid_on": r.paid_on,
            "total_cents": r.total_cents,
            "entries": posting.entries,
            "claims": [
                {
                    "claim": p.claim.pk,
                    "number": p.claim.number,
                    "state": p.state,
                    "paid_cents": p.paid_cents,
                    "patient_cents": p.patient_cents,
                    "codes": p.codes,
                }
                for p in posting.claims
            ],
        },
    )

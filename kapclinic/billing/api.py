"""Billing over JSON: the same services and selectors as the pages (coverage, payers and fees, charge lines and
their review), so the same rules and the same audit."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId
from kapclinic.billing import selectors, services
from kapclinic.billing.models import ChargeLine, Coverage, FeeScheduleEntry, Payer
from kapclinic.billing.selectors import LineStatus, status_of

router = Router(tags=["billing"])

MAX_PAGE = 100


class CoverageOut(Schema):
    id: int
    rank: str
    self_pay: bool
    payer: int | None
    payer_name: str
    in_network: bool | None
    member_id: str
    group_number: str
    subscriber_name: str
    subscriber_birth_date: date | None
    relationship: str
    effective_from: date
    effective_to: date | None


class CoverageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    rank: Literal["primary", "secondary"] = "primary"
    self_pay: bool = False
    payer: DbId | None = None
    member_id: str = Field(default="", max_length=80)
    group_number: str = Field(default="", max_length=80)
    subscriber_name: str = Field(default="", max_length=200)
    subscriber_birth_date: date | None = None
    relationship: Literal["self", "spouse", "child", "other"] = "self"
    effective_from: date
    effective_to: date | None = None


def _coverage_out(c: Coverage) -> dict[str, Any]:
    return {
        "id": c.pk,
        "rank": c.rank,
        "self_pay": c.self_pay,
        "payer": c.payer_id,
        "payer_name": c.payer.name if c.payer is not None else "",
        "in_network": c.payer.in_network if c.payer is not None else None,
        "member_id": c.member_id,
        "group_number": c.group_number,
        "subscriber_name": c.subscriber_name,
        "subscriber_birth_date": c.subscriber_birth_date,
        "relationship": c.relationship,
        "effective_from": c.effective_from,
        "effective_to": c.effective_to,
    }


@router.get("/patients/{patient_id}/coverages", response={200: list[CoverageOut], **ERROR_ANSWERS})
def coverage_list(request: HttpRequest, patient_id: DbId) -> list[dict[str, Any]]:
    """The patient's coverages, primary first."""
    found = selectors.coverages_for_patient(ctx=api_context(request), patient_id=patient_id)
    return [_coverage_out(c) for c in found.coverages]


@router.post("/patients/{patient_id}/coverages", response={201: CoverageOut, **ERROR_ANSWERS})
def coverage_create(request: HttpRequest, patient_id: DbId, payload: CoverageIn) -> Status[dict[str, Any]]:
    """Add a coverage: a payer's plan with the card's member id, or self-pay (no payer)."""
    given = services.CoverageInput(
        rank=payload.rank,
        self_pay=payload.self_pay,
        payer_id=payload.payer,
        member_id=payload.member_id,
        group_number=payload.group_number,
        subscriber_name=payload.subscriber_name,
        subscriber_birth_date=payload.subscriber_birth_date,
        relationship=payload.relationship,
        effective_from=payload.effective_from,
        effective_to=payload.effective_to,
    )
    coverage = services.coverage_add(ctx=api_context(request), patient_id=patient_id, given=given)
    return Status(201, _coverage_out(Coverage.objects.select_related("payer").get(pk=coverage.pk)))


class PayerOut(Schema):
    id: int
    name: str
    payer_id: str
    in_network: bool
    esketamine_scheme: str
    active: bool


class PayerIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    payer_id: str = Field(default="", max_length=80)
    in_network: bool = False
    esketamine_scheme: Literal["visit_code", "drug_per_mg"] = "visit_code"


def _payer_out(p: Payer) -> dict[str, Any]:
    return {
        "id": p.pk,
        "name": p.name,
        "payer_id": p.payer_id,
        "in_network": p.in_network,
        "esketamine_scheme": p.esketamine_scheme,
        "active": p.active,
    }


@router.get("/payers", response={200: list[PayerOut], **ERROR_ANSWERS})
def payer_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [_payer_out(p) for p in selectors.payers(ctx=api_context(request))]


@router.post("/payers", response={201: PayerOut, **ERROR_ANSWERS})
def payer_create(request: HttpRequest, payload: PayerIn) -> Status[dict[str, Any]]:
    payer = services.payer_create(ctx=api_context(request), **payload.model_dump())
    return Status(201, _payer_out(payer))


class FeeOut(Schema):
    id: int
    code: str
    price_cents: int
    effective_from: date
    effective_to: date | None


class FeeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=5)
    price_cents: int = Field(ge=0, le=services.PRICE_MAX_CENTS, description="per unit, in integer cents")
    effective_from: date


def _fee_out(f: FeeScheduleEntry) -> dict[str, Any]:
    return {
        "id": f.pk,
        "code": f.code,
        "price_cents": f.price_cents,
        "effective_from": f.effective_from,
        "effective_to": f.effective_to,
    }


@router.get("/fee-schedule", response={200: list[FeeOut], **ERROR_ANSWERS})
def fee_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [_fee_out(f) for f in selectors.fees(ctx=api_context(request))]


@router.post("/fee-schedule", response={201: FeeOut, **ERROR_ANSWERS})
def fee_create(request: HttpRequest, payload: FeeIn) -> Status[dict[str, Any]]:
    """Price one unit of a code from a day; the price before it ends the day before."""
    fee = services.fee_set(
        ctx=api_context(request),
        code=payload.code,
        price_cents=payload.price_cents,
        effective_from=payload.effective_from,
    )
    return Status(201, _fee_out(fee))


class ChargeOut(Schema):
    id: int
    patient: int
    status: str
    date_of_service: date
    place_of_service: str
    rendering_provider: int
    code: str
    modifiers: list[str]
    units: int
    diagnoses: list[str] = Field(description="ICD-10-CM codes in diagnosis-pointer order")
    ndc: str
    ndc_quantity: Decimal | None
    ndc_unit: str
    amount_cents: int | None
    justification: str = Field(description="the recorded fact that supports the code")
    caveats: list[str]
    corrects: int | None
    proposed_at: datetime
    review_reason: str


class ChargeListOut(Schema):
    count: int
    items: list[ChargeOut]


class ChargeListParams(Schema):
    status: Literal["proposed", "approved", "rejected", "corrected"] | None = None
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=1_000_000)


def _charge_out(line: ChargeLine) -> dict[str, Any]:
    review = getattr(line, "review", None)
    return {
        "id": line.pk,
        "patient": line.patient_id,
        "status": status_of(line).value,
        "date_of_service": line.date_of_service,
        "place_of_service": line.place_of_service,
        "rendering_provider": line.rendering_provider_id,
        "code": line.code,
        "modifiers": line.modifiers,
        "units": line.units,
        "diagnoses": line.diagnoses,
        "ndc": line.ndc,
        "ndc_quantity": line.ndc_quantity,
        "ndc_unit": line.ndc_unit,
        "amount_cents": line.amount_cents,
        "justification": line.justification,
        "caveats": line.caveats,
        "corrects": line.corrects_id,
        "proposed_at": line.proposed_at,
        "review_reason": review.reason if review is not None else "",
    }


@router.get("/charges", response={200: ChargeListOut, **ERROR_ANSWERS})
def charge_list(request: HttpRequest, params: Query[ChargeListParams]) -> dict[str, Any]:
    """The charge lines the caller may see (a clinician: their own records'), newest date of service first."""
    ctx = api_context(request)
    lines = selectors.charge_lines(ctx=ctx, status=LineStatus(params.status) if params.status else None)
    page = list(lines[params.offset : params.offset + params.limit])
    selectors.charge_lines_shown(ctx=ctx, lines=page)
    return {"count": lines.count(), "items": [_charge_out(line) for line in page]}


class ProposeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    since: date | None = Field(default=None, description="signed records from this day (default: 90 days back)")


class ProposeOut(Schema):
    records: int
    lines: list[ChargeOut]
    not_proposed: list[str]


@router.post("/charges/propose", response={200: ProposeOut, **ERROR_ANSWERS})
def charge_propose(request: HttpRequest, payload: ProposeIn) -> dict[str, Any]:
    """Propose lines for every signed record that has none yet (again: adds nothing)."""
    ctx = api_context(request)
    run = services.charges_propose(ctx=ctx, since=payload.since)
    fresh = selectors.with_status(ChargeLine.objects.filter(pk__in=[line.pk for line in run.lines]))
    return {"records": run.records, "lines": [_charge_out(line) for line in fresh], "not_proposed": run.not_proposed}


@router.get("/charges/{line_id}", response={200: ChargeOut, **ERROR_ANSWERS})
def charge_read(request: HttpRequest, line_id: DbId) -> dict[str, Any]:
    return _charge_out(selectors.charge_line(ctx=api_context(request), line_id=line_id))


def _reread(request: HttpRequest, line_id: int) -> dict[str, Any]:
    line = selectors.with_status(ChargeLine.objects.filter(pk=line_id)).get()
    return _charge_out(line)


@router.post("/charges/{line_id}/approve", response={200: ChargeOut, **ERROR_ANSWERS})
def charge_approve(request: HttpRequest, line_id: DbId) -> dict[str, Any]:
    """Approve a proposed line (once; a later fix is a correcting line)."""
    services.charge_approve(ctx=api_context(request), line_id=line_id)
    return _reread(request, line_id)


class RejectIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)


@router.post("/charges/{line_id}/reject", response={200: ChargeOut, **ERROR_ANSWERS})
def charge_reject(request: HttpRequest, line_id: DbId, payload: RejectIn) -> dict[str, Any]:
    services.charge_reject(ctx=api_context(request), line_id=line_id, reason=payload.reason)
    return _reread(request, line_id)


class CorrectIn(Schema):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=5)
    units: int = Field(ge=1, le=999)
    modifiers: list[str] = Field(default_factory=list, max_length=4)
    place_of_service: Literal["11", "02", "10"]
    diagnoses: list[str] = Field(min_length=1, max_length=12)
    reason: str = Field(max_length=1000)


@router.post("/charges/{line_id}/correct", response={201: ChargeOut, **ERROR_ANSWERS})
def charge_correct(request: HttpRequest, line_id: DbId, payload: CorrectIn) -> Status[dict[str, Any]]:
    """A new proposed line correcting a reviewed one, which stays as it was."""
    fix = services.Correction(
        code=payload.code,
        units=payload.units,
        modifiers=tuple(m.upper() for m in payload.modifiers),
        place_of_service=payload.place_of_service,
        diagnoses=tuple(d.upper() for d in payload.diagnoses),
        reason=payload.reason,
    )
    line = services.charge_correct(ctx=api_context(request), line_id=line_id, fix=fix)
    return Status(201, _reread(request, line.pk))

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId, Offset
from kapclinic.clinical.ledger import Deadline
from kapclinic.ledger import selectors, services
from kapclinic.ledger.models import InventoryCount, Investigation, LedgerEntry, LossReport

router = Router(tags=["controlled-substance ledger"])


class EntryOut(Schema):
    id: int
    kind: str
    lot: int = Field(alias="lot_id")
    lot_number: str = Field(alias="lot.lot_number")
    product: str = Field(alias="lot.product.name")
    location: int = Field(alias="location_id")
    quantity_mg: Decimal
    units: Decimal
    unit: str = Field(alias="lot.product.unit")
    balance_after_mg: Decimal
    occurred_at: datetime
    recorded_at: datetime
    actor: str = Field(alias="actor.username")
    witness: str | None = Field(default=None, alias="witness.username")
    patient: int | None = Field(alias="patient_id")
    reason: str
    reference: str
    corrects: int | None = Field(alias="corrects_id")
    counterpart: int | None = Field(alias="counterpart_id")


class EntryListOut(Schema):
    items: list[EntryOut]
    count: int


class EntryIn(Schema):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not silently dropped

    kind: str = Field(description="administration, waste, return, destruction, loss, correction, transfer, receipt")
    lot: DbId
    location: DbId
    quantity: str = Field(description="a number; with `unit` mg or the product's unit (mL, device, troche)")
    unit: str = "mg"
    occurred_at: datetime | None = None
    witness_username: str = ""
    witness_password: str = ""
    patient: DbId | None = None
    reason: str = Field(default="", max_length=2000)
    reference: str = Field(default="", max_length=80)
    corrects: DbId | None = None
    to_location: DbId | None = Field(default=None, description="for a transfer: where the stock goes")


class LotIn(Schema):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not silently dropped

    product: DbId
    lot_number: str = Field(max_length=40)
    expires_on: date
    supplier_name: str = Field(max_length=120)
    supplier_address: str = Field(default="", max_length=200)
    supplier_dea_number: str = Field(default="", max_length=9)
    invoice_reference: str = Field(max_length=60)
    received_on: date
    location: DbId
    quantity: str
    unit: str = "mg"


class BalanceOut(Schema):
    lot: int
    lot_number: str
    product: str
    location: int
    location_name: str
    mg: Decimal
    units: Decimal
    unit: str
    expires_on: date
    expired: bool


class ReconciliationOut(Schema):
    lot: int
    location: int
    entries: int
    totals_mg: dict[str, Decimal]
    expected_mg: Decimal
    recorded_mg: Decimal
    balanced: bool
    problems: list[str]


class EntryParams(Schema):
    lot: DbId | None = None
    location: DbId | None = None
    kind: str = Field(default="", max_length=20)
    limit: int = Field(default=50, ge=1, le=500)
    offset: Offset = 0


def _with_relations(entry_id: int) -> LedgerEntry:
    return LedgerEntry.objects.select_related("lot__product", "actor", "witness").get(pk=entry_id)


@router.get("/entries", response={200: EntryListOut, **ERROR_ANSWERS})
def entry_list(request: HttpRequest, params: Query[EntryParams]) -> dict[str, object]:
    """Ledger entries, newest first; filter by lot, location or kind."""
    entries = selectors.ledger_entries(
        ctx=api_context(request), lot_id=params.lot, location_id=params.location, kind=params.kind
    )
    return {"items": list(entries[params.offset : params.offset + params.limit]), "count": entries.count()}


@router.post("/entries", response={201: EntryOut, **ERROR_ANSWERS})
def entry_create(request: HttpRequest, payload: EntryIn) -> Status[LedgerEntry]:
    """Record a movement. Waste and destruction need the witness's own username and password."""
    ctx = api_context(request)
    quantity = services.Quantity(payload.quantity, payload.unit)
    if payload.kind == "transfer":
        if payload.to_location is None:
            raise ValidationError({"to_location": "A transfer needs the location the stock goes to."})
        out, _into = services.ledger_transfer(
            ctx=ctx,
            lot_id=payload.lot,
            from_location_id=payload.location,
            to_location_id=payload.to_location,
            quantity=quantity,
            reason=payload.reason,
        )
        return Status(201, _with_relations(out.pk))
    witness = (
        services.WitnessCredentials(payload.witness_username, payload.witness_password)
        if payload.witness_username
        else None
    )
    entry = services.ledger_entry_record(
        ctx=ctx,
        kind=payload.kind,
        lot_id=payload.lot,
        location_id=payload.location,
        quantity=quantity,
        occurred_at=payload.occurred_at,
        witness=witness,
        patient_id=payload.patient,
        reason=payload.reason,
        reference=payload.reference,
        corrects_id=payload.corrects,
    )
    return Status(201, _with_relations(entry.pk))


@router.post("/lots", response={201: EntryOut, **ERROR_ANSWERS})
def lot_receive(request: HttpRequest, payload: LotIn) -> Status[LedgerEntry]:
    """Receive a delivery: the lot and its receipt entry at a location."""
    entry = services.ledger_receive(
        ctx=api_context(request),
        product_id=payload.product,
        lot_number=payload.lot_number,
        expires_on=payload.expires_on,
        supplier_name=payload.supplier_name,
        supplier_address=payload.supplier_address,
        supplier_dea_number=payload.supplier_dea_number,
        invoice_reference=payload.invoice_reference,
        received_on=payload.received_on,
        location_id=payload.location,
        quantity=services.Quantity(payload.quantity, payload.unit),
    )
    return Status(201, _with_relations(entry.pk))


@router.get("/balances", response={200: list[BalanceOut], **ERROR_ANSWERS})
def balances(request: HttpRequest) -> list[dict[str, object]]:
    """What is on hand, per lot and location, in mg and in the product's unit."""
    return [
        {
            "lot": b.lot.pk,
            "lot_number": b.lot.lot_number,
            "product": str(b.lot.product),
            "location": b.location.pk,
            "location_name": b.location.name,
            "mg": b.mg,
            "units": b.units,
            "unit": b.lot.product.unit,
            "expires_on": b.lot.expires_on,
            "expired": b.expired,
        }
        for b in selectors.ledger_balances(ctx=api_context(request))
    ]


@router.get("/reconciliation", response={200: list[ReconciliationOut], **ERROR_ANSWERS})
def reconciliation(request: HttpRequest) -> list[dict[str, object]]:
    """received - administered - wasted - destroyed - lost - returned +/- transfers = on hand, per lot and location."""
    return [
        {
            "lot": r.lot,
            "location": r.location,
            "entries": r.entries,
            "totals_mg": {k.value: v for k, v in r.totals.items()},
            "expected_mg": r.expected_mg,
            "recorded_mg": r.recorded_mg,
            "balanced": r.balanced,
            "problems": r.problems,
        }
        for r in selectors.ledger_reconciliation(ctx=api_context(request))
    ]


class CountLineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lot: DbId
    quantity: str
    unit: str = "mg"


class CountIn(Schema):
    model_config = ConfigDict(extra="forbid")

    location: DbId
    kind: str = Field(description="initial, shift, daily or biennial")
    business_time: str = Field(description="opening, close or during")
    lines: list[CountLineIn]
    witness_username: str = ""
    witness_password: str = ""


class CountLineOut(Schema):
    lot: int
    counted_mg: Decimal
    expected_mg: Decimal
    investigation: int | None
    resolved: bool


class CountOut(Schema):
    id: int
    kind: str
    business_time: str
    location: int
    counted_at: datetime
    counted_by: str
    witness: str
    lines: list[CountLineOut]


class ResolveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(max_length=4000)
    adjust_ledger: bool = False


class InvestigationOut(Schema):
    id: int
    resolved_at: datetime | None
    resolution: str
    adjustment: int | None = Field(alias="adjustment_id")


def _count_out(count: InventoryCount) -> dict[str, object]:
    lines = []
    for line in count.lines.all():
        investigation = getattr(line, "investigation", None)
        lines.append(
            {
                "lot": line.lot_id,
                "counted_mg": line.counted_mg,
                "expected_mg": line.expected_mg,
                "investigation": investigation.pk if investigation else None,
                "resolved": bool(investigation and investigation.resolved_at),
            }
        )
    return {
        "id": count.pk,
        "kind": count.kind,
        "business_time": count.business_time,
        "location": count.location_id,
        "counted_at": count.counted_at,
        "counted_by": count.counted_by.username,
        "witness": count.witness.username,
        "lines": lines,
    }


@router.get("/counts", response={200: list[CountOut], **ERROR_ANSWERS})
def count_list(request: HttpRequest, limit: Annotated[int, Field(ge=1, le=200)] = 20) -> list[dict[str, object]]:
    """Counts, newest first, each with counted and ledger figures and any investigation."""
    counts = selectors.inventory_counts(ctx=api_context(request))[:limit]
    return [_count_out(c) for c in counts]


@router.post("/counts", response={201: CountOut, **ERROR_ANSWERS})
def count_create(request: HttpRequest, payload: CountIn) -> Status[dict[str, object]]:
    """Record a blind, witnessed count of every lot at a location; differences open investigations."""
    count = services.inventory_count_record(
        ctx=api_context(request),
        location_id=payload.location,
        kind=payload.kind,
        business_time=payload.business_time,
        lines=[services.CountedLot(line.lot, services.Quantity(line.quantity, line.unit)) for line in payload.lines],
        witness=services.WitnessCredentials(payload.witness_username, payload.witness_password),
    )
    fresh = selectors.inventory_counts(ctx=api_context(request)).get(pk=count.pk)
    return Status(201, _count_out(fresh))


@router.post("/investigations/{investigation_id}/resolve", response={200: InvestigationOut, **ERROR_ANSWERS})
def investigation_resolve(request: HttpRequest, investigation_id: DbId, payload: ResolveIn) -> Investigation:
    """Close a count discrepancy (director); optionally adjust the ledger to the count."""
    return services.investigation_resolve(
        ctx=api_context(request),
        investigation_id=investigation_id,
        resolution=payload.resolution,
        adjust_ledger=payload.adjust_ledger,
    )


class DeadlineOut(Schema):
    what: str
    due_on: date
    state: str = Field(description="done, due or overdue")
    done_on: date | None
    days_left: int | None = Field(description="days until due (negative: overdue); null when done")
    source: str


class InventoryClockOut(Schema):
    location: int
    location_name: str
    deadline: DeadlineOut


class LossClockOut(Schema):
    entry: int
    discovered_at: datetime
    notice: DeadlineOut
    form_106: DeadlineOut


class ClocksOut(Schema):
    today: date
    inventories: list[InventoryClockOut]
    losses: list[LossClockOut]
    oldest_record_on: date | None
    kept_until: date | None = Field(description="no ledger record may be destroyed before this day (1304.04(a))")


def _deadline_out(d: Deadline) -> dict[str, object]:
    return {
        "what": d.what,
        "due_on": d.due_on,
        "state": d.state.value,
        "done_on": d.done_on,
        "days_left": d.days_left,
        "source": d.source,
    }


@router.get("/clocks", response={200: ClocksOut, **ERROR_ANSWERS})
def clocks(request: HttpRequest) -> dict[str, object]:
    """What the DEA rules make due: inventories (1304.11), theft-or-loss filings (1301.76(b)), retention (1304.04)."""
    c = selectors.ledger_clocks(ctx=api_context(request))
    return {
        "today": c.today,
        "inventories": [
            {"location": i.location.pk, "location_name": i.location.name, "deadline": _deadline_out(i.deadline)}
            for i in c.inventories
        ],
        "losses": [
            {
                "entry": loss.entry.pk,
                "discovered_at": loss.entry.occurred_at,
                "notice": _deadline_out(loss.notice),
                "form_106": _deadline_out(loss.form_106),
            }
            for loss in c.losses
        ],
        "oldest_record_on": c.oldest_record_on,
        "kept_until": c.kept_until,
    }


class LossReportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="written_notice or form_106")
    filed_on: date
    reference: str = Field(default="", max_length=80, description="Form 106: its confirmation number")


class LossReportOut(Schema):
    id: int
    loss: int = Field(alias="loss_id")
    kind: str
    filed_on: date
    reference: str
    by: str = Field(alias="by.username")
    at: datetime


@router.post("/losses/{entry_id}/reports", response={201: LossReportOut, **ERROR_ANSWERS})
def loss_report(request: HttpRequest, entry_id: DbId, payload: LossReportIn) -> Status[LossReport]:
    """Record a theft or loss's written notice or Form 106 (director), once each."""
    report = services.loss_report_record(
        ctx=api_context(request),
        loss_entry_id=entry_id,
        kind=payload.kind,
        filed_on=payload.filed_on,
        reference=payload.reference,
    )
    return Status(201, report)

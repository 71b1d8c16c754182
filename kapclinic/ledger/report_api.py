"""The controlled-substance reports as JSON, mounted at /api/v1/ledger/reports."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS
from kapclinic.ledger import reports
from kapclinic.ledger.models import BusinessTime, ClinicRegistration
from kapclinic.ledger.selectors import require_ledger_report

router = Router(tags=["controlled-substance reports"])


class LogParams(Schema):
    date_from: date | None = Field(
        default=None, alias="from", description="first day, inclusive (default: 29 days before `to`)"
    )
    date_to: date | None = Field(default=None, alias="to", description="last day, inclusive (default: today)")


class InventoryParams(Schema):
    as_of: str = Field(
        default="",
        max_length=40,
        description="a date (YYYY-MM-DD) or date and time (YYYY-MM-DDTHH:MM) in the clinic's time zone; default now",
    )
    timing: str = Field(default=BusinessTime.CLOSE, max_length=8, description="opening or close (of business)")


class RegistrantOut(Schema):
    name: str
    dea_number: str
    address: str
    schedules: str
    expires_on: date


class LedgerPatientOut(Schema):
    name: str
    mrn: str
    address: str


class LogEntryOut(Schema):
    id: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    location: str
    drug: str
    form: str
    ndc: str
    strength: str
    container: str
    lot_number: str
    lot_expires_on: date
    quantity_mg: Decimal
    units: Decimal
    unit: str
    balance_after_mg: Decimal
    patient: LedgerPatientOut | None
    by: str
    witness: str
    supplier: str
    reference: str
    reason: str
    link: str


class KindTotalOut(Schema):
    drug: str
    kind: str
    entries: int
    mg: Decimal
    units: Decimal
    unit: str


class DispensingLogOut(Schema):
    date_from: date
    date_to: date
    time_zone: str
    generated_at: datetime
    registrant: RegistrantOut | None
    entries: list[LogEntryOut]
    totals: list[KindTotalOut]


class InventoryLineOut(Schema):
    location_id: int
    location: str
    product_id: int
    drug: str
    form: str
    strength: str
    ndc: str
    units_per_container: Decimal
    unit: str
    lot_id: int
    lot_number: str
    lot_expires_on: date
    on_hand_mg: Decimal
    on_hand_units: Decimal
    full_containers: int
    opened_container_units: Decimal


class InventoryOut(Schema):
    as_of: datetime
    timing: str
    time_zone: str
    generated_at: datetime
    registrant: RegistrantOut | None
    zero_inventory: bool
    lines: list[InventoryLineOut]


def _registrant(registration: ClinicRegistration | None) -> dict[str, object] | None:
    if registration is None:
        return None
    return {
        "name": registration.registrant_name,
        "dea_number": registration.dea_number,
        "address": registration.address,
        "schedules": registration.schedules,
        "expires_on": registration.expires_on,
    }


@router.get("/dispensing-log", response={200: DispensingLogOut, **ERROR_ANSWERS})
def dispensing_log(request: HttpRequest, params: Query[LogParams]) -> dict[str, object]:
    """Every ledger entry between two days (inclusive), oldest first, with the 21 CFR 1304.22(c) fields."""
    log = reports.dispensing_log(
        ctx=api_context(request), date_from=params.date_from, date_to=params.date_to, output="api"
    )
    return {
        "date_from": log.date_from,
        "date_to": log.date_to,
        "time_zone": log.time_zone,
        "generated_at": log.generated_at,
        "registrant": _registrant(log.registration),
        "entries": [
            {
                "id": r.entry_id,
                "kind": r.kind.value,
                "occurred_at": r.occurred_at,
                "recorded_at": r.recorded_at,
                "location": r.location,
                "drug": r.drug,
                "form": r.form,
                "ndc": r.ndc,
                "strength": r.strength,
                "container": r.container,
                "lot_number": r.lot_number,
                "lot_expires_on": r.expires_on,
                "quantity_mg": r.quantity_mg,
                "units": r.units,
                "unit": r.unit,
                "balance_after_mg": r.balance_after_mg,
                "patient": (
                    {"name": r.patient_name, "mrn": r.patient_mrn, "address": r.patient_address}
                    if r.patient_mrn
                    else None
                ),
                "by": r.by,
                "witness": r.witness,
                "supplier": r.supplier,
                "reference": r.reference,
                "reason": r.reason,
                "link": r.link,
            }
            for r in log.rows
        ],
        "totals": [
            {
                "drug": t.product,
                "kind": t.kind.value,
                "entries": t.entries,
                "mg": t.mg,
                "units": t.units,
                "unit": t.unit,
            }
            for t in log.totals
        ],
    }


@router.get("/inventory", response={200: InventoryOut, **ERROR_ANSWERS})
def inventory(request: HttpRequest, params: Query[InventoryParams]) -> dict[str, object]:
    """What was on hand at a moment (21 CFR 1304.11), per product, lot and location, in mg, units and containers."""
    ctx = api_context(request)
    require_ledger_report(ctx, "report.inventory")  # refuse before saying what is wrong with `as_of`
    report = reports.inventory_report(
        ctx=ctx, as_of=reports.parse_as_of(params.as_of), timing=params.timing, output="api"
    )
    return {
        "as_of": report.as_of,
        "timing": report.timing.value,
        "time_zone": report.time_zone,
        "generated_at": report.generated_at,
        "registrant": _registrant(report.registration),
        "zero_inventory": not report.lines,
        "lines": [
            {
                "location_id": ln.location.pk,
                "location": ln.location.name,
                "product_id": ln.product.pk,
                "drug": ln.product.name,
                "form": ln.product.form,
                "strength": reports.strength(ln.product),
                "ndc": ln.product.ndc,
                "units_per_container": ln.product.units_per_container,
                "unit": ln.product.unit,
                "lot_id": ln.lot.pk,
                "lot_number": ln.lot.lot_number,
                "lot_expires_on": ln.lot.expires_on,
                "on_hand_mg": ln.mg,
                "on_hand_units": ln.units,
                "full_containers": ln.full_containers,
                "opened_container_units": ln.opened_units,
            }
            for ln in report.lines
        ],
    }

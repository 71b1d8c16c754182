"""Money over JSON: record a payment, refund, write-off or insurance adjustment; read a patient's balance. The same
services and selectors as the pages (kapclinic/billing/payments.py, balances.py), so the same rules and audit."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId
from kapclinic.billing import balances, payments, superbills
from kapclinic.billing.models import MoneyEntry
from kapclinic.billing.payment_views import superbill_pdf_response
from kapclinic.clinical.money import AMOUNT_MAX_CENTS

router = Router(tags=["billing"])


class MoneyEntryIn(Schema):
    model_config = ConfigDict(extra="forbid")

    patient: DbId
    kind: Literal["payment", "refund", "write_off", "adjustment"]
    # Bounded here too, so a huge number is a 422 before the service, never an overflow.
    amount_cents: int = Field(ge=-AMOUNT_MAX_CENTS * 10, le=AMOUNT_MAX_CENTS * 10)
    method: Literal["", "card", "cash", "check", "insurance"] = ""
    reference: str = Field(default="", max_length=80)
    payer: DbId | None = None
    claim_reference: str = Field(default="", max_length=80)
    adjustment_group: Literal["", "CO", "PR", "OA", "PI", "CR"] = ""
    adjustment_reason: str = Field(default="", max_length=5)
    reason: str = Field(default="", max_length=1000)
    line: DbId | None = None
    purchase: DbId | None = None
    received_on: date | None = None
    keep_as_credit: bool = False
    corrects: DbId | None = None


class MoneyEntryOut(Schema):
    id: int
    patient: int
    kind: str
    amount_cents: int
    method: str
    reference: str
    payer: int | None
    claim_reference: str
    adjustment_group: str
    adjustment_reason: str
    reason: str
    line: int | None
    purchase: int | None
    received_on: date
    keep_as_credit: bool
    corrects: int | None
    balance_cents: int  # the patient's balance after it


def _entry_out(e: MoneyEntry, balance_cents: int) -> dict[str, Any]:
    return {
        "id": e.pk,
        "patient": e.patient_id,
        "kind": e.kind,
        "amount_cents": e.amount_cents,
        "method": e.method,
        "reference": e.reference,
        "payer": e.payer_id,
        "claim_reference": e.claim_reference,
        "adjustment_group": e.adjustment_group,
        "adjustment_reason": e.adjustment_reason,
        "reason": e.reason,
        "line": e.line_id,
        "purchase": e.purchase_id,
        "received_on": e.received_on,
        "keep_as_credit": e.keep_as_credit,
        "corrects": e.corrects_id,
        "balance_cents": balance_cents,
    }


@router.post("/payments", response={201: MoneyEntryOut, **ERROR_ANSWERS})
def payment_create(request: HttpRequest, payload: MoneyEntryIn) -> Status[dict[str, Any]]:
    """Record a payment, refund, write-off or insurance adjustment (or, with `corrects`, a correction of one) in
    integer cents. A payment over the balance is refused (422) unless `keep_as_credit`."""
    given = payments.MoneyEntryInput(
        patient_id=payload.patient,
        kind=payload.kind,
        amount_cents=payload.amount_cents,
        method=payload.method,
        reference=payload.reference,
        payer_id=payload.payer,
        claim_reference=payload.claim_reference,
        adjustment_group=payload.adjustment_group,
        adjustment_reason=payload.adjustment_reason,
        reason=payload.reason,
        line_id=payload.line,
        purchase_id=payload.purchase,
        received_on=payload.received_on,
        keep_as_credit=payload.keep_as_credit,
        corrects_id=payload.corrects,
    )
    entry = payments.money_entry_record(ctx=api_context(request), given=given)
    return Status(201, _entry_out(entry, balances.balance_of(entry.patient_id).balance_cents))


class ChargeLineBalanceOut(Schema):
    line: int
    date_of_service: date
    code: str
    charged_cents: int
    paid_net_cents: int
    balance_cents: int


class PackageCountdownOut(Schema):
    purchase: int
    package: str
    bought_on: date
    sessions: int
    sessions_left: int
    price_cents: int
    balance_cents: int


class AccountBalanceOut(Schema):
    patient: int
    balance_cents: int  # negative: the patient's credit
    charged_cents: int
    packages_cents: int
    paid_cents: int
    adjusted_cents: int
    written_off_cents: int
    refunded_cents: int
    lines: list[ChargeLineBalanceOut]
    packages: list[PackageCountdownOut]


@router.get("/patients/{patient_id}/balance", response={200: AccountBalanceOut, **ERROR_ANSWERS})
def balance_get(request: HttpRequest, patient_id: DbId) -> dict[str, Any]:
    """The patient's balance (the patient: their own), each approved line's balance and each package's sessions
    left. Audited."""
    account = balances.patient_account(ctx=api_context(request), patient_id=patient_id)
    b = account.balance
    return {
        "patient": patient_id,
        "balance_cents": b.balance_cents,
        "charged_cents": b.charged_cents,
        "packages_cents": b.packages_cents,
        "paid_cents": b.paid_cents,
        "adjusted_cents": b.adjusted_cents,
        "written_off_cents": b.written_off_cents,
        "refunded_cents": b.refunded_cents,
        "lines": [
            {
                "line": line.pk,
                "date_of_service": line.date_of_service,
                "code": line.code,
                "charged_cents": account.line_balances[line.pk].charged_cents,
                "paid_net_cents": account.line_balances[line.pk].paid_net_cents,
                "balance_cents": account.line_balances[line.pk].balance_cents,
            }
            for line in account.lines
        ],
        "packages": [
            {
                "purchase": c.purchase.pk,
                "package": c.purchase.package.name,
                "bought_on": c.purchase.bought_on,
                "sessions": c.purchase.sessions,
                "sessions_left": c.sessions_left,
                "price_cents": c.purchase.price_cents,
                "balance_cents": c.balance.balance_cents,
            }
            for c in account.packages
        ],
    }


class SuperbillPeriodQuery(Schema):
    first: date | None = Field(default=None, alias="from", description="first day of service")
    last: date | None = Field(default=None, alias="to", description="last day of service, inclusive")


@router.get(
    "/patients/{patient_id}/superbill",
    response={200: None, **ERROR_ANSWERS},
    openapi_extra={"responses": {200: {"description": "The superbill as a PDF", "content": {"application/pdf": {}}}}},
)
def superbill_get(request: HttpRequest, patient_id: DbId, period: Query[SuperbillPeriodQuery]) -> HttpResponse:
    """The superbill of the patient's approved lines from `from` through `to` (a visit: the same day) as a PDF,
    audited (the patient: their own). A period missing, reversed or over a year is a 422."""
    ctx = api_context(request)
    bill = superbills.superbill(ctx=ctx, patient_id=patient_id, first=period.first, last=period.last)
    return superbill_pdf_response(request, ctx, bill)

"""Billing reports (issue 18 item 8) for the director and the biller: charges, money received and what remains
outstanding, by day, payer or rendering provider, over a period; the outstanding receivables and days in A/R.

Set-based: a fixed number of queries whatever the number of patients or lines (no loop per patient). What counts is
what billing-money's balances count (kapclinic/billing/balances.py): approved lines that no newer line corrects and
that carry an amount (`billed_lines`), and money entries that no correction replaced (`counted_entries`), here
over the whole clinic instead of one patient.

- Charges: billed lines whose date of service is in the period, grouped by the line's day, its payer (the
  patient's primary coverage in force on the date of service; "Self-pay" without one) or its rendering provider;
  with what was paid, adjusted and written off on those lines (net of refunds) and what remains on them.
- Received: payments less refunds whose date is in the period, by that day, the paying payer ("Patient" when no
  payer is named) or the provider of the line it was paid on ("Not on a line").
- Receivables: every billed line and package ever, less every counted credit (the clinic's A/R today) and days in
  A/R over the period [clinical/billing.py DAR].
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.billing.models import ChargeLine, Coverage, CoverageRank, MoneyEntry, MoneyKind, PackagePurchase
from kapclinic.clinical.billing import days_in_receivables
from kapclinic.errors import AccessDenied
from kapclinic.roles import Action, may

SELF_PAY = "Self-pay"
PATIENT = "Patient"
NOT_ON_A_LINE = "Not on a line"
PERIOD_DAYS_MAX = 366 * 2


class GroupBy(StrEnum):
    DAY = "day"
    PAYER = "payer"
    PROVIDER = "provider"


GROUP_LABELS = {GroupBy.DAY: "Day", GroupBy.PAYER: "Payer", GroupBy.PROVIDER: "Rendering provider"}


def billed_lines() -> QuerySet[ChargeLine]:
    """balances.billed_lines over the whole clinic: approved, not corrected, priced."""
    return ChargeLine.objects.filter(review__decision="approved", correction__isnull=True, amount_cents__isnull=False)


def counted_entries() -> QuerySet[MoneyEntry]:
    """balances.counted_entries over the whole clinic: the entries no correction replaced."""
    return MoneyEntry.objects.filter(correction__isnull=True)


def _payer_of_line() -> Coalesce:
    """The name of the payer of the patient's primary coverage in force on the line's date of service (SQL)."""
    in_force = (
        Coverage.objects.filter(
            patient_id=OuterRef("patient_id"),
            rank=CoverageRank.PRIMARY,
            effective_from__lte=OuterRef("date_of_service"),
        )
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=OuterRef("date_of_service")))
        .order_by("-effective_from", "-id")
        .values("payer__name")[:1]
    )
    return Coalesce(Subquery(in_force), Value(SELF_PAY))


@dataclass
class ChargeRow:
    key: str
    lines: int = 0
    charged_cents: int = 0
    paid_cents: int = 0  # net of refunds
    adjusted_cents: int = 0
    written_off_cents: int = 0

    @property
    def outstanding_cents(self) -> int:
        return self.charged_cents - self.paid_cents - self.adjusted_cents - self.written_off_cents


@dataclass
class ReceivedRow:
    key: str
    payments_cents: int = 0
    refunds_cents: int = 0

    @property
    def net_cents(self) -> int:
        return self.payments_cents - self.refunds_cents


@dataclass(frozen=True)
class BillingReport:
    first: date
    last: date
    group_by: GroupBy
    charges: list[ChargeRow]
    received: list[ReceivedRow]
    receivable_cents: int  # the clinic's outstanding A/R today
    days_in_ar: Decimal | None
    totals: ChargeRow = field(default_factory=lambda: ChargeRow("Total"))
    received_total: ReceivedRow = field(default_factory=lambda: ReceivedRow("Total"))

    @property
    def label(self) -> str:
        return GROUP_LABELS[self.group_by]

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def require_billing_report(ctx: AuditContext) -> None:
    if not may(ctx.user.role, Action.BILLING_REPORT):
        access_event_record(ctx=ctx, action=Action.BILLING_REPORT, outcome=Outcome.DENIED)
        raise AccessDenied("Billing reports are for the clinic director and the biller.")


def _names(user_ids: set[int]) -> dict[int, str]:
    return {u.pk: u.display_name for u in User.objects.filter(pk__in=user_ids)}


def billing_report(*, ctx: AuditContext, first: date, last: date, group_by: GroupBy) -> BillingReport:
    """The report over [first, last] (audited; figures only, no patient named). Seven reads and the audit row,
    whatever the size."""
    require_billing_report(ctx)
    if last < first:
        raise ValueError("The last day cannot be before the first.")
    lines = list(
        billed_lines()
        .filter(date_of_service__gte=first, date_of_service__lte=last)
        .annotate(payer_name=_payer_of_line())
        .values_list("pk", "date_of_service", "rendering_provider_id", "amount_cents", "payer_name")
    )
    moved: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MoneyKind.values, 0))
    on_lines = (
        counted_entries()
        .filter(line_id__in=[pk for pk, *_ in lines])
        .values("line_id", "kind")
        .annotate(total=Sum("amount_cents"))
    )
    for sums in on_lines:
        moved[sums["line_id"]][sums["kind"]] += int(sums["total"])
    received_rows = list(
        counted_entries()
        .filter(kind__in=[MoneyKind.PAYMENT, MoneyKind.REFUND], received_on__gte=first, received_on__lte=last)
        .values("received_on", "payer__name", "line__rendering_provider_id", "kind")
        .annotate(total=Sum("amount_cents"))
    )
    names = _names(
        {provider for _, _, provider, *_ in lines}
        | {r["line__rendering_provider_id"] for r in received_rows if r["line__rendering_provider_id"]}
    )

    def line_key(day: date, provider: int, payer: str) -> str:
        if group_by is GroupBy.DAY:
            return day.isoformat()
        return payer if group_by is GroupBy.PAYER else names.get(provider, "?")

    charges: dict[str, ChargeRow] = {}
    total = ChargeRow("Total")
    for pk, day, provider, amount, payer in lines:
        m = moved[pk]
        key = line_key(day, provider, payer)
        for charge in (charges.setdefault(key, ChargeRow(key)), total):
            charge.lines += 1
            charge.charged_cents += int(amount or 0)  # billed lines carry an amount
            charge.paid_cents += m[MoneyKind.PAYMENT] - m[MoneyKind.REFUND]
            charge.adjusted_cents += m[MoneyKind.ADJUSTMENT]
            charge.written_off_cents += m[MoneyKind.WRITE_OFF]
    received: dict[str, ReceivedRow] = {}
    received_total = ReceivedRow("Total")
    for r in received_rows:
        if group_by is GroupBy.DAY:
            key = r["received_on"].isoformat()
        elif group_by is GroupBy.PAYER:
            key = r["payer__name"] or PATIENT
        else:
            provider = r["line__rendering_provider_id"]
            key = names.get(provider, "?") if provider else NOT_ON_A_LINE
        for money in (received.setdefault(key, ReceivedRow(key)), received_total):
            if r["kind"] == MoneyKind.PAYMENT:
                money.payments_cents += int(r["total"])
            else:
                money.refunds_cents += int(r["total"])
    receivable = _receivable_cents()
    report = BillingReport(
        first=first,
        last=last,
        group_by=group_by,
        charges=sorted(charges.values(), key=lambda r: r.key),
        received=sorted(received.values(), key=lambda r: r.key),
        receivable_cents=receivable,
        days_in_ar=days_in_receivables(
            outstanding_cents=receivable, charged_cents=total.charged_cents, days=(last - first).days + 1
        ),
        totals=total,
        received_total=received_total,
    )
    access_event_record(
        ctx=ctx,
        action=Action.BILLING_REPORT,
        detail={"first": first.isoformat(), "last": last.isoformat(), "by": group_by.value},
    )
    return report


def _receivable_cents() -> int:
    """The clinic's A/R today: billed lines and packages bought, less counted credits, plus refunds (what every
    patient's balance in balances.balance_of adds up to)."""
    charged = billed_lines().aggregate(total=Sum("amount_cents"))["total"] or 0
    packages = PackagePurchase.objects.aggregate(total=Sum("price_cents"))["total"] or 0
    sums = counted_entries().aggregate(
        **{kind.value: Sum("amount_cents", filter=Q(kind=kind.value)) for kind in MoneyKind}
    )
    moved = {kind: int(sums[kind] or 0) for kind in MoneyKind.values}
    return (
        int(charged)
        + int(packages)
        - moved[MoneyKind.PAYMENT]
        - moved[MoneyKind.ADJUSTMENT]
        - moved[MoneyKind.WRITE_OFF]
        + moved[MoneyKind.REFUND]
    )

"""Money reads: a patient's balance, each charge line's and package purchase's balance, the entries of an account,
and how many sessions a package has left.

What a patient owes [clinical/money.py BAL]: the amounts of their approved charge lines that no newer line
corrects, and the prices of the packages they bought, less payments, insurance adjustments and write-offs, plus
refunds; only entries that no correction replaced count. A negative balance is the patient's credit.

`balance_of`, `line_balance` and `purchase_balance` check nothing and audit nothing: they are for services (which
have already checked the user) and for the selectors below, which check and audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.billing.models import ChargeLine, MoneyEntry, MoneyKind, PackagePurchase
from kapclinic.clinical import money as rules
from kapclinic.days import day_start
from kapclinic.dosing.models import DosingSession
from kapclinic.patients.access import PatientAccess, patient_get_for_user
from kapclinic.roles import Action


def billed_lines(patient_id: int) -> QuerySet[ChargeLine]:
    """The lines the patient owes for: approved, not corrected, priced."""
    return ChargeLine.objects.filter(
        patient_id=patient_id,
        review__decision="approved",
        correction__isnull=True,
        amount_cents__isnull=False,
    )


def counted_entries(patient_id: int, excluding: int | None = None) -> QuerySet[MoneyEntry]:
    """The entries that count: those no correction replaced (and not `excluding`, an entry being corrected)."""
    entries = MoneyEntry.objects.filter(patient_id=patient_id, correction__isnull=True)
    return entries if excluding is None else entries.exclude(pk=excluding)


@dataclass(frozen=True)
class Balance:
    charged_cents: int  # approved lines
    packages_cents: int  # packages bought
    paid_cents: int  # payments
    adjusted_cents: int  # insurance adjustments
    written_off_cents: int
    refunded_cents: int

    @property
    def balance_cents(self) -> int:
        """What the patient owes (negative: their credit)."""
        return (
            self.charged_cents
            + self.packages_cents
            - self.paid_cents
            - self.adjusted_cents
            - self.written_off_cents
            + self.refunded_cents
        )

    @property
    def paid_net_cents(self) -> int:
        """Paid less refunded: the most a refund may give back."""
        return self.paid_cents - self.refunded_cents


def _sums(entries: QuerySet[MoneyEntry]) -> dict[str, int]:
    totals = entries.aggregate(**{kind.value: Sum("amount_cents", filter=Q(kind=kind.value)) for kind in MoneyKind})
    return {kind: int(totals[kind] or 0) for kind in MoneyKind.values}


def balance_of(patient_id: int, excluding: int | None = None) -> Balance:
    """The patient's balance, unchecked (for services and the selectors below). Three queries."""
    charged = billed_lines(patient_id).aggregate(total=Sum("amount_cents"))["total"] or 0
    packages = PackagePurchase.objects.filter(patient_id=patient_id).aggregate(total=Sum("price_cents"))["total"]
    sums = _sums(counted_entries(patient_id, excluding))
    return Balance(
        charged_cents=int(charged),
        packages_cents=int(packages or 0),
        paid_cents=sums[MoneyKind.PAYMENT],
        adjusted_cents=sums[MoneyKind.ADJUSTMENT],
        written_off_cents=sums[MoneyKind.WRITE_OFF],
        refunded_cents=sums[MoneyKind.REFUND],
    )


@dataclass(frozen=True)
class ItemBalance:
    """A line's or a purchase's balance: what it charged, what was paid on it net of refunds, what remains."""

    charged_cents: int
    paid_net_cents: int
    balance_cents: int

    @property
    def settled_cents(self) -> int:
        """Paid, adjusted and written off, less refunds: what no longer stands of the charge."""
        return self.charged_cents - self.balance_cents


def _item_balance(charged: int, entries: QuerySet[MoneyEntry]) -> ItemBalance:
    sums = _sums(entries)
    credits = sums[MoneyKind.PAYMENT] + sums[MoneyKind.ADJUSTMENT] + sums[MoneyKind.WRITE_OFF]
    return ItemBalance(
        charged_cents=charged,
        paid_net_cents=sums[MoneyKind.PAYMENT] - sums[MoneyKind.REFUND],
        balance_cents=charged - credits + sums[MoneyKind.REFUND],
    )


def line_balance(line: ChargeLine, excluding: int | None = None) -> ItemBalance:
    """One line's balance, unchecked. A line not approved, or corrected, charges nothing."""
    billed = billed_lines(line.patient_id).filter(pk=line.pk).exists()
    charged = (line.amount_cents or 0) if billed else 0
    return _item_balance(charged, counted_entries(line.patient_id, excluding).filter(line=line))


def purchase_balance(purchase: PackagePurchase, excluding: int | None = None) -> ItemBalance:
    return _item_balance(
        purchase.price_cents, counted_entries(purchase.patient_id, excluding).filter(purchase=purchase)
    )


def line_balances(patient_id: int) -> dict[int, ItemBalance]:
    """Each billed line's balance, by line id (two queries)."""
    lines: dict[int, int | None] = dict(billed_lines(patient_id).values_list("pk", "amount_cents"))
    moved: dict[int, dict[str, int]] = {pk: dict.fromkeys(MoneyKind.values, 0) for pk in lines}
    rows = (
        counted_entries(patient_id)
        .filter(line_id__in=lines)
        .values("line_id", "kind")
        .annotate(total=Sum("amount_cents"))
    )
    for row in rows:
        moved[row["line_id"]][row["kind"]] += int(row["total"])
    out: dict[int, ItemBalance] = {}
    for pk, amount in lines.items():
        m = moved[pk]
        credits = m[MoneyKind.PAYMENT] + m[MoneyKind.ADJUSTMENT] + m[MoneyKind.WRITE_OFF]
        out[pk] = ItemBalance(
            charged_cents=int(amount or 0),
            paid_net_cents=m[MoneyKind.PAYMENT] - m[MoneyKind.REFUND],
            balance_cents=int(amount or 0) - credits + m[MoneyKind.REFUND],
        )
    return out


# --- packages -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseCountdown:
    purchase: PackagePurchase
    sessions_left: int
    balance: ItemBalance


def signed_session_days(patient_id: int, since: date) -> list[date]:
    """The days of the patient's signed dosing sessions from `since` (in the clinic's time zone)."""
    starts = DosingSession.objects.filter(
        patient_id=patient_id, signed_at__isnull=False, scheduled_for__gte=day_start(since)
    ).values_list("scheduled_for", flat=True)
    return [timezone.localdate(start) for start in starts]


def package_countdowns(patient_id: int) -> list[PurchaseCountdown]:
    """The patient's package purchases, newest first, with the sessions each has left [PKG]."""
    purchases = list(PackagePurchase.objects.filter(patient_id=patient_id).select_related("package"))
    if not purchases:
        return []
    first = min(p.bought_on for p in purchases)
    left = rules.sessions_left(
        [rules.Purchase(p.pk, p.bought_on, p.sessions) for p in purchases], signed_session_days(patient_id, first)
    )
    return [PurchaseCountdown(p, left[p.pk], purchase_balance(p)) for p in purchases]


# --- checked, audited reads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientAccount:
    access: PatientAccess
    balance: Balance
    lines: list[ChargeLine]
    line_balances: dict[int, ItemBalance]
    entries: list[MoneyEntry] = field(default_factory=list)
    packages: list[PurchaseCountdown] = field(default_factory=list)


def patient_balance(*, ctx: AuditContext, patient_id: int) -> tuple[PatientAccess, Balance]:
    """The patient's balance, for a user who may see it (the patient: their own), audited."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MONEY_VIEW)
    return access, balance_of(patient_id)


def patient_account(
    *, ctx: AuditContext, patient_id: int, first: date | None = None, last: date | None = None
) -> PatientAccount:
    """Everything on the patient's account (lines, entries, packages), optionally only from `first` through
    `last` (by date of service and date of the entry); the balance is always the whole account's. Audited."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MONEY_VIEW)
    lines = billed_lines(patient_id).select_related("rendering_provider").order_by("date_of_service", "id")
    entries = (
        counted_entries(patient_id)
        .select_related("payer", "line", "purchase__package", "recorded_by", "corrects")
        .order_by("received_on", "id")
    )
    if first is not None:
        lines = lines.filter(date_of_service__gte=first)
        entries = entries.filter(received_on__gte=first)
    if last is not None:
        lines = lines.filter(date_of_service__lte=last)
        entries = entries.filter(received_on__lte=last)
    return PatientAccount(
        access=access,
        balance=balance_of(patient_id),
        lines=list(lines),
        line_balances=line_balances(patient_id),
        entries=list(entries),
        packages=package_countdowns(patient_id),
    )

"""Reading the ledger: balances, entries and the reconciliation, for the pages and the API alike."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.ledger import (
    SOURCE_RETENTION,
    ClockState,
    Deadline,
    EntryKind,
    Reconciliation,
    inventory_deadline,
    loss_deadlines,
    reconcile_micrograms,
    retained_until,
    to_mg,
    units_for_mg,
)
from kapclinic.clinical.wording import day_time_text
from kapclinic.errors import AccessDenied
from kapclinic.ledger.models import (
    CountKind,
    InventoryCount,
    Investigation,
    LedgerEntry,
    LossReport,
    LossReportKind,
    Lot,
    StorageLocation,
)
from kapclinic.prepared import prepared_rows
from kapclinic.roles import Action, may

EXPIRY_WARNING_DAYS = 60


def require_ledger_view(ctx: AuditContext, what: str) -> None:
    if not may(ctx.user.role, Action.LEDGER_VIEW):
        access_event_record(ctx=ctx, action=f"ledger.{what}", outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not see the controlled-substance ledger.")


def require_ledger_report(ctx: AuditContext, what: str) -> None:
    if not may(ctx.user.role, Action.LEDGER_REPORT):
        access_event_record(ctx=ctx, action=f"ledger.{what}", outcome=Outcome.DENIED)
        raise AccessDenied("Ledger reports and the reconciliation are for the clinic director and the auditor.")


@dataclass(frozen=True)
class Balance:
    lot: Lot
    location: StorageLocation
    mg: Decimal
    units: Decimal
    expires_in_days: int

    @property
    def expired(self) -> bool:
        return self.expires_in_days < 0

    @property
    def expiring_soon(self) -> bool:
        return 0 <= self.expires_in_days <= EXPIRY_WARNING_DAYS


def ledger_balances(*, ctx: AuditContext, include_empty: bool = False, today: date | None = None) -> list[Balance]:
    """Return the balance of every lot at every location, summed from its entries. Three queries."""
    require_ledger_view(ctx, "balances")
    today = today or timezone.localdate()
    sums = (
        LedgerEntry.objects.values("lot_id", "location_id")
        .annotate(mg=Sum("quantity_mg"))
        .order_by("lot_id", "location_id")
    )
    # SQLite returns sums without their scale; bring every one back to 3 places.
    rows = [{**r, "mg": to_mg(r["mg"])} for r in sums if include_empty or r["mg"] != 0]
    lots = Lot.objects.select_related("product").in_bulk({r["lot_id"] for r in rows})
    locations = StorageLocation.objects.in_bulk({r["location_id"] for r in rows})
    access_event_record(ctx=ctx, action="ledger.balances")
    balances = []
    for r in rows:
        lot = lots[r["lot_id"]]
        balances.append(
            Balance(
                lot=lot,
                location=locations[r["location_id"]],
                mg=r["mg"],
                units=units_for_mg(r["mg"], lot.product.mg_per_unit),
                expires_in_days=(lot.expires_on - today).days,
            )
        )
    return sorted(balances, key=lambda b: (b.lot.product.name, b.lot.expires_on, b.location.name))


def ledger_entries(
    *, ctx: AuditContext, lot_id: int | None = None, location_id: int | None = None, kind: str = ""
) -> QuerySet[LedgerEntry]:
    """Return entries, newest first, filtered; reading them is audited (administrations name patients)."""
    require_ledger_view(ctx, "entries")
    entries = LedgerEntry.objects.select_related("lot__product", "location", "actor", "witness", "patient")
    if lot_id is not None:
        entries = entries.filter(lot_id=lot_id)
    if location_id is not None:
        entries = entries.filter(location_id=location_id)
    if kind:
        entries = entries.filter(kind=kind)
    access_event_record(
        ctx=ctx, action="ledger.entries", detail={"lot": lot_id, "location": location_id, "kind": kind or None}
    )
    return entries.order_by("-id")


def ledger_reconciliation(*, ctx: AuditContext) -> list[Reconciliation]:
    """Recompute every lot and location from all of its entries and flag mismatches."""
    require_ledger_report(ctx, "reconciliation")
    access_event_record(ctx=ctx, action="ledger.reconciliation")
    recs = reconcile_micrograms(_entries_in_micrograms())
    # A physical count that disagreed and is still under investigation is a mismatch too.
    by_key = {(r.lot, r.location): r for r in recs}
    for investigation in open_investigations():
        line = investigation.line
        row = by_key.get((line.lot_id, line.count.location_id))
        if row is not None:
            counted_on = timezone.localtime(line.count.counted_at)
            row.problems.append(
                f"Count of {day_time_text(counted_on)} found {line.counted_mg} mg, the ledger {line.expected_mg} mg: "
                "investigation open."
            )
    return recs


def _entries_in_micrograms() -> Iterator[tuple[int, int, str, int, int]]:
    """Stream every entry in order as whole micrograms, converted by the database.

    Reading a million Decimal fields through the ORM costs most of the reconciliation's time
    (bench/ledger.py measured it); integers from one raw query are exact and about 4x faster.
    """
    table = LedgerEntry._meta.db_table
    micrograms = "CAST(ROUND({} * 1000) AS BIGINT)"
    columns = f"lot_id, location_id, kind, {micrograms.format('quantity_mg')}, {micrograms.format('balance_after_mg')}"
    sql = f"SELECT {columns} FROM {table} ORDER BY id"  # noqa: S608 - names from the code, never from input
    with connection.cursor() as cursor:
        cursor.execute(sql)
        while batch := cursor.fetchmany(5000):
            yield from batch


def open_investigations() -> QuerySet[Investigation]:
    return Investigation.objects.filter(resolved_at__isnull=True).select_related(
        "line__count__location", "line__lot__product", "line__count__counted_by"
    )


def lots_expiring(*, within_days: int = EXPIRY_WARNING_DAYS) -> QuerySet[Lot]:
    """Return lots still holding stock that are expired or expire within `within_days`."""
    return (
        Lot.objects.filter(expires_on__lte=timezone.localdate() + timedelta(days=within_days))
        .annotate(on_hand=Sum("entries__quantity_mg"))
        .filter(on_hand__gt=0)
        .select_related("product")
        .order_by("expires_on")
    )


def inventory_counts(*, ctx: AuditContext) -> QuerySet[InventoryCount]:
    require_ledger_view(ctx, "counts")
    return InventoryCount.objects.select_related("location", "counted_by", "witness").prefetch_related(
        "lines__lot__product", "lines__investigation"
    )


def lots_at(location_id: int) -> list[Lot]:
    """Return every lot that has been at this location (what a blind count form lists; no quantities)."""
    ids = LedgerEntry.objects.filter(location_id=location_id).values_list("lot_id", flat=True).distinct()
    return list(Lot.objects.filter(pk__in=ids).select_related("product").order_by("product__name", "lot_number"))


@dataclass(frozen=True)
class InventoryClock:
    location: StorageLocation
    deadline: Deadline


@dataclass(frozen=True)
class LossClock:
    entry: LedgerEntry
    notice: Deadline
    form_106: Deadline

    @property
    def open(self) -> bool:
        return self.notice.state is not ClockState.DONE or self.form_106.state is not ClockState.DONE

    @property
    def filings(self) -> list[tuple[Deadline, str]]:
        """Each clock with the kind of filing that stops it."""
        return [(self.notice, LossReportKind.WRITTEN_NOTICE.value), (self.form_106, LossReportKind.FORM_106.value)]


@dataclass(frozen=True)
class LedgerClocks:
    """What the DEA rules make due, for the director's dashboard (kapclinic/clinical/ledger.py clocks)."""

    today: date
    inventories: list[InventoryClock]
    losses: list[LossClock]  # losses with a filing still open, and those of the last 90 days
    oldest_record_on: date | None
    kept_until: date | None  # the oldest record may not be destroyed before this day (1304.04(a))
    retention_source: str = SOURCE_RETENTION

    @property
    def attention(self) -> int:
        """How many clocks are overdue."""
        overdue = [c.deadline for c in self.inventories] + [d for c in self.losses for d in (c.notice, c.form_106)]
        return sum(d.state is ClockState.OVERDUE for d in overdue)


LOSS_SHOWN_DAYS = 90


def _locations_with_activity() -> QuerySet[Any]:  # StorageLocation rows with `first` and `last`
    """Each storage location that holds entries or counts, with its first entry and last full count."""
    first = LedgerEntry.objects.filter(location=OuterRef("pk")).order_by("occurred_at").values("occurred_at")[:1]
    last = (
        InventoryCount.objects.filter(location=OuterRef("pk"), kind__in=(CountKind.INITIAL, CountKind.BIENNIAL))
        .order_by("-counted_at")
        .values("counted_at")[:1]
    )
    return (
        StorageLocation.objects.annotate(first=Subquery(first), last=Subquery(last))
        .filter(Q(first__isnull=False) | Q(last__isnull=False))
        .order_by()
    )


def _inventory_clocks(today: date) -> list[InventoryClock]:
    """Each storage location that holds entries or counts, by name, with its next inventory deadline (one query)."""
    # Built and compiled once per process (kapclinic/prepared.py): the director's header asks on every page, and
    # the two subqueries cost more to compile than to run.
    locations = prepared_rows("ledger.inventory_clocks", _locations_with_activity)
    clocks = [
        InventoryClock(
            location=location,
            deadline=inventory_deadline(
                last_inventory_on=timezone.localdate(location.last) if location.last else None,
                first_activity_on=timezone.localdate(location.first) if location.first else None,
                today=today,
            ),
        )
        for location in locations
    ]
    return sorted(clocks, key=lambda clock: clock.location.name)


def _losses_with_filings(with_names: bool) -> QuerySet[Any]:  # LedgerEntry rows with `notice_on`, `form_106_on`
    """Every theft or loss with the day of its filing of each kind (None: not filed); `with_names`: with the lot,
    product and location the clocks page names."""
    filed = LossReport.objects.filter(loss=OuterRef("pk"))
    entries = LedgerEntry.objects.filter(kind=EntryKind.LOSS)
    if with_names:
        entries = entries.select_related("lot__product", "location")
    return entries.annotate(
        notice_on=Subquery(filed.filter(kind=LossReportKind.WRITTEN_NOTICE).values("filed_on")[:1]),
        form_106_on=Subquery(filed.filter(kind=LossReportKind.FORM_106).values("filed_on")[:1]),
    ).order_by("occurred_at", "id")


def _loss_clocks(today: date, *, with_names: bool) -> list[LossClock]:
    """The two filing clocks of each theft or loss (one query: a filing of each kind at most)."""
    # Prepared, as the inventory clocks: the director's header asks on every page.
    losses = prepared_rows(("ledger.loss_clocks", with_names), lambda: _losses_with_filings(with_names))
    clocks = []
    for entry in losses:
        notice, form_106 = loss_deadlines(
            timezone.localdate(entry.occurred_at),
            today=today,
            notice_on=entry.notice_on,
            form_106_on=entry.form_106_on,
        )
        clocks.append(LossClock(entry=entry, notice=notice, form_106=form_106))
    return clocks


def ledger_overdue(today: date) -> int:
    """How many controlled-substance clocks are overdue (LedgerClocks.attention), for the header of the director's
    pages: two queries, and no audit row, since it reads a number and no record (the clocks page is audited)."""
    deadlines = [clock.deadline for clock in _inventory_clocks(today)]
    deadlines += [d for clock in _loss_clocks(today, with_names=False) for d in (clock.notice, clock.form_106)]
    return sum(d.state is ClockState.OVERDUE for d in deadlines)


def ledger_clocks(*, ctx: AuditContext, today: date | None = None) -> LedgerClocks:
    """Return the inventory, theft-or-loss and retention clocks (director and auditor). Three queries.

    Inventories are taken per storage location (21 CFR 1304.11(a)); a location counts once it holds entries.
    """
    require_ledger_report(ctx, "clocks")
    today = today or timezone.localdate()
    inventories = _inventory_clocks(today)
    since = timezone.now() - timedelta(days=LOSS_SHOWN_DAYS)
    losses = [clock for clock in _loss_clocks(today, with_names=True) if clock.open or clock.entry.occurred_at >= since]
    oldest = LedgerEntry.objects.aggregate(oldest=Min("occurred_at"))["oldest"]
    oldest_on = timezone.localdate(oldest) if oldest else None
    access_event_record(ctx=ctx, action="ledger.clocks")
    return LedgerClocks(
        today=today,
        inventories=inventories,
        losses=losses,
        oldest_record_on=oldest_on,
        kept_until=retained_until(oldest_on) if oldest_on else None,
    )

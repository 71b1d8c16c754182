"""Controlled-substance reports: the dispensing log, the inventory, the reconciliation with expiry warnings.

Layouts from 21 CFR 1304.22(c) (what each dispensing/administration record holds) and 1304.11
(inventories), as set out in ../shared/domain/controlled-substances.md sections 4, 5 and 11.
Every date and time is in the clinic's time zone (settings.TIME_ZONE); reading a report is audited.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record, access_events_record_many
from kapclinic.clinical.ledger import ZERO, EntryKind, Reconciliation, to_mg, units_for_mg
from kapclinic.clinical.wording import day_text
from kapclinic.days import day_start
from kapclinic.ledger.models import BusinessTime, ClinicRegistration, LedgerEntry, Lot, Product, StorageLocation
from kapclinic.ledger.selectors import EXPIRY_WARNING_DAYS, Balance, ledger_reconciliation, require_ledger_report
from kapclinic.patients.models import Patient
from kapclinic.replica import replica_reads

# A log longer than this is refused as one PDF: WeasyPrint lays out about 20 rows a second, and a
# request must finish well within the server's timeout. The CSV has no limit.
PDF_MAX_ROWS = 500
LOG_DEFAULT_DAYS = 30
# 1304.11(a): an inventory states whether it was taken at the opening or the close of business.
INVENTORY_TIMINGS = (BusinessTime.OPENING, BusinessTime.CLOSE)


def clinic_time_zone() -> str:
    return str(settings.TIME_ZONE)


def registration() -> ClinicRegistration | None:
    """Return the registrant's DEA registration on file (the newest, if there were several)."""
    return ClinicRegistration.objects.order_by("-updated_at", "-id").first()


def _day_start(day: date) -> datetime:
    """Return midnight at the start of `day` in the clinic's time zone."""
    return day_start(day)


def _person(user: User | None) -> str:
    """Return the name and credential of whoever administered or witnessed (1304.22(c): name or initials)."""
    if user is None:
        return ""
    return f"{user.display_name}, {user.licence_type}" if user.licence_type else user.display_name


def patient_address(patient: Patient) -> str:
    """Return the patient's postal address on one line (1304.22(c): name and address of the patient)."""
    place = " ".join(
        part for part in (f"{patient.city}," if patient.city else "", patient.region, patient.postal_code) if part
    )
    return ", ".join(part for part in (patient.address_line1, patient.address_line2, place.rstrip(",")) if part)


def strength(product: Product) -> str:
    return f"{product.mg_per_unit.normalize():f} mg/{product.unit}"


def container_size(product: Product) -> str:
    return f"{product.units_per_container.normalize():f} {product.unit}"


# --- The dispensing and administration log (21 CFR 1304.22(c)) --------------------------------------


@dataclass(frozen=True)
class DispensingRow:
    """One ledger entry as the dispensing log prints it."""

    entry_id: int
    kind: EntryKind
    occurred_at: datetime  # in the clinic's time zone
    recorded_at: datetime
    location: str
    drug: str
    form: str
    ndc: str
    strength: str
    container: str
    lot_number: str
    expires_on: date
    quantity_mg: Decimal  # signed: in > 0, out < 0
    units: Decimal  # signed, in the product's unit
    unit: str
    balance_after_mg: Decimal
    patient_name: str
    patient_mrn: str
    patient_address: str
    by: str
    witness: str
    supplier: str
    reference: str
    reason: str
    link: str  # the other leg of a transfer, the entry a correction corrects

    @property
    def kind_label(self) -> str:
        return self.kind.label

    @property
    def notes(self) -> list[str]:
        """Return the reference, supplier, linked entry and reason that are present, in that order."""
        link = self.link[:1].upper() + self.link[1:]
        return [part for part in (self.reference, self.supplier, link, self.reason) if part]

    @property
    def address_missing(self) -> bool:
        """An administration's record must carry the patient's address; flag one that has none on file."""
        return self.kind is EntryKind.ADMINISTRATION and not self.patient_address


@dataclass(frozen=True)
class ProductFacts:
    """A product as 1304.22(a)(2) names it: name, finished form and strength, container size, NDC."""

    name: str
    strength: str
    form: str
    container: str
    ndc: str
    schedule: str

    @classmethod
    def of(cls, product: Product) -> ProductFacts:
        return cls(
            name=product.name,
            strength=strength(product),
            form=product.form,
            container=container_size(product),
            ndc=product.ndc,
            schedule=product.schedule,
        )


@dataclass(frozen=True)
class KindTotal:
    product: str
    kind: EntryKind
    entries: int
    mg: Decimal
    units: Decimal
    unit: str


@dataclass(frozen=True)
class DispensingLog:
    date_from: date
    date_to: date
    time_zone: str
    generated_at: datetime
    registration: ClinicRegistration | None
    rows: list[DispensingRow]
    totals: list[KindTotal]
    products: list[ProductFacts]  # each product in the log once


def log_range(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """Return the log's first and last day: by default the last 30 days, today included."""
    last = date_to or timezone.localdate()
    first = date_from or last - timedelta(days=LOG_DEFAULT_DAYS - 1)
    if first > last:
        raise ValidationError({"from": "The start date is after the end date."})
    return first, last


def _dispensing_row(entry: LedgerEntry, transfer_targets: dict[int, str]) -> DispensingRow:
    lot = entry.lot
    product = lot.product
    kind = EntryKind(entry.kind)
    patient = entry.patient
    link = ""
    if kind is EntryKind.TRANSFER_OUT:
        link = f"to {transfer_targets.get(entry.pk, '?')}"
    elif kind is EntryKind.TRANSFER_IN and entry.counterpart is not None:
        link = f"from {entry.counterpart.location.name} (entry {entry.counterpart_id})"
    elif entry.corrects_id is not None:
        link = f"corrects entry {entry.corrects_id}"
    supplier = ""
    if kind is EntryKind.RECEIPT:
        # 1304.22(a)(2)(iv): a receipt names the supplier, its address and DEA number, and the date received.
        supplier = "; ".join(
            part
            for part in (
                lot.supplier_name,
                lot.supplier_address,
                f"DEA {lot.supplier_dea_number}" if lot.supplier_dea_number else "",
                f"received {day_text(lot.received_on)}",
            )
            if part
        )
    return DispensingRow(
        entry_id=entry.pk,
        kind=kind,
        occurred_at=timezone.localtime(entry.occurred_at),
        recorded_at=timezone.localtime(entry.recorded_at),
        location=entry.location.name,
        drug=product.name,
        form=product.form,
        ndc=product.ndc,
        strength=strength(product),
        container=container_size(product),
        lot_number=lot.lot_number,
        expires_on=lot.expires_on,
        quantity_mg=entry.quantity_mg,
        units=entry.units,
        unit=product.unit,
        balance_after_mg=entry.balance_after_mg,
        patient_name=patient.full_name if patient else "",
        patient_mrn=patient.mrn if patient else "",
        patient_address=patient_address(patient) if patient else "",
        by=_person(entry.actor),
        witness=_person(entry.witness),
        supplier=supplier,
        reference=entry.reference,
        reason=entry.reason,
        link=link,
    )


def _kind_totals(rows: list[DispensingRow]) -> list[KindTotal]:
    """Return the entries, mg and units of each kind per product and strength (mL of different strengths never mix)."""
    totals: dict[tuple[str, EntryKind], KindTotal] = {}
    for row in rows:
        key = (f"{row.drug} {row.strength}", row.kind)
        before = totals.get(key) or KindTotal(
            product=key[0], kind=row.kind, entries=0, mg=ZERO, units=ZERO, unit=row.unit
        )
        totals[key] = KindTotal(
            product=before.product,
            kind=row.kind,
            entries=before.entries + 1,
            mg=before.mg + row.quantity_mg,
            units=before.units + row.units,
            unit=row.unit,
        )
    order = list(EntryKind)
    return sorted(totals.values(), key=lambda t: (t.product, order.index(t.kind)))


@replica_reads()  # a report: from the replica when there is one (kapclinic/replica.py)
def dispensing_log(
    *,
    ctx: AuditContext,
    date_from: date | None = None,
    date_to: date | None = None,
    output: str = "page",
    max_rows: int | None = None,
) -> DispensingLog:
    """Return every ledger entry that happened between two days (inclusive), oldest first.

    One row per entry of every kind: receipts, administrations, waste, transfers, returns,
    destructions, losses, and the count adjustments and corrections without which the log
    would not add up to the inventory. Reading it is audited once for the report and once
    per patient it names. At most five queries, whatever the number of rows.
    """
    require_ledger_report(ctx, "report.dispensing_log")
    first, last = log_range(date_from, date_to)
    entries = (
        LedgerEntry.objects.filter(occurred_at__gte=_day_start(first), occurred_at__lt=_day_start(last + timedelta(1)))
        .select_related("lot__product", "location", "actor", "witness", "patient", "counterpart__location")
        .order_by("occurred_at", "id")
    )
    if max_rows is not None and (found := entries.count()) > max_rows:
        raise ValidationError(
            {
                "to": f"{found} entries are too many for one PDF (at most {max_rows}); "
                "choose a shorter range or download the CSV."
            }
        )
    listed = list(entries)
    outs = [e.pk for e in listed if e.kind == EntryKind.TRANSFER_OUT]
    # The in-leg points at the out-leg; read where each transfer went in one query.
    targets = dict(
        LedgerEntry.objects.filter(counterpart_id__in=outs).values_list("counterpart_id", "location__name")
        if outs
        else []
    )
    rows = [_dispensing_row(e, targets) for e in listed]
    detail = {"from": first.isoformat(), "to": last.isoformat(), "output": output, "entries": len(rows)}
    access_event_record(ctx=ctx, action="ledger.report.dispensing_log", detail=detail)
    access_events_record_many(
        ctx=ctx,
        action="ledger.report.dispensing_log",
        patient_ids=sorted({e.patient_id for e in listed if e.patient_id is not None}),
        detail={"from": first.isoformat(), "to": last.isoformat(), "output": output},
    )
    return DispensingLog(
        date_from=first,
        date_to=last,
        time_zone=clinic_time_zone(),
        generated_at=timezone.localtime(),
        registration=registration(),
        rows=rows,
        totals=_kind_totals(rows),
        products=[
            ProductFacts.of(p)
            for p in sorted(
                {e.lot.product_id: e.lot.product for e in listed}.values(), key=lambda p: (p.name, p.mg_per_unit)
            )
        ],
    )


# --- The inventory (21 CFR 1304.11) -----------------------------------------------------------------


@dataclass(frozen=True)
class InventoryLine:
    """What one lot held at one location at the inventory's moment, by finished form and container."""

    product: Product
    lot: Lot
    location: StorageLocation
    mg: Decimal
    units: Decimal
    full_containers: int
    opened_units: Decimal  # in opened containers: exact, read from the perpetual ledger [policy: exact]

    @property
    def strength(self) -> str:
        return strength(self.product)

    @property
    def container(self) -> str:
        return container_size(self.product)

    @property
    def below_zero(self) -> bool:
        """True when entries dated before the moment take more than had arrived (a back-dated entry)."""
        return self.mg < 0


@dataclass(frozen=True)
class ProductTotal:
    product: Product
    mg: Decimal
    units: Decimal
    full_containers: int
    opened_units: Decimal

    @property
    def strength(self) -> str:
        return strength(self.product)

    @property
    def container(self) -> str:
        return container_size(self.product)


@dataclass(frozen=True)
class InventoryReport:
    as_of: datetime  # in the clinic's time zone
    timing: BusinessTime
    time_zone: str
    generated_at: datetime
    registration: ClinicRegistration | None
    lines: list[InventoryLine]
    totals: list[ProductTotal] = field(default_factory=list)

    @property
    def timing_label(self) -> str:
        return str(self.timing.label)


def parse_as_of(raw: str) -> date | datetime | None:
    """Read an inventory moment typed as a date (2026-03-01) or a date and time (2026-03-01T08:00)."""
    text = raw.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            {"as_of": "Enter the date as YYYY-MM-DD, or a date and time as YYYY-MM-DDTHH:MM."}
        ) from None


def inventory_moment(
    as_of: date | datetime | None, timing: BusinessTime, *, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """Return the moment an inventory is taken at (to the second) and the cut-off: entries before it count.

    A date alone means the start of that day for an opening inventory and its end for a
    close-of-business one (today's close: now). A time without a zone is the clinic's; a time
    covers its whole second.
    """
    now = (now or timezone.now()).replace(microsecond=0)
    second = timedelta(seconds=1)
    future = ValidationError({"as_of": "An inventory cannot be taken in the future."})
    if not isinstance(as_of, datetime) and as_of is not None and as_of > timezone.localdate(now):
        raise future
    if as_of is None:
        moment = now
    elif isinstance(as_of, datetime):
        moment = as_of if timezone.is_aware(as_of) else timezone.make_aware(as_of, timezone.get_default_timezone())
        moment = moment.replace(microsecond=0)
    elif timing is BusinessTime.OPENING:
        return _day_start(as_of), _day_start(as_of)
    else:
        moment = min(_day_start(as_of + timedelta(days=1)) - second, now)
    if moment > now + timedelta(minutes=1):
        raise future
    return moment, moment + second


def _containers(units: Decimal, per_container: Decimal) -> tuple[int, Decimal]:
    """Split units on hand into full commercial containers and what is left in opened ones (1304.11(e)(3))."""
    if units <= 0:
        return 0, units
    full = int(units // per_container)
    return full, units - full * per_container


@replica_reads()  # a report: from the replica when there is one (kapclinic/replica.py)
def inventory_report(
    *,
    ctx: AuditContext,
    as_of: date | datetime | None = None,
    timing: str = BusinessTime.CLOSE,
    output: str = "page",
) -> InventoryReport:
    """Return what was on hand at a moment, per product, lot and location, summed from the entries dated up to it.

    Four queries. An empty list is the zero inventory 1304.11(b) asks to record when nothing is on hand.
    """
    require_ledger_report(ctx, "report.inventory")
    if timing not in INVENTORY_TIMINGS:
        raise ValidationError({"timing": "Say whether the inventory is taken at the opening or close of business."})
    business_time = BusinessTime(timing)
    moment, cutoff = inventory_moment(as_of, business_time)
    sums = (
        LedgerEntry.objects.filter(occurred_at__lt=cutoff)
        .values("lot_id", "location_id")
        .annotate(mg=Sum("quantity_mg"))
        .order_by("lot_id", "location_id")
    )
    # SQLite returns sums without their scale; bring every one back to 3 places.
    held = [(r["lot_id"], r["location_id"], to_mg(r["mg"])) for r in sums]
    held = [h for h in held if h[2] != 0]
    lots = Lot.objects.select_related("product").in_bulk({lot for lot, _, _ in held})
    locations = StorageLocation.objects.in_bulk({location for _, location, _ in held})
    lines = []
    for lot_id, location_id, mg in held:
        lot = lots[lot_id]
        units = units_for_mg(mg, lot.product.mg_per_unit)
        full, opened = _containers(units, lot.product.units_per_container)
        lines.append(
            InventoryLine(
                product=lot.product,
                lot=lot,
                location=locations[location_id],
                mg=mg,
                units=units,
                full_containers=full,
                opened_units=opened,
            )
        )
    lines.sort(key=lambda ln: (ln.location.name, ln.product.name, ln.product.mg_per_unit, ln.lot.expires_on))
    totals: dict[int, ProductTotal] = {}
    for ln in lines:
        before = totals.get(ln.product.pk)
        totals[ln.product.pk] = ProductTotal(
            product=ln.product,
            mg=ln.mg + (before.mg if before else ZERO),
            units=ln.units + (before.units if before else ZERO),
            full_containers=ln.full_containers + (before.full_containers if before else 0),
            opened_units=ln.opened_units + (before.opened_units if before else ZERO),
        )
    local_moment = timezone.localtime(moment)
    access_event_record(
        ctx=ctx,
        action="ledger.report.inventory",
        detail={"as_of": local_moment.isoformat(), "timing": business_time.value, "output": output},
    )
    return InventoryReport(
        as_of=local_moment,
        timing=business_time,
        time_zone=clinic_time_zone(),
        generated_at=timezone.localtime(),
        registration=registration(),
        lines=lines,
        totals=sorted(totals.values(), key=lambda t: (t.product.name, t.product.mg_per_unit)),
    )


# --- The reconciliation and expiry warnings (controlled-substances.md section 11) -------------------

# The columns of the reconciliation, in the order of the formula: received - out +/- moves = on hand.
_FORMULA_ORDER = (
    EntryKind.RECEIPT,
    EntryKind.ADMINISTRATION,
    EntryKind.WASTE,
    EntryKind.DESTRUCTION,
    EntryKind.LOSS,
    EntryKind.RETURN,
    EntryKind.TRANSFER_IN,
    EntryKind.TRANSFER_OUT,
    EntryKind.COUNT_ADJUSTMENT,
    EntryKind.CORRECTION,
)
RECONCILIATION_KINDS = _FORMULA_ORDER + tuple(kind for kind in EntryKind if kind not in _FORMULA_ORDER)


@dataclass(frozen=True)
class ReconciliationLine:
    """One lot at one location, or (location None) one lot over every location."""

    lot: Lot
    location: StorageLocation | None
    by_kind: dict[EntryKind, Decimal]
    totals: list[Decimal | None]  # in the report's `kinds` order; None where there was no such entry
    expected_mg: Decimal
    recorded_mg: Decimal
    entries: int
    problems: list[str]

    @property
    def balanced(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ReconciliationReport:
    generated_at: datetime
    time_zone: str
    registration: ClinicRegistration | None
    kinds: list[EntryKind]  # only the kinds of movement that occurred get a column
    lines: list[ReconciliationLine]  # per lot and location
    lots: list[ReconciliationLine]  # per lot
    expiry: list[Balance]  # expired or expiring lots that still hold stock
    warning_days: int

    @property
    def mismatches(self) -> int:
        return sum(not line.balanced for line in self.lines)

    @property
    def columns(self) -> int:
        """Return the width of the per-location table (lot, location, kinds, sum, recorded, state)."""
        return len(self.kinds) + 5


def _per_lot(lines: list[ReconciliationLine], kinds: list[EntryKind]) -> list[ReconciliationLine]:
    grouped: dict[int, list[ReconciliationLine]] = defaultdict(list)
    for line in lines:
        grouped[line.lot.pk].append(line)
    rollup = []
    for group in grouped.values():
        by_kind: dict[EntryKind, Decimal] = {}
        for ln in group:
            for kind, mg in ln.by_kind.items():
                by_kind[kind] = by_kind.get(kind, ZERO) + mg
        rollup.append(
            ReconciliationLine(
                lot=group[0].lot,
                location=None,
                by_kind=by_kind,
                totals=[by_kind.get(kind) for kind in kinds],
                expected_mg=sum((ln.expected_mg for ln in group), ZERO),
                recorded_mg=sum((ln.recorded_mg for ln in group), ZERO),
                entries=sum(ln.entries for ln in group),
                problems=[f"{ln.location.name if ln.location else ''}: {p}" for ln in group for p in ln.problems],
            )
        )
    return rollup


@replica_reads()  # a report: from the replica when there is one (kapclinic/replica.py)
def reconciliation_report(
    *, ctx: AuditContext, output: str = "page", today: date | None = None
) -> ReconciliationReport:
    """Return the reconciliation per lot and location and per lot, each mismatch flagged, with expiry warnings.

    Expiry warnings: every lot expired or expiring within 60 days that still holds stock somewhere.
    """
    require_ledger_report(ctx, "report.reconciliation")
    recs: list[Reconciliation] = ledger_reconciliation(ctx=ctx)
    today = today or timezone.localdate()
    lots = Lot.objects.select_related("product").in_bulk({r.lot for r in recs})
    locations = StorageLocation.objects.in_bulk({r.location for r in recs})
    kinds = [kind for kind in RECONCILIATION_KINDS if any(kind in r.totals for r in recs)]
    lines = [
        ReconciliationLine(
            lot=lots[r.lot],
            location=locations[r.location],
            by_kind=dict(r.totals),
            totals=[r.totals.get(kind) for kind in kinds],
            expected_mg=r.expected_mg,
            recorded_mg=r.recorded_mg,
            entries=r.entries,
            problems=list(r.problems),
        )
        for r in recs
    ]
    lines.sort(
        key=lambda ln: (
            ln.lot.product.name,
            ln.lot.expires_on,
            ln.lot.lot_number,
            ln.location.name if ln.location else "",
        )
    )
    expiry = [
        Balance(
            lot=ln.lot,
            location=ln.location,
            mg=ln.expected_mg,
            units=units_for_mg(ln.expected_mg, ln.lot.product.mg_per_unit),
            expires_in_days=(ln.lot.expires_on - today).days,
        )
        for ln in lines
        if ln.location is not None and ln.expected_mg > 0 and (ln.lot.expires_on - today).days <= EXPIRY_WARNING_DAYS
    ]
    expiry.sort(key=lambda w: (w.lot.expires_on, w.lot.lot_number, w.location.name))
    report = ReconciliationReport(
        generated_at=timezone.localtime(),
        time_zone=clinic_time_zone(),
        registration=registration(),
        kinds=kinds,
        lines=lines,
        lots=_per_lot(lines, kinds),
        expiry=expiry,
        warning_days=EXPIRY_WARNING_DAYS,
    )
    access_event_record(
        ctx=ctx,
        action="ledger.report.reconciliation",
        detail={"output": output, "mismatches": report.mismatches, "expiring": len(expiry)},
    )
    return report

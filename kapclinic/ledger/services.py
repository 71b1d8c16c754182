"""Writing the controlled-substance ledger: one transaction per movement, the lot row locked first."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Sum
from django.utils import timezone

from kapclinic.accounts import services as account_services
from kapclinic.accounts.models import User
from kapclinic.audit.chain import chain_append
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.ledger import (
    NEEDS_REASON,
    NEEDS_WITNESS,
    EntryKind,
    LedgerError,
    balance_after,
    count_discrepancy,
    mg_for_units,
    signed_quantity,
    to_mg,
    units_for_mg,
)
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.ledger.models import (
    BusinessTime,
    ClinicRegistration,
    CountKind,
    CountLine,
    InventoryCount,
    Investigation,
    LedgerEntry,
    LossReport,
    LossReportKind,
    Lot,
    Product,
    StorageLocation,
)
from kapclinic.patients.models import Patient
from kapclinic.roles import Action, may

# Entry kinds recorded through ledger_entry_record; receipts, transfers and count adjustments have their own doors.
DIRECT_KINDS = (
    EntryKind.ADMINISTRATION,
    EntryKind.WASTE,
    EntryKind.RETURN,
    EntryKind.DESTRUCTION,
    EntryKind.LOSS,
    EntryKind.CORRECTION,
)


@dataclass(frozen=True)
class Quantity:
    """An amount as typed: a number and its unit, either "mg" or the product's own unit."""

    amount: str | Decimal
    unit: str


@dataclass(frozen=True)
class WitnessCredentials:
    """The witness confirms with their own username and password, at the same screen."""

    username: str
    password: str


@dataclass(frozen=True)
class ConfirmedWitness:
    """A witness whose credentials `witness_confirm` already checked (before the caller's transaction began)."""

    user: User


Witness = WitnessCredentials | ConfirmedWitness


def _require_recorder(ctx: AuditContext, kind: str) -> None:
    if not may(ctx.user.role, Action.LEDGER_RECORD):
        access_event_record(ctx=ctx, action=f"ledger.{kind}", outcome=Outcome.DENIED)
        raise AccessDenied("Only prescribers and nurses record controlled-substance movements.")


def _to_mg(quantity: Quantity, product: Product, *, signed: bool = False) -> Decimal:
    """Return the milligrams meant by `quantity`; the unit must be mg or the product's unit."""
    try:
        amount = Decimal(str(quantity.amount).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({"quantity": "Enter the quantity as a number, e.g. 2.5."}) from None
    if not amount.is_finite() or abs(amount) >= Decimal("1e8"):
        raise ValidationError({"quantity": "Enter a realistic quantity."})
    if quantity.unit == "mg":
        mg = to_mg(amount)
    elif quantity.unit == product.unit:
        mg = mg_for_units(amount, product.mg_per_unit)
    else:
        raise ValidationError(
            {"unit": f"{product.name} is counted in {product.unit} or mg, not {quantity.unit or 'no unit'}."}
        )
    if not signed and mg <= 0:
        raise ValidationError({"quantity": "Enter a quantity above 0."})
    return mg


def _witness(ctx: AuditContext, witness: Witness | None, kind: EntryKind) -> User | None:
    if kind not in NEEDS_WITNESS:
        return None
    return witness_confirm(ctx, witness, what=f"A {kind.label.lower()}")


def witness_confirm(ctx: AuditContext, witness: Witness | None, *, what: str) -> User:
    """Return the witness: confirmed here through the throttled, audited password door (outside any
    transaction, so a failure stays counted), or already confirmed by the caller before its transaction."""
    if isinstance(witness, ConfirmedWitness):
        if witness.user.pk == ctx.user.pk:
            raise ValidationError({"witness": "The witness must be someone other than you."})
        return witness.user
    if witness is None:
        raise ValidationError({"witness": f"{what} needs a second licensed person as witness."})
    return account_services.witness_confirm(ctx, username=witness.username, password=witness.password, what=what)


def _latest_balance(lot_id: int, location_id: int) -> Decimal | None:
    """Return the balance written on the latest entry of this lot at this location (None: never there)."""
    return (
        LedgerEntry.objects.filter(lot_id=lot_id, location_id=location_id)
        .order_by("-id")
        .values_list("balance_after_mg", flat=True)
        .first()
    )


def _locked_balance(lot_id: int, location_id: int) -> tuple[Lot, Decimal]:
    # Lock the lot row: two nurses drawing the last mL of a vial at the same moment are served
    # one after the other, and the second sees the first one's balance (no overdraw).
    lot = Lot.objects.select_for_update().select_related("product").filter(pk=lot_id).first()
    if lot is None:
        raise NotFound("No such lot.")
    latest = _latest_balance(lot_id, location_id)
    return lot, latest if latest is not None else Decimal("0")


def _entry(
    *,
    ctx: AuditContext,
    kind: EntryKind,
    lot: Lot,
    location: StorageLocation,
    balance: Decimal,
    quantity_mg: Decimal,
    occurred_at: datetime,
    **fields: object,
) -> LedgerEntry:
    try:
        after = balance_after(balance, kind, quantity_mg)
        change = signed_quantity(kind, quantity_mg)
    except LedgerError as exc:
        raise ValidationError({"quantity": str(exc)}) from None
    entry = LedgerEntry(
        kind=kind,
        lot=lot,
        location=location,
        quantity_mg=change,
        units=units_for_mg(change, lot.product.mg_per_unit),
        balance_after_mg=after,
        occurred_at=occurred_at,
        recorded_at=timezone.now(),
        actor=ctx.user,
        **fields,
    )
    chain_append([entry])
    patient_id = entry.patient_id
    access_event_record(
        ctx=ctx,
        action=f"ledger.{kind.value}",
        patient_id=patient_id,
        detail={"entry": entry.pk, "lot": lot.lot_number, "mg": str(change)},
    )
    return entry


def _when(occurred_at: datetime | None) -> datetime:
    now = timezone.now()
    if occurred_at is None:
        return now
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    if occurred_at > now + timedelta(minutes=5):
        raise ValidationError({"occurred_at": "A movement cannot be recorded in the future."})
    return occurred_at


def _location(location_id: int) -> StorageLocation:
    location = StorageLocation.objects.filter(pk=location_id, active=True).first()
    if location is None:
        raise ValidationError({"location": "Choose an active storage location."})
    return location


def ledger_receive(
    *,
    ctx: AuditContext,
    product_id: int,
    lot_number: str,
    expires_on: date,
    supplier_name: str,
    invoice_reference: str,
    received_on: date,
    location_id: int,
    quantity: Quantity,
    supplier_address: str = "",
    supplier_dea_number: str = "",
) -> LedgerEntry:
    """Book a delivery: the lot (created on first receipt) and a receipt entry at the location."""
    _require_recorder(ctx, EntryKind.RECEIPT)
    product = Product.objects.filter(pk=product_id, active=True).first()
    if product is None:
        raise ValidationError({"product": "Choose a product."})
    errors: dict[str, str] = {}
    if not lot_number.strip():
        errors["lot_number"] = "Enter the lot number printed on the container."
    if not invoice_reference.strip():
        errors["invoice_reference"] = "Enter the invoice or packing-slip number (the Schedule III receipt record)."
    if not supplier_name.strip():
        errors["supplier_name"] = "Enter the supplier."
    if expires_on <= timezone.localdate():
        errors["expires_on"] = "This lot has expired; do not receive it into stock."
    if received_on > timezone.localdate():
        errors["received_on"] = "The date received cannot be in the future."
    if errors:
        raise ValidationError(errors)
    location = _location(location_id)
    mg = _to_mg(quantity, product)
    with transaction.atomic():
        lot, created = Lot.objects.get_or_create(
            product=product,
            lot_number=lot_number.strip(),
            defaults={
                "expires_on": expires_on,
                "supplier_name": supplier_name.strip(),
                "supplier_address": supplier_address.strip(),
                "supplier_dea_number": supplier_dea_number.strip(),
                "invoice_reference": invoice_reference.strip(),
                "received_on": received_on,
                "received_by": ctx.user,
            },
        )
        if not created and lot.expires_on != expires_on:
            raise ValidationError({"expires_on": f"Lot {lot.lot_number} is on file with expiry {lot.expires_on}."})
        lot, balance = _locked_balance(lot.pk, location.pk)
        return _entry(
            ctx=ctx,
            kind=EntryKind.RECEIPT,
            lot=lot,
            location=location,
            balance=balance,
            quantity_mg=mg,
            occurred_at=_when(None),
            reference=invoice_reference.strip()[:80],
        )


def ledger_entry_record(
    *,
    ctx: AuditContext,
    kind: str,
    lot_id: int,
    location_id: int,
    quantity: Quantity,
    occurred_at: datetime | None = None,
    witness: Witness | None = None,
    patient_id: int | None = None,
    reason: str = "",
    reference: str = "",
    corrects_id: int | None = None,
) -> LedgerEntry:
    """Record an administration, waste, return, destruction, loss or correction.

    Refused, with nothing written: a quantity of 0 or below, more than the lot holds here,
    administration from an expired lot, a missing or unlicensed witness (or the actor as
    their own witness), a loss without its report reference, a correction of an entry that
    does not exist or of another lot or location.
    """
    try:
        entry_kind = EntryKind(kind)
    except ValueError:
        raise ValidationError({"kind": f"Choose one of: {', '.join(k.value for k in DIRECT_KINDS)}."}) from None
    if entry_kind not in DIRECT_KINDS:
        raise ValidationError({"kind": f"A {entry_kind.label.lower()} is not recorded here."})
    _require_recorder(ctx, entry_kind)
    errors: dict[str, str] = {}
    if entry_kind in NEEDS_REASON and not reason.strip():
        errors["reason"] = f"A {entry_kind.label.lower()} needs a reason."
    if entry_kind is EntryKind.LOSS and not reference.strip():
        errors["reference"] = "Enter the DEA Form 106 or police report reference."
    if entry_kind is EntryKind.ADMINISTRATION and patient_id is None:
        errors["patient"] = "An administration names the patient who received the dose."
    if errors:
        raise ValidationError(errors)
    when = _when(occurred_at)
    location = _location(location_id)
    witness_user = _witness(ctx, witness, entry_kind)
    patient = None
    if patient_id is not None:
        patient = Patient.objects.filter(pk=patient_id).first()
        if patient is None:
            raise ValidationError({"patient": "No patient with that id."})
    with transaction.atomic():
        lot, balance = _locked_balance(lot_id, location.pk)
        corrected = None
        if entry_kind is EntryKind.CORRECTION:
            corrected = LedgerEntry.objects.filter(pk=corrects_id).first() if corrects_id else None
            if corrected is None:
                raise ValidationError({"corrects": "A correction points at an existing entry; none has that id."})
            if (corrected.lot_id, corrected.location_id) != (lot.pk, location.pk):
                raise ValidationError({"corrects": "A correction must be for the same lot and location as the entry."})
        if entry_kind is EntryKind.ADMINISTRATION and lot.expires_on < timezone.localdate():
            raise ValidationError({"lot": f"Lot {lot.lot_number} expired on {lot.expires_on}; it cannot be given."})
        mg = _to_mg(quantity, lot.product, signed=entry_kind is EntryKind.CORRECTION)
        return _entry(
            ctx=ctx,
            kind=entry_kind,
            lot=lot,
            location=location,
            balance=balance,
            quantity_mg=mg,
            occurred_at=when,
            witness=witness_user,
            patient=patient,
            reason=reason.strip(),
            reference=reference.strip()[:80],
            corrects=corrected,
        )


def ledger_transfer(
    *,
    ctx: AuditContext,
    lot_id: int,
    from_location_id: int,
    to_location_id: int,
    quantity: Quantity,
    reason: str = "",
) -> tuple[LedgerEntry, LedgerEntry]:
    """Move stock between locations: an out entry and an in entry, written together."""
    _require_recorder(ctx, EntryKind.TRANSFER_OUT)
    if from_location_id == to_location_id:
        raise ValidationError({"to_location": "Choose a different location to move the stock to."})
    source = _location(from_location_id)
    target = _location(to_location_id)
    with transaction.atomic():
        lot, balance = _locked_balance(lot_id, source.pk)
        mg = _to_mg(quantity, lot.product)
        out = _entry(
            ctx=ctx,
            kind=EntryKind.TRANSFER_OUT,
            lot=lot,
            location=source,
            balance=balance,
            quantity_mg=mg,
            occurred_at=_when(None),
            reason=reason.strip(),
        )
        target_balance = _latest_balance(lot.pk, target.pk) or Decimal("0")
        into = _entry(
            ctx=ctx,
            kind=EntryKind.TRANSFER_IN,
            lot=lot,
            location=target,
            balance=target_balance,
            quantity_mg=mg,
            occurred_at=out.occurred_at,
            reason=reason.strip(),
            counterpart=out,
        )
    return out, into


def _require_setup(ctx: AuditContext, what: str) -> None:
    if not may(ctx.user.role, Action.LEDGER_SETUP):
        access_event_record(ctx=ctx, action=f"ledger.setup.{what}", outcome=Outcome.DENIED)
        raise AccessDenied("Only the clinic director sets up products and storage locations.")


SetupT = TypeVar("SetupT", bound=models.Model)


def _setup_save(ctx: AuditContext, record: SetupT, what: str, detail: Callable[[SetupT], dict[str, str]]) -> SetupT:
    """Check and save a setup record (a location, a product, the registration), with `detail` of it as saved in the
    audit log."""
    record.full_clean()
    with transaction.atomic():
        record.save()
        access_event_record(ctx=ctx, action=f"ledger.setup.{what}", detail=detail(record))
    return record


def storage_location_create(*, ctx: AuditContext, name: str, description: str = "") -> StorageLocation:
    """Add a place where controlled stock is kept (e.g. the safe, a crash cart)."""
    _require_setup(ctx, "location")
    location = StorageLocation(name=name.strip(), description=description.strip())
    return _setup_save(ctx, location, "location", lambda saved: {"location": saved.name})


def product_create(
    *,
    ctx: AuditContext,
    name: str,
    form: str,
    mg_per_unit: Decimal,
    unit: str,
    units_per_container: Decimal,
    ndc: str = "",
) -> Product:
    """Add a controlled product as the supplier ships it (name, form, strength, container size, NDC)."""
    _require_setup(ctx, "product")
    product = Product(
        name=name.strip(),
        form=form.strip(),
        mg_per_unit=mg_per_unit,
        unit=unit,
        units_per_container=units_per_container,
        ndc=ndc.strip(),
    )
    return _setup_save(ctx, product, "product", lambda saved: {"product": str(saved)})


@dataclass(frozen=True)
class CountedLot:
    lot_id: int
    quantity: Quantity


def inventory_count_record(
    *,
    ctx: AuditContext,
    location_id: int,
    kind: str,
    business_time: str,
    lines: list[CountedLot],
    witness: Witness | None,
) -> InventoryCount:
    """Record a blind, witnessed count of every lot at a location and compare it with the ledger.

    The counter never sees the expected numbers; each difference beyond the policy tolerance
    opens an Investigation for the director (controlled-substances.md section 11.2).
    """
    _require_recorder(ctx, "count")
    errors: dict[str, str] = {}
    if kind not in CountKind.values:
        errors["kind"] = "Choose the kind of count."
    if business_time not in BusinessTime.values:
        errors["business_time"] = "Say whether the count is at the opening or close of business."
    if not lines:
        errors["lines"] = "Enter what you counted of each lot."
    lot_ids = [line.lot_id for line in lines]
    if len(set(lot_ids)) != len(lot_ids):
        errors["lines"] = "Each lot is counted once."
    if errors:
        raise ValidationError(errors)
    location = _location(location_id)
    witness_user = witness_confirm(ctx, witness, what="A count")
    tolerance = Decimal(str(settings.KAPCLINIC_COUNT_TOLERANCE_MG))
    with transaction.atomic():
        # Lock the lots in id order (no deadlock between two counts), so nothing moves while counting.
        lots = {lot.pk: lot for lot in Lot.objects.select_for_update().select_related("product").filter(pk__in=lot_ids)}
        on_hand = {
            lot_id
            for lot_id, total in LedgerEntry.objects.filter(location=location)
            .values_list("lot_id")
            .annotate(total=Sum("quantity_mg"))
            .values_list("lot_id", "total")
            if total
        }
        missing = sorted(on_hand - set(lot_ids))
        if missing:
            names = ", ".join(Lot.objects.filter(pk__in=missing).values_list("lot_number", flat=True))
            raise ValidationError({"lines": f"Count every lot kept here; not counted: {names}."})
        count = InventoryCount.objects.create(
            kind=kind, business_time=business_time, location=location, counted_by=ctx.user, witness=witness_user
        )
        discrepancies = []
        for line in lines:
            lot = lots.get(line.lot_id)
            expected = _latest_balance(line.lot_id, location.pk) if lot else None
            if lot is None or expected is None:
                raise ValidationError({"lines": f"Lot {line.lot_id} has never been at {location.name}."})
            counted = _to_mg(line.quantity, lot.product, signed=True)
            try:
                difference = count_discrepancy(expected_mg=expected, counted_mg=counted, tolerance_mg=tolerance)
            except LedgerError as exc:
                raise ValidationError({"lines": f"Lot {lot.lot_number}: {exc}"}) from None
            saved = CountLine.objects.create(count=count, lot=lot, counted_mg=counted, expected_mg=expected)
            if difference is not None:
                Investigation.objects.create(line=saved)
                discrepancies.append({"lot": lot.lot_number, "difference_mg": str(difference)})
        access_event_record(
            ctx=ctx,
            action="ledger.count",
            detail={"count": count.pk, "location": location.name, "discrepancies": discrepancies},
        )
    return count


def investigation_resolve(
    *, ctx: AuditContext, investigation_id: int, resolution: str, adjust_ledger: bool
) -> Investigation:
    """Close a count discrepancy with the director's finding; optionally adjust the books to the count.

    The adjustment is the only way a count_adjustment entry is written (the schema refuses any
    adjustment without its count line). A theft or significant loss is recorded as a loss entry
    with its DEA Form 106 reference instead.
    """
    if not may(ctx.user.role, Action.LEDGER_INVESTIGATE):
        access_event_record(ctx=ctx, action="ledger.investigate", outcome=Outcome.DENIED)
        raise AccessDenied("Only the clinic director resolves count discrepancies.")
    if not resolution.strip():
        raise ValidationError({"resolution": "Write what the investigation found."})
    with transaction.atomic():
        investigation = (
            Investigation.objects.select_for_update()
            .select_related("line__count", "line__lot")
            .filter(pk=investigation_id)
            .first()
        )
        if investigation is None:
            raise NotFound("No such investigation.")
        if investigation.resolved_at is not None:
            raise Conflict("This investigation was already resolved.")
        line = investigation.line
        adjustment = None
        if adjust_ledger:
            lot, balance = _locked_balance(line.lot_id, line.count.location_id)
            adjustment = _entry(
                ctx=ctx,
                kind=EntryKind.COUNT_ADJUSTMENT,
                lot=lot,
                location=line.count.location,
                balance=balance,
                quantity_mg=line.counted_mg - line.expected_mg,
                occurred_at=timezone.now(),
                reason=resolution.strip(),
                reference=f"count {line.count_id}",
                count_line=line,
            )
        investigation.resolution = resolution.strip()
        investigation.resolved_by = ctx.user
        investigation.resolved_at = timezone.now()
        investigation.adjustment = adjustment
        investigation.save(update_fields=["resolution", "resolved_by", "resolved_at", "adjustment"])
        access_event_record(
            ctx=ctx,
            action="ledger.investigate",
            detail={"investigation": investigation.pk, "adjusted": adjustment is not None},
        )
    return investigation


def clinic_registration_save(
    *, ctx: AuditContext, registrant_name: str, dea_number: str, address: str, schedules: str, expires_on: date
) -> ClinicRegistration:
    """Set the registrant's name, DEA number, address and expiry that reports print (director only)."""
    _require_setup(ctx, "registration")
    registration = ClinicRegistration.objects.first() or ClinicRegistration()
    registration.registrant_name = registrant_name.strip()
    registration.dea_number = dea_number.strip().upper()
    registration.address = address.strip()
    registration.schedules = schedules.strip() or "3N"
    registration.expires_on = expires_on
    registration.updated_at = timezone.now()
    if not re.fullmatch(r"[A-Z]{2}\d{7}", registration.dea_number):
        raise ValidationError({"dea_number": "A DEA number is two letters and seven digits, e.g. AB1234563."})
    return _setup_save(ctx, registration, "registration", lambda saved: {"dea_number": saved.dea_number})


def loss_report_record(
    *, ctx: AuditContext, loss_entry_id: int, kind: str, filed_on: date, reference: str = ""
) -> LossReport:
    """Record that a theft or loss was notified to the DEA in writing, or its Form 106 submitted (director).

    Each filing is recorded once per loss entry (21 CFR 1301.76(b); 88 FR 40707); the director's dashboard
    shows each clock as done, due or overdue until it is recorded.
    """
    if not may(ctx.user.role, Action.LEDGER_INVESTIGATE):
        access_event_record(ctx=ctx, action="ledger.loss_report", outcome=Outcome.DENIED)
        raise AccessDenied("Only the clinic director records the DEA filings of a theft or loss.")
    if kind not in LossReportKind.values:
        raise ValidationError({"kind": "Choose the written notice or DEA Form 106."})
    if not isinstance(filed_on, date) or isinstance(filed_on, datetime):
        raise ValidationError({"filed_on": "Enter the date it was filed."})
    reference = reference.strip()
    if len(reference) > 80:
        raise ValidationError({"reference": "Keep the reference under 80 characters."})
    if kind == LossReportKind.FORM_106 and not reference:
        raise ValidationError({"reference": "Enter the Form 106 confirmation number."})
    loss = LedgerEntry.objects.filter(pk=loss_entry_id, kind=EntryKind.LOSS).first()
    if loss is None:
        raise NotFound("No theft or loss entry with that id.")
    if filed_on < timezone.localtime(loss.occurred_at).date():
        raise ValidationError({"filed_on": "A filing cannot be dated before the loss was discovered."})
    if filed_on > timezone.localdate():
        raise ValidationError({"filed_on": "A filing cannot be dated in the future."})
    already = Conflict(f"{LossReportKind(kind).label} is already recorded for this loss.")
    if LossReport.objects.filter(loss=loss, kind=kind).exists():
        raise already
    try:
        with transaction.atomic():
            # No row lock on the ledger entry (the application's role may not UPDATE it, kapclinic/dbroles.py):
            # the unique constraint settles two directors filing at once, caught outside the transaction.
            report = LossReport.objects.create(
                loss=loss, kind=kind, filed_on=filed_on, reference=reference, by=ctx.user
            )
            access_event_record(
                ctx=ctx,
                action="ledger.loss_report",
                detail={"loss": loss.pk, "kind": kind, "filed_on": str(filed_on)},
            )
    except IntegrityError:
        raise already from None
    return report

"""Money writes: payments, refunds, write-offs and insurance adjustments on a patient's account (the money ledger),
self-pay package definitions and a patient's purchase of one.

Every write is one transaction with its audit row inside it; a refused value writes nothing and is audited
(outside the transaction, so that the refusal's row stays). The ledger is append-only: a correction is a new
entry pointing at the one it replaces (`corrects`), with the corrected amount (0 voids it).

Concurrent payments on one account are serialised by a lock on the patient's row (the balance they were checked
against cannot move under them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record, invalid_value_record
from kapclinic.billing import balances
from kapclinic.billing.models import (
    NAME_MAX,
    REASON_MAX,
    ChargeLine,
    MoneyEntry,
    MoneyKind,
    PackagePurchase,
    Payer,
    PaymentMethod,
    SelfPayPackage,
)
from kapclinic.clinical import money as rules
from kapclinic.errors import AccessDenied, Conflict
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.roles import Action, may

REFERENCE_MAX = 80


@dataclass(frozen=True)
class MoneyEntryInput:
    """One entry to record. `kind` and `method` take MoneyKind / PaymentMethod values.

    - payment: `method` card (with the terminal `reference`), cash, check (`reference`: the check number) or
      insurance (`payer_id`, `claim_reference`);
    - refund: `method` as the money goes back (card, cash, check); `reason` optional;
    - write_off: `reason` required;
    - adjustment: an insurance adjustment, `adjustment_group` (CO, PR, OA, PI, CR) and `adjustment_reason` (the
      CARC, e.g. 45), usually with `payer_id`, `claim_reference` and `line_id`.
    `line_id` (a charge line of this patient) or `purchase_id` (a package purchase of this patient) applies the
    entry to it. `corrects_id`: the entry this one replaces (same patient, same kind), with `reason`.
    """

    patient_id: int
    kind: str
    amount_cents: int
    method: str = ""
    reference: str = ""
    payer_id: int | None = None
    claim_reference: str = ""
    adjustment_group: str = ""
    adjustment_reason: str = ""
    reason: str = ""
    line_id: int | None = None
    purchase_id: int | None = None
    received_on: date | None = None
    keep_as_credit: bool = False
    corrects_id: int | None = None


class _Refused(Exception):
    def __init__(self, patient_id: int, errors: dict[str, str]):
        super().__init__(errors)
        self.patient_id = patient_id
        self.errors = errors


def money_record_check(ctx: AuditContext, patient_id: int) -> None:
    """Refuse (audited) a user who may not record money for this patient, before a page reads the form."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MONEY_RECORD, record_allowed=False)


def _shape_errors(given: MoneyEntryInput) -> dict[str, str]:
    """What is wrong with the entry on its own (no database)."""
    errors: dict[str, str] = {}
    if given.kind not in MoneyKind.values:
        return {"kind": "Choose payment, refund, write-off or insurance adjustment."}
    kind = MoneyKind(given.kind)
    is_correction = given.corrects_id is not None
    if not isinstance(given.amount_cents, int) or isinstance(given.amount_cents, bool):
        errors["amount"] = "Give the amount in cents, a whole number."
    elif is_correction and given.amount_cents == 0:
        pass  # voids the entry it corrects
    elif not 1 <= given.amount_cents <= rules.AMOUNT_MAX_CENTS:
        errors["amount"] = "Give an amount between $0.01 and $100,000.00."
    if kind in (MoneyKind.PAYMENT, MoneyKind.REFUND):
        if given.method not in PaymentMethod.values:
            errors["method"] = "Choose how the money moved: card, cash, check or insurance."
        elif given.method == PaymentMethod.CARD and not given.reference.strip():
            errors["reference"] = "Give the card terminal's reference for this payment."
        elif given.method == PaymentMethod.INSURANCE and given.payer_id is None:
            errors["payer"] = "Choose the payer that paid."
        if kind is MoneyKind.REFUND and given.method == PaymentMethod.INSURANCE:
            errors["method"] = "Money given back to an insurer is recorded as an insurance adjustment (CR)."
    elif given.method:
        errors["method"] = "Only a payment or a refund has a method."
    if kind is MoneyKind.WRITE_OFF and not given.reason.strip():
        errors["reason"] = "Say why this is written off."
    if kind is MoneyKind.ADJUSTMENT:
        if given.adjustment_group not in rules.ADJUSTMENT_GROUPS:
            errors["adjustment_group"] = "Choose the group code: CO, PR, OA, PI or CR."
        if not rules.is_adjustment_reason(given.adjustment_reason.strip()):
            errors["adjustment_reason"] = "Give the reason code from the remittance, e.g. 45."
    elif given.adjustment_group or given.adjustment_reason:
        errors["adjustment_group"] = "Only an insurance adjustment has group and reason codes."
    if is_correction and not given.reason.strip():
        errors["reason"] = "Say what the correction changes and why."
    if len(given.reason.strip()) > REASON_MAX:
        errors["reason"] = f"Keep the reason under {REASON_MAX:,} characters."
    if len(given.reference.strip()) > REFERENCE_MAX:
        errors["reference"] = f"Keep the reference under {REFERENCE_MAX} characters."
    if len(given.claim_reference.strip()) > REFERENCE_MAX:
        errors["claim_reference"] = f"Keep the claim reference under {REFERENCE_MAX} characters."
    if given.line_id is not None and given.purchase_id is not None:
        errors["line"] = "Apply the entry to a charge line or to a package, not both."
    if given.received_on is not None and given.received_on > timezone.localdate():
        errors["received_on"] = "The date cannot be in the future."
    return errors


def _write_one(ctx: AuditContext, given: MoneyEntryInput) -> MoneyEntry:
    """Check `given` against the account (inside the transaction, the patient's row locked) and write it.
    Raises _Refused with the errors."""
    errors = _shape_errors(given)
    pid = given.patient_id
    line: ChargeLine | None = None
    purchase: PackagePurchase | None = None
    corrected: MoneyEntry | None = None
    if given.line_id is not None:
        line = ChargeLine.objects.filter(pk=given.line_id).first()
        if line is None or line.patient_id != pid:
            # Another patient's line is "no such line" here: the entry says nothing about it.
            errors["line"] = "No such charge line on this patient's account."
        elif not balances.billed_lines(pid).filter(pk=line.pk).exists():
            errors["line"] = "Only an approved, current line with a price is paid: approve or correct it first."
    if given.purchase_id is not None:
        purchase = PackagePurchase.objects.filter(pk=given.purchase_id, patient_id=pid).first()
        if purchase is None:
            errors["purchase"] = "No such package purchase on this patient's account."
    if given.payer_id is not None and not Payer.objects.filter(pk=given.payer_id).exists():
        errors["payer"] = "No such payer."
    if given.corrects_id is not None:
        corrected = MoneyEntry.objects.filter(pk=given.corrects_id, patient_id=pid).first()
        if corrected is None:
            errors["corrects"] = "No such entry on this patient's account."
        elif corrected.kind != given.kind:
            errors["corrects"] = "A correction is of the same kind as the entry it corrects."
        elif MoneyEntry.objects.filter(corrects=corrected).exists():
            errors["corrects"] = "This entry was already corrected: correct the newest one."
    if not errors:
        # A correction replaces the entry it corrects: check against the balance without it.
        excluding = corrected.pk if corrected is not None else None
        if line is not None:
            item = balances.line_balance(line, excluding)
            owed, paid = item.balance_cents, item.paid_net_cents
        elif purchase is not None:
            item = balances.purchase_balance(purchase, excluding)
            owed, paid = item.balance_cents, item.paid_net_cents
        else:
            account = balances.balance_of(pid, excluding)
            owed, paid = account.balance_cents, account.paid_net_cents
        if given.amount_cents > 0:
            problem = rules.entry_problem(
                given.kind, given.amount_cents, balance_cents=owed, paid_cents=paid, keep_as_credit=given.keep_as_credit
            )
            if problem:
                errors["amount"] = problem
    if errors:
        raise _Refused(pid, errors)
    try:
        with transaction.atomic():  # the one-to-one `corrects` refuses a concurrent second correction
            entry = MoneyEntry.objects.create(
                patient_id=pid,
                kind=given.kind,
                amount_cents=given.amount_cents,
                method=given.method,
                reference=given.reference.strip(),
                payer_id=given.payer_id,
                claim_reference=given.claim_reference.strip(),
                adjustment_group=given.adjustment_group,
                adjustment_reason=given.adjustment_reason.strip().upper(),
                reason=" ".join(given.reason.split()),
                line=line,
                purchase=purchase,
                keep_as_credit=given.keep_as_credit,
                received_on=given.received_on or timezone.localdate(),
                corrects=corrected,
                recorded_by=ctx.user,
            )
    except IntegrityError:
        raise Conflict("This entry was already corrected: reload the account.") from None
    access_event_record(
        ctx=ctx,
        action=Action.MONEY_RECORD,
        patient_id=pid,
        detail={
            "entry": entry.pk,
            "kind": entry.kind,
            "cents": entry.amount_cents,
            "line": entry.line_id,
            "corrects": entry.corrects_id,
        },
    )
    return entry


def money_entries_record(*, ctx: AuditContext, entries: Sequence[MoneyEntryInput]) -> list[MoneyEntry]:
    """Record several entries (e.g. a remittance's payments and adjustments) all or none, in one transaction,
    each checked against the balance the ones before it left. Raises ValidationError (audited per patient) for
    the first refused entry, with nothing written; AccessDenied/NotFound for a patient the user may not reach."""
    if not may(ctx.user.role, Action.MONEY_RECORD):
        access_event_record(ctx=ctx, action=Action.MONEY_RECORD, outcome=Outcome.DENIED)
        raise AccessDenied("Only a biller or the clinic director records payments.")
    for patient_id in sorted({g.patient_id for g in entries}):
        patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MONEY_RECORD, record_allowed=False)
    try:
        with transaction.atomic():
            # Lock the accounts in id order (no deadlock between two batches): balances cannot move under us.
            list(Patient.objects.select_for_update().filter(pk__in={g.patient_id for g in entries}).order_by("pk"))
            return [_write_one(ctx, given) for given in entries]
    except _Refused as refused:
        raise invalid_value_record(
            ctx=ctx,
            action=Action.MONEY_RECORD,
            patient_id=refused.patient_id,
            exc=ValidationError(refused.errors),
        ) from None


def money_entry_record(*, ctx: AuditContext, given: MoneyEntryInput) -> MoneyEntry:
    """Record one payment, refund, write-off or insurance adjustment (or a correction of one). One transaction,
    audit inside; a refused entry raises ValidationError with errors by field (audited), nothing written."""
    return money_entries_record(ctx=ctx, entries=[given])[0]


def money_entry_correct(
    *, ctx: AuditContext, patient_id: int, entry_id: int, amount_cents: int, reason: str
) -> MoneyEntry:
    """Replace an entry by a new one with `amount_cents` (0 voids it), everything else as it was."""
    found = MoneyEntry.objects.filter(pk=entry_id, patient_id=patient_id).first()
    base = (
        MoneyEntryInput(patient_id=patient_id, kind="payment", amount_cents=amount_cents)
        if found is None
        else MoneyEntryInput(
            patient_id=patient_id,
            kind=found.kind,
            amount_cents=amount_cents,
            method=found.method,
            reference=found.reference,
            payer_id=found.payer_id,
            claim_reference=found.claim_reference,
            adjustment_group=found.adjustment_group,
            adjustment_reason=found.adjustment_reason,
            line_id=found.line_id,
            purchase_id=found.purchase_id,
            received_on=found.received_on,
            keep_as_credit=found.keep_as_credit,
        )
    )
    return money_entry_record(ctx=ctx, given=replace(base, corrects_id=entry_id, reason=reason))


# --- self-pay packages ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageInput:
    name: str
    sessions: int
    price_cents: int
    effective_from: date
    effective_to: date | None = None
    description: str = ""


def package_define_check(ctx: AuditContext) -> None:
    """Refuse (audited) a user who may not define packages (the director and the biller may, as payers and fees)."""
    if not may(ctx.user.role, Action.BILLING_SETUP):
        access_event_record(ctx=ctx, action=Action.BILLING_SETUP, outcome=Outcome.DENIED)
        raise AccessDenied("Only the clinic director or a biller defines packages.")


def package_define(*, ctx: AuditContext, given: PackageInput) -> SelfPayPackage:
    """Offer a self-pay package (the director or the biller, as payers and fees)."""
    package_define_check(ctx)
    name = " ".join(given.name.split())
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the package a name."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name under {NAME_MAX} characters."
    if not 1 <= given.sessions <= 52:
        errors["sessions"] = "A package has 1 to 52 sessions."
    if not 1 <= given.price_cents <= rules.AMOUNT_MAX_CENTS:
        errors["price"] = "Give a price between $0.01 and $100,000.00."
    if given.effective_to is not None and given.effective_to < given.effective_from:
        errors["effective_to"] = "The last day cannot be before the first."
    if len(given.description) > REASON_MAX:
        errors["description"] = f"Keep the description under {REASON_MAX:,} characters."
    if errors:
        access_event_record(ctx=ctx, action=Action.BILLING_SETUP, outcome=Outcome.INVALID, detail={"errors": errors})
        raise ValidationError(errors)
    with transaction.atomic():
        package = SelfPayPackage.objects.create(
            name=name,
            description=" ".join(given.description.split()),
            sessions=given.sessions,
            price_cents=given.price_cents,
            effective_from=given.effective_from,
            effective_to=given.effective_to,
            recorded_by=ctx.user,
        )
        access_event_record(ctx=ctx, action=Action.BILLING_SETUP, detail={"package": package.pk, "op": "define"})
    return package


def package_sell(
    *, ctx: AuditContext, patient_id: int, package_id: int, bought_on: date | None = None
) -> PackagePurchase:
    """Record that the patient bought a package: its price is added to what they owe (pay it through the ledger,
    up front or in parts, with `purchase_id`)."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MONEY_RECORD, record_allowed=False)
    day = bought_on or timezone.localdate()
    package = SelfPayPackage.objects.filter(pk=package_id).first()
    errors: dict[str, str] = {}
    if package is None:
        errors["package"] = "Choose a package."
    elif not package.offered(day):
        errors["package"] = f"This package is not offered on {day.isoformat()}."
    if day > timezone.localdate():
        errors["bought_on"] = "The date cannot be in the future."
    if errors:
        raise invalid_value_record(
            ctx=ctx, action=Action.MONEY_RECORD, patient_id=patient_id, exc=ValidationError(errors)
        )
    assert package is not None
    with transaction.atomic():
        purchase = PackagePurchase.objects.create(
            patient_id=patient_id,
            package=package,
            bought_on=day,
            sessions=package.sessions,
            price_cents=package.price_cents,
            recorded_by=ctx.user,
        )
        access_event_record(
            ctx=ctx,
            action=Action.MONEY_RECORD,
            patient_id=patient_id,
            detail={"purchase": purchase.pk, "package": package.pk, "cents": purchase.price_cents},
            emergency=access.emergency,
        )
    return purchase

"""Controlled-substance ledger arithmetic: signs, units, balances, reconciliation.

Plain Python, no Django. Quantities are Decimal milligrams (3 places); a product's
"unit" is what is counted on the shelf: mL of a solution, a nasal-spray device, a troche.
Sources: 21 CFR 1304.21-1304.22 (what each record holds), 1304.11 (inventories);
../shared/domain/controlled-substances.md section 11 (reconciliation checks) and
dosing.md ("volume_mL = dose_mg / concentration", "waste_mg = (drawn - given) x concentration").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

MG = Decimal("0.001")
UNITS = Decimal("0.001")
ZERO = Decimal("0")


class EntryKind(StrEnum):
    RECEIPT = "receipt"
    ADMINISTRATION = "administration"
    WASTE = "waste"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    RETURN = "return"  # to the supplier or a reverse distributor
    DESTRUCTION = "destruction"  # on-site, to a non-retrievable state (DEA Form 41)
    LOSS = "loss"  # theft or loss (DEA Form 106)
    COUNT_ADJUSTMENT = "count_adjustment"  # only through a count
    CORRECTION = "correction"  # points at the entry it corrects

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# +1: stock comes in; -1: stock goes out; 0: either way (the quantity carries the sign).
SIGN: dict[EntryKind, int] = {
    EntryKind.RECEIPT: 1,
    EntryKind.TRANSFER_IN: 1,
    EntryKind.ADMINISTRATION: -1,
    EntryKind.WASTE: -1,
    EntryKind.TRANSFER_OUT: -1,
    EntryKind.RETURN: -1,
    EntryKind.DESTRUCTION: -1,
    EntryKind.LOSS: -1,
    EntryKind.COUNT_ADJUSTMENT: 0,
    EntryKind.CORRECTION: 0,
}

# Kinds that need a second licensed person to witness (state boards and Joint Commission
# practice for waste; DEA Form 41 for destruction: controlled-substances.md sections 7 and 10).
NEEDS_WITNESS = frozenset({EntryKind.WASTE, EntryKind.DESTRUCTION})
# Kinds that need a written reason or reference.
NEEDS_REASON = frozenset({EntryKind.LOSS, EntryKind.CORRECTION, EntryKind.COUNT_ADJUSTMENT, EntryKind.RETURN})


class LedgerError(ValueError):
    """A ledger operation that would break the books; the message says why."""


def to_mg(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(MG, rounding=ROUND_HALF_UP)


def units_for_mg(mg: Decimal, mg_per_unit: Decimal) -> Decimal:
    """Return the shelf units (mL, devices, troches) holding `mg` (volume_mL = dose_mg / concentration)."""
    if mg_per_unit <= 0:
        raise LedgerError("A product's strength must be above 0 mg per unit.")
    return (mg / mg_per_unit).quantize(UNITS, rounding=ROUND_HALF_UP)


def mg_for_units(units: Decimal, mg_per_unit: Decimal) -> Decimal:
    """Return the milligrams in `units` shelf units (mg = mL x concentration)."""
    return to_mg(units * mg_per_unit)


def signed_quantity(kind: EntryKind, quantity_mg: Decimal) -> Decimal:
    """Return the change to the balance: positive in, negative out.

    For kinds with a fixed direction `quantity_mg` must be positive; for count
    adjustments and corrections it carries its own sign and must not be zero.
    """
    quantity = to_mg(quantity_mg)
    sign = SIGN[kind]
    if sign == 0:
        if quantity == 0:
            raise LedgerError(f"{kind.label} of 0 mg changes nothing; enter the difference.")
        return quantity
    if quantity <= 0:
        raise LedgerError("Enter a quantity above 0 mg.")
    return quantity * sign


def balance_after(balance: Decimal, kind: EntryKind, quantity_mg: Decimal) -> Decimal:
    """Return the balance after the entry; refuse any entry that would take it below zero."""
    change = signed_quantity(kind, quantity_mg)
    new = to_mg(balance + change)
    if new < 0:
        raise LedgerError(
            f"Only {to_mg(balance)} mg is on hand here; "
            f"taking {abs(change)} mg ({kind.label.lower()}) would overdraw it."
        )
    return new


@dataclass(frozen=True)
class WasteArithmetic:
    drawn_units: Decimal
    given_units: Decimal
    waste_units: Decimal
    given_mg: Decimal
    waste_mg: Decimal


def waste_for(drawn_units: Decimal, given_units: Decimal, mg_per_unit: Decimal) -> WasteArithmetic:
    """Return what was given and what must be wasted: drawn = given + wasted (controlled-substances.md 11.4)."""
    if drawn_units <= 0:
        raise LedgerError("The volume drawn must be above 0.")
    if given_units < 0 or given_units > drawn_units:
        raise LedgerError("The volume given must be between 0 and the volume drawn.")
    waste_units = drawn_units - given_units
    return WasteArithmetic(
        drawn_units=drawn_units,
        given_units=given_units,
        waste_units=waste_units,
        given_mg=mg_for_units(given_units, mg_per_unit),
        waste_mg=mg_for_units(waste_units, mg_per_unit),
    )


def count_discrepancy(*, expected_mg: Decimal, counted_mg: Decimal, tolerance_mg: Decimal = ZERO) -> Decimal | None:
    """Return counted - expected when it is beyond the tolerance, else None.

    Default tolerance 0 (exact): controlled-substances.md section 11.2 allows a policy
    tolerance for opened vials (e.g. 0.2 mL); any unexplained variance opens an investigation.
    """
    if counted_mg < 0:
        raise LedgerError("A count cannot be below zero.")
    difference = to_mg(counted_mg - expected_mg)
    return difference if abs(difference) > tolerance_mg else None


@dataclass(frozen=True)
class Movement:
    """One ledger entry as reconciliation sees it."""

    lot: int
    location: int
    kind: EntryKind
    change_mg: Decimal  # signed
    balance_after_mg: Decimal


def replay(movements: Iterable[Movement]) -> dict[tuple[int, int], Decimal]:
    """Return the balance of each (lot, location) as the sum of its entries, in order."""
    balances: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for m in movements:
        balances[(m.lot, m.location)] += m.change_mg
    return dict(balances)


@dataclass
class Reconciliation:
    """received - administered - wasted - destroyed - lost - returned +/- transfers +/- adjustments = on hand."""

    lot: int
    location: int
    totals: dict[EntryKind, Decimal] = field(default_factory=dict)
    expected_mg: Decimal = ZERO  # the replayed sum of every entry
    recorded_mg: Decimal = ZERO  # the balance written on the latest entry
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.problems


def reconcile(movements: Iterable[Movement]) -> list[Reconciliation]:
    """Recompute every lot and location from its entries and flag each mismatch.

    Checks that each entry's recorded balance equals the running sum, and that no running
    balance ever went below zero (controlled-substances.md section 11, check 1).
    """
    return reconcile_micrograms(
        (m.lot, m.location, m.kind.value, _ug(m.change_mg), _ug(m.balance_after_mg)) for m in movements
    )


def _ug(mg: Decimal) -> int:
    return int(to_mg(mg) * 1000)


def _mg(ug: int) -> Decimal:
    return (Decimal(ug) / 1000).quantize(MG)


def reconcile_micrograms(rows: Iterable[tuple[int, int, str, int, int]]) -> list[Reconciliation]:
    """The same checks on whole micrograms: (lot, location, kind, change, balance after), in entry order.

    Exact like Decimal milligrams at 3 places, and several times faster over a million rows;
    Decimals are made only for the result rows.
    """
    running: dict[tuple[int, int], list[int]] = {}  # key -> [sum, entries, recorded]
    totals: dict[tuple[int, int], dict[str, int]] = {}
    problems: dict[tuple[int, int], list[str]] = {}
    for lot, location, kind, change, after in rows:
        key = (lot, location)
        state = running.get(key)
        if state is None:
            state = running[key] = [0, 0, 0]
            totals[key] = {}
        state[0] += change
        state[1] += 1
        state[2] = after
        by_kind = totals[key]
        by_kind[kind] = by_kind.get(kind, 0) + change
        if state[0] < 0:
            problems.setdefault(key, []).append(
                f"Entry {state[1]} took the running balance below zero ({_mg(state[0])} mg)."
            )
        if after != state[0]:
            problems.setdefault(key, []).append(
                f"Entry {state[1]} records {_mg(after)} mg on hand; the entries add up to {_mg(state[0])} mg."
            )
    return [
        Reconciliation(
            lot=key[0],
            location=key[1],
            totals={EntryKind(kind): _mg(value) for kind, value in totals[key].items()},
            expected_mg=_mg(state[0]),
            recorded_mg=_mg(state[2]),
            entries=state[1],
            problems=problems.get(key, []),
        )
        for key, state in sorted(running.items())
    ]

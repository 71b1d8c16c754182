"""Controlled-substance ledger arithmetic: signs, units, balances, reconciliation.

Plain Python, no Django. Quantities are Decimal milligrams (3 places); a product's
"unit" is what is counted on the shelf: mL of a solution, a nasal-spray device, a troche.
Sources: 21 CFR 1304.21-1304.22 (what each record holds), 1304.11 (inventories), 1301.76(b) (theft or loss),
1304.04(a) (retention);
../shared/domain/controlled-substances.md section 11 (reconciliation checks) and
dosing.md ("volume_mL = dose_mg / concentration", "waste_mg = (drawn - given) x concentration").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
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


# --- Regulatory clocks -----------------------------------------------------------------------------------------
# Pure date rules for what the DEA rules make due, each with its source (controlled-substances.md sections 4, 6
# and 9). "Business day" follows the federal calendar: Monday to Friday except the legal public holidays of
# 5 U.S.C. 6103(a), a Saturday holiday observed on the Friday before and a Sunday holiday on the Monday after
# (5 U.S.C. 6103(b); Executive Order 11582). A state may set a shorter clock.

SOURCE_BIENNIAL = "21 CFR 1304.11(c): a new inventory at least every 2 years after the previous one"
SOURCE_INITIAL = "21 CFR 1304.11(b): an initial inventory on the day dispensing or administering begins"
SOURCE_LOSS_NOTICE = (
    "21 CFR 1301.76(b): written notice of a theft or significant loss to the DEA Field Division Office "
    "within one business day of discovery"
)
SOURCE_FORM_106 = "21 CFR 1301.76(b); 88 FR 40707 (2023): DEA Form 106, electronically, within 45 days of discovery"
SOURCE_RETENTION = "21 CFR 1304.04(a): every inventory and record kept at least 2 years from its date"

INVENTORY_INTERVAL_YEARS = 2
FORM_106_DAYS = 45
RETENTION_YEARS = 2


class ClockState(StrEnum):
    DONE = "done"
    DUE = "due"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Deadline:
    """One regulatory duty: what, by when, its source, and whether it is done, due or overdue on `today`."""

    what: str
    due_on: date
    source: str
    state: ClockState
    done_on: date | None = None
    today: date = field(default=date.min, compare=False)  # the day the state was judged on

    @property
    def days_left(self) -> int | None:
        """Days until due (negative: overdue), or None when done."""
        return None if self.state is ClockState.DONE else (self.due_on - self.today).days


def deadline(what: str, due_on: date, source: str, *, today: date, done_on: date | None = None) -> Deadline:
    """Return the duty's state: done (on any date, even late), else overdue after `due_on`, else due."""
    if done_on is not None:
        state = ClockState.DONE
    elif today > due_on:
        state = ClockState.OVERDUE
    else:
        state = ClockState.DUE
    return Deadline(what=what, due_on=due_on, source=source, state=state, done_on=done_on, today=today)


def years_after(day: date, years: int) -> date:
    """Return the same calendar day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (Monday = 0) of the month; n = -1 for the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


# The legal public holidays of 5 U.S.C. 6103(a): (name, month, day) for fixed dates, (name, month, weekday, n)
# for "the n-th weekday of the month" (n = -1: the last). Juneteenth since 2021 (Pub. L. 117-17).
FIXED_HOLIDAYS = (
    ("New Year's Day", 1, 1),
    ("Juneteenth National Independence Day", 6, 19),
    ("Independence Day", 7, 4),
    ("Veterans Day", 11, 11),
    ("Christmas Day", 12, 25),
)
WEEKDAY_HOLIDAYS = (
    ("Birthday of Martin Luther King, Jr.", 1, 0, 3),
    ("Washington's Birthday", 2, 0, 3),
    ("Memorial Day", 5, 0, -1),
    ("Labor Day", 9, 0, 1),
    ("Columbus Day", 10, 0, 2),
    ("Thanksgiving Day", 11, 3, 4),
)


def federal_holidays(year: int) -> dict[date, str]:
    """Return the days federal offices are closed in `year` for a legal public holiday (as observed)."""
    days: dict[date, str] = {}
    for name, month, day in FIXED_HOLIDAYS:
        if name.startswith("Juneteenth") and year < 2021:
            continue
        actual = date(year, month, day)
        # A Saturday holiday is observed on Friday, a Sunday one on Monday (5 U.S.C. 6103(b), EO 11582).
        shift = {5: -1, 6: 1}.get(actual.weekday(), 0)
        days[actual + timedelta(days=shift)] = name
    for name, month, weekday, n in WEEKDAY_HOLIDAYS:
        days[_nth_weekday(year, month, weekday, n)] = name
    # New Year's Day of next year falling on a Saturday is observed on 31 December of this year.
    next_new_year = date(year + 1, 1, 1)
    if next_new_year.weekday() == 5:
        days[date(year, 12, 31)] = "New Year's Day (observed)"
    return days


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in federal_holidays(day.year)


def next_business_day(day: date) -> date:
    """Return the first business day after `day` (the end of "within one business day" of something on `day`)."""
    following = day + timedelta(days=1)
    while not is_business_day(following):
        following += timedelta(days=1)
    return following


def loss_deadlines(
    discovered_on: date, *, today: date, notice_on: date | None = None, form_106_on: date | None = None
) -> tuple[Deadline, Deadline]:
    """Return the two clocks a theft or significant loss starts: the written notice and DEA Form 106."""
    return (
        deadline(
            "Written notice to the DEA Field Division Office",
            next_business_day(discovered_on),
            SOURCE_LOSS_NOTICE,
            today=today,
            done_on=notice_on,
        ),
        deadline(
            "DEA Form 106 submitted",
            discovered_on + timedelta(days=FORM_106_DAYS),
            SOURCE_FORM_106,
            today=today,
            done_on=form_106_on,
        ),
    )


def inventory_deadline(*, last_inventory_on: date | None, first_activity_on: date | None, today: date) -> Deadline:
    """Return when the next inventory of a registered location is due.

    No inventory yet: the initial one was due when activity began (or today, before any). Otherwise the next
    biennial inventory, 2 years after the last (any inventory, initial or biennial, restarts the clock).
    """
    if last_inventory_on is None:
        return deadline("Initial inventory", first_activity_on or today, SOURCE_INITIAL, today=today)
    due = years_after(last_inventory_on, INVENTORY_INTERVAL_YEARS)
    return deadline("Biennial inventory", due, SOURCE_BIENNIAL, today=today)


def retained_until(record_on: date, *, policy_years: int = RETENTION_YEARS) -> date:
    """Return the first day a record of `record_on` may be destroyed: never sooner than 2 years after it.

    A clinic policy may keep records longer (controlled-substances.md section 6: [policy] default 5 years, many
    states 3-7); it can never make the period shorter.
    """
    if policy_years < RETENTION_YEARS:
        raise LedgerError(f"Ledger records must be kept at least {RETENTION_YEARS} years ({SOURCE_RETENTION}).")
    return years_after(record_on, policy_years)


def may_destroy(record_on: date, *, today: date, policy_years: int = RETENTION_YEARS) -> bool:
    """Return whether a record of `record_on` is past its retention period on `today`."""
    return today >= retained_until(record_on, policy_years=policy_years)

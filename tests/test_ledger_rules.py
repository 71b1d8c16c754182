"""Ledger arithmetic: pure functions, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical.ledger import (
    EntryKind,
    LedgerError,
    Movement,
    balance_after,
    mg_for_units,
    reconcile,
    replay,
    signed_quantity,
    units_for_mg,
    waste_for,
)

D = Decimal


def test_units_and_mg_worked_example() -> None:
    # dosing.md: 78 kg x 0.5 mg/kg = 39 mg; with 50 mg/mL that is 0.78 mL, with 10 mg/mL 3.9 mL.
    assert units_for_mg(D("39"), D("50")) == D("0.780")
    assert units_for_mg(D("39"), D("10")) == D("3.900")
    assert mg_for_units(D("0.78"), D("50")) == D("39.000")


def test_waste_worked_example() -> None:
    # dosing.md: 1.0 mL of 50 mg/mL drawn, 0.78 mL given: waste 0.22 mL = 11 mg.
    waste = waste_for(D("1.0"), D("0.78"), D("50"))
    assert waste.waste_units == D("0.22") and waste.waste_mg == D("11.000") and waste.given_mg == D("39.000")
    with pytest.raises(LedgerError, match="between 0 and the volume drawn"):
        waste_for(D("1.0"), D("1.2"), D("50"))


@pytest.mark.parametrize(
    ("kind", "quantity", "change"),
    [
        (EntryKind.RECEIPT, "500", "500"),
        (EntryKind.ADMINISTRATION, "39", "-39"),
        (EntryKind.WASTE, "11", "-11"),
        (EntryKind.TRANSFER_IN, "50", "50"),
        (EntryKind.TRANSFER_OUT, "50", "-50"),
        (EntryKind.LOSS, "5", "-5"),
        (EntryKind.CORRECTION, "-2.5", "-2.5"),
        (EntryKind.CORRECTION, "2.5", "2.5"),
        (EntryKind.COUNT_ADJUSTMENT, "-1", "-1"),
    ],
)
def test_signs(kind: EntryKind, quantity: str, change: str) -> None:
    assert signed_quantity(kind, D(quantity)) == D(change)


def test_zero_and_negative_quantities_refused() -> None:
    with pytest.raises(LedgerError, match="above 0 mg"):
        signed_quantity(EntryKind.WASTE, D("0"))
    with pytest.raises(LedgerError, match="above 0 mg"):
        signed_quantity(EntryKind.RECEIPT, D("-5"))
    with pytest.raises(LedgerError, match="changes nothing"):
        signed_quantity(EntryKind.CORRECTION, D("0"))


def test_overdraw_refused_with_the_balance_in_the_message() -> None:
    assert balance_after(D("40"), EntryKind.ADMINISTRATION, D("40")) == D("0")
    with pytest.raises(
        LedgerError, match=r"Only 40.000 mg is on hand here; taking 40.001 mg \(administration\) would overdraw"
    ):
        balance_after(D("40"), EntryKind.ADMINISTRATION, D("40.001"))


def test_reconcile_flags_a_recorded_balance_that_does_not_add_up() -> None:
    good = [
        Movement(1, 1, EntryKind.RECEIPT, D("500"), D("500")),
        Movement(1, 1, EntryKind.ADMINISTRATION, D("-39"), D("461")),
        Movement(2, 1, EntryKind.RECEIPT, D("100"), D("100")),
        Movement(2, 1, EntryKind.WASTE, D("-10"), D("95")),  # wrong: should be 90
    ]
    first, second = reconcile(good)
    assert first.balanced and first.expected_mg == D("461") and first.totals[EntryKind.ADMINISTRATION] == D("-39")
    assert not second.balanced and "records 95.000 mg on hand; the entries add up to 90.000 mg" in second.problems[0]


KINDS = st.sampled_from(list(EntryKind))
AMOUNTS = st.decimals(min_value=D("0.001"), max_value=D("1000"), places=3)


@given(st.lists(st.tuples(KINDS, AMOUNTS, st.booleans()), max_size=40))
def test_accepted_entries_never_go_negative_and_replay_matches(steps: list[tuple[EntryKind, Decimal, bool]]) -> None:
    balance = D("0")
    movements = []
    for kind, amount, negative in steps:
        quantity = -amount if negative and kind in (EntryKind.CORRECTION, EntryKind.COUNT_ADJUSTMENT) else amount
        try:
            after = balance_after(balance, kind, quantity)
        except LedgerError:
            continue
        assert after >= 0
        movements.append(Movement(1, 1, kind, signed_quantity(kind, quantity), after))
        balance = after
    assert replay(movements).get((1, 1), D("0")) == balance
    assert all(r.balanced for r in reconcile(movements))

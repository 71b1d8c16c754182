"""Money rules (kapclinic/clinical/money.py): what an entry does to a balance, when a balance refuses an entry,
typed dollars to cents without float, and a package's sessions counting down. Pure: no database."""

from __future__ import annotations

from datetime import date

import pytest

from kapclinic.clinical import money


def test_a_refund_raises_the_balance_and_everything_else_lowers_it() -> None:
    assert money.effect_cents("refund", 500) == 500
    assert [money.effect_cents(k, 500) for k in ("payment", "adjustment", "write_off")] == [-500, -500, -500]


@pytest.mark.parametrize(
    ("kind", "amount", "balance", "paid", "credit", "refused"),
    [
        ("payment", 10_000, 10_000, 0, False, None),
        ("payment", 10_001, 10_000, 0, False, "more than the balance of $100.00"),
        ("payment", 10_001, 10_000, 0, True, None),  # the rest kept as credit
        ("payment", 100, -500, 0, False, "more than the balance of $0.00"),  # already in credit
        ("adjustment", 8_000, 8_000, 0, False, None),  # CO-45 down to nothing
        ("adjustment", 8_001, 8_000, 0, True, "more than the balance"),  # credit never applies to an adjustment
        ("write_off", 1, 0, 0, False, "more than the balance of $0.00"),
        ("refund", 2_500, 0, 2_500, False, None),
        ("refund", 2_501, 0, 2_500, False, "at most what was paid: $25.00"),
        ("payment", 0, 10_000, 0, False, "between $0.01"),
        ("payment", -5, 10_000, 0, True, "between $0.01"),
        ("payment", 10_000_001, 20_000_000, 0, False, "between $0.01"),
    ],
)
def test_what_a_balance_allows(
    kind: str, amount: int, balance: int, paid: int, credit: bool, refused: str | None
) -> None:
    problem = money.entry_problem(kind, amount, balance_cents=balance, paid_cents=paid, keep_as_credit=credit)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and refused in problem


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("80", 8_000), ("$1,234.5", 123_450), ("0.10", 10), (".3", 30), ("12.", 1_200), (" 7.05 ", 705)],
)
def test_typed_dollars_become_cents(typed: str, cents: int) -> None:
    assert money.cents_from_text(typed) == cents


@pytest.mark.parametrize("typed", ["", "-5", "+5", "1.234", "abc", "1e3", "$", ".", "1.2.3", "1234567890"])
def test_what_is_not_an_amount(typed: str) -> None:
    assert money.cents_from_text(typed) is None


def test_cents_read_as_dollars() -> None:
    assert money.cents_text(123_456) == "$1,234.56"
    assert money.cents_text(-5) == "-$0.05"


def test_adjustment_reason_codes() -> None:
    assert all(money.is_adjustment_reason(c) for c in ("45", "253", "B7", "P12"))
    assert not any(money.is_adjustment_reason(c) for c in ("", "123456", "4-5", "٤٥"))


def test_sessions_count_down_against_the_earliest_purchase_that_has_one_left() -> None:
    first = money.Purchase(1, date(2026, 3, 1), 2)
    second = money.Purchase(2, date(2026, 4, 1), 6)
    days = [date(2026, 2, 20), date(2026, 3, 5), date(2026, 3, 12), date(2026, 3, 19), date(2026, 4, 2)]
    # 02-20 is before any purchase (billed as usual); 03-05 and 03-12 use the first; 03-19 has none left before
    # the second was bought (billed as usual); 04-02 uses the second.
    assert money.sessions_left([second, first], days) == {1: 0, 2: 5}


def test_each_session_names_the_purchase_that_covers_it_or_none() -> None:
    first = money.Purchase(1, date(2026, 3, 1), 2)
    second = money.Purchase(2, date(2026, 4, 1), 6)
    sessions = [(15, date(2026, 4, 2)), (11, date(2026, 2, 20)), (12, date(2026, 3, 5)), (14, date(2026, 3, 19))]
    sessions.append((13, date(2026, 3, 5)))  # two on one day: the lower key first
    assert money.sessions_covered([second, first], sessions) == {11: None, 12: 1, 13: 1, 14: None, 15: 2}
    assert money.sessions_covered([], sessions) == dict.fromkeys((11, 12, 13, 14, 15))

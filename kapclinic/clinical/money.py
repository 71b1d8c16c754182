"""Money rules: what an entry does to a balance, which payments a balance allows, how a self-pay package's sessions
count down. Plain Python, no Django; amounts are integer cents (never float).

Sources:
- [X12-CAS] X12 835 claim adjustment: CAS01 group code (CO contractual obligation, PR patient responsibility,
  OA other adjustment, PI payer-initiated reduction, CR correction and reversal) and CAS02 claim adjustment
  reason code (CARC), a code of up to five characters from the list X12 maintains, e.g. 45 "charge exceeds fee
  schedule/maximum allowable or contracted/legislated fee arrangement" (x12.org CARC list, read 2026-12-06).
- [BAL] A patient's balance is what they were charged less what was paid, adjusted and written off, plus what
  was refunded (ordinary patient accounting; a negative balance is the patient's credit).
- [PKG] A self-pay package is paid for once and covers its sessions: its sessions are counted against the
  earliest purchase that still has sessions left on the session's day (the clinic's own rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

# $100,000 in one entry: beyond it is a typing error, not a payment (the clinic's own limit).
AMOUNT_MAX_CENTS = 10_000_000

ADJUSTMENT_GROUPS = ("CO", "PR", "OA", "PI", "CR")  # [X12-CAS]


class Kind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    WRITE_OFF = "write_off"
    ADJUSTMENT = "adjustment"


def effect_cents(kind: Kind | str, amount_cents: int) -> int:
    """How an entry moves the balance [BAL]: a refund raises it, a payment, adjustment or write-off lowers it."""
    return amount_cents if Kind(kind) is Kind.REFUND else -amount_cents


def is_adjustment_reason(code: str) -> bool:
    """A CARC has one to five characters, letters and digits (e.g. 45, 253, B7) [X12-CAS]."""
    return 1 <= len(code) <= 5 and code.isascii() and code.isalnum()


def entry_problem(
    kind: Kind | str,
    amount_cents: int,
    *,
    balance_cents: int,
    paid_cents: int,
    keep_as_credit: bool = False,
) -> str | None:
    """What is wrong with an entry of `amount_cents` against what is owed (`balance_cents`, of the line when the
    entry is applied to one, else of the account) and what was paid net of refunds (`paid_cents`), or None.

    A payment may exceed the balance only when the rest is kept as the patient's credit; an adjustment or a
    write-off never takes the balance below zero; a refund gives back no more than was paid.
    """
    kind = Kind(kind)
    if not 1 <= amount_cents <= AMOUNT_MAX_CENTS:
        return "Give an amount between $0.01 and $100,000.00."
    owed = max(balance_cents, 0)
    if kind is Kind.PAYMENT and amount_cents > owed and not keep_as_credit:
        return (
            f"This is more than the balance of {cents_text(owed)}: lower it, or choose to keep the rest "
            "as the patient's credit."
        )
    if kind in (Kind.ADJUSTMENT, Kind.WRITE_OFF) and amount_cents > owed:
        return f"This is more than the balance of {cents_text(owed)}."
    if kind is Kind.REFUND and amount_cents > max(paid_cents, 0):
        return f"A refund gives back at most what was paid: {cents_text(max(paid_cents, 0))}."
    return None


def cents_text(cents: int) -> str:
    """$1,234.50; a credit (negative) as -$1,234.50."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{part:02d}"


def cents_from_text(text: str) -> int | None:
    """Dollars as typed ("1,234.5", "$80", "80.00") to cents, or None when it is not an amount with at most two
    decimals. Never through float: "0.1" + "0.2" must stay 30 cents."""
    cleaned = text.strip().replace(",", "").removeprefix("$").strip()
    if not cleaned or cleaned.startswith(("-", "+")):
        return None
    whole, _, part = cleaned.partition(".")
    if not (whole or part) or (whole and not whole.isdigit()) or (part and not part.isdigit()) or len(part) > 2:
        return None
    if len(whole) > 9:
        return None
    return int(whole or "0") * 100 + int(part.ljust(2, "0") or "0")


@dataclass(frozen=True)
class Purchase:
    key: int
    bought_on: date
    sessions: int


def sessions_covered(purchases: Sequence[Purchase], sessions: Sequence[tuple[int, date]]) -> dict[int, int | None]:
    """Which purchase covers each of the patient's signed sessions, given as (session key, day) [PKG]: each
    session, in order of day (then key), uses the earliest purchase bought on or before its day that still has one;
    None for a session no purchase covers (billed as usual)."""
    left = {p.key: p.sessions for p in purchases}
    ordered = sorted(purchases, key=lambda p: (p.bought_on, p.key))
    covered: dict[int, int | None] = {}
    for key, day in sorted(sessions, key=lambda s: (s[1], s[0])):
        by = next((p.key for p in ordered if p.bought_on <= day and left[p.key] > 0), None)
        covered[key] = by
        if by is not None:
            left[by] -= 1
    return covered


def sessions_left(purchases: Sequence[Purchase], session_days: Sequence[date]) -> dict[int, int]:
    """Sessions left on each purchase after the patient's signed sessions on `session_days` [PKG]."""
    covered = sessions_covered(purchases, list(enumerate(session_days)))
    return {p.key: p.sessions - sum(1 for key in covered.values() if key == p.key) for p in purchases}

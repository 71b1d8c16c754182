"""Claim rules: what may go on one professional claim, its states, and what a payer's remittance says about it.
Plain Python, no Django.

Sources (read 2026-12-06):
- [837P] ASC X12N 005010X222A1 Health Care Claim: Professional, as encoded in pyx12's map 837.5010.X222.A1.xml:
  HI (2300) carries up to 12 diagnoses (ABK principal, then ABF); LX (2400) repeats up to 50 service lines; SV107
  points at up to 4 of the claim's diagnoses (1-12); CLM05-3 claim frequency: 1 original, 7 replacement of a
  prior claim, which then names the payer's claim control number in REF*F8.
- [835] ASC X12N 005010X221A1 Health Care Claim Payment/Advice (pyx12's 835.5010.X221.A1.xml): CLP02 claim status
  1/2/3 processed as primary/secondary/tertiary, 4 denied, 19/20/21 processed and forwarded, 22 reversal of a
  previous payment, 23 not our claim, forwarded; CAS group codes CO contractual obligation, PR patient
  responsibility, OA other adjustment, PI payer-initiated reduction, CR correction and reversal.
- [NPI] CMS, "Requirements for NPI check digit": the Luhn formula over the 10 digits prefixed with 80840.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

MAX_DIAGNOSES = 12  # [837P] HI
MAX_LINES = 50  # [837P] LX
MAX_POINTERS_PER_LINE = 4  # [837P] SV107

FREQUENCY_ORIGINAL = "1"  # [837P] CLM05-3
FREQUENCY_REPLACEMENT = "7"


class ClaimState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PAID = "paid"
    PARTLY_PAID = "partly_paid"
    DENIED = "denied"
    RESUBMITTED = "resubmitted"  # replaced by a newer claim (frequency 7), which now holds its lines

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# Which state may follow which. A remittance may also arrive for a claim already paid in part or denied
# (a payer reprocesses): those states take a remittance again. A replaced claim is closed.
NEXT_STATES: dict[ClaimState, frozenset[ClaimState]] = {
    ClaimState.DRAFT: frozenset({ClaimState.SUBMITTED}),
    ClaimState.SUBMITTED: frozenset(
        {ClaimState.PAID, ClaimState.PARTLY_PAID, ClaimState.DENIED, ClaimState.RESUBMITTED}
    ),
    ClaimState.PARTLY_PAID: frozenset(
        {ClaimState.PAID, ClaimState.PARTLY_PAID, ClaimState.DENIED, ClaimState.RESUBMITTED}
    ),
    ClaimState.DENIED: frozenset({ClaimState.PAID, ClaimState.PARTLY_PAID, ClaimState.DENIED, ClaimState.RESUBMITTED}),
    ClaimState.PAID: frozenset(),
    ClaimState.RESUBMITTED: frozenset(),
}


def may_become(current: ClaimState, wanted: ClaimState) -> bool:
    return wanted in NEXT_STATES[current]


def npi_check_digit(first_nine: str) -> str:
    """[NPI] The Luhn check digit of 80840 followed by the NPI's first nine digits."""
    digits = [int(c) for c in "80840" + first_nine]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # every second digit from the right, starting with the rightmost of the payload
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def npi_valid(npi: str) -> bool:
    """[NPI] Ten digits whose last is the check digit of the first nine."""
    return len(npi) == 10 and npi.isdigit() and npi_check_digit(npi[:9]) == npi[9]


@dataclass(frozen=True)
class Pointers:
    """The claim's diagnoses in pointer order, and for each line the 1-based pointers into them."""

    diagnoses: tuple[str, ...]
    per_line: tuple[tuple[int, ...], ...]


class ClaimRuleError(ValueError):
    """What makes a set of lines unfit for one claim, said for the biller."""


def pointers_for(lines_diagnoses: Sequence[Sequence[str]]) -> Pointers:
    """Merge the lines' diagnoses (each line's in its own order) into the claim's list, first seen first, and point
    each line at its first four [837P]. More than 12 different diagnoses do not fit on one claim."""
    if not lines_diagnoses:
        raise ClaimRuleError("Choose at least one line.")
    if len(lines_diagnoses) > MAX_LINES:
        raise ClaimRuleError(f"One claim holds at most {MAX_LINES} lines: split them over two claims.")
    claim: list[str] = []
    per_line: list[tuple[int, ...]] = []
    for diagnoses in lines_diagnoses:
        if not diagnoses:
            raise ClaimRuleError("A line has no diagnosis: correct it before claiming.")
        for code in diagnoses:
            if code not in claim:
                claim.append(code)
        per_line.append(tuple(claim.index(code) + 1 for code in list(diagnoses)[:MAX_POINTERS_PER_LINE]))
    if len(claim) > MAX_DIAGNOSES:
        raise ClaimRuleError(
            f"These lines name {len(claim)} diagnoses; one claim holds {MAX_DIAGNOSES}: split them over two claims."
        )
    return Pointers(tuple(claim), tuple(per_line))


# --- what a remittance says ----------------------------------------------------------------------------------

DENIED_STATUS = "4"  # [835] CLP02
REVERSAL_STATUS = "22"
PROCESSED_STATUSES = frozenset({"1", "2", "3", "19", "20", "21"})


class Outcome(StrEnum):
    PAID = "paid"
    PARTLY_PAID = "partly_paid"
    DENIED = "denied"


def remittance_outcome(status: str, charged_cents: int, paid_cents: int, contractual_cents: int) -> Outcome:
    """[835] What the payer decided on one claim. Denied: status 4, or nothing paid. Paid: the payment and the
    contractual write-down (group CO) together settle the charge. Otherwise partly paid (something is left to the
    patient, PR, or reduced otherwise). A reversal (22) or a claim forwarded as not the payer's (23) is not a
    decision about this claim: the caller refuses it."""
    if status == DENIED_STATUS or paid_cents == 0:
        return Outcome.DENIED
    if status not in PROCESSED_STATUSES:
        raise ClaimRuleError(f"Claim status {status} is not a payment decision this clinic posts automatically.")
    if paid_cents + contractual_cents >= charged_cents:
        return Outcome.PAID
    return Outcome.PARTLY_PAID

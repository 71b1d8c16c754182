"""IV ketamine infusion duration: the planned minutes are part of the dose order; an infusion ended far sooner warns.

Plain Python, no Django. Facts from ../shared/domain/dosing.md section 2: the standard dose is 0.5 mg/kg over
40 minutes (Berman 2000; Zarate 2006; Murrough 2013; the APA consensus, Sanacora 2017), durations of 2-100 minutes
are reported (Andrade 2017), and the APA task force judged 0.5 mg/kg over 40 minutes best supported. Given much
faster, the same dose is a bolus, not the infusion the evidence describes. Thresholds marked [policy] are clinic
choices with these defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

STANDARD_MINUTES = 40
SOURCE_STANDARD = (
    "dosing.md section 2: 0.5 mg/kg over 40 minutes (Berman 2000; Zarate 2006; Murrough 2013; "
    "APA consensus, Sanacora 2017)"
)
# The planned duration must lie in the range the literature reports (Andrade 2017: 2-100 minutes).
SHORTEST_PLANNED = 2
LONGEST_PLANNED = 100
SOURCE_RANGE = "dosing.md section 2: infusion durations of 2-100 minutes reported (Andrade 2017)"
# [policy] Ended in under this many minutes, the infusion was a bolus whatever was planned.
BOLUS_MINUTES = 10
# [policy] Ended before this fraction of the planned minutes had passed, it was far shorter than ordered.
FAR_SHORTER_FRACTION = 0.5


class InfusionError(ValueError):
    """A planned duration no order may carry; the message says why."""


@dataclass(frozen=True)
class ShortInfusion:
    """An infusion that ended far sooner than planned: shown with its reason and source; ending it needs a reason."""

    code: str
    message: str
    source: str
    needs_reason: bool = True


def check_planned_minutes(minutes: object) -> int:
    """Return the planned infusion minutes of an IV order, or raise InfusionError."""
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise InfusionError("Enter the planned infusion duration in whole minutes (standard: 40).")
    if not SHORTEST_PLANNED <= minutes <= LONGEST_PLANNED:
        raise InfusionError(
            f"A planned infusion of {minutes} minutes is outside the {SHORTEST_PLANNED}-{LONGEST_PLANNED} minutes "
            f"reported ({SOURCE_RANGE}); the standard is {STANDARD_MINUTES}."
        )
    return minutes


def planned_minutes_note(minutes: int) -> str | None:
    """Return a note for the order's working when the plan departs from the standard 40 minutes, else None."""
    if minutes == STANDARD_MINUTES:
        return None
    return (
        f"Infusion planned over {minutes} min; the dose best supported is given over {STANDARD_MINUTES} min "
        f"({SOURCE_STANDARD})."
    )


@dataclass(frozen=True)
class _Rung:
    code: str
    applies: Callable[[int, float], bool]  # (planned minutes, actual minutes)
    message: str
    source: str


# The ladder, first match wins.
LADDER = (
    _Rung(
        "bolus",
        lambda planned, actual: actual < BOLUS_MINUTES,
        "The infusion ran {actual} min of the {planned} planned: given as a bolus, not an infusion.",
        f"{SOURCE_STANDARD}; bolus limit under {BOLUS_MINUTES} min [policy]",
    ),
    _Rung(
        "far_shorter",
        lambda planned, actual: actual < planned * FAR_SHORTER_FRACTION,
        "The infusion ran {actual} min of the {planned} planned: far shorter than ordered.",
        f"{SOURCE_STANDARD}; under {FAR_SHORTER_FRACTION:.0%} of the planned minutes [policy]",
    ),
)


def short_infusion(*, planned_minutes: int, actual_minutes: float) -> ShortInfusion | None:
    """Return the finding for an infusion that ended far sooner than planned, or None when it ran long enough."""
    actual = max(0, int(actual_minutes))
    for rung in LADDER:
        if rung.applies(planned_minutes, actual_minutes):
            return ShortInfusion(rung.code, rung.message.format(actual=actual, planned=planned_minutes), rung.source)
    return None

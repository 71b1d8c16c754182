"""IV ketamine infusion duration: the planned minutes are part of the dose order; an infusion ended far sooner warns.

Plain Python, no Django. Facts from ../shared/domain/dosing.md section 2: the standard dose is 0.5 mg/kg over
40 minutes (Berman 2000; Zarate 2006; Murrough 2013; the APA consensus, Sanacora 2017), durations of 2-100 minutes
are reported (Andrade 2017), and the APA task force judged 0.5 mg/kg over 40 minutes best supported. Given much
faster, the same dose is a bolus, not the infusion the evidence describes. How much faster counts as a bolus has
no source in the domain notes: those limits are clinic policy, `DosingPolicy.iv_bolus_minutes` and
`iv_far_shorter_percent` (the reasoning is beside them), and the findings name the setting, not a source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kapclinic.clinical.dosing import DEFAULT_POLICY, DosingPolicy

STANDARD_MINUTES = 40
SOURCE_STANDARD = (
    "dosing.md section 2: 0.5 mg/kg over 40 minutes (Berman 2000; Zarate 2006; Murrough 2013; "
    "APA consensus, Sanacora 2017)"
)
# The planned duration must lie in the range the literature reports (Andrade 2017: 2-100 minutes).
SHORTEST_PLANNED = 2
LONGEST_PLANNED = 100
SOURCE_RANGE = "dosing.md section 2: infusion durations of 2-100 minutes reported (Andrade 2017)"


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
    applies: Callable[[int, float, DosingPolicy], bool]  # (planned minutes, actual minutes, policy)
    message: str
    source: Callable[[DosingPolicy], str]


# The ladder, first match wins. Its limits are the clinic's (DosingPolicy), so each source says so by name.
LADDER = (
    _Rung(
        "bolus",
        lambda planned, actual, policy: actual < policy.iv_bolus_minutes,
        "The infusion ran {actual} min of the {planned} planned: given as a bolus, not an infusion.",
        lambda policy: (
            f"{SOURCE_STANDARD}; under {policy.iv_bolus_minutes} min counts as a bolus: clinic policy "
            "iv_bolus_minutes, not a published figure"
        ),
    ),
    _Rung(
        "far_shorter",
        lambda planned, actual, policy: actual * 100 < planned * policy.iv_far_shorter_percent,
        "The infusion ran {actual} min of the {planned} planned: far shorter than ordered.",
        lambda policy: (
            f"{SOURCE_STANDARD}; under {policy.iv_far_shorter_percent}% of the planned minutes: clinic policy "
            "iv_far_shorter_percent, not a published figure"
        ),
    ),
)


def short_infusion(
    *, planned_minutes: int, actual_minutes: float, policy: DosingPolicy = DEFAULT_POLICY
) -> ShortInfusion | None:
    """Return the finding for an infusion that ended far sooner than planned, or None when it ran long enough."""
    actual = max(0, int(actual_minutes))
    for rung in LADDER:
        if rung.applies(planned_minutes, actual_minutes, policy):
            message = rung.message.format(actual=actual, planned=planned_minutes)
            return ShortInfusion(rung.code, message, rung.source(policy))
    return None

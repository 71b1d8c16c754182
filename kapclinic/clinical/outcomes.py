"""Score trajectories: each total over time with its band and whether it meets response and remission.

Plain Python, no Django, like `instruments`: the chart, the portal and later reports take the same answer.
Definitions are those of ../shared/domain/outcomes.md section 2 as coded in `instruments.response` and
`instruments.remission`; an instrument without a documented rule is never marked for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kapclinic.clinical import instruments
from kapclinic.clinical.instruments import Instrument


@dataclass(frozen=True)
class TrajectoryPoint:
    """One scored response on the trajectory.

    `response` and `remission` are None when the instrument has no such rule; `response` is False at and
    before the baseline (nothing to compare with).
    """

    at: datetime
    total: int
    band: str | None
    is_baseline: bool
    response: bool | None
    remission: bool | None


@dataclass(frozen=True)
class Trajectory:
    """An instrument's totals in time order, the baseline, and when response and remission were first met."""

    instrument: str
    points: tuple[TrajectoryPoint, ...]
    has_response_rule: bool
    has_remission_rule: bool
    first_response: datetime | None
    first_remission: datetime | None

    @property
    def baseline(self) -> TrajectoryPoint | None:
        return next((point for point in self.points if point.is_baseline), None)


def trajectory(
    instrument: Instrument, points: Sequence[tuple[datetime, int]], *, first_dose: datetime | None = None
) -> Trajectory:
    """Return the trajectory of `points` (when, total) for `instrument`, sorted by time.

    The baseline is the first point, or with `first_dose` given the last point at or before it (outcomes.md:
    "Baseline: last score before first dose"), falling back to the first point when none precedes the dose.
    Raise ValueError for a total outside the instrument's range or an instrument without a total.
    """
    ordered = sorted(points, key=lambda point: point[0])
    baseline_index = _baseline_index(ordered, first_dose)
    baseline_total = ordered[baseline_index][1] if ordered else 0
    has_response = instrument.response_rule is not None
    has_remission = instrument.remission is not None
    result: list[TrajectoryPoint] = []
    for index, (at, total) in enumerate(ordered):
        band = instruments.band_for(instrument, total)
        responded: bool | None = None
        if has_response:
            responded = index > baseline_index and instruments.response(baseline_total, total, instrument)
        result.append(
            TrajectoryPoint(
                at=at,
                total=total,
                band=None if band is None else band.label,
                is_baseline=index == baseline_index,
                response=responded,
                remission=instruments.remission(total, instrument) if has_remission else None,
            )
        )
    return Trajectory(
        instrument=instrument.code,
        points=tuple(result),
        has_response_rule=has_response,
        has_remission_rule=has_remission,
        first_response=next((point.at for point in result if point.response), None),
        first_remission=next((point.at for point in result if point.remission), None),
    )


def _baseline_index(ordered: Sequence[tuple[datetime, int]], first_dose: datetime | None) -> int:
    if first_dose is None:
        return 0
    before = [index for index, (at, _) in enumerate(ordered) if at <= first_dose]
    return before[-1] if before else 0

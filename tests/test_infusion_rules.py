"""IV infusion duration (issue 13, rule 5): 0.5 mg/kg over about 40 minutes; the planned minutes are part of the
order; an infusion ended far sooner (a bolus) warns and needs a reason. Worked examples cite dosing.md section 2."""

from __future__ import annotations

import pytest

from kapclinic.clinical.infusion import (
    STANDARD_MINUTES,
    InfusionError,
    check_planned_minutes,
    planned_minutes_note,
    short_infusion,
)


def test_the_standard_infusion_is_40_minutes() -> None:
    # Berman 2000 / Sanacora 2017 (APA consensus): 0.5 mg/kg over 40 minutes.
    assert STANDARD_MINUTES == 40
    assert check_planned_minutes(40) == 40 and planned_minutes_note(40) is None
    note = planned_minutes_note(60)
    assert note is not None and "40 min" in note and "Sanacora 2017" in note


@pytest.mark.parametrize("minutes", [0, 1, 101, 240, -5, True, "40", 40.0, None])
def test_a_planned_duration_outside_2_to_100_minutes_is_refused(minutes: object) -> None:
    # Andrade 2017: 2-100 minutes reported.
    with pytest.raises(InfusionError, match="minutes"):
        check_planned_minutes(minutes)


@pytest.mark.parametrize(
    ("planned", "actual", "code"),
    [
        (40, 3, "bolus"),  # 0.5 mg/kg pushed in 3 minutes: a bolus
        (40, 9.9, "bolus"),
        (40, 10, "far_shorter"),
        (40, 19.5, "far_shorter"),  # under half the 40 planned
        (40, 20, None),
        (40, 38, None),  # about 40 minutes
        (40, 55, None),  # slower than planned is no short infusion
        (15, 9, "bolus"),  # a short plan still cannot be a bolus
        (15, 10, None),
        (100, 45, "far_shorter"),
    ],
)
def test_short_infusion_ladder(planned: int, actual: float, code: str | None) -> None:
    finding = short_infusion(planned_minutes=planned, actual_minutes=actual)
    assert (finding.code if finding else None) == code
    if finding:
        assert finding.needs_reason and "dosing.md section 2" in finding.source
        assert f"of the {planned} planned" in finding.message

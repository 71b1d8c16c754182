"""IV infusion duration (issue 13, rule 5): 0.5 mg/kg over about 40 minutes; the planned minutes are part of the
order; an infusion ended far sooner (a bolus) warns and needs a reason. Worked examples cite dosing.md section 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kapclinic import policy
from kapclinic.clinical.dosing import DosingPolicy
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


def test_the_short_infusion_limits_are_clinic_policy_and_say_so(settings: Any, tmp_path: Path) -> None:
    """dosing.md section 2 gives the standard 40 minutes and the 2-100 minutes reported, but no source for when an
    infusion ended early becomes a bolus: the 10 minutes and the half of the planned minutes are DosingPolicy
    settings (defaults unchanged), named in the finding as clinic policy, and a clinic's policy file changes them."""
    default = DosingPolicy()
    assert (default.iv_bolus_minutes, default.iv_far_shorter_percent) == (10, 50)
    bolus = short_infusion(planned_minutes=40, actual_minutes=5)
    assert bolus is not None and "clinic policy iv_bolus_minutes, not a published figure" in bolus.source
    shorter = short_infusion(planned_minutes=40, actual_minutes=15)
    assert shorter is not None and "clinic policy iv_far_shorter_percent, not a published figure" in shorter.source
    stricter = DosingPolicy(version="clinic-iv-1", iv_bolus_minutes=15, iv_far_shorter_percent=75)
    assert (found := short_infusion(planned_minutes=40, actual_minutes=12, policy=stricter)) and found.code == "bolus"
    assert "under 15 min counts as a bolus" in found.source
    found = short_infusion(planned_minutes=40, actual_minutes=29, policy=stricter)  # under 75% of 40 = 30
    assert found is not None and found.code == "far_shorter" and "under 75% of the planned minutes" in found.source
    assert short_infusion(planned_minutes=40, actual_minutes=30, policy=stricter) is None
    with pytest.raises(ValueError, match="iv_far_shorter_percent must be 1-100"):
        DosingPolicy(version="bad", iv_far_shorter_percent=0)
    with pytest.raises(ValueError, match="iv_bolus_minutes must be at least 1"):
        DosingPolicy(version="bad", iv_bolus_minutes=0)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"dosing": {"version": "clinic-iv-1", "iv_bolus_minutes": 15}}))
    settings.KAPCLINIC_POLICY_FILE = str(path)
    policy._file.cache_clear()
    try:
        assert policy.dosing_policy().iv_bolus_minutes == 15
    finally:
        policy._file.cache_clear()

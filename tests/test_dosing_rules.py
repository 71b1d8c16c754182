"""Dose arithmetic: pure functions, no database.

Expected numbers are typed in from ../shared/domain/dosing.md (section named in each docstring) and worked by
hand, not read back from the module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from unittest.mock import ANY

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical import dosing
from kapclinic.clinical.dosing import (
    DEFAULT_POLICY,
    DoseCalculation,
    DosePlan,
    DosingPolicy,
    HardStop,
    SpravatoCourse,
    TitrationRule,
    calculate_dose,
    check_weight,
    course_week,
    plan_dose_check,
    policy_problems,
    spravato_order_stops,
    spravato_plan_stops,
    target_dose,
    waste_mg,
)

D = Decimal
X, MINUS = "\u00d7", "\u2212"  # the working's multiplication and minus signs (escaped for the linter)
TODAY = date(2026, 11, 24)
# An esketamine dose in week 2 of a TRD course, after a 56 mg start; the ex-US (EU SmPC) 28 mg option.
LATER = SpravatoCourse("trd", doses_before=2, course_week=2)
EX_US = DosingPolicy(version="ex-us-1", intranasal_ex_us_28_mg=True)


def iv(per_kg: str, weight: str, conc: str = "10", **kwargs: Any) -> DoseCalculation:
    return calculate_dose(DosePlan("iv", D(per_kg)), weight_kg=D(weight), concentration=D(conc), **kwargs)


def codes(stops: Iterable[HardStop]) -> list[str]:
    return [stop.code for stop in stops]


# --- Module hygiene -----------------------------------------------------------------------------------------


def test_default_policy_matches_the_notes() -> None:
    """dosing.md §6 hard stops and rounding defaults, typed in."""
    p = DEFAULT_POLICY
    assert (p.iv_max_mg_per_kg, p.im_max_mg_per_kg, p.parenteral_max_mg) == (D("1.0"), D("1.5"), D(150))
    assert (p.sublingual_max_mg, p.intranasal_max_mg, p.intranasal_max_sessions_per_week) == (D(300), D(84), 2)
    assert (p.dose_rounding_mg, p.volume_rounding_small_ml, p.volume_rounding_ml) == (D(1), D("0.01"), D("0.1"))
    assert p.volume_small_below_ml == D(1) and p.weight_max_age_days == 30
    assert p.adjusted_weight_when_obese is False and p.obesity_bmi_threshold == D(30)
    assert p.version == dosing.POLICY_VERSION and dosing.DOSING_RULES_VERSION


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"version": " "}, "version"),
        ({"iv_max_mg_per_kg": D(0)}, "iv_max_mg_per_kg must be above 0"),
        ({"intranasal_max_mg": D(112)}, "cannot exceed the Spravato label's 84 mg"),
        ({"intranasal_max_mg": D(70)}, "whole number of 28 mg devices"),
        ({"intranasal_max_sessions_per_week": 0}, "at least 1"),
        ({"sublingual_unit_step": D(2)}, "at most 1"),
        ({"weight_max_age_days": -1}, "cannot be negative"),
    ],
)
def test_bad_policy_refused(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        DosingPolicy(**{"version": "clinic-2", **change})
    assert policy_problems(DEFAULT_POLICY) == []


# --- Worked examples ----------------------------------------------------------------------------------------


def test_iv_worked_example_10_mg_per_ml() -> None:
    """dosing.md §6 worked example: 78 kg, 0.5 mg/kg IV -> 39 mg; with 10 mg/mL = 3.9 mL."""
    calc = iv("0.5", "78.0", "10")
    assert calc.dose_mg == D(39) and calc.volume_ml == D("3.9") and calc.measured_mg == D(39)
    assert calc.weight_kg == D("78.0") and calc.weight_basis == "actual" and calc.dose_mg_per_kg == D("0.5")
    assert calc.units is None and calc.hard_stops == () and not calc.blocked
    assert calc.working[-3:] == (
        f"0.5 mg/kg {X} 78.0 kg = 39.0 mg.",
        "Rounded to 39 mg (nearest 1 mg, policy).",
        "39 mg ÷ 10 mg/mL = 3.9 mL.",
    )
    assert any("second licensed person" in note for note in calc.notes)


def test_iv_worked_example_50_mg_per_ml() -> None:
    """dosing.md §6: the same 39 mg at 50 mg/mL = 0.78 mL (below 1 mL: nearest 0.01 mL)."""
    calc = iv("0.5", "78.0", "50")
    assert calc.dose_mg == D(39) and calc.volume_ml == D("0.78")
    assert calc.working[-1] == "39 mg ÷ 50 mg/mL = 0.78 mL."


def test_waste_worked_example() -> None:
    """dosing.md §6: 1.0 mL of 50 mg/mL drawn, 0.78 mL given -> waste 0.22 mL = 11 mg."""
    assert waste_mg(D("1.0"), D("0.78"), D(50)) == D(11)
    assert waste_mg(D("1.0"), D("1.0"), D(50)) == D(0)
    with pytest.raises(ValueError, match="more than the volume drawn"):
        waste_mg(D("0.78"), D("1.0"), D(50))
    with pytest.raises(ValueError, match="cannot be negative"):
        waste_mg(D("1.0"), D("-0.1"), D(50))
    with pytest.raises(ValueError, match="concentration"):
        waste_mg(D("1.0"), D("0.5"), D(0))


def test_100_mg_per_ml_iv_needs_dilution_note() -> None:
    """Ketalar PI (dosing.md §1): 100 mg/mL must be diluted before IV use."""
    assert any("diluted" in note for note in iv("0.5", "78.0", "100").notes)
    assert not any("diluted" in note for note in iv("0.5", "78.0", "50").notes)


# --- Rounding -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "dose"),
    [("77.2", 39), ("77.0", 38), ("76.8", 38), ("78.0", 39)],  # 38.6 -> 39; 38.5 (tie) -> 38; 38.4 -> 38
)
def test_mg_rounding_nearest_1_mg_ties_down(weight: str, dose: int) -> None:
    """dosing.md §6: round to the nearest 1 mg [policy]; an exact tie rounds to the lower dose (clinic choice)."""
    assert iv("0.5", weight).dose_mg == D(dose)


def test_volume_rounding_at_and_above_1_ml() -> None:
    """dosing.md §6: 0.1 mL at 1 mL or more. 61 mg at 50 mg/mL = 1.22 mL -> 1.2 mL = 60 mg drawn up."""
    calc = calculate_dose(DosePlan("im", D("0.5")), weight_kg=D(122), concentration=D(50))
    assert calc.dose_mg == D(61) and calc.volume_ml == D("1.2") and calc.measured_mg == D(60)
    assert "61 mg ÷ 50 mg/mL = 1.22 mL, rounded to 1.2 mL (nearest 0.1 mL otherwise, policy)." in calc.working
    assert calc.working[-1] == f"1.2 mL {X} 50 mg/mL = 60 mg drawn up and given."
    # Exactly 1 mL is not "below 1 mL".
    assert calculate_dose(DosePlan("im", D("0.5")), weight_kg=D(100), concentration=D(50)).volume_ml == D("1.0")


def test_volume_below_1_ml_to_0_01_ml() -> None:
    """dosing.md §6: nearest 0.01 mL below 1 mL (tuberculin syringe). 37 mg / 100 mg/mL = 0.37 mL."""
    calc = calculate_dose(DosePlan("im", D("0.5")), weight_kg=D(74), concentration=D(100))
    assert calc.volume_ml == D("0.37") and calc.measured_mg == D(37)


def test_non_terminating_volume_shown_as_approximate() -> None:
    calc = calculate_dose(DosePlan("im", D("0.5")), weight_kg=D(80), concentration=D(30))
    assert calc.volume_ml == D("1.3") and calc.measured_mg == D(39)
    assert "40 mg ÷ 30 mg/mL ≈ 1.333 mL, rounded to 1.3 mL (nearest 0.1 mL otherwise, policy)." in calc.working


# --- Hard stops ---------------------------------------------------------------------------------------------


def test_iv_above_1_mg_per_kg_is_a_hard_stop() -> None:
    """dosing.md §6: IV > 1.0 mg/kg/session is a hard stop [policy]; 1.0 itself is allowed."""
    assert codes(iv("1.1", "70").hard_stops) == ["iv_above_max_mg_per_kg"]
    assert iv("1.0", "70").hard_stops == ()
    stop = iv("1.1", "70").hard_stops[0]
    assert "1.1 mg/kg" in stop.message and "1.0 mg/kg" in stop.message and "written reason" in stop.message
    assert "dosing.md §6" in stop.source


def test_im_above_1_5_mg_per_kg_is_a_hard_stop() -> None:
    """dosing.md §6: IM > 1.5 mg/kg."""
    plan = DosePlan("im", D("1.6"))
    assert codes(calculate_dose(plan, weight_kg=D(60), concentration=D(50)).hard_stops) == ["im_above_max_mg_per_kg"]
    assert calculate_dose(DosePlan("im", D("1.5")), weight_kg=D(60), concentration=D(50)).hard_stops == ()


def test_parenteral_150_mg_cap() -> None:
    """dosing.md §6: any single parenteral dose > 150 mg. 160 kg x 1.0 mg/kg = 160 mg; 150 kg = 150 mg is allowed."""
    calc = iv("1.0", "160", "50")
    assert calc.dose_mg == D(160) and codes(calc.hard_stops) == ["parenteral_above_max_mg"]
    assert "160 mg" in calc.hard_stops[0].message and "150 mg" in calc.hard_stops[0].message
    assert iv("1.0", "150", "50").hard_stops == ()
    # IM 1.5 mg/kg x 101 kg = 151.5 mg -> 151 mg (tie down): still above 150.
    im = calculate_dose(DosePlan("im", D("1.5")), weight_kg=D(101), concentration=D(100))
    assert im.dose_mg == D(151) and codes(im.hard_stops) == ["parenteral_above_max_mg"]


def test_both_parenteral_stops_fire_together() -> None:
    assert codes(iv("1.2", "140", "50").hard_stops) == ["iv_above_max_mg_per_kg", "parenteral_above_max_mg"]


def test_hard_stop_follows_the_policy() -> None:
    strict = replace(DEFAULT_POLICY, version="clinic-2", iv_max_mg_per_kg=D("0.75"))
    assert codes(iv("0.8", "70", policy=strict).hard_stops) == ["iv_above_max_mg_per_kg"]
    assert iv("0.8", "70", policy=strict).policy_version == "clinic-2"


# --- Spravato -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mg", "devices"), [(28, 1), (56, 2), (84, 3)])
def test_spravato_devices(mg: int, devices: int) -> None:
    """dosing.md §1 and Spravato PI 2: 28 mg per device; 56 mg = 2 devices, 84 mg = 3 devices."""
    calc = calculate_dose(DosePlan("intranasal", D(mg)), spravato=LATER, policy=EX_US)
    assert calc.dose_mg == D(mg) and calc.units == D(devices) and calc.unit_name == "device"
    assert calc.volume_ml is None and calc.hard_stops == () and calc.concentration == D(28)
    assert f"{mg} mg ÷ 28 mg per device = {devices} device" in calc.working[-1]


def test_spravato_112_mg_is_a_hard_stop() -> None:
    """dosing.md §6: Spravato > 84 mg/session [policy; the label's maximum is 84 mg]."""
    calc = calculate_dose(DosePlan("intranasal", D(112)), spravato=LATER)
    assert calc.units == D(4) and codes(calc.hard_stops) == ["intranasal_above_max_mg"]


def test_spravato_not_whole_devices_or_wrong_strength_refused() -> None:
    with pytest.raises(ValueError, match="not a whole number of 28 mg Spravato devices"):
        calculate_dose(DosePlan("intranasal", D(70)), spravato=LATER)
    with pytest.raises(ValueError, match="28 mg each"):
        calculate_dose(DosePlan("intranasal", D(56)), concentration=D(14), spravato=LATER)


def test_spravato_third_dose_in_7_days_is_a_hard_stop() -> None:
    """dosing.md §6: Spravato > 2 sessions/week [policy]; Spravato PI 2.1: twice weekly at most."""
    plan = DosePlan("intranasal", D(56))
    assert calculate_dose(plan, doses_in_previous_6_days=1, spravato=LATER).hard_stops == ()
    stops = calculate_dose(plan, doses_in_previous_6_days=2, spravato=LATER).hard_stops
    assert codes(stops) == ["intranasal_above_max_sessions_per_week"] and "dose 3 within 7 days" in stops[0].message


def test_spravato_weight_is_information_only() -> None:
    calc = calculate_dose(DosePlan("intranasal", D(56)), weight_kg=D(80), spravato=LATER)
    assert calc.working[-1] == "That is about 0.7 mg/kg at 80.0 kg (for information)."


# --- Sublingual ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ordered", "strength", "troches", "dose"),
    [
        ("200", "100", 2, 200),
        ("260", "100", 3, 300),  # 2.6 -> 3
        ("240", "100", 2, 200),  # 2.4 -> 2
        ("250", "100", 2, 200),  # 2.5: a tie rounds down
        ("150", "200", 1, 200),  # 0.75 -> 1
    ],
)
def test_sublingual_rounds_to_whole_troches(ordered: str, strength: str, troches: int, dose: int) -> None:
    """dosing.md §6: sublingual rounds to the nearest tablet/troche unit [policy]."""
    calc = calculate_dose(DosePlan("sublingual", D(ordered)), concentration=D(strength))
    assert calc.units == D(troches) and calc.dose_mg == D(dose) and calc.measured_mg == D(dose)
    assert calc.unit_name == "troche" and calc.working[-1] == f"{troches} {X} {strength} mg = {dose} mg."


def test_sublingual_scored_troche_policy() -> None:
    half = replace(DEFAULT_POLICY, version="clinic-2", sublingual_unit_step=D("0.5"))
    calc = calculate_dose(DosePlan("sublingual", D(250)), concentration=D(100), policy=half)
    assert calc.units == D("2.5") and calc.dose_mg == D(250)


def test_sublingual_300_mg_cap_and_too_small() -> None:
    """dosing.md §4 and §6: SL single dose > 300 mg is a hard stop [policy]."""
    assert calculate_dose(DosePlan("sublingual", D(300)), concentration=D(100)).hard_stops == ()
    calc = calculate_dose(DosePlan("sublingual", D(400)), concentration=D(100))
    assert codes(calc.hard_stops) == ["sublingual_above_max_mg"]
    with pytest.raises(ValueError, match="rounds to 0 troches of 100 mg"):
        calculate_dose(DosePlan("sublingual", D(40)), concentration=D(100))


# --- Bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weight", ["0", "-5", "400.1", "900"])
def test_impossible_weight_refused(weight: str) -> None:
    with pytest.raises(ValueError, match="not possible"):
        iv("0.5", weight)


def test_weight_limits_inclusive() -> None:
    assert check_weight(D(400)) == D(400) and check_weight(D("0.1")) == D("0.1")


def test_other_bad_input_refused() -> None:
    with pytest.raises(ValueError, match="today's weight is needed"):
        calculate_dose(DosePlan("iv", D("0.5")), concentration=D(10))
    with pytest.raises(ValueError, match="concentration"):
        iv("0.5", "78", "0")
    with pytest.raises(ValueError, match="concentration"):
        calculate_dose(DosePlan("im", D("0.5")), weight_kg=D(78))
    with pytest.raises(ValueError, match="Unknown route 'oral'"):
        DosePlan("oral", D(100))
    with pytest.raises(ValueError, match="starting dose must be above 0"):
        DosePlan("iv", D(0))
    with pytest.raises(ValueError, match="not float"):
        calculate_dose(DosePlan("iv", D("0.5")), weight_kg=78.0, concentration=D(10))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="strength"):
        calculate_dose(DosePlan("sublingual", D(200)))
    with pytest.raises(ValueError, match="Unknown route"):
        plan_dose_check("rectal", D(1), 1)


def test_weight_age() -> None:
    """monitoring.md §1 / dosing.md §6: re-weigh if older than 30 days [policy]."""
    assert iv("0.5", "78", weight_measured_on=TODAY - timedelta(days=30), today=TODAY).dose_mg == D(39)
    with pytest.raises(ValueError, match="31 days ago"):
        iv("0.5", "78", weight_measured_on=TODAY - timedelta(days=31), today=TODAY)
    with pytest.raises(ValueError, match="after today"):
        iv("0.5", "78", weight_measured_on=TODAY + timedelta(days=1), today=TODAY)


# --- Obesity option -----------------------------------------------------------------------------------------

OBESE = replace(DEFAULT_POLICY, version="clinic-obese", adjusted_weight_when_obese=True)


def test_obesity_option_off_by_default_uses_actual_weight() -> None:
    """dosing.md §6: actual body weight, as in most trials."""
    calc = iv("0.5", "110", height_cm=D(175), sex_at_birth="male")
    assert calc.weight_kg == D(110) and calc.weight_basis == "actual" and calc.dose_mg == D(55)


def test_obesity_option_adjusted_body_weight_male() -> None:
    """dosing.md §6: BMI >= 30 -> AdjBW = IBW + 0.4 (TBW - IBW); Devine IBW male 50 kg + 2.3 kg/inch over 60 in.

    175 cm = 68.9 in -> 8.9 in over 60; IBW 50 + 20.47 = 70.5 kg; AdjBW 70.5 + 0.4 x 39.5 = 86.3 kg;
    0.5 mg/kg x 86.3 = 43.15 -> 43 mg. BMI 110 / 1.75^2 = 35.9.
    """
    calc = iv("0.5", "110", height_cm=D(175), sex_at_birth="male", policy=OBESE)
    assert calc.weight_basis == "adjusted" and calc.weight_kg == D("86.3") and calc.actual_weight_kg == D(110)
    assert calc.dose_mg == D(43)
    assert f"IBW (Devine, male) = 50 kg + 2.3 kg {X} 8.9 in over 60 in = 70.5 kg." in calc.working
    assert f"AdjBW = 70.5 + 0.4 {X} (110.0 {MINUS} 70.5) = 86.3 kg." in calc.working


def test_obesity_option_female_and_unknown_sex() -> None:
    """Devine female 45.5 kg base: IBW 66.0 kg; AdjBW 66.0 + 0.4 x 44.0 = 83.6 kg. Other sex -> female formula."""
    female = iv("0.5", "110", height_cm=D(175), sex_at_birth="female", policy=OBESE)
    assert female.weight_kg == D("83.6")
    other = iv("0.5", "110", height_cm=D(175), sex_at_birth="intersex", policy=OBESE)
    assert other.weight_kg == D("83.6") and any("female formula" in line for line in other.working)


def test_obesity_option_below_threshold_and_missing_height() -> None:
    # 91.5 kg at 175 cm: BMI 29.9 < 30 -> actual weight.
    assert iv("0.5", "91.5", height_cm=D(175), sex_at_birth="male", policy=OBESE).weight_basis == "actual"
    with pytest.raises(ValueError, match="height is needed"):
        iv("0.5", "110", policy=OBESE)


# --- Titration ----------------------------------------------------------------------------------------------

STEP = TitrationRule("step", D("0.25"), D("1.0"), after_sessions=2)
IV_STEP = DosePlan("iv", D("0.5"), STEP)


def test_titration_describe() -> None:
    assert TitrationRule().describe() == "No titration: the same dose every session."
    assert STEP.describe("mg/kg") == (
        "Step up by 0.25 mg/kg at a session the prescriber marks to escalate, from session 3 on, never above "
        "1.0 mg/kg or the policy maximum."
    )


def test_titration_steps_only_when_escalated_and_stops_at_the_ceiling() -> None:
    """dosing.md §2: non-responders after 2-3 infusions are often escalated to 0.75 then 1.0 mg/kg."""
    assert target_dose(IV_STEP, session_number=1).dose == D("0.5")
    assert target_dose(IV_STEP, session_number=3, previous_dose=D("0.5")).dose == D("0.5")
    up = target_dose(IV_STEP, session_number=3, escalate=True, previous_dose=D("0.5"))
    assert up.dose == D("0.75") and up.escalated
    assert up.working[-1] == "0.5 mg/kg + step 0.25 mg/kg = 0.75 mg/kg (escalated at session 3)."
    assert target_dose(IV_STEP, session_number=4, escalate=True, previous_dose=D("0.75")).dose == D("1.0")
    top = target_dose(IV_STEP, session_number=5, escalate=True, previous_dose=D("1.0"))
    assert top.dose == D("1.0") and not top.escalated and "no further step" in top.working[-1]


def test_titration_capped_at_ceiling_and_policy_maximum() -> None:
    capped = DosePlan("iv", D("0.5"), TitrationRule("step", D("0.4"), D("0.8")))
    result = target_dose(capped, session_number=2, escalate=True, previous_dose=D("0.5"))
    assert result.dose == D("0.8") and "capped at the plan's ceiling 0.8 mg/kg" in result.working[-1]
    above_policy = DosePlan("iv", D("0.5"), TitrationRule("step", D("0.4"), D("1.5")))
    result = target_dose(above_policy, session_number=2, escalate=True, previous_dose=D("0.9"))
    assert result.dose == D("1.0") and "the policy maximum 1.0 mg/kg" in result.working[-1]
    # A lowered ceiling brings a higher previous dose down.
    assert target_dose(capped, session_number=3, previous_dose=D("0.9")).dose == D("0.8")


def test_titration_refusals() -> None:
    with pytest.raises(ValueError, match="from session 3; this is session 2"):
        target_dose(IV_STEP, session_number=2, escalate=True)
    with pytest.raises(ValueError, match="no titration"):
        target_dose(DosePlan("iv", D("0.5")), session_number=2, escalate=True)
    with pytest.raises(ValueError, match="start at 1"):
        target_dose(IV_STEP, session_number=0)
    with pytest.raises(ValueError, match="below the starting dose"):
        DosePlan("iv", D("0.5"), TitrationRule("step", D("0.25"), D("0.4")))
    with pytest.raises(ValueError, match="titration step is missing"):
        TitrationRule("step", None, D("1.0"))
    with pytest.raises(ValueError, match="Unknown titration"):
        TitrationRule("ramp")


def test_titration_flows_into_the_calculation() -> None:
    calc = calculate_dose(
        IV_STEP, weight_kg=D(80), concentration=D(10), session_number=3, escalate=True, previous_dose=D("0.5")
    )
    assert calc.dose_mg == D(60) and calc.volume_ml == D(6) and calc.escalated and calc.dose_mg_per_kg == D("0.75")


def test_spravato_titration_from_56_to_84_mg() -> None:
    """Spravato US PI 2.1: day 1 56 mg, later 56 or 84 mg (one device more)."""
    plan = DosePlan("intranasal", D(56), TitrationRule("step", D(28), D(84)))
    second = SpravatoCourse("trd", doses_before=1)
    calc = calculate_dose(plan, session_number=2, escalate=True, previous_dose=D(56), spravato=second)
    assert calc.dose_mg == D(84) and calc.units == D(3) and calc.hard_stops == ()
    assert calculate_dose(plan, session_number=3, escalate=True, previous_dose=D(84), spravato=LATER).dose_mg == D(84)


# --- Plan checks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "dose", "per_week", "expected"),
    [
        ("iv", "1.0", "2", []),
        ("iv", "1.1", "2", ["iv_above_max_mg_per_kg"]),
        ("im", "1.5", "1", []),
        ("im", "1.6", "1", ["im_above_max_mg_per_kg"]),
        ("sublingual", "300", "1", []),
        ("sublingual", "301", "1", ["sublingual_above_max_mg"]),
        ("intranasal", "84", "2", []),
        ("intranasal", "112", "2", ["intranasal_above_max_mg"]),
        ("intranasal", "60", "1", ["intranasal_not_whole_devices"]),
        ("intranasal", "56", "3.5", ["intranasal_above_max_sessions_per_week"]),
        ("iv", "0.5", "3.5", []),  # the weekly limit is Spravato's only
    ],
)
def test_plan_dose_check(route: str, dose: str, per_week: str, expected: list[str]) -> None:
    """dosing.md §6 hard stops for a plan: starting dose above the route maximum; Spravato > 2/week."""
    assert codes(plan_dose_check(route=route, dose=D(dose), sessions_per_week=D(per_week))) == expected


def test_plan_check_every_3_days_is_above_twice_weekly() -> None:
    """A fixed 3-day interval is 7/3 = 2.33 a week (days 0, 3, 6 fall in one week); 4 days is 1.75."""
    stops = plan_dose_check(route="intranasal", dose=D(56), sessions_per_week=D(7) / D(3), policy=DEFAULT_POLICY)
    assert codes(stops) == ["intranasal_above_max_sessions_per_week"] and "2.33" in stops[0].message
    assert plan_dose_check(route="intranasal", dose=D(56), sessions_per_week=D(7) / D(4)) == []


def test_plan_check_ceiling() -> None:
    stops = plan_dose_check("iv", D("0.5"), 2, ceiling=D("1.25"))
    assert codes(stops) == ["iv_above_max_mg_per_kg_ceiling"] and "titration ceiling 1.25 mg/kg" in stops[0].message


def test_calculation_is_json_ready() -> None:
    data = iv("1.1", "78.0", "50").as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["dose_mg"] == "86" and data["volume_ml"] == "1.7"
    assert data["hard_stops"] == [
        {"code": "iv_above_max_mg_per_kg", "message": ANY, "source": dosing.SOURCE_IV_MAX},
    ]


# --- Properties ---------------------------------------------------------------------------------------------

per_kg = st.decimals(min_value=D("0.1"), max_value=D("1.5"), places=2)
weights = st.decimals(min_value=D("30"), max_value=D("200"), places=1)
strengths = st.sampled_from([D(10), D(50), D(100)])


@given(route=st.sampled_from(["iv", "im"]), dose=per_kg, weight=weights, conc=strengths)
def test_parenteral_properties(route: str, dose: Decimal, weight: Decimal, conc: Decimal) -> None:
    calc = calculate_dose(DosePlan(route, dose), weight_kg=weight, concentration=conc)
    raw = dose * weight
    # The dose is the one the working names, within half a milligram of mg/kg x kg.
    assert f"Rounded to {calc.dose_mg.normalize():f} mg (nearest 1 mg, policy)." in calc.working
    assert abs(calc.dose_mg - raw) <= D("0.5") and calc.dose_mg == calc.dose_mg.to_integral_value()
    # Volume x concentration is what is drawn, within half a volume step of the dose.
    assert calc.volume_ml is not None
    assert calc.volume_ml * conc == calc.measured_mg
    step = D("0.01") if calc.dose_mg / conc < 1 else D("0.1")
    assert abs(calc.measured_mg - calc.dose_mg) <= step / 2 * conc
    # Hard stops fire exactly when a limit is passed.
    limit = D("1.0") if route == "iv" else D("1.5")
    assert (f"{route}_above_max_mg_per_kg" in codes(calc.hard_stops)) == (dose > limit)
    big = max(calc.dose_mg, calc.measured_mg) > 150
    assert ("parenteral_above_max_mg" in codes(calc.hard_stops)) == big


@given(ordered=st.integers(min_value=50, max_value=600), strength=st.sampled_from([D(50), D(100), D(200)]))
def test_sublingual_properties(ordered: int, strength: Decimal) -> None:
    if D(ordered) / strength <= D("0.5"):  # rounds to no troche: refused, tested above
        return
    calc = calculate_dose(DosePlan("sublingual", D(ordered)), concentration=strength)
    assert calc.units is not None and calc.units == calc.units.to_integral_value()
    assert calc.units * strength == calc.dose_mg and abs(calc.dose_mg - ordered) <= strength / 2
    assert ("sublingual_above_max_mg" in codes(calc.hard_stops)) == (calc.dose_mg > 300)


@given(
    start=st.decimals(min_value=D("0.1"), max_value=D("1.0"), places=2),
    step=st.decimals(min_value=D("0.05"), max_value=D("0.5"), places=2),
    extra=st.decimals(min_value=D("0"), max_value=D("1.0"), places=2),
    escalations=st.lists(st.booleans(), max_size=8),
)
def test_titration_never_passes_ceiling_or_policy(
    start: Decimal, step: Decimal, extra: Decimal, escalations: list[bool]
) -> None:
    ceiling = start + extra
    plan = DosePlan("iv", start, TitrationRule("step", step, ceiling))
    previous = None
    for number, escalate in enumerate(escalations, start=2):
        result = target_dose(plan, session_number=number, escalate=escalate, previous_dose=previous)
        bound = max(start, min(ceiling, D("1.0")))
        assert (previous or start) <= result.dose <= bound
        if not escalate:
            assert result.dose == (previous or start)
        previous = result.dose


@given(
    drawn=st.decimals(min_value=D("0.1"), max_value=D("20"), places=2),
    fraction=st.decimals(min_value=D("0"), max_value=D("1"), places=2),
    conc=strengths,
)
def test_waste_balances(drawn: Decimal, fraction: Decimal, conc: Decimal) -> None:
    given_ml = (drawn * fraction).quantize(D("0.01"))
    if given_ml > drawn:
        return
    assert waste_mg(drawn, given_ml, conc) + given_ml * conc == drawn * conc


# --- Spravato US dosing by indication and phase (issue 13, rule 4; dosing.md §5, corrected 2026-12-04) -------


def spravato_codes(
    dose: int, course: SpravatoCourse, recent: int | None = 0, policy: DosingPolicy = DEFAULT_POLICY
) -> list[str]:
    return codes(spravato_order_stops(D(dose), course, recent, policy))


def test_trd_course_starts_at_56_mg_and_84_mg_only_after_a_56_mg_start() -> None:
    """Spravato US PI 2.1 (spravatohcp dosing page): TRD day 1 56 mg; 84 mg only after a 56 mg start."""
    first = SpravatoCourse("trd")
    assert spravato_codes(56, first) == []
    assert spravato_codes(84, first) == ["intranasal_trd_first_dose"]
    stop = spravato_order_stops(D(84), first, 0)[0]
    assert "56 mg on day 1" in stop.message and "Spravato US PI 2.1" in stop.source
    assert spravato_codes(84, SpravatoCourse("trd", doses_before=1)) == []
    # The whole calculation carries the stop and says where the dose falls.
    calc = calculate_dose(DosePlan("intranasal", D(84)), spravato=first)
    assert codes(calc.hard_stops) == ["intranasal_trd_first_dose"]
    assert "Indication TRD; week 1 of the course, 0 esketamine doses before this one." in calc.working


def test_mdsi_may_start_at_84_mg_for_four_weeks() -> None:
    """Spravato US PI 2.2: MDSI 84 mg twice weekly for 4 weeks (may reduce to 56 mg), then reassess."""
    assert spravato_codes(84, SpravatoCourse("mdsi")) == []
    assert spravato_codes(56, SpravatoCourse("mdsi", doses_before=3, course_week=2), recent=1) == []
    assert spravato_codes(84, SpravatoCourse("mdsi", doses_before=8, course_week=5)) == [
        "intranasal_mdsi_beyond_4_weeks"
    ]


def test_an_esketamine_order_needs_the_indication() -> None:
    """The two indications dose differently, so no esketamine dose is calculated without one."""
    for course in (None, SpravatoCourse(None)):
        with pytest.raises(ValueError, match=r"indication .* is needed before the first esketamine order"):
            calculate_dose(DosePlan("intranasal", D(56)), spravato=course)
    with pytest.raises(ValueError, match="Unknown esketamine indication"):
        SpravatoCourse("ocd")


@pytest.mark.parametrize(
    ("week", "recent", "expected"),
    [
        (1, 1, []),  # weeks 1-4: twice weekly
        (4, 2, ["intranasal_above_max_sessions_per_week"]),
        (5, 0, []),
        (5, 1, ["intranasal_above_max_sessions_per_week"]),  # weeks 5-8: once weekly
        (9, 1, ["intranasal_above_max_sessions_per_week"]),  # week 9 on: weekly or every 2 weeks
        (9, 0, []),
    ],
)
def test_frequency_by_phase(week: int, recent: int, expected: list[str]) -> None:
    """Spravato US PI 2.1: weeks 1-4 up to twice weekly, weeks 5-8 once weekly, week 9 on weekly or every 2
    weeks (the benefit review is done, so only the frequency shows here)."""
    course = SpravatoCourse("trd", doses_before=9, course_week=week, benefit_reviewed=True)
    assert spravato_codes(56, course, recent=recent) == expected
    if expected:
        assert f"week {week} of the course" in spravato_order_stops(D(56), course, recent)[0].message


def test_benefit_review_at_the_end_of_induction() -> None:
    """Spravato US PI 2.1: evaluate the therapeutic benefit at the end of induction (week 4) before continuing;
    the prescriber's written reason is the review, and once it is recorded the stop does not return."""
    week5 = SpravatoCourse("trd", doses_before=8, course_week=5)
    assert spravato_codes(56, week5) == ["intranasal_benefit_review_due"]
    assert spravato_codes(56, SpravatoCourse("trd", doses_before=8, course_week=5, benefit_reviewed=True)) == []
    assert spravato_codes(56, SpravatoCourse("trd", doses_before=7, course_week=4)) == []


def test_28_mg_is_an_ex_us_option_off_by_default() -> None:
    """dosing.md §5 (corrected 2026-12-04): 28 mg doses and steps come from the EU SmPC, not the US label, whose
    doses are 56 or 84 mg. Off by default; the message no longer cites the US label for them."""
    assert DEFAULT_POLICY.intranasal_ex_us_28_mg is False
    stop = spravato_order_stops(D(28), LATER, 0)[0]
    assert stop.code == "intranasal_not_label_dose"
    assert "not a US label dose (56 or 84 mg)" in stop.message and "ex-US (EU SmPC)" in stop.message
    assert "EU SmPC" in stop.source and "28 mg steps" not in stop.source.split(";")[0]
    ex_us = calculate_dose(DosePlan("intranasal", D(28)), spravato=SpravatoCourse("trd"), policy=EX_US)
    assert ex_us.hard_stops == () and any("ex-US dosing" in note for note in ex_us.notes)
    # A part of a device is refused with the clinic's own dose list, without claiming 28 mg steps for the US.
    with pytest.raises(ValueError, match=r"use 56 mg or 84 mg \(Spravato US PI 2.1-2.2"):
        calculate_dose(DosePlan("intranasal", D(70)), spravato=LATER)
    message = plan_dose_check("intranasal", D(60), 1)[0].message
    assert "use 56 mg or 84 mg" in message and "28," not in message


def test_course_week_counts_from_the_first_dose() -> None:
    first = date(2027, 1, 4)
    assert course_week(None, first) == 1
    assert [course_week(first, first + timedelta(days=d)) for d in (0, 6, 7, 27, 28, 56)] == [1, 1, 2, 4, 5, 9]
    with pytest.raises(ValueError):
        course_week(first, first - timedelta(days=1))


def twice_weekly(count: int, start: int = 0) -> list[int]:
    # schedule.session_dates' twice weekly: 3 then 4 days.
    return [start + (i // 2) * 7 + (i % 2) * 3 for i in range(count)]


def test_plan_follows_the_label_schedule() -> None:
    """Spravato US PI 2.1-2.2 for a plan: TRD starts at 56 mg unless it continues a course; induction twice
    weekly for 4 weeks, then once weekly; MDSI for 4 weeks."""
    assert spravato_plan_stops("trd", D(56), twice_weekly(8)) == []
    assert codes(spravato_plan_stops("trd", D(84), twice_weekly(8))) == ["intranasal_trd_first_dose"]
    assert spravato_plan_stops("trd", D(84), [28, 35, 42, 49], continues_course=True) == []
    too_long = spravato_plan_stops("trd", D(56), twice_weekly(12))
    assert codes(too_long) == ["intranasal_above_phase_frequency"] and "week 5" in too_long[0].message
    assert codes(spravato_plan_stops("mdsi", D(84), twice_weekly(10))) == ["intranasal_mdsi_beyond_4_weeks"]
    assert codes(spravato_plan_stops("trd", D(28), twice_weekly(8))) == ["intranasal_not_label_dose"]
    assert spravato_plan_stops("trd", D(28), twice_weekly(8), policy=EX_US) == []
    assert codes(spravato_plan_stops("trd", D(56), twice_weekly(8), step=D(14), ceiling=D(84))) == [
        "intranasal_not_whole_devices_step"
    ]
    with pytest.raises(ValueError, match="indication"):
        spravato_plan_stops(None, D(56), twice_weekly(8))

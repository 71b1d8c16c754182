"""Monitoring rules: pure functions, no database.

Thresholds, schedules and criteria are typed in from ../shared/domain/monitoring.md (section named in each
docstring), and every threshold is tested on both sides of its edge.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical import monitoring
from kapclinic.clinical.monitoring import (
    DEFAULT_POLICY,
    PLAUSIBLE_VITALS,
    MonitoringPolicy,
    VitalReading,
    all_met,
    discharge_check,
    next_reading_due,
    observation_minutes,
    policy_problems,
    predose_clearance,
    reading_alerts,
    reading_problems,
    vitals_schedule,
)

NORMAL = VitalReading(systolic=120, diastolic=80, heart_rate=70, spo2=98, respiratory_rate=14)


def vitals(**change: int | None) -> VitalReading:
    return replace(NORMAL, **change)


def predose(**change: Any) -> tuple[str, list[tuple[str, str]]]:
    moaas = change.pop("moaas", None)
    suicide = change.pop("suicide_risk_high", False)
    policy = change.pop("policy", DEFAULT_POLICY)
    clearance = predose_clearance(vitals(**change), moaas=moaas, suicide_risk_high=suicide, policy=policy)
    return clearance.status, [(f.code, f.level) for f in clearance.findings]


def alert_codes(reading: VitalReading, moaas: int | None = None) -> list[tuple[str, str]]:
    return [(a.code, a.level) for a in reading_alerts(reading, moaas=moaas)]


# --- Module hygiene and policy ------------------------------------------------------------------------------


def test_default_policy_matches_the_notes() -> None:
    """monitoring.md §3 thresholds and §6 observation times, typed in."""
    p = DEFAULT_POLICY
    assert (p.predose_systolic_warn, p.predose_systolic_hold, p.predose_systolic_do_not_dose) == (140, 160, 180)
    assert (p.predose_diastolic_warn, p.predose_diastolic_hold, p.predose_diastolic_do_not_dose) == (90, 100, 110)
    assert (p.predose_hr_low, p.predose_hr_high, p.predose_spo2_low, p.predose_rr_low) == (50, 110, 94, 10)
    assert (p.alert_systolic, p.alert_diastolic, p.alert_hr_high, p.alert_hr_low) == (180, 110, 120, 50)
    assert (p.alert_spo2_low, p.alert_rr_low) == (94, 10)
    assert (p.critical_systolic, p.critical_diastolic, p.critical_hr_high, p.critical_spo2_low) == (200, 120, 140, 90)
    assert p.critical_rr_low == 8
    assert (p.discharge_systolic_below, p.discharge_diastolic_below, p.discharge_spo2_min) == (160, 100, 94)
    assert (p.discharge_hr_low, p.discharge_hr_high, p.discharge_baseline_margin_percent) == (50, 110, 20)
    assert [observation_minutes(r) for r in ("intranasal", "iv", "im", "sublingual")] == [120, 30, 120, 120]
    assert p.version == monitoring.POLICY_VERSION and policy_problems(p) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"observation_minutes_intranasal": 90}, "Spravato label's 120 minutes"),
        ({"predose_systolic_hold": 130}, "warn <= hold <= do not dose"),
        ({"predose_review_level": "ignore"}, "'warn' or 'hold'"),
        ({"critical_spo2_low": 95}, "critical limits must not exceed"),
        ({"iv_infusion_minutes": 0}, "iv_infusion_minutes must be above 0"),
        ({"version": ""}, "needs a version"),
    ],
)
def test_bad_policy_refused(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        MonitoringPolicy(**{"version": "clinic-2", **change})


# --- Plausibility -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"heart_rate": 0}, "Heart rate 0 /min is outside the plausible range 20-250"),
        ({"heart_rate": 400}, "Heart rate 400 /min is outside"),
        ({"systolic": 49}, "Systolic BP 49 mmHg is outside"),
        ({"systolic": 301}, "Systolic BP 301"),
        ({"diastolic": 201, "systolic": 250}, "Diastolic BP 201"),
        ({"spo2": 101}, "SpO₂ 101 %"),
        ({"respiratory_rate": 1}, "Respiratory rate 1 /min"),
        ({"systolic": 80, "diastolic": 90}, "Systolic 80 mmHg is not above diastolic 90 mmHg"),
        ({"systolic": 90, "diastolic": 90}, "not above diastolic"),
    ],
)
def test_implausible_readings_rejected(change: dict[str, int], fragment: str) -> None:
    reading = vitals(**change)
    assert any(fragment in problem for problem in reading_problems(reading))
    with pytest.raises(ValueError, match="Implausible"):
        predose_clearance(reading)
    with pytest.raises(ValueError, match="Implausible"):
        reading_alerts(reading)


def test_plausible_edges_accepted() -> None:
    for name, (low, high, _) in PLAUSIBLE_VITALS.items():
        for value in (low, high):
            reading = VitalReading(**{name: value})
            assert reading_problems(reading) == [], (name, value)
    assert reading_problems(VitalReading(heart_rate=True)) == ["Heart rate must be a whole number, not True."]


def test_empty_reading_refused() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        VitalReading()


# --- Pre-dose clearance (§1, §3) ----------------------------------------------------------------------------


def test_normal_reading_clears() -> None:
    clearance = predose_clearance(NORMAL)
    assert clearance.status == "clear" and clearance.findings == () and not clearance.needs_override


@pytest.mark.parametrize(
    ("systolic", "status", "findings"),
    [
        (140, "clear", []),
        (141, "clear", [("bp_systolic_warn", "warn")]),
        (159, "clear", [("bp_systolic_warn", "warn")]),
        (160, "hold", [("bp_systolic_hold", "hold")]),
        (179, "hold", [("bp_systolic_hold", "hold")]),
        (180, "do_not_dose", [("bp_systolic_do_not_dose", "do_not_dose")]),
    ],
)
def test_predose_systolic_edges(systolic: int, status: str, findings: list[tuple[str, str]]) -> None:
    """monitoring.md §3: > 140 warn (Spravato PI example of elevated); >= 160 hold; >= 180 do not dose [policy]."""
    assert predose(systolic=systolic) == (status, findings)


@pytest.mark.parametrize(
    ("diastolic", "status", "findings"),
    [
        (90, "clear", []),
        (91, "clear", [("bp_diastolic_warn", "warn")]),
        (99, "clear", [("bp_diastolic_warn", "warn")]),
        (100, "hold", [("bp_diastolic_hold", "hold")]),
        (109, "hold", [("bp_diastolic_hold", "hold")]),
        (110, "do_not_dose", [("bp_diastolic_do_not_dose", "do_not_dose")]),
    ],
)
def test_predose_diastolic_edges(diastolic: int, status: str, findings: list[tuple[str, str]]) -> None:
    """monitoring.md §3: > 90 warn; >= 100 hold; >= 110 do not dose."""
    assert predose(systolic=130, diastolic=diastolic) == (status, findings)


@pytest.mark.parametrize(
    ("change", "status", "findings"),
    [
        ({"heart_rate": 50}, "clear", []),
        ({"heart_rate": 49}, "hold", [("hr_low", "hold")]),
        ({"heart_rate": 110}, "clear", []),
        ({"heart_rate": 111}, "hold", [("hr_high", "hold")]),
        ({"spo2": 94}, "clear", []),
        ({"spo2": 93}, "hold", [("spo2_low", "hold")]),
        ({"respiratory_rate": 10}, "clear", []),
        ({"respiratory_rate": 9}, "hold", [("rr_low", "hold")]),
        ({"respiratory_rate": None}, "clear", []),  # RR is optional before the dose (§1)
        ({"moaas": 5}, "clear", []),
        ({"moaas": 4}, "do_not_dose", [("moaas_below_required", "do_not_dose")]),
        ({"suicide_risk_high": True}, "do_not_dose", [("suicide_risk_high", "do_not_dose")]),
        ({"systolic": None}, "hold", [("bp_missing", "hold")]),
        ({"heart_rate": None}, "hold", [("hr_missing", "hold")]),
        ({"spo2": None}, "hold", [("spo2_missing", "hold")]),
    ],
)
def test_predose_other_edges(change: dict[str, Any], status: str, findings: list[tuple[str, str]]) -> None:
    """monitoring.md §3: HR < 50 or > 110, SpO2 < 94, RR < 10 review (held for the prescriber by default);
    MOAA/S < 5 do not dose; §1: high suicide risk do not dose; BP, HR, SpO2 recorded before dosing."""
    assert predose(**change) == (status, findings)


def test_review_level_can_be_warn() -> None:
    lenient = replace(DEFAULT_POLICY, version="clinic-2", predose_review_level="warn")
    assert predose(heart_rate=115, policy=lenient) == ("clear", [("hr_high", "warn")])


def test_worst_finding_wins_and_comes_first() -> None:
    clearance = predose_clearance(vitals(systolic=165, diastolic=112, heart_rate=115))
    assert clearance.status == "do_not_dose"
    assert [(f.code, f.level) for f in clearance.findings] == [
        ("bp_diastolic_do_not_dose", "do_not_dose"),
        ("bp_systolic_hold", "hold"),
        ("hr_high", "hold"),
    ]
    assert json.loads(json.dumps(clearance.as_dict()))["status"] == "do_not_dose"


def test_predose_messages_carry_numbers_and_sources() -> None:
    finding = predose_clearance(vitals(systolic=165)).findings[0]
    assert "165 mmHg" in finding.message and "160 mmHg" in finding.message
    assert "Spravato PI" in finding.source and "monitoring.md §3" in finding.source
    with pytest.raises(ValueError, match="MOAA/S is scored 0-5"):
        predose_clearance(NORMAL, moaas=6)


# --- Intra/post-dose alerts (§3) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"systolic": 180}, []),
        ({"systolic": 181}, [("bp_systolic_high", "alert")]),
        ({"systolic": 200}, [("bp_systolic_high", "alert")]),
        ({"systolic": 201}, [("bp_systolic_critical", "critical")]),
        ({"systolic": 170, "diastolic": 110}, []),
        ({"systolic": 170, "diastolic": 111}, [("bp_diastolic_high", "alert")]),
        ({"systolic": 170, "diastolic": 120}, [("bp_diastolic_high", "alert")]),
        ({"systolic": 170, "diastolic": 121}, [("bp_diastolic_critical", "critical")]),
        ({"heart_rate": 120}, []),
        ({"heart_rate": 121}, [("hr_high", "alert")]),
        ({"heart_rate": 140}, [("hr_high", "alert")]),
        ({"heart_rate": 141}, [("hr_critical", "critical")]),
        ({"heart_rate": 50}, []),
        ({"heart_rate": 49}, [("hr_low", "alert")]),
        ({"spo2": 94}, []),
        ({"spo2": 93}, [("spo2_low", "alert")]),
        ({"spo2": 90}, [("spo2_low", "alert")]),
        ({"spo2": 89}, [("spo2_critical", "critical")]),
        ({"respiratory_rate": 10}, []),
        ({"respiratory_rate": 9}, [("rr_low", "alert")]),
        ({"respiratory_rate": 8}, [("rr_low", "alert")]),
        ({"respiratory_rate": 7}, [("rr_critical", "critical")]),
    ],
)
def test_alert_edges(change: dict[str, int], expected: list[tuple[str, str]]) -> None:
    """monitoring.md §3: alert systolic > 180, diastolic > 110, HR > 120 or < 50, SpO2 < 94, RR < 10;
    act/stop systolic > 200, diastolic > 120, HR > 140, SpO2 < 90, RR < 8."""
    assert alert_codes(vitals(**change)) == expected


@pytest.mark.parametrize(
    ("moaas", "expected"),
    [
        (5, []),
        (4, []),
        (3, [("sedation_deep", "alert")]),
        (2, [("sedation_deep", "alert")]),
        (1, [("sedation_critical", "critical")]),
        (0, [("sedation_critical", "critical")]),
    ],
)
def test_sedation_alerts(moaas: int, expected: list[tuple[str, str]]) -> None:
    """instruments.md MOAA/S defaults [policy]: <= 3 sedated; <= 1 emergency."""
    assert alert_codes(NORMAL, moaas=moaas) == expected


def test_alert_text_fits_the_alert_record() -> None:
    """MonitoringAlert stores message and source in 300 characters."""
    worst = VitalReading(systolic=250, diastolic=130, heart_rate=160, spo2=80, respiratory_rate=5)
    mild = VitalReading(systolic=190, diastolic=115, heart_rate=45, spo2=92, respiratory_rate=9)
    alerts = reading_alerts(worst, moaas=0) + reading_alerts(mild, moaas=3)
    assert len(alerts) == 12
    for alert in alerts:
        assert len(alert.message) <= 300 and len(alert.source) <= 300 and len(alert.code) <= 40
    assert "250 mmHg" in alerts[0].message and "200 mmHg" in alerts[0].message


# --- Discharge (§6) -----------------------------------------------------------------------------------------

READY: dict[str, Any] = {
    "route": "intranasal",
    "minutes_since_dose": 125,
    "last_reading": VitalReading(systolic=138, diastolic=86, heart_rate=76, spo2=97),
    "previous_reading": VitalReading(systolic=142, diastolic=88, heart_rate=78, spo2=97),
    "moaas": 5,
    "oriented": True,
    "walks_steadily": True,
    "nausea_controlled": True,
    "new_suicidal_ideation": False,
    "escort_present": True,
}
ORDER = ["observation_time", "alert_oriented", "vitals", "walks_steadily", "no_new_suicidal_ideation", "escort_present"]


def unmet(**change: Any) -> list[str]:
    return [c.code for c in discharge_check(**{**READY, **change}) if not c.met]


def test_discharge_all_met_in_order() -> None:
    criteria = discharge_check(**READY)
    assert [c.code for c in criteria] == ORDER and all_met(criteria)
    assert all_met([]) is False


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({"minutes_since_dose": 119}, "observation_time"),
        ({"moaas": 4}, "alert_oriented"),
        ({"moaas": None}, "alert_oriented"),
        ({"oriented": False}, "alert_oriented"),
        ({"cadss": 5}, "alert_oriented"),
        ({"last_reading": VitalReading(systolic=160, diastolic=86, heart_rate=76, spo2=97)}, "vitals"),
        ({"last_reading": VitalReading(systolic=150, diastolic=100, heart_rate=76, spo2=97)}, "vitals"),
        ({"last_reading": VitalReading(systolic=138, diastolic=86, heart_rate=111, spo2=97)}, "vitals"),
        ({"last_reading": VitalReading(systolic=138, diastolic=86, heart_rate=49, spo2=97)}, "vitals"),
        ({"last_reading": VitalReading(systolic=138, diastolic=86, heart_rate=76, spo2=93)}, "vitals"),
        ({"last_reading": VitalReading(systolic=138, diastolic=86, heart_rate=76)}, "vitals"),
        ({"last_reading": None}, "vitals"),
        ({"walks_steadily": False}, "walks_steadily"),
        ({"nausea_controlled": False}, "walks_steadily"),
        ({"walks_steadily": None}, "walks_steadily"),
        ({"new_suicidal_ideation": True}, "no_new_suicidal_ideation"),
        ({"new_suicidal_ideation": None}, "no_new_suicidal_ideation"),
        ({"escort_present": False}, "escort_present"),
        ({"escort_present": None}, "escort_present"),
    ],
)
def test_each_discharge_criterion_can_fail(change: dict[str, Any], failed: str) -> None:
    """monitoring.md §6, criteria 1-6 [policy]: each one alone holds the discharge; not recorded is not met."""
    assert unmet(**change) == [failed]


def test_spravato_two_hour_observation() -> None:
    """Spravato PI boxed warning and 5.1 / REMS: at least 2 hours at each session (monitoring.md §6)."""
    criterion = discharge_check(**{**READY, "minutes_since_dose": 119})[0]
    assert not criterion.met
    assert "119 of 120 min since the dose" in criterion.detail and "1 min to go" in criterion.detail
    assert discharge_check(**{**READY, "minutes_since_dose": 120})[0].met
    assert "Spravato PI" in discharge_check(**READY)[0].detail


def test_iv_observation_counts_from_the_infusion_end() -> None:
    """monitoring.md §6: IV typically 30-60 min after the infusion ends; 30 is the policy default."""
    iv = {**READY, "route": "iv", "minutes_since_dose": 200}
    assert unmet(**iv) == ["observation_time"]  # end time not recorded
    assert unmet(**iv, minutes_since_infusion_end=29) == ["observation_time"]
    assert unmet(**iv, minutes_since_infusion_end=30) == []


@pytest.mark.parametrize("route", ["im", "sublingual"])
def test_in_office_routes_observe_two_hours(route: str) -> None:
    assert unmet(route=route, minutes_since_dose=119) == ["observation_time"]
    assert unmet(route=route, minutes_since_dose=120) == []


def test_discharge_vitals_near_baseline() -> None:
    """monitoring.md §6: BP < 160/100 or within 20% of baseline; HR 50-110; SpO2 >= 94% or at baseline."""
    baseline = VitalReading(systolic=140, diastolic=85, heart_rate=70, spo2=93)
    high = VitalReading(systolic=165, diastolic=95, heart_rate=72, spo2=93)  # 165 <= 168: within 20%
    before = VitalReading(systolic=166, diastolic=96, heart_rate=74, spo2=93)
    assert unmet(last_reading=high, previous_reading=before) == ["vitals"]
    criterion = discharge_check(
        **{**READY, "last_reading": high, "previous_reading": before, "baseline_reading": baseline}
    )[2]
    assert criterion.met and "within 20% of baseline 140/85" in criterion.detail
    too_high = VitalReading(systolic=170, diastolic=95, heart_rate=70, spo2=97)  # 170 > 168
    assert unmet(last_reading=too_high, baseline_reading=baseline) == ["vitals"]


# --- Discharge corrections of 2026-12-04 (issue 13, rule 3) -------------------------------------------------


def test_bp_at_the_alert_level_never_meets_discharge_whatever_the_baseline() -> None:
    """monitoring.md §6 (corrected 2026-12-04): the notes' own example, 185/100 after a 158/92 baseline, is
    within 20% of baseline (189.6/110.4) but at or above the intra/post-dose alert level (180/110, §3)."""
    baseline = VitalReading(systolic=158, diastolic=92, heart_rate=80, spo2=97)
    last = VitalReading(systolic=185, diastolic=100, heart_rate=80, spo2=97)
    iv = {**READY, "route": "iv", "minutes_since_infusion_end": 45, "baseline_reading": baseline}
    criterion = discharge_check(**{**iv, "last_reading": last})[2]
    assert not criterion.met and "at or above the alert level 180/110" in criterion.detail
    # At the edge: 180 systolic or 110 diastolic is "at", 179/109 within 20% of a high baseline still passes.
    assert unmet(**{**iv, "last_reading": VitalReading(systolic=180, diastolic=95, heart_rate=80, spo2=97)}) == [
        "vitals"
    ]
    high_base = VitalReading(systolic=170, diastolic=100, heart_rate=80, spo2=97)
    edge = VitalReading(systolic=179, diastolic=109, heart_rate=80, spo2=97)
    assert unmet(**{**iv, "baseline_reading": high_base, "last_reading": edge}) == []
    assert unmet(**{**iv, "baseline_reading": high_base, "last_reading": replace(edge, diastolic=110)}) == ["vitals"]


def test_heart_rate_has_no_baseline_alternative() -> None:
    """monitoring.md §6 (corrected 2026-12-04): HR 50-110; the 20% of baseline alternative applies to BP only.
    A heart rate of 45 after a baseline of 48 (within 20%) does not meet discharge."""
    baseline = VitalReading(systolic=120, diastolic=80, heart_rate=48, spo2=98)
    slow = VitalReading(systolic=120, diastolic=80, heart_rate=45, spo2=98)
    criterion = discharge_check(**{**READY, "route": "im", "last_reading": slow, "baseline_reading": baseline})[2]
    assert not criterion.met and "HR 45 outside 50-110" in criterion.detail


@pytest.mark.parametrize(
    ("previous", "last", "met", "words"),
    [
        ((150, 92), (146, 88), True, "falling"),
        ((146, 88), (150, 90), True, "stable"),  # up 4 mmHg: within the 5 mmHg tolerance [policy]
        ((146, 88), (152, 90), False, "BP rising: 146/88 then 152/90"),
        ((186, 100), (150, 90), False, "the reading before: BP 186/100 at or above the alert level"),
        (None, (138, 86), False, "two BP readings after the dose"),
    ],
)
def test_spravato_discharge_judges_the_last_two_readings(
    previous: tuple[int, int] | None, last: tuple[int, int], met: bool, words: str
) -> None:
    """Spravato HCP dosing page: BP "consistent at a safe level" before leaving, so the last two readings must
    both be safe and the last not rising (monitoring.md §6, corrected 2026-12-04)."""

    def reading(bp: tuple[int, int]) -> VitalReading:
        return VitalReading(systolic=bp[0], diastolic=bp[1], heart_rate=76, spo2=97)

    before = None if previous is None else reading(previous)
    criterion = discharge_check(**{**READY, "previous_reading": before, "last_reading": reading(last)})[2]
    assert criterion.met is met and words in criterion.detail
    # Other routes judge the last reading only (the trend rule is esketamine's).
    assert discharge_check(**{**READY, "route": "im", "previous_reading": before, "last_reading": reading(last)})[2].met


def test_discharge_cadss_back_to_baseline() -> None:
    """instruments.md: CADSS back to the pre-dose score or <= 4 before discharge [policy]."""
    assert unmet(cadss=4) == []
    assert unmet(cadss=6, cadss_baseline=6) == []
    assert unmet(cadss=7, cadss_baseline=6) == ["alert_oriented"]


def test_discharge_bad_input() -> None:
    with pytest.raises(ValueError, match="Unknown route"):
        discharge_check(**{**READY, "route": "oral"})
    with pytest.raises(ValueError, match="negative"):
        discharge_check(**{**READY, "minutes_since_dose": -1})
    with pytest.raises(ValueError, match="Implausible last reading"):
        discharge_check(**{**READY, "last_reading": VitalReading(heart_rate=400)})


# --- Vitals schedule (§2) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "offsets"),
    [
        ("iv", [0, 10, 20, 30, 40, 55, 70]),  # q10 during the 40-min infusion, q15 after (Riva-Posse 2018)
        ("im", [0, 5, 15, 30, 45, 60, 90, 120]),  # 5, 15, 30, 45, 60, then q30 [policy]
        ("sublingual", [0, 15, 30, 45, 60, 90, 120]),  # 15, 30, 45, 60, then q30 [policy]
        ("intranasal", [0, 40, 120]),  # before, about 40 min, before discharge at >= 2 h (Spravato PI)
    ],
)
def test_vitals_schedule(route: str, offsets: list[int]) -> None:
    """monitoring.md §2 vital-sign schedule by route."""
    assert vitals_schedule(route) == offsets


def test_vitals_schedule_longer_infusion_and_next_due() -> None:
    assert vitals_schedule("iv", infusion_minutes=45) == [0, 10, 20, 30, 40, 45, 60, 75]
    assert next_reading_due("iv", 0) == 10
    assert next_reading_due("iv", 12) == 20
    assert next_reading_due("iv", 70) == 85 and next_reading_due("iv", 90) == 100
    assert next_reading_due("intranasal", 40) == 120 and next_reading_due("intranasal", 120) == 150
    assert next_reading_due("im", 125) == 150
    with pytest.raises(ValueError, match="Unknown route"):
        vitals_schedule("oral")


# --- Properties ---------------------------------------------------------------------------------------------

_ALERT_RANK = {None: 0, "alert": 1, "critical": 2}
_STATUS_RANK = {"clear": 0, "hold": 1, "do_not_dose": 2}


def _systolic_level(systolic: int) -> str | None:
    levels = [a.level for a in reading_alerts(VitalReading(systolic=systolic)) if a.code.startswith("bp_systolic")]
    return levels[0] if levels else None


@given(st.integers(min_value=50, max_value=299), st.integers(min_value=1, max_value=50))
def test_alerts_monotone_in_systolic(low: int, rise: int) -> None:
    high = min(low + rise, 300)
    assert _ALERT_RANK[_systolic_level(low)] <= _ALERT_RANK[_systolic_level(high)]


@given(st.integers(min_value=90, max_value=299), st.integers(min_value=1, max_value=50))
def test_predose_status_monotone_in_systolic(low: int, rise: int) -> None:
    high = min(low + rise, 300)
    assert (
        _STATUS_RANK[predose_clearance(vitals(systolic=low)).status]
        <= _STATUS_RANK[predose_clearance(vitals(systolic=high)).status]
    )


@given(
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=250),
    st.integers(min_value=0, max_value=300),
)
def test_problems_iff_outside_ranges(systolic: int, diastolic: int, heart_rate: int) -> None:
    reading = VitalReading(systolic=systolic, diastolic=diastolic, heart_rate=heart_rate)
    plausible = 50 <= systolic <= 300 and 20 <= diastolic <= 200 and 20 <= heart_rate <= 250 and systolic > diastolic
    assert (reading_problems(reading) == []) == plausible


@given(st.sampled_from(["iv", "im", "sublingual", "intranasal"]), st.integers(min_value=0, max_value=600))
def test_next_reading_is_later_and_on_schedule_or_interval(route: str, after: int) -> None:
    due = next_reading_due(route, after)
    assert due > after
    schedule = vitals_schedule(route)
    assert due in schedule or due > schedule[-1]


def test_pregnancy_test_needed_for_patients_who_could_become_pregnant() -> None:
    """monitoring.md section 1 (Spravato PI 8.1); the age band is clinic policy."""
    from kapclinic.clinical.monitoring import pregnancy_test_required

    assert pregnancy_test_required("female", 30)
    assert not pregnancy_test_required("female", 60)
    assert not pregnancy_test_required("female", 11)
    assert not pregnancy_test_required("male", 30)
    assert not pregnancy_test_required("unknown", 30)


# --- Pre-dose checks from check-in (issue 13, rule 6; monitoring.md §1) --------------------------------------

READY_CHECK_IN = monitoring.CheckInAnswers(
    minutes_since_food=300,
    minutes_since_liquid=150,
    pregnancy_test="negative",
    escort_confirmed=True,
    substances_today=False,
)


def check_in(route: str = "intranasal", **change: Any) -> tuple[str, list[tuple[str, str]]]:
    answers = replace(READY_CHECK_IN, **change)
    clearance = predose_clearance(NORMAL, route=route, check_in=answers)
    return clearance.status, [(f.code, f.level) for f in clearance.findings]


def test_a_complete_check_in_clears() -> None:
    assert check_in() == ("clear", [])
    assert check_in("iv") == ("clear", [])


@pytest.mark.parametrize(
    ("route", "food", "liquid", "expected"),
    [
        # Spravato PI 2: no food for at least 2 hours, no liquids for at least 30 minutes before the dose.
        ("intranasal", 120, 30, []),
        ("intranasal", 119, 30, [("fasting_food", "hold")]),
        ("intranasal", 120, 29, [("fasting_liquid", "hold")]),
        # Ketamine: no solids 4 h, clear liquids up to 2 h [policy defaults].
        ("iv", 240, 120, []),
        ("iv", 150, 60, [("fasting_food", "hold"), ("fasting_liquid", "hold")]),
        ("intranasal", None, 45, [("fasting_food_not_recorded", "warn")]),
    ],
)
def test_fasting_against_the_routes_limits(
    route: str, food: int | None, liquid: int, expected: list[tuple[str, str]]
) -> None:
    """monitoring.md §1: Spravato no food 2 h and no liquids 30 min (Spravato PI 2); ketamine policy."""
    status, findings = check_in(route, minutes_since_food=food, minutes_since_liquid=liquid)
    assert findings == expected
    assert status == ("hold" if any(level == "hold" for _, level in expected) else "clear")


def test_fasting_message_says_how_long_to_wait_and_why() -> None:
    finding = monitoring.check_in_findings("intranasal", replace(READY_CHECK_IN, minutes_since_food=75))[0]
    assert "Last ate 75 min ago" in finding.message and "wait 45 min" in finding.message
    assert "Spravato PI 2" in finding.source


def test_positive_pregnancy_test_is_do_not_dose_and_a_missing_one_holds() -> None:
    """Spravato PI 8.1 (may cause fetal harm): positive -> do not dose; a patient who could become pregnant
    without a result today -> the prescriber decides (monitoring.md §1)."""
    assert check_in(pregnancy_test="positive") == ("do_not_dose", [("pregnancy_positive", "do_not_dose")])
    assert check_in(pregnancy_test="declined", pregnancy_test_required=True) == (
        "hold",
        [("pregnancy_test_missing", "hold")],
    )
    assert check_in(pregnancy_test="not_applicable") == ("clear", [])


def test_escort_and_substances_today() -> None:
    """monitoring.md §1: confirmed escort or ride (no driving until the next day, Spravato PI 5.x / Medication
    Guide); alcohol or substances today -> prescriber decision (Spravato PI 7, policy). Not asked: a warning."""
    assert check_in(escort_confirmed=False) == ("hold", [("escort_missing", "hold")])
    assert check_in(escort_confirmed=None) == ("clear", [("escort_not_recorded", "warn")])
    assert check_in(substances_today=True) == ("hold", [("substances_today", "hold")])
    assert check_in(substances_today=None) == ("clear", [("substances_not_asked", "warn")])


def test_check_in_findings_join_the_vitals_and_the_worst_wins() -> None:
    clearance = predose_clearance(
        vitals(systolic=165), route="intranasal", check_in=replace(READY_CHECK_IN, pregnancy_test="positive")
    )
    assert clearance.status == "do_not_dose"
    assert [f.code for f in clearance.findings] == ["pregnancy_positive", "bp_systolic_hold"]
    with pytest.raises(ValueError, match="route"):
        predose_clearance(NORMAL, check_in=READY_CHECK_IN)
    with pytest.raises(ValueError, match="after now"):
        monitoring.check_in_findings("iv", replace(READY_CHECK_IN, minutes_since_food=-5))


def test_spravato_fasting_cannot_be_shortened_by_policy() -> None:
    with pytest.raises(ValueError, match="Spravato label's 120 minutes"):
        MonitoringPolicy(version="short", fasting_food_minutes_intranasal=60)
    with pytest.raises(ValueError, match="Spravato label's 30 minutes"):
        MonitoringPolicy(version="short", fasting_liquid_minutes_intranasal=15)


def test_thresholds_without_a_published_source_say_they_are_clinic_policy() -> None:
    """monitoring.md §1 marks the ketamine fasting times [policy] and §6 gives no figure for "stable or falling":
    the defaults stay (4 h food, 2 h liquids, 5 mmHg), each a MonitoringPolicy setting, and the finding names the
    setting instead of a source it does not have; Spravato's fasting still cites the label."""
    assert (DEFAULT_POLICY.fasting_food_minutes_ketamine, DEFAULT_POLICY.fasting_liquid_minutes_ketamine) == (240, 120)
    assert DEFAULT_POLICY.discharge_bp_stable_within_mmhg == 5
    iv = monitoring.check_in_findings("iv", replace(READY_CHECK_IN, minutes_since_food=150))[0]
    assert "fasting_food_minutes_ketamine" in iv.source and "not a published figure" in iv.source
    assert "ASA" not in iv.source
    spravato = monitoring.check_in_findings("intranasal", replace(READY_CHECK_IN, minutes_since_food=75))[0]
    assert "Spravato PI 2" in spravato.source and "clinic policy" not in spravato.source.lower()
    rising = discharge_check(
        **{
            **READY,
            "previous_reading": VitalReading(systolic=146, diastolic=88, heart_rate=76, spo2=97),
            "last_reading": VitalReading(systolic=152, diastolic=90, heart_rate=76, spo2=97),
        }
    )[2]
    assert not rising.met and "clinic policy discharge_bp_stable_within_mmhg" in rising.detail

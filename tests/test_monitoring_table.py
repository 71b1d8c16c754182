"""The vital-sign rules as tables (issue 14, item 4): each row of the pre-dose and the intra/post-dose tables names a
policy threshold the policy file tunes, and the tables cover every such threshold of `MonitoringPolicy`, once."""

from __future__ import annotations

from dataclasses import fields, replace

from kapclinic.clinical.monitoring import (
    ALERT_RULES,
    DEFAULT_POLICY,
    PLAUSIBLE_VITALS,
    PREDOSE_RULES,
    MonitoringPolicy,
    VitalReading,
    predose_clearance,
    reading_alerts,
)


def test_each_row_names_a_policy_threshold_and_a_measure() -> None:
    policy_fields = {f.name: f.type for f in fields(MonitoringPolicy)}
    for rule in ALERT_RULES:
        assert policy_fields.get(rule.threshold) in (int, "int"), rule
        assert rule.measure in (*PLAUSIBLE_VITALS, "moaas"), rule
        assert rule.message.format(value=1, limit=2) != rule.message, rule


def test_the_table_uses_every_alert_and_critical_threshold_once() -> None:
    thresholds = [rule.threshold for rule in ALERT_RULES]
    wanted = [f.name for f in fields(MonitoringPolicy) if f.name.startswith(("alert_", "critical_"))]
    assert sorted(thresholds) == sorted(wanted)
    assert len({rule.code for rule in ALERT_RULES}) == len(ALERT_RULES)


def test_critical_rows_come_before_the_alert_rows_of_their_measure() -> None:
    seen_alert: set[str] = set()
    for rule in ALERT_RULES:
        if rule.level == "alert":
            seen_alert.add(rule.measure)
        else:
            assert rule.measure not in seen_alert, rule


def test_a_tuned_threshold_moves_the_alert() -> None:
    """The policy file tunes a row through its threshold field: 125 /min is an alert by default, critical at 120."""
    reading = VitalReading(heart_rate=125)
    assert [(a.code, a.level) for a in reading_alerts(reading)] == [("hr_high", "alert")]
    tuned = replace(DEFAULT_POLICY, version="clinic-2", critical_hr_high=120)
    [alert] = reading_alerts(reading, policy=tuned)
    assert (alert.code, alert.level) == ("hr_critical", "critical")
    assert alert.message.startswith("Heart rate 125 /min is above 120 /min: stop dosing")


def test_the_predose_table_uses_every_predose_vital_threshold_once() -> None:
    policy_fields = {f.name: f.type for f in fields(MonitoringPolicy)}
    thresholds = [rule.threshold for rule in PREDOSE_RULES]
    wanted = [name for name, kind in policy_fields.items() if name.startswith("predose_") and kind in (int, "int")]
    assert sorted(thresholds) == sorted(name for name in wanted if name != "predose_moaas_required")
    assert all(rule.measure in PLAUSIBLE_VITALS for rule in PREDOSE_RULES)
    assert len({rule.code for rule in PREDOSE_RULES}) == len(PREDOSE_RULES)


def test_a_review_row_takes_the_policys_review_level() -> None:
    """HR, SpO2 and RR "review" rows hold by default; a clinic that sets predose_review_level "warn" is warned."""
    reading = VitalReading(systolic=120, diastolic=80, heart_rate=115, spo2=98)
    [held] = predose_clearance(reading).findings
    assert (held.code, held.level) == ("hr_high", "hold")
    assert held.message == "Heart rate 115 /min is above 110 /min: the prescriber decides whether to dose, in writing."
    warned = predose_clearance(reading, policy=replace(DEFAULT_POLICY, version="clinic-2", predose_review_level="warn"))
    assert [(f.code, f.level, f.message) for f in warned.findings] == [
        ("hr_high", "warn", "Heart rate 115 /min is above 110 /min: review before dosing.")
    ]
    assert warned.status == "clear"

"""The intra/post-dose alert rules as a table (issue 14, item 4): each row names a policy threshold the policy file
tunes, and the table covers every alert and critical threshold of `MonitoringPolicy`, once."""

from __future__ import annotations

from dataclasses import fields, replace

from kapclinic.clinical.monitoring import (
    ALERT_RULES,
    DEFAULT_POLICY,
    PLAUSIBLE_VITALS,
    MonitoringPolicy,
    VitalReading,
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

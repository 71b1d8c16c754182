"""Each word of the clinic defined once (issue 14, item 3): the model choices, the page styles and the apps read
the rule core's enumerations (kapclinic/clinical/), so a level, a route rule, a code check or an instrument's use
is written in one place. No database: these compare definitions."""

from __future__ import annotations

import re
from pathlib import Path

from kapclinic.clinical.monitoring import AlertLevel, ClearanceStatus, PredoseLevel
from kapclinic.dosing.models import MonitoringAlert

CSS = (Path(__file__).resolve().parent.parent / "kapclinic/static/kapclinic/kapclinic.css").read_text()


def test_stored_levels_are_unchanged() -> None:
    """Clearances, findings and alerts already stored keep their meaning."""
    assert [level.value for level in PredoseLevel] == ["warn", "hold", "do_not_dose"]
    assert [status.value for status in ClearanceStatus] == ["clear", "hold", "do_not_dose"]
    assert [level.value for level in AlertLevel] == ["alert", "critical"]
    assert [level.label for level in AlertLevel] == ["Alert", "Critical"]
    assert PredoseLevel.DO_NOT_DOSE.label == "Do not dose"


def test_alert_choices_are_the_rule_cores_levels() -> None:
    field = MonitoringAlert._meta.get_field("level")
    assert list(field.choices or []) == [(level.value, level.label) for level in AlertLevel]


def test_every_level_has_its_page_style() -> None:
    """The pages style an alert as alert--<level> and a pre-dose finding as finding--<level>."""
    for level in AlertLevel:
        assert re.search(rf"\.alert--{level.value}\b", CSS), level
    for finding in PredoseLevel:
        assert re.search(rf"\.finding--{finding.value}\b", CSS), finding

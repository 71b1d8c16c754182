"""Each word of the clinic defined once (issue 14, item 3): the model choices, the page styles and the apps read
the rule core's enumerations (kapclinic/clinical/), so a level, a route rule, a code check or an instrument's use
is written in one place. No database: these compare definitions."""

from __future__ import annotations

import re
from pathlib import Path

from kapclinic.clinical.monitoring import AlertLevel, ClearanceStatus, PredoseLevel
from kapclinic.dosing.models import MonitoringAlert

KAPCLINIC = Path(__file__).resolve().parent.parent / "kapclinic"
CSS = (KAPCLINIC / "static/kapclinic/kapclinic.css").read_text()


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


def test_one_icd10_cm_check_for_every_screen() -> None:
    """The evaluation's diagnoses, the plan's indication and the eligibility code groups ask the one list."""
    from kapclinic.clinical.icd10 import icd10_description, is_icd10_cm
    from kapclinic.intake import icd10 as picker

    assert is_icd10_cm("F33.2") and is_icd10_cm("F332") and is_icd10_cm("F20-F29")
    assert not is_icd10_cm("X99.99") and not is_icd10_cm("")
    assert icd10_description("F33.2").startswith("Major depressive disorder, recurrent severe")
    assert icd10_description("X99.99") == ""
    assert picker.icd10_description is icd10_description
    loaders = [
        str(path.relative_to(KAPCLINIC))
        for path in KAPCLINIC.rglob("*.py")
        if "simple_icd_10_cm" in path.read_text() or "is_valid_item" in path.read_text()
    ]
    assert loaders == ["clinical/icd10.py"]


def test_weight_based_routes_are_the_rule_cores() -> None:
    """mg/kg for IV and IM, fixed mg for the others: the plan's database check reads the rule core's lists, and no
    other module spells the pair out."""
    from kapclinic.clinical import dosing as dose_rules
    from kapclinic.plans.models import TreatmentPlan

    assert dose_rules.WEIGHT_BASED_ROUTES == ("iv", "im")
    assert dose_rules.FIXED_DOSE_ROUTES == ("intranasal", "sublingual")
    assert [dose_rules.dose_unit(route) for route in dose_rules.ROUTES] == ["mg/kg", "mg/kg", "mg", "mg"]
    [fits] = [c for c in TreatmentPlan._meta.constraints if c.name == "plan_dose_fits_route"]
    assert "('route__in', ['iv', 'im'])" in str(fits) and "('route__in', ['intranasal', 'sublingual'])" in str(fits)
    pair = re.compile(r"""[\[(]\s*["']iv["'],\s*["']im["']\s*[\])]""")
    spelled = [
        str(path.relative_to(KAPCLINIC))
        for path in [*KAPCLINIC.rglob("*.py"), *KAPCLINIC.rglob("*.html")]
        if "migrations" not in path.parts and pair.search(path.read_text())
    ]
    assert spelled == ["clinical/dosing.py"]

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


# Each instrument's uses as the apps read them; * marks a use where it is chosen by default.
USES = {
    "phq9": "pre_screen pre_session* follow_up*",
    "gad7": "pre_screen pre_session follow_up*",
    "pcl5": "pre_screen pre_session follow_up",
    "pcl5_week": "pre_session",
    "cssrs_screen": "pre_session",
    "auditc": "pre_screen pre_session follow_up",
    "drug_single": "pre_screen pre_session",
    "craving_vas": "pre_session",
    "dissociation_nrs": "pre_session in_session",
    "cadss6": "in_session",
    "moaas": "in_session",
    "rass": "in_session",
}


def test_each_instruments_uses() -> None:
    from kapclinic.clinical.instruments import INSTRUMENTS

    found = {
        code: " ".join(use.value + ("*" if use in i.chosen_by_default else "") for use in i.uses)
        for code, i in INSTRUMENTS.items()
    }
    assert found == USES


def test_the_apps_read_the_uses() -> None:
    """The pre-screen sent after a consultation, the plan's questionnaires and follow-ups, the session screen's
    scales and the chart's outcome schedule all come from `instruments_for`."""
    from django.template import Context, Template

    from kapclinic.clinical.instruments import Use, instruments_for
    from kapclinic.plans.forms import PlanForm

    def codes(use: Use, *, by_default: bool = False) -> list[str]:
        return [i.code for i in instruments_for(use, by_default=by_default)]

    assert codes(Use.PRE_SCREEN) == ["phq9", "gad7", "pcl5", "auditc", "drug_single"]
    assert codes(Use.FOLLOW_UP, by_default=True) == ["phq9", "gad7"]
    assert codes(Use.IN_SESSION) == ["dissociation_nrs", "cadss6", "moaas", "rass"]
    measures = PlanForm().fields["measures"]
    assert [code for code, _ in measures.choices] == codes(Use.PRE_SESSION)  # type: ignore[attr-defined]
    assert measures.initial == ["phq9"]
    page = Template(
        '{% load measure_tags %}{% instruments_for_use "follow_up" as all %}'
        '{% instruments_for_use "follow_up" by_default=True as ticked %}'
        "{% for i in all %}{{ i.code }}{% if i in ticked %}*{% endif %} {% endfor %}"
    ).render(Context())
    assert page == "phq9* gad7* pcl5 auditc "

"""The session screen (issue 13, defects 5 and 6, and the dose and administration form's bad input): the chart's
lines and caption before the dose, the overdue vitals mark, the administration defaults, typed values kept."""

from __future__ import annotations

from datetime import UTC, datetime

from kapclinic.dosing.charts import VitalPoint, vitals_summary
from kapclinic.dosing.session_views import _thresholds

AT = datetime(2026, 12, 4, 19, 10, tzinfo=UTC)


def test_a_held_sessions_caption_names_the_hold_line_it_crossed() -> None:
    # monitoring.md section 3, pre-dose column: systolic >= 160 holds for the prescriber, >= 180 do not dose.
    held = [VitalPoint(AT, 165, 96, 84, 98)]
    caption = vitals_summary(held, _thresholds(before_dose=True), tz=UTC)
    assert caption == (
        "1 reading at 19:10; blood pressure 165/96, above the pre-dose hold line of 160; heart rate 84; "
        "SpO₂ 98%, above the review line of 94."
    )
    labels = [t.label for t in _thresholds(before_dose=True)]
    assert labels == ["Hold ≥ 160", "Do not dose ≥ 180", "Diastolic hold ≥ 100", "SpO₂ review < 94"]
    # After the dose the intra/post-dose alert lines apply, as before.
    after = vitals_summary(held, _thresholds(before_dose=False), tz=UTC)
    assert "below the alert line of 180" in after

"""The chart's sections: one per stage of the care pathway (../shared/design/pathway.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartSection:
    key: str
    title: str
    empty_state: str
    clinical: bool  # hidden from roles that may not see clinical content


SECTIONS = (
    ChartSection(
        "intake",
        "1. Inquiry and consultation",
        "No consultation booked yet. The intake coordinator books the free consultation here.",
        clinical=False,
    ),
    ChartSection(
        "evaluation",
        "2. Evaluation and eligibility",
        "No evaluation yet. The prescriber records history, medications and contraindication screening here.",
        clinical=True,
    ),
    ChartSection(
        "plan",
        "3. Consent and treatment plan",
        "No signed consent or treatment plan yet.",
        clinical=True,
    ),
    ChartSection(
        "preparation",
        "4. Preparation",
        "No preparation session or checklist yet.",
        clinical=True,
    ),
    ChartSection(
        "dosing",
        "5. Dosing sessions",
        "No dosing sessions scheduled. Sessions can be scheduled once consent, eligibility and a plan are signed.",
        clinical=True,
    ),
    ChartSection(
        "integration",
        "6. Integration",
        "No integration sessions yet.",
        clinical=True,
    ),
    ChartSection(
        "outcomes",
        "7. Follow-up and outcomes",
        "No questionnaire scores yet.",
        clinical=True,
    ),
)


def chart_sections(*, show_clinical: bool) -> list[ChartSection]:
    """Return the sections a role may see, in pathway order."""
    return [s for s in SECTIONS if show_clinical or not s.clinical]

"""The patient banner: who this page is about, with allergies and active alerts, on every page about one patient.

EHR interface guidance (the NHS common user interface patient banner, ../shared/design/architecture.md "Look and
feel") puts identity, allergies and alerts at the top of every patient page so nobody charts on the wrong person.
The page that shows the banner has already checked and audited its read of the patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kapclinic.intake.evaluation_fields import stored_value_problems
from kapclinic.intake.models import Evaluation
from kapclinic.measures.models import SafetyFlag
from kapclinic.measures.selectors import open_safety_flags_for_patient
from kapclinic.patients.models import Patient
from kapclinic.patients.selectors import ChartHeader, chart_header
from kapclinic.roles import Action, may

NO_KNOWN_ALLERGIES = "No known drug allergies"
NOT_RECORDED = "Not yet recorded"


def allergies_in_words(evaluation_data: dict[str, Any] | None) -> str:
    """Return the recorded allergies as the banner says them: the list, "No known drug allergies", or not recorded.

    An empty list is "none known", which is not the same as never asked (None); a value that cannot be read
    counts as not recorded.
    """
    data = evaluation_data or {}
    allergies = data.get("allergies")
    if allergies is None or "allergies" in stored_value_problems({"allergies": allergies}):
        return NOT_RECORDED
    return ", ".join(allergies) if allergies else NO_KNOWN_ALLERGIES


@dataclass(frozen=True)
class PatientBanner:
    header: ChartHeader
    safety_flags: list[SafetyFlag]
    allergies: str | None  # None: this role does not see clinical facts
    allergies_recorded: bool


def banner_for(
    *,
    role: str,
    patient: Patient,
    header: ChartHeader | None = None,
    safety_flags: list[SafetyFlag] | None = None,
    evaluation: tuple[dict[str, Any] | None] | None = None,
) -> PatientBanner:
    """Return what the banner shows beside identity: alerts, care team, allergies.

    One query for the allergies, plus two for the header and one for the safety flags unless the page already
    read them (the chart, the notes pages) and passes them in; `evaluation` is the evaluation's data as the page
    read it, in a 1-tuple (its data is None when there is no evaluation).
    """
    allergies: str | None = None
    if may(role, Action.PATIENT_VIEW_CLINICAL):
        if evaluation is None:
            data = Evaluation.objects.filter(patient=patient).values_list("data", flat=True).first()
        else:
            (data,) = evaluation
        allergies = allergies_in_words(data)
    if safety_flags is None:
        safety_flags = open_safety_flags_for_patient(patient_id=patient.pk) if may(role, Action.MEASURE_VIEW) else []
    return PatientBanner(
        header=header if header is not None else chart_header(patient=patient),
        safety_flags=safety_flags,
        allergies=allergies,
        allergies_recorded=allergies not in (None, NOT_RECORDED),
    )

"""Information to collect before the first dose (eligibility.md section 4, Sanacora 2017).

Each rule asks for something another rule or the decision depends on: diagnoses (the code screens), a baseline
score (response and remission), prior trials (treatment resistance), the medication list (the interactions).
"""

from __future__ import annotations

from kapclinic.clinical.eligibility.findings import SECTION_4, Evidence, Finding
from kapclinic.clinical.eligibility.policy import EligibilityPolicy
from kapclinic.clinical.eligibility.resistance import is_oral_antidepressant
from kapclinic.clinical.eligibility.snapshot import EvaluationSnapshot


def _missing(code: str, message: str, source: str, evidence: Evidence) -> list[Finding]:
    return [Finding(code, "missing", message, source, evidence)]


def diagnoses(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Ask for the diagnostic assessment when no diagnosis is recorded."""
    if snapshot.diagnoses:
        return []
    message = (
        "No diagnosis is recorded; a psychiatric diagnostic assessment (ICD-10-CM) is needed, and the "
        "diagnosis-code screens cannot run."
    )
    return _missing("diagnoses.unknown", message, SECTION_4, {"diagnoses": snapshot.diagnoses})


def baseline_scores(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Ask for a baseline symptom-severity score."""
    if snapshot.baseline_scores:
        return []
    message = (
        "No baseline symptom-severity score is recorded (e.g. PHQ-9); response and remission are measured against it."
    )
    return _missing("baseline_scores.unknown", message, f"{SECTION_4}; instruments.md", {"baseline_scores": None})


def prior_trials(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Ask for the prior treatment history, and for the trial details treatment resistance depends on."""
    if snapshot.prior_trials is None:
        message = "Prior treatment trials are not recorded; they are needed to establish treatment resistance."
        return _missing("prior_trials.unknown", message, SECTION_4, {"prior_trials": None})
    gaps = []
    for trial in snapshot.prior_trials:
        if trial.antidepressant is False or (trial.antidepressant is None and not is_oral_antidepressant(trial)):
            continue
        missing = [
            label
            for label, value in (
                ("duration", trial.duration_weeks),
                ("response", trial.response),
                ("dose adequacy", trial.adequate_dose),
                ("episode", trial.current_episode),
            )
            if value is None
        ]
        if missing:
            gaps.append(f"{trial.drug} ({', '.join(missing)})")
    if not gaps:
        return []
    message = (
        f"Antidepressant trial details are incomplete: {'; '.join(gaps)}. Treatment resistance counts only "
        "trials of adequate dose and duration in the current episode."
    )
    source = f"{SECTION_4}; eligibility.md section 3 (TRD definition, Spravato PI 1)"
    return _missing("prior_trials.incomplete", message, source, {"trials": tuple(gaps)})


def medications(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Ask for the current medication list, which the interaction rules need."""
    if snapshot.medications is not None:
        return []
    message = "Current medications are not recorded (record none as an empty list); the interaction checks cannot run."
    return _missing("medications.unknown", message, f"{SECTION_4}; eligibility.md section 2", {"medications": None})

"""Rules about the patient as a whole: hypersensitivity, airway risk (with the BMI) and age (eligibility.md 1)."""

from __future__ import annotations

from kapclinic.clinical.eligibility.conditions import Condition
from kapclinic.clinical.eligibility.drugs import KETAMINE_ALLERGENS
from kapclinic.clinical.eligibility.findings import (
    Evidence,
    Finding,
    absolute_if,
    level_finding,
    make_finding,
    missing_finding,
)
from kapclinic.clinical.eligibility.policy import EligibilityPolicy
from kapclinic.clinical.eligibility.snapshot import EvaluationSnapshot


def hypersensitivity(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Block hypersensitivity to ketamine, esketamine or their excipients."""
    source = "Spravato US PI 4; Ketalar US PI (contraindications); eligibility.md section 1"
    if snapshot.allergies is None:
        what, needed_for = "The allergy list", "an absolute contraindication"
        return [missing_finding("hypersensitivity", what, needed_for, source, {"allergies": None})]
    matched, found = KETAMINE_ALLERGENS.find(snapshot.allergies)
    if not matched:
        return []
    # Excipients count too (Spravato PI 4; Ketalar PI): benzethonium chloride is named because it is the
    # preservative in multi-dose ketamine vials (dosing.md section 1).
    message = f"Absolute contraindication: recorded hypersensitivity to {', '.join(found)}."
    if "benzethonium" in found:
        message += " Benzethonium chloride is the preservative in multi-dose ketamine vials."
    return [make_finding("hypersensitivity", "absolute", message, source, {"allergies": matched, "matched": found})]


_AIRWAY = Condition(
    code="airway_risk",
    summary="Warn about airway risk: obstructive sleep apnoea, severe COPD or a difficult airway.",
    label="an airway risk (obstructive sleep apnoea, severe COPD or a difficult airway)",
    level="precaution",
    advice="Have airway equipment and monitoring ready.",
    source="Anaesthesia practice [unverified source]; eligibility.md section 1",
)


def airway_risk(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn about airway risk: obstructive sleep apnoea, severe COPD, difficult airway, or a high BMI."""
    findings = _AIRWAY.findings(snapshot, policy)
    source = _AIRWAY.source
    bmi = snapshot.bmi
    evidence: Evidence = {"height_cm": snapshot.height_cm, "weight_kg": snapshot.weight_kg, "bmi": bmi}
    if bmi is None:
        findings.append(
            Finding(
                "airway_risk.bmi_unknown",
                "missing",
                "Height and weight (for BMI) are not recorded; they are needed to screen for an airway precaution "
                "and to dose by weight.",
                f"eligibility.md section 4 (baseline vitals and BMI); {source}",
                evidence,
            )
        )
    elif bmi >= policy.airway_bmi:
        message = f"Precaution: BMI {bmi} is at or above {policy.airway_bmi:g}. Plan for airway risk during sedation."
        findings.append(
            make_finding("airway_risk.bmi", "relative", message, f"{source}; policy {policy.version}", evidence)
        )
    return findings


def minimum_age(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Block patients under the policy's minimum age (18: Spravato is not approved in paediatrics)."""
    source = (
        "Spravato US PI 8.4 (paediatric use: not approved); eligibility.md section 1 (age limit for racemic "
        f"ketamine is [policy], here version {policy.version})"
    )
    evidence: Evidence = {"age": snapshot.age, "minimum_age": policy.minimum_age}
    if snapshot.age is None:
        return [missing_finding("minimum_age", "Age", "an absolute contraindication (age)", source, evidence)]
    if snapshot.age < policy.minimum_age:
        level = absolute_if(policy.under_minimum_age_absolute)
        what = f"age {snapshot.age} is under the minimum of {policy.minimum_age}."
        return [level_finding("minimum_age", level, what, source, evidence)]
    return []

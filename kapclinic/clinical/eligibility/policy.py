"""Eligibility policy: the thresholds that are clinic policy, with the domain notes' defaults.

A director changes them as a new `version` (KAPCLINIC_POLICY_FILE, read by kapclinic/policy.py); each eligibility
decision stores that version beside `RULE_SET_VERSION`.
"""

from __future__ import annotations

from dataclasses import dataclass

from kapclinic.clinical.consistency import refuse_inconsistent


@dataclass(frozen=True)
class EligibilityPolicy:
    """Clinic policy thresholds, with the domain notes' defaults; a director changes them as a new version."""

    version: str = "default-1"
    # Age < 18: absolute for Spravato (PI 8.4: not approved in paediatrics); [policy] for racemic ketamine.
    minimum_age: int = 18
    under_minimum_age_absolute: bool = True
    # Evaluation blood pressure (monitoring.md section 3): > 140/90 is the Spravato PI's example of elevated;
    # 160/100 (hold for the prescriber) and 180/110 (do not dose) are [policy].
    bp_warn_systolic: int = 140
    bp_warn_diastolic: int = 90
    bp_hold_systolic: int = 160
    bp_hold_diastolic: int = 100
    bp_do_not_dose_systolic: int = 180
    bp_do_not_dose_diastolic: int = 110
    # Heart rate outside these bounds asks for review (monitoring.md section 3: [unverified; policy]).
    heart_rate_low: int = 50
    heart_rate_high: int = 110
    # BMI >= this is an airway precaution (eligibility.md section 1, [unverified source]).
    airway_bmi: float = 40.0
    # eligibility.md section 1: "policy default: absolute for current psychosis"; current mania absolute [policy];
    # active ketamine misuse absolute [policy].
    current_psychosis_absolute: bool = True
    current_mania_absolute: bool = True
    active_ketamine_misuse_absolute: bool = True
    # eligibility.md section 3: "Code lists must be reviewed by a clinician before they hard-block." Until the
    # clinic has done so, a diagnosis code alone raises a relative finding asking to confirm the history.
    diagnosis_codes_block: bool = False
    # Treatment resistance (eligibility.md section 3): >= 2 failed adequate trials in the current episode; the
    # 6-week duration is [unverified] (TRANSFORM, not found), so it is a policy default.
    adequate_trial_weeks: float = 6.0
    trials_for_resistance: int = 2

    def __post_init__(self) -> None:
        refuse_inconsistent("Eligibility", self.version, policy_problems(self))


def policy_problems(policy: EligibilityPolicy) -> list[str]:
    """Return what is inconsistent in a policy, so a bad setting fails when it is saved, not in clinic."""
    problems = []
    if not policy.version.strip():
        problems.append("a policy needs a version")
    if not 0 <= policy.minimum_age <= 30:
        problems.append("the minimum age must be between 0 and 30")
    if not policy.bp_warn_systolic <= policy.bp_hold_systolic <= policy.bp_do_not_dose_systolic:
        problems.append("systolic limits must rise: warn <= hold <= do not dose")
    if not policy.bp_warn_diastolic <= policy.bp_hold_diastolic <= policy.bp_do_not_dose_diastolic:
        problems.append("diastolic limits must rise: warn <= hold <= do not dose")
    if not 0 < policy.heart_rate_low < policy.heart_rate_high:
        problems.append("the heart-rate review bounds must satisfy 0 < low < high")
    if policy.airway_bmi <= 0:
        problems.append("the airway BMI limit must be above 0")
    if policy.adequate_trial_weeks <= 0 or policy.trials_for_resistance < 1:
        problems.append("an adequate trial needs a duration above 0 weeks and at least 1 trial")
    return problems


DEFAULT_POLICY = EligibilityPolicy()

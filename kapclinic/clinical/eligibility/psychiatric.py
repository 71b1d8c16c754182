"""Psychiatric rules: psychosis, mania, ketamine misuse and suicide risk (eligibility.md section 1).

Each weighs the history answer against the diagnosis codes, and the clinic's policy decides whether the current
state (psychosis, mania, active misuse) is absolute (eligibility.md section 1: [policy] defaults).
"""

from __future__ import annotations

from kapclinic.clinical.eligibility.codes import (
    PSYCHOTIC_DISORDER_CODES,
    PSYCHOTIC_FEATURES_CODES,
    coded,
    coded_finding,
)
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

_AN_ABSOLUTE_OR_RELATIVE = "an absolute or relative contraindication"


def psychosis(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag psychosis: current psychosis absolute by policy; schizophrenia spectrum or a history of it relative."""
    source = (
        "Spravato US PI 5.x (assess carefully; benefit must outweigh risk); Sanacora 2017; eligibility.md section 1 "
        "(relative-to-absolute; current psychosis absolute is the [policy] default)"
    )
    current_codes = coded(snapshot, PSYCHOTIC_FEATURES_CODES)
    spectrum_codes = coded(snapshot, PSYCHOTIC_DISORDER_CODES)
    evidence: Evidence = {"psychosis": snapshot.psychosis, "diagnoses": current_codes + spectrum_codes}
    current_level = absolute_if(policy.current_psychosis_absolute)
    if snapshot.psychosis == "current":
        what = "current psychosis. Ketamine can worsen psychotic symptoms."
        return [level_finding("psychosis", current_level, what, source, evidence)]
    if current_codes:
        return [
            coded_finding(
                "psychosis",
                "a current episode with psychotic features",
                current_codes,
                denied=snapshot.psychosis == "none",
                level=current_level,
                policy=policy,
                source=f"{source}; eligibility.md section 3",
                evidence=evidence,
            )
        ]
    if snapshot.psychosis == "history" or spectrum_codes:
        what = f"a psychotic disorder ({', '.join(spectrum_codes)})" if spectrum_codes else "a history of psychosis"
        message = f"Relative contraindication: {what}. Assess carefully; the benefit must outweigh the risk."
        return [make_finding("psychosis", "relative", message, source, evidence)]
    if snapshot.psychosis is None:
        return [missing_finding("psychosis", "Psychosis history", _AN_ABSOLUTE_OR_RELATIVE, source, evidence)]
    return []


def mania(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag mania: current mania or hypomania absolute by policy; bipolar depression relative."""
    source = (
        "Sanacora 2017 (limited data in bipolar disorder); eligibility.md section 1 (current mania absolute "
        "[policy]; bipolar depression relative, mood-stabiliser cover [policy])"
    )
    # F30 manic episode, F31.1x/F31.2 bipolar current manic (eligibility.md 3); F31.0 is bipolar current hypomanic.
    current_codes = coded(snapshot, ("F30", "F31.0", "F31.1", "F31.2"))
    bipolar_codes = tuple(code for code in coded(snapshot, ("F31",)) if code not in current_codes)
    evidence: Evidence = {"mood": snapshot.mood, "diagnoses": current_codes + bipolar_codes}
    current_level = absolute_if(policy.current_mania_absolute)
    if snapshot.mood == "current_mania":
        return [level_finding("mania", current_level, "current mania or hypomania.", source, evidence)]
    if current_codes:
        return [
            coded_finding(
                "mania",
                "a current manic or hypomanic episode",
                current_codes,
                denied=snapshot.mood == "none",
                level=current_level,
                policy=policy,
                source=f"{source}; eligibility.md section 3",
                evidence=evidence,
            )
        ]
    if snapshot.mood == "bipolar" or bipolar_codes:
        message = (
            "Relative contraindication: bipolar disorder. Evidence is limited; a mood stabiliser should cover the "
            "course (policy), and watch for switching into mania."
        )
        return [make_finding("mania.bipolar", "relative", message, source, evidence)]
    if snapshot.mood is None:
        return [missing_finding("mania", "Mania or bipolar history", _AN_ABSOLUTE_OR_RELATIVE, source, evidence)]
    return []


def ketamine_misuse(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag ketamine or other dissociative misuse: active absolute by policy; past relative."""
    source = (
        "Spravato US PI 5.x (abuse and misuse); Sanacora 2017; eligibility.md section 1 (active ketamine "
        "misuse absolute [policy])"
    )
    # Ketamine use disorder is often coded under F19 or F16: the mapping is [unverified], so `make_finding` keeps
    # a code-only match relative even when the policy lets diagnosis codes block.
    codes = coded(snapshot, ("F19", "F16"))
    code_source = "eligibility.md section 3 (F19/F16 for ketamine use disorder [unverified mapping])"
    evidence: Evidence = {"ketamine_misuse": snapshot.ketamine_misuse, "diagnoses": codes}
    active_level = absolute_if(policy.active_ketamine_misuse_absolute)
    if snapshot.ketamine_misuse == "active":
        what = "active misuse of ketamine or another dissociative."
        return [level_finding("ketamine_misuse", active_level, what, source, evidence)]
    if codes and snapshot.ketamine_misuse != "past":
        return [
            coded_finding(
                "ketamine_misuse",
                "a hallucinogen or other psychoactive substance disorder, possibly ketamine",
                codes,
                denied=snapshot.ketamine_misuse == "none",
                level=active_level,
                policy=policy,
                source=f"{source}; {code_source}",
                evidence=evidence,
            )
        ]
    if snapshot.ketamine_misuse == "past":
        message = (
            "Relative contraindication: past misuse of ketamine or another dissociative. Assess the risk of abuse "
            "and misuse, and monitor for it."
        )
        return [make_finding("ketamine_misuse", "relative", message, source, evidence)]
    if snapshot.ketamine_misuse is None:
        what = "Ketamine or dissociative misuse history"
        return [missing_finding("ketamine_misuse", what, _AN_ABSOLUTE_OR_RELATIVE, source, evidence)]
    return []


def suicide_risk(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Defer for active suicidal intent with a plan (C-SSRS high risk); ask for review at moderate risk."""
    # "Dose deferred; emergency pathway" is stronger than an override with a reason, so it is "absolute": the
    # prescriber decides "not eligible" now and re-evaluates once the crisis is managed.
    source = (
        "eligibility.md section 1 (active suicidal intent with plan: dose deferred, emergency pathway; Spravato "
        "does not replace hospitalisation, PI limitation of use); instruments.md C-SSRS triage (Columbia)"
    )
    evidence: Evidence = {
        "suicidal_intent_with_plan": snapshot.suicidal_intent_with_plan,
        "cssrs_risk": snapshot.cssrs_risk,
        "phq9_item9": snapshot.phq9_item9,
    }
    findings: list[Finding] = []
    if snapshot.suicidal_intent_with_plan is True or snapshot.cssrs_risk == "high risk":
        message = (
            "Absolute contraindication for now: active suicidal intent with a plan (C-SSRS high risk). Do not dose; "
            "immediate clinician evaluation; do not leave the patient alone; emergency pathway."
        )
        findings.append(make_finding("suicide_risk", "absolute", message, source, evidence))
    elif snapshot.cssrs_risk == "moderate risk":
        message = "Precaution: C-SSRS moderate risk. Prescriber review before dosing; safety plan; document."
        moderate_source = "instruments.md C-SSRS triage, moderate row [unverified row wording; policy default]"
        findings.append(make_finding("suicide_risk.moderate", "relative", message, moderate_source, evidence))
    if snapshot.cssrs_risk is None:
        if snapshot.phq9_item9 is not None and snapshot.phq9_item9 > 0:
            findings.append(
                Finding(
                    "suicide_risk.item9_unassessed",
                    "missing",
                    f"PHQ-9 item 9 is {snapshot.phq9_item9} and no C-SSRS is recorded: a same-day suicide-risk "
                    "assessment is needed before any dosing.",
                    "instruments.md PHQ-9 safety flag (Simon GE et al. Psychiatr Serv 2013)",
                    evidence,
                )
            )
        else:
            what = "A suicide-risk assessment (C-SSRS)"
            needed_for = "active suicidal intent with a plan"
            findings.append(missing_finding("suicide_risk", what, needed_for, source, evidence))
    return findings

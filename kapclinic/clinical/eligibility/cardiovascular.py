"""Cardiovascular rules that weigh more than a yes/no answer (eligibility.md section 1, monitoring.md section 3).

Hypertension on the problem list, and the blood pressure and heart rate measured at the evaluation. The yes/no
cardiovascular conditions (aneurysm, AVM, haemorrhage...) are rows of conditions.CONDITIONS.
"""

from __future__ import annotations

from kapclinic.clinical.eligibility.codes import coded
from kapclinic.clinical.eligibility.findings import Evidence, EvidenceValue, Finding, make_finding, missing_finding
from kapclinic.clinical.eligibility.policy import EligibilityPolicy
from kapclinic.clinical.eligibility.snapshot import EvaluationSnapshot


def uncontrolled_hypertension(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag uncontrolled hypertension (relative overall; absolute only on a dosing day, by the pre-dose check)."""
    # I10 on the problem list is a precaution (eligibility.md section 3), a weaker signal than the flag.
    source = "Spravato US PI 5.x (increase in blood pressure); Sanacora 2017; eligibility.md section 1"
    codes = coded(snapshot, ("I10",))
    evidence: dict[str, EvidenceValue] = {"uncontrolled_hypertension": snapshot.uncontrolled_hypertension}
    if snapshot.uncontrolled_hypertension is True:
        evidence["diagnoses"] = codes
        message = (
            "Relative contraindication: uncontrolled hypertension. Control it before the course; on a dosing day "
            "the pre-dose blood-pressure limits apply (monitoring.md section 3)."
        )
        return [make_finding("uncontrolled_hypertension", "relative", message, source, evidence)]
    if codes:
        evidence["diagnoses"] = codes
        message = (
            f"Precaution: hypertension on the problem list ({', '.join(codes)}). Check that it is controlled; "
            "ketamine raises blood pressure."
        )
        source += "; eligibility.md section 3"
        return [make_finding("uncontrolled_hypertension.coded", "relative", message, source, evidence)]
    if snapshot.uncontrolled_hypertension is None:
        what = "Whether hypertension is controlled"
        return [missing_finding("uncontrolled_hypertension", what, "a relative contraindication", source, evidence)]
    return []


def blood_pressure(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag an evaluation blood pressure above the warning, hold or do-not-dose limits."""
    systolic, diastolic = snapshot.systolic_bp, snapshot.diastolic_bp
    evidence: Evidence = {"systolic_bp": systolic, "diastolic_bp": diastolic, "policy": policy.version}
    source = (
        "monitoring.md section 3 (Spravato PI: baseline BP > 140/90 elevated, weigh risk; 160/100 hold and "
        f"180/110 do-not-dose are [policy], here version {policy.version})"
    )
    findings: list[Finding] = []
    if systolic is None or diastolic is None:
        findings.append(
            missing_finding(
                "blood_pressure", "Blood pressure at evaluation", "uncontrolled hypertension", source, evidence
            )
        )
    s, d = systolic if systolic is not None else 0, diastolic if diastolic is not None else 0
    reading = f"{systolic if systolic is not None else '?'}/{diastolic if diastolic is not None else '?'} mmHg"
    if s >= policy.bp_do_not_dose_systolic or d >= policy.bp_do_not_dose_diastolic:
        limit = f"{policy.bp_do_not_dose_systolic}/{policy.bp_do_not_dose_diastolic}"
        message = (
            f"Relative contraindication: blood pressure {reading} is at or above the do-not-dose limit ({limit}). "
            "No dose would be given at this reading; treat and recheck before the course."
        )
    elif s >= policy.bp_hold_systolic or d >= policy.bp_hold_diastolic:
        limit = f"{policy.bp_hold_systolic}/{policy.bp_hold_diastolic}"
        message = (
            f"Relative contraindication: blood pressure {reading} is at or above the hold limit ({limit}). "
            "A dose at this reading needs the prescriber; recheck and consider treatment."
        )
    elif s > policy.bp_warn_systolic or d > policy.bp_warn_diastolic:
        limit = f"{policy.bp_warn_systolic}/{policy.bp_warn_diastolic}"
        message = (
            f"Precaution: blood pressure {reading} is above {limit}. Weigh the short-term rise in blood pressure "
            "against the benefit, and recheck."
        )
    else:
        return findings
    return [make_finding("blood_pressure", "relative", message, source, evidence), *findings]


def heart_rate(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag a resting heart rate outside the review bounds."""
    rate = snapshot.heart_rate
    evidence: Evidence = {"heart_rate": rate, "policy": policy.version}
    source = (
        "monitoring.md section 3 (pre-dose heart rate < 50 or > 110: review; practice [unverified; policy], here "
        f"version {policy.version}); Ketalar US PI (tachycardia)"
    )
    if rate is None:
        return [missing_finding("heart_rate", "Heart rate at evaluation", "a precaution", source, evidence)]
    if rate < policy.heart_rate_low or rate > policy.heart_rate_high:
        message = (
            f"Precaution: heart rate {rate}/min is outside {policy.heart_rate_low}-{policy.heart_rate_high}/min. "
            "Review the cause (arrhythmia, thyroid, stimulants) before the course."
        )
        return [make_finding("heart_rate", "relative", message, source, evidence)]
    return []

"""The rule set: every eligibility rule in the order it runs, its version, and `evaluate`.

Section 1 (contraindications and precautions), section 2 (drug interactions) and section 4 (information to
collect) of eligibility.md; the rules themselves are in the topic modules beside this one.
"""

from __future__ import annotations

from kapclinic.clinical.eligibility import (
    cardiovascular,
    conditions,
    general,
    information,
    interactions,
    psychiatric,
    reproductive,
)
from kapclinic.clinical.eligibility.findings import SEVERITIES, Finding, Rule, Severity
from kapclinic.clinical.eligibility.policy import DEFAULT_POLICY, EligibilityPolicy
from kapclinic.clinical.eligibility.snapshot import EvaluationSnapshot

# Bump when a rule, a code list or a drug list changes: decisions store it to explain themselves later.
RULE_SET_VERSION = "2026-12-04.1"

_RANK: dict[Severity, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}

RULES: tuple[Rule, ...] = (
    # Section 1: contraindications and precautions.
    conditions.aneurysmal_vascular_disease,
    conditions.arteriovenous_malformation,
    conditions.intracerebral_haemorrhage,
    general.hypersensitivity,
    conditions.bp_rise_hazard,
    cardiovascular.uncontrolled_hypertension,
    cardiovascular.blood_pressure,
    cardiovascular.heart_rate,
    conditions.unstable_cardiovascular_disease,
    conditions.cerebrovascular_disease,
    conditions.raised_intracranial_pressure,
    conditions.raised_intraocular_pressure,
    reproductive.pregnancy,
    reproductive.breastfeeding,
    psychiatric.psychosis,
    psychiatric.mania,
    psychiatric.ketamine_misuse,
    conditions.substance_use_disorder,
    conditions.alcohol_use_disorder,
    conditions.severe_hepatic_impairment,
    conditions.cystitis,
    conditions.cognitive_impairment,
    general.airway_risk,
    conditions.uncontrolled_hyperthyroidism,
    conditions.seizure_disorder,
    general.minimum_age,
    psychiatric.suicide_risk,
    # Section 2: drug interactions.
    interactions.benzodiazepine,
    interactions.lamotrigine,
    interactions.nmda_agent,
    interactions.maoi,
    interactions.psychostimulant,
    interactions.opioid,
    interactions.naltrexone,
    interactions.alcohol,
    interactions.other_sedative,
    interactions.cyp_modulator,
    interactions.theophylline,
    interactions.thyroid_hormone,
    # Section 4: information to collect.
    information.diagnoses,
    information.baseline_scores,
    information.prior_trials,
    information.medications,
    reproductive.contraception,
)


def evaluate(snapshot: EvaluationSnapshot, policy: EligibilityPolicy = DEFAULT_POLICY) -> list[Finding]:
    """Return every finding for the snapshot: absolute, then relative, interaction, missing (rule order within)."""
    findings: dict[str, Finding] = {}
    for rule in RULES:
        for finding in rule(snapshot, policy):
            findings.setdefault(finding.code, finding)
    return sorted(findings.values(), key=lambda finding: _RANK[finding.severity])

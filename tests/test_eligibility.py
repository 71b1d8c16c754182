"""Eligibility rules: pure functions, no database.

Every rule has a firing and a non-firing case below; the expected codes, severities and thresholds are typed in
from ../shared/domain/eligibility.md and monitoring.md, not read back from the module's data.
"""

from __future__ import annotations

import json
import time
from dataclasses import fields, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapclinic.clinical import eligibility as el
from kapclinic.clinical.eligibility import (
    DECISIONS,
    DEFAULT_POLICY,
    RULE_SET_VERSION,
    RULES,
    SEVERITIES,
    EligibilityPolicy,
    EvaluationSnapshot,
    Finding,
    Rule,
    TreatmentTrial,
    decision_allowed,
    evaluate,
    policy_problems,
    treatment_resistance,
)
from kapclinic.clinical.instruments import CSSRS_SCREEN

MEDICAL_FLAGS = (
    "aneurysmal_vascular_disease",
    "arteriovenous_malformation",
    "intracerebral_haemorrhage",
    "bp_rise_hazard",
    "uncontrolled_hypertension",
    "unstable_cardiovascular_disease",
    "cerebrovascular_disease",
    "raised_intracranial_pressure",
    "raised_intraocular_pressure",
    "severe_hepatic_impairment",
    "cystitis_or_urinary_symptoms",
    "cognitive_impairment",
    "airway_risk",
    "uncontrolled_hyperthyroidism",
    "seizure_disorder",
)

TRD_TRIALS = (
    TreatmentTrial("sertraline", "200 mg/day", 8, "none", adequate_dose=True, current_episode=True),
    TreatmentTrial("venlafaxine", "225 mg/day", 8, "partial", adequate_dose=True, current_episode=True),
)

# Everything answered, nothing wrong: no rule fires.
CLEAN = EvaluationSnapshot(
    age=40,
    sex_at_birth="female",
    pregnancy="not_pregnant",
    breastfeeding=False,
    contraception="IUD",
    diagnoses=("F33.2",),
    prior_trials=TRD_TRIALS,
    medications=("escitalopram 20 mg daily",),
    allergies=(),
    ketamine_misuse="none",
    alcohol_use_disorder=False,
    substance_use_disorder=False,
    psychosis="none",
    mood="none",
    suicidal_intent_with_plan=False,
    **dict.fromkeys(MEDICAL_FLAGS, False),
    height_cm=170,
    weight_kg=70,
    systolic_bp=120,
    diastolic_bp=80,
    heart_rate=72,
    baseline_scores={"phq9": 18},
    phq9_item9=0,
    cssrs_risk="negative",
)


def snap(**changes: Any) -> EvaluationSnapshot:
    return replace(CLEAN, **changes)


def codes(findings: list[Finding]) -> set[str]:
    return {finding.code for finding in findings}


def by_code(findings: list[Finding], code: str) -> Finding:
    matches = [finding for finding in findings if finding.code == code]
    assert matches, f"{code} not in {sorted(codes(findings))}"
    return matches[0]


def test_clean_snapshot_has_no_findings() -> None:
    assert evaluate(CLEAN) == []


# --- Every rule fires ... -----------------------------------------------------------------------------------

P = pytest.param
FIRING = [
    P(el.aneurysmal_vascular_disease, {"aneurysmal_vascular_disease": True}, "aneurysmal_vascular_disease", "absolute"),
    P(
        el.aneurysmal_vascular_disease,
        {"diagnoses": ("F33.2", "I71.4")},
        "aneurysmal_vascular_disease.coded",
        "relative",
    ),
    P(el.aneurysmal_vascular_disease, {"diagnoses": ("I67.1",)}, "aneurysmal_vascular_disease.coded", "relative"),
    P(el.arteriovenous_malformation, {"arteriovenous_malformation": True}, "arteriovenous_malformation", "absolute"),
    P(el.arteriovenous_malformation, {"diagnoses": ("Q28.2",)}, "arteriovenous_malformation.coded", "relative"),
    P(el.arteriovenous_malformation, {"diagnoses": ("Q27.30",)}, "arteriovenous_malformation.coded", "relative"),
    P(el.arteriovenous_malformation, {"diagnoses": ("Q28.0",)}, "arteriovenous_malformation.coded", "relative"),
    P(el.intracerebral_haemorrhage, {"intracerebral_haemorrhage": True}, "intracerebral_haemorrhage", "absolute"),
    P(el.intracerebral_haemorrhage, {"diagnoses": ("I61.9",)}, "intracerebral_haemorrhage.coded", "relative"),
    P(el.hypersensitivity, {"allergies": ("Ketamine (rash)",)}, "hypersensitivity", "absolute"),
    P(el.hypersensitivity, {"allergies": ("SPRAVATO",)}, "hypersensitivity", "absolute"),
    P(el.hypersensitivity, {"allergies": ("benzethonium chloride",)}, "hypersensitivity", "absolute"),
    P(el.bp_rise_hazard, {"bp_rise_hazard": True}, "bp_rise_hazard", "absolute"),
    P(el.uncontrolled_hypertension, {"uncontrolled_hypertension": True}, "uncontrolled_hypertension", "relative"),
    P(el.uncontrolled_hypertension, {"diagnoses": ("F33.2", "I10")}, "uncontrolled_hypertension.coded", "relative"),
    P(el.blood_pressure, {"systolic_bp": 141}, "blood_pressure", "relative", id="bp-warn-systolic"),
    P(el.blood_pressure, {"diastolic_bp": 91}, "blood_pressure", "relative", id="bp-warn-diastolic"),
    P(el.blood_pressure, {"systolic_bp": 160}, "blood_pressure", "relative", id="bp-hold"),
    P(el.blood_pressure, {"systolic_bp": 130, "diastolic_bp": 110}, "blood_pressure", "relative", id="bp-do-not-dose"),
    P(el.heart_rate, {"heart_rate": 49}, "heart_rate", "relative", id="hr-low"),
    P(el.heart_rate, {"heart_rate": 111}, "heart_rate", "relative", id="hr-high"),
    P(
        el.unstable_cardiovascular_disease,
        {"unstable_cardiovascular_disease": True},
        "unstable_cardiovascular_disease",
        "relative",
    ),
    P(el.cerebrovascular_disease, {"cerebrovascular_disease": True}, "cerebrovascular_disease", "relative"),
    P(
        el.raised_intracranial_pressure,
        {"raised_intracranial_pressure": True},
        "raised_intracranial_pressure",
        "absolute",
    ),
    P(el.raised_intraocular_pressure, {"raised_intraocular_pressure": True}, "raised_intraocular_pressure", "relative"),
    P(el.pregnancy, {"pregnancy": "pregnant"}, "pregnancy", "relative"),
    P(el.pregnancy, {"diagnoses": ("Z33.1",)}, "pregnancy.coded", "relative"),
    P(el.pregnancy, {"diagnoses": ("O09.511",)}, "pregnancy.coded", "relative"),
    P(el.breastfeeding, {"breastfeeding": True}, "breastfeeding", "relative"),
    P(el.psychosis, {"psychosis": "current"}, "psychosis", "absolute"),
    P(el.psychosis, {"psychosis": "history"}, "psychosis", "relative"),
    P(el.psychosis, {"diagnoses": ("F20.9",)}, "psychosis", "relative", id="schizophrenia-code"),
    P(el.psychosis, {"diagnoses": ("F25.0",)}, "psychosis", "relative", id="schizoaffective-code"),
    P(el.psychosis, {"diagnoses": ("F33.3",)}, "psychosis.coded", "relative", id="psychotic-features-code"),
    P(el.psychosis, {"diagnoses": ("F31.5",)}, "psychosis.coded", "relative", id="bipolar-psychotic-features"),
    P(el.psychosis, {"diagnoses": ("F22",)}, "psychosis", "relative", id="delusional-disorder-code"),
    P(el.psychosis, {"diagnoses": ("F06.2",)}, "psychosis", "relative", id="psychotic-disorder-due-to-condition"),
    P(el.mania, {"mood": "current_mania"}, "mania", "absolute"),
    P(el.mania, {"mood": "bipolar"}, "mania.bipolar", "relative"),
    P(el.mania, {"diagnoses": ("F31.81",)}, "mania.bipolar", "relative", id="bipolar-ii-code"),
    P(el.mania, {"diagnoses": ("F31.2",)}, "mania.coded", "relative", id="bipolar-manic-code"),
    P(el.mania, {"diagnoses": ("F30.10",)}, "mania.coded", "relative", id="manic-episode-code"),
    P(el.ketamine_misuse, {"ketamine_misuse": "active"}, "ketamine_misuse", "absolute"),
    P(el.ketamine_misuse, {"ketamine_misuse": "past"}, "ketamine_misuse", "relative"),
    P(el.ketamine_misuse, {"diagnoses": ("F19.20",)}, "ketamine_misuse.coded", "relative"),
    P(el.ketamine_misuse, {"diagnoses": ("F16.20",)}, "ketamine_misuse.coded", "relative"),
    P(el.substance_use_disorder, {"substance_use_disorder": True}, "substance_use_disorder", "relative"),
    P(el.alcohol_use_disorder, {"alcohol_use_disorder": True}, "alcohol_use_disorder", "relative"),
    P(el.severe_hepatic_impairment, {"severe_hepatic_impairment": True}, "severe_hepatic_impairment", "relative"),
    P(el.cystitis, {"cystitis_or_urinary_symptoms": True}, "cystitis", "relative"),
    P(el.cognitive_impairment, {"cognitive_impairment": True}, "cognitive_impairment", "relative"),
    P(el.airway_risk, {"airway_risk": True}, "airway_risk", "relative"),
    P(el.airway_risk, {"height_cm": 170, "weight_kg": 115.6}, "airway_risk.bmi", "relative", id="bmi-40"),
    P(
        el.uncontrolled_hyperthyroidism,
        {"uncontrolled_hyperthyroidism": True},
        "uncontrolled_hyperthyroidism",
        "relative",
    ),
    P(el.seizure_disorder, {"seizure_disorder": True}, "seizure_disorder", "relative"),
    P(el.minimum_age, {"age": 17}, "minimum_age", "absolute"),
    P(el.suicide_risk, {"suicidal_intent_with_plan": True}, "suicide_risk", "absolute"),
    P(el.suicide_risk, {"cssrs_risk": "high risk"}, "suicide_risk", "absolute"),
    P(el.suicide_risk, {"cssrs_risk": "moderate risk"}, "suicide_risk.moderate", "relative"),
    P(el.benzodiazepine, {"medications": ("lorazepam 1 mg prn",)}, "benzodiazepine", "interaction"),
    P(el.benzodiazepine, {"medications": ("Klonopin",)}, "benzodiazepine", "interaction"),
    P(el.lamotrigine, {"medications": ("Lamotrigine 200 mg",)}, "lamotrigine", "interaction"),
    P(el.nmda_agent, {"medications": ("memantine",)}, "nmda_agent", "interaction"),
    P(el.nmda_agent, {"medications": ("dextromethorphan-bupropion",)}, "nmda_agent", "interaction"),
    P(el.maoi, {"medications": ("phenelzine 15 mg tid",)}, "maoi", "interaction"),
    P(el.maoi, {"medications": ("Emsam 6 mg/24 h patch",)}, "maoi", "interaction"),
    P(el.psychostimulant, {"medications": ("Adderall XR 20 mg",)}, "psychostimulant", "interaction"),
    P(el.psychostimulant, {"medications": ("modafinil",)}, "psychostimulant", "interaction"),
    P(el.opioid, {"medications": ("buprenorphine/naloxone",)}, "opioid", "interaction"),
    P(el.naltrexone, {"medications": ("naltrexone 50 mg",)}, "naltrexone", "interaction"),
    P(el.alcohol, {"alcohol_use_disorder": True}, "alcohol", "interaction"),
    P(el.other_sedative, {"medications": ("quetiapine 50 mg qhs",)}, "other_sedative", "interaction"),
    P(el.other_sedative, {"medications": ("gabapentin",)}, "other_sedative", "interaction"),
    P(el.cyp_modulator, {"medications": ("clarithromycin",)}, "cyp_modulator", "interaction"),
    P(el.cyp_modulator, {"medications": ("St. John's Wort",)}, "cyp_modulator", "interaction"),
    P(el.theophylline, {"medications": ("theophylline ER",)}, "theophylline", "interaction"),
    P(el.thyroid_hormone, {"medications": ("levothyroxine 50 mcg",)}, "thyroid_hormone", "interaction"),
    P(el.diagnoses, {"diagnoses": None}, "diagnoses.unknown", "missing"),
    P(el.diagnoses, {"diagnoses": ()}, "diagnoses.unknown", "missing"),
    P(el.baseline_scores, {"baseline_scores": None}, "baseline_scores.unknown", "missing"),
    P(el.baseline_scores, {"baseline_scores": {}}, "baseline_scores.unknown", "missing"),
    P(el.prior_trials, {"prior_trials": None}, "prior_trials.unknown", "missing"),
    P(el.prior_trials, {"prior_trials": (TreatmentTrial("sertraline"),)}, "prior_trials.incomplete", "missing"),
    P(el.medications, {"medications": None}, "medications.unknown", "missing"),
    P(el.contraception, {"contraception": None}, "contraception.unknown", "missing"),
]


@pytest.mark.parametrize(("rule", "changes", "code", "severity"), FIRING)
def test_rule_fires(rule: Rule, changes: dict[str, Any], code: str, severity: str) -> None:
    snapshot = snap(**changes)
    finding = by_code(rule(snapshot, DEFAULT_POLICY), code)
    assert finding.severity == severity
    assert finding.message and finding.source
    assert by_code(evaluate(snapshot), code) == finding


# --- ... and does not fire on the near miss -----------------------------------------------------------------

NOT_FIRING = [
    P(el.aneurysmal_vascular_disease, {"diagnoses": ("I70.0",)}, id="atherosclerosis-is-not-aneurysm"),
    P(el.arteriovenous_malformation, {"diagnoses": ("F33.2",)}),
    P(el.intracerebral_haemorrhage, {"diagnoses": ("I63.9",)}, id="infarction-is-not-haemorrhage"),
    P(el.hypersensitivity, {"allergies": ("penicillin", "ketorolac")}),
    P(el.bp_rise_hazard, {}),
    P(el.uncontrolled_hypertension, {"diagnoses": ("I15.0",)}),
    P(el.blood_pressure, {"systolic_bp": 140, "diastolic_bp": 90}, id="bp-at-warn-limit-is-not-above"),
    P(el.heart_rate, {"heart_rate": 50}),
    P(el.heart_rate, {"heart_rate": 110}),
    P(el.unstable_cardiovascular_disease, {}),
    P(el.cerebrovascular_disease, {}),
    P(el.raised_intracranial_pressure, {}),
    P(el.raised_intraocular_pressure, {}),
    P(el.pregnancy, {"sex_at_birth": "male", "pregnancy": None}, id="male-needs-no-pregnancy-status"),
    P(el.pregnancy, {"pregnancy": "not_applicable"}),
    P(el.breastfeeding, {"sex_at_birth": "male", "breastfeeding": None}),
    P(el.psychosis, {"diagnoses": ("F32.2",)}, id="severe-without-psychotic-features"),
    P(el.psychosis, {"diagnoses": ("F21",)}, id="schizotypal-is-not-a-psychosis"),
    P(el.psychosis, {"diagnoses": ("F31.4", "F06.1")}, id="bipolar-without-psychotic-features-catatonia"),
    P(el.arteriovenous_malformation, {"diagnoses": ("Q27.2", "Q28.1")}, id="other-vessel-malformations-are-not-avm"),
    P(el.mania, {"diagnoses": ("F32.1", "F41.1")}),
    P(el.ketamine_misuse, {"diagnoses": ("F10.20",)}, id="alcohol-code-is-not-ketamine"),
    P(el.substance_use_disorder, {}),
    P(el.alcohol_use_disorder, {}),
    P(el.severe_hepatic_impairment, {}),
    P(el.cystitis, {}),
    P(el.cognitive_impairment, {}),
    P(el.airway_risk, {"height_cm": 170, "weight_kg": 115.0}, id="bmi-39.8"),
    P(el.uncontrolled_hyperthyroidism, {}),
    P(el.seizure_disorder, {}),
    P(el.minimum_age, {"age": 18}),
    P(el.suicide_risk, {"cssrs_risk": "low risk", "phq9_item9": 1}),
    P(el.benzodiazepine, {"medications": ("buspirone",)}),
    P(el.lamotrigine, {"medications": ("levetiracetam",)}),
    P(el.nmda_agent, {"medications": ("sertraline",)}),
    P(el.maoi, {"medications": ("sertraline", "bupropion")}),
    P(el.psychostimulant, {"medications": ("atomoxetine",)}),
    P(el.opioid, {"medications": ("naloxone nasal spray",)}),
    P(el.naltrexone, {"medications": ("naloxone nasal spray",)}),
    P(el.alcohol, {}),
    P(el.other_sedative, {"medications": ("escitalopram",)}),
    P(el.cyp_modulator, {"medications": ("itraconazole",)}, id="itraconazole-did-not-raise-exposure"),
    P(el.theophylline, {"medications": ("caffeine",)}),
    P(el.thyroid_hormone, {"medications": ("methimazole",)}),
    P(el.diagnoses, {}),
    P(el.baseline_scores, {}),
    P(el.prior_trials, {"prior_trials": ()}, id="no-prior-trials-is-an-answer"),
    P(el.prior_trials, {"prior_trials": (TreatmentTrial("psychotherapy (CBT)"),)}, id="non-drug-trial-needs-no-dose"),
    P(el.medications, {"medications": ()}),
    P(el.contraception, {"contraception": None, "pregnancy": "not_applicable"}),
]


@pytest.mark.parametrize(("rule", "changes"), NOT_FIRING)
def test_rule_does_not_fire(rule: Rule, changes: dict[str, Any]) -> None:
    assert rule(snap(**changes), DEFAULT_POLICY) == []


def test_every_rule_has_firing_and_non_firing_cases() -> None:
    fired = {case.values[0] for case in FIRING}
    quiet = {case.values[0] for case in NOT_FIRING}
    names = [rule.__name__ for rule in RULES]
    assert len(set(names)) == len(names)
    assert [r.__name__ for r in RULES if r not in fired] == []
    assert [r.__name__ for r in RULES if r not in quiet] == []


def test_every_rule_has_a_docstring_starting_with_a_verb() -> None:
    for rule in RULES:
        assert rule.__doc__ and rule.__doc__.split()[0] in {"Block", "Flag", "Warn", "Ask", "Note", "Defer"}


# --- Thresholds and wording ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("systolic", "diastolic", "words"),
    [
        (141, 80, "above 140/90"),
        (159, 99, "above 140/90"),
        (160, 80, "hold limit (160/100)"),
        (120, 100, "hold limit (160/100)"),
        (179, 109, "hold limit (160/100)"),
        (180, 80, "do-not-dose limit (180/110)"),
        (120, 110, "do-not-dose limit (180/110)"),
    ],
)
def test_blood_pressure_levels_follow_monitoring_md(systolic: int, diastolic: int, words: str) -> None:
    finding = by_code(evaluate(snap(systolic_bp=systolic, diastolic_bp=diastolic)), "blood_pressure")
    assert words in finding.message
    assert finding.severity == "relative"  # absolute only on a dosing day (eligibility.md: relative overall)
    assert finding.evidence["systolic_bp"] == systolic


def test_blood_pressure_uses_the_policy_and_names_its_version() -> None:
    policy = EligibilityPolicy(version="clinic-7", bp_warn_systolic=130, bp_warn_diastolic=85)
    assert el.blood_pressure(snap(systolic_bp=135), DEFAULT_POLICY) == []
    finding = by_code(el.blood_pressure(snap(systolic_bp=135), policy), "blood_pressure")
    assert "above 130/85" in finding.message
    assert finding.evidence["policy"] == "clinic-7" and "clinic-7" in finding.source


def test_one_blood_pressure_value_missing_still_judges_the_other() -> None:
    found = evaluate(snap(systolic_bp=185, diastolic_bp=None))
    assert by_code(found, "blood_pressure").severity == "relative"
    assert by_code(found, "blood_pressure.unknown").severity == "missing"


def test_bmi_is_derived_and_guarded() -> None:
    assert snap(height_cm=170, weight_kg=70).bmi == 24.2
    assert snap(height_cm=0, weight_kg=70).bmi is None
    assert snap(height_cm=None).bmi is None
    policy = EligibilityPolicy(airway_bmi=35)
    assert codes(el.airway_risk(snap(weight_kg=102), policy)) == {"airway_risk.bmi"}  # BMI 35.3


def test_minimum_age_is_policy() -> None:
    assert codes(evaluate(snap(age=17), EligibilityPolicy(minimum_age=16))) == set()
    relaxed = EligibilityPolicy(under_minimum_age_absolute=False)
    assert by_code(evaluate(snap(age=17), relaxed), "minimum_age").severity == "relative"


def test_current_psychosis_mania_and_ketamine_misuse_are_absolute_only_by_policy() -> None:
    relaxed = EligibilityPolicy(
        current_psychosis_absolute=False, current_mania_absolute=False, active_ketamine_misuse_absolute=False
    )
    snapshot = snap(psychosis="current", mood="current_mania", ketamine_misuse="active")
    assert {f.code for f in evaluate(snapshot) if f.severity == "absolute"} == {"psychosis", "mania", "ketamine_misuse"}
    assert [f for f in evaluate(snapshot, relaxed) if f.severity == "absolute"] == []


def test_hypersensitivity_matches_whole_words_only() -> None:
    finding = by_code(evaluate(snap(allergies=("esketamine nasal spray",))), "hypersensitivity")
    assert finding.evidence["matched"] == ("esketamine",)  # not also "ketamine" inside "esketamine"
    assert el.hypersensitivity(snap(allergies=("ketamines-free diet",)), DEFAULT_POLICY) == []


# --- Diagnosis codes: confirm before they block ---------------------------------------------------------------


def test_codes_alone_do_not_hard_block_by_default() -> None:
    found = evaluate(snap(diagnoses=("F33.2", "I71.4"), aneurysmal_vascular_disease=False))
    finding = by_code(found, "aneurysmal_vascular_disease.coded")
    assert finding.severity == "relative"
    assert "I71.4" in finding.message and "says no" in finding.message
    assert "clinician" in finding.message
    assert finding.evidence["diagnoses"] == ("I71.4",)


def test_codes_block_once_the_clinic_has_reviewed_its_code_list() -> None:
    policy = EligibilityPolicy(diagnosis_codes_block=True)
    assert by_code(evaluate(snap(diagnoses=("I714",)), policy), "aneurysmal_vascular_disease.coded").severity == (
        "absolute"
    )
    assert by_code(evaluate(snap(diagnoses=("F31.2",)), policy), "mania.coded").severity == "absolute"


def test_unverified_ketamine_code_mapping_never_blocks() -> None:
    # eligibility.md section 3: F19/F16 for ketamine use disorder is an [unverified mapping].
    policy = EligibilityPolicy(diagnosis_codes_block=True)
    finding = by_code(evaluate(snap(diagnoses=("F19.20",)), policy), "ketamine_misuse.coded")
    assert finding.severity == "relative"
    assert "Downgraded from absolute" in finding.message
    assert "[unverified" in finding.source


def test_flag_yes_wins_over_the_code() -> None:
    found = evaluate(snap(diagnoses=("I71.4",), aneurysmal_vascular_disease=True))
    assert "aneurysmal_vascular_disease.coded" not in codes(found)
    assert by_code(found, "aneurysmal_vascular_disease").evidence["diagnoses"] == ("I71.4",)


def test_unconfirmed_sources_never_yield_absolute() -> None:
    downgraded = el._finding("x", "absolute", "Absolute.", "Some label [unverified]", {})
    assert downgraded.severity == "relative" and "Downgraded" in downgraded.message
    assert el._finding("x", "absolute", "Absolute.", "Spravato US PI 4", {}).severity == "absolute"
    assert el._finding("x", "interaction", "Note.", "[unverified]", {}).severity == "interaction"


# --- Missing information ------------------------------------------------------------------------------------

MISSING = [
    ("age", "minimum_age.unknown"),
    ("allergies", "hypersensitivity.unknown"),
    ("systolic_bp", "blood_pressure.unknown"),
    ("diastolic_bp", "blood_pressure.unknown"),
    ("heart_rate", "heart_rate.unknown"),
    ("height_cm", "airway_risk.bmi_unknown"),
    ("weight_kg", "airway_risk.bmi_unknown"),
    ("pregnancy", "pregnancy.unknown"),
    ("breastfeeding", "breastfeeding.unknown"),
    ("psychosis", "psychosis.unknown"),
    ("mood", "mania.unknown"),
    ("ketamine_misuse", "ketamine_misuse.unknown"),
    ("substance_use_disorder", "substance_use_disorder.unknown"),
    ("alcohol_use_disorder", "alcohol_use_disorder.unknown"),
    ("cssrs_risk", "suicide_risk.unknown"),
    ("diagnoses", "diagnoses.unknown"),
    ("baseline_scores", "baseline_scores.unknown"),
    ("prior_trials", "prior_trials.unknown"),
    ("medications", "medications.unknown"),
    ("contraception", "contraception.unknown"),
    ("aneurysmal_vascular_disease", "aneurysmal_vascular_disease.unknown"),
    ("arteriovenous_malformation", "arteriovenous_malformation.unknown"),
    ("intracerebral_haemorrhage", "intracerebral_haemorrhage.unknown"),
    ("bp_rise_hazard", "bp_rise_hazard.unknown"),
    ("uncontrolled_hypertension", "uncontrolled_hypertension.unknown"),
    ("unstable_cardiovascular_disease", "unstable_cardiovascular_disease.unknown"),
    ("cerebrovascular_disease", "cerebrovascular_disease.unknown"),
    ("raised_intracranial_pressure", "raised_intracranial_pressure.unknown"),
    ("raised_intraocular_pressure", "raised_intraocular_pressure.unknown"),
    ("severe_hepatic_impairment", "severe_hepatic_impairment.unknown"),
    ("cystitis_or_urinary_symptoms", "cystitis.unknown"),
    ("cognitive_impairment", "cognitive_impairment.unknown"),
    ("airway_risk", "airway_risk.unknown"),
    ("uncontrolled_hyperthyroidism", "uncontrolled_hyperthyroidism.unknown"),
    ("seizure_disorder", "seizure_disorder.unknown"),
]


@pytest.mark.parametrize(("name", "code"), MISSING)
def test_unrecorded_field_is_missing_information(name: str, code: str) -> None:
    found = evaluate(snap(**{name: None}))
    assert [(f.code, f.severity) for f in found] == [(code, "missing")]
    assert name in by_code(found, code).evidence or code == "airway_risk.bmi_unknown"


def test_every_medical_flag_has_a_missing_case() -> None:
    assert set(MEDICAL_FLAGS) <= {name for name, _ in MISSING}


def test_unknown_pregnancy_status_counts_as_missing() -> None:
    assert codes(evaluate(snap(pregnancy="unknown"))) == {"pregnancy.unknown"}
    assert codes(evaluate(snap(pregnancy="unknown", sex_at_birth="intersex"))) == {"pregnancy.unknown"}
    message = by_code(evaluate(snap(pregnancy=None, sex_at_birth=None)), "pregnancy.unknown").message
    assert "sex at birth" in message


def test_suicide_risk_item9_without_cssrs_asks_for_a_same_day_assessment() -> None:
    found = evaluate(snap(cssrs_risk=None, phq9_item9=2))
    finding = by_code(found, "suicide_risk.item9_unassessed")
    assert finding.severity == "missing" and "same-day" in finding.message
    assert "suicide_risk.unknown" not in codes(found)


def test_cssrs_labels_match_the_instrument() -> None:
    assert {level.label for level in CSSRS_SCREEN.triage} == {"negative", "low risk", "moderate risk", "high risk"}


def test_empty_snapshot_is_all_missing() -> None:
    found = evaluate(EvaluationSnapshot())
    assert found and {f.severity for f in found} == {"missing"}
    assert "minimum_age.unknown" in codes(found) and "medications.unknown" in codes(found)


# --- Interactions -------------------------------------------------------------------------------------------


def test_interactions_report_the_entries_and_ingredients() -> None:
    meds = ("Xanax 0.5 mg prn", "hydromorphone 2 mg", "escitalopram", "Vyvanse 30 mg")
    found = evaluate(snap(medications=meds))
    assert [f.code for f in found] == ["benzodiazepine", "psychostimulant", "opioid"]
    assert all(f.severity == "interaction" for f in found)
    opioid = by_code(found, "opioid")
    assert opioid.evidence == {"medications": ("hydromorphone 2 mg",), "matched": ("hydromorphone",)}
    assert by_code(found, "benzodiazepine").evidence["matched"] == ("alprazolam",)
    assert by_code(found, "psychostimulant").evidence["matched"] == ("lisdexamfetamine",)


def test_one_entry_can_trigger_two_rules() -> None:
    found = codes(evaluate(snap(medications=("Auvelity (dextromethorphan-bupropion)",))))
    assert found == {"nmda_agent"}
    both = codes(evaluate(snap(medications=("carbamazepine",), diagnoses=("F31.81",))))
    assert both == {"cyp_modulator", "mania.bipolar"}


def test_alcohol_use_disorder_is_relative_and_an_interaction() -> None:
    found = evaluate(snap(alcohol_use_disorder=True))
    assert [(f.code, f.severity) for f in found] == [
        ("alcohol_use_disorder", "relative"),
        ("alcohol", "interaction"),
    ]


def test_ssris_and_snris_are_not_interactions() -> None:
    assert evaluate(snap(medications=("sertraline", "duloxetine", "venlafaxine XR", "bupropion"))) == []


# --- Evaluate: order and shape ------------------------------------------------------------------------------


def test_evaluate_orders_absolute_relative_interaction_missing() -> None:
    snapshot = snap(
        heart_rate=None, medications=("lorazepam",), raised_intraocular_pressure=True, arteriovenous_malformation=True
    )
    found = evaluate(snapshot)
    assert [(f.severity, f.code) for f in found] == [
        ("absolute", "arteriovenous_malformation"),
        ("relative", "raised_intraocular_pressure"),
        ("interaction", "benzodiazepine"),
        ("missing", "heart_rate.unknown"),
    ]


def test_finding_as_dict_is_the_api_shape() -> None:
    finding = by_code(evaluate(snap(medications=("lorazepam",))), "benzodiazepine")
    data = finding.as_dict()
    assert set(data) == {"code", "severity", "message", "source", "evidence"}
    assert json.loads(json.dumps(data))["evidence"] == {"medications": ["lorazepam"], "matched": ["lorazepam"]}
    assert finding.rule == "benzodiazepine" and Finding("a.b", "missing", "", "").rule == "a"


def test_versions_are_recorded() -> None:
    assert RULE_SET_VERSION and DEFAULT_POLICY.version
    assert SEVERITIES == ("absolute", "relative", "interaction", "missing")
    assert DECISIONS == ("eligible", "eligible_with_precautions", "not_eligible")


def test_policy_validation() -> None:
    assert policy_problems(DEFAULT_POLICY) == []
    with pytest.raises(ValueError, match="systolic limits must rise"):
        EligibilityPolicy(bp_hold_systolic=190)
    with pytest.raises(ValueError, match="needs a version"):
        EligibilityPolicy(version=" ")
    with pytest.raises(ValueError, match="heart-rate"):
        EligibilityPolicy(heart_rate_low=120)


# --- Treatment resistance -----------------------------------------------------------------------------------


def trial(drug: str, weeks: float | None = 8, response: Any = "none", **kwargs: Any) -> TreatmentTrial:
    values: dict[str, Any] = {"adequate_dose": True, "current_episode": True} | kwargs
    return TreatmentTrial(drug, None, weeks, response, **values)


def test_two_adequate_failed_trials_make_trd() -> None:
    met, why = treatment_resistance(TRD_TRIALS)
    assert met
    assert why.startswith("2 of 2 adequate trials")
    assert "sertraline 8 wk, no response; venlafaxine 8 wk, partial response" in why
    assert "meets the FDA label definition" in why and "Spravato PI 1" in why


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        (trial("venlafaxine", weeks=4), "4 wk < 6 wk"),
        (trial("venlafaxine", adequate_dose=False), "dose below adequate"),
        (trial("venlafaxine", adequate_dose=None), "dose adequacy not judged"),
        (trial("venlafaxine", current_episode=False), "not in the current episode"),
        (trial("venlafaxine", current_episode=None), "episode not recorded"),
        (trial("venlafaxine", response="response"), "response, not an inadequate response"),
        (trial("venlafaxine", response="remission"), "remission, not an inadequate response"),
        (trial("venlafaxine", response="not_tolerated"), "stopped for intolerance"),
        (trial("venlafaxine", response=None), "response not recorded"),
        (trial("venlafaxine", weeks=None), "duration not recorded"),
        (trial("sertraline", weeks=12), "same drug as a counted trial"),
        (trial("aripiprazole"), "not recognised as an oral antidepressant"),
        (trial("psilocybin (trial)"), "not recognised as an oral antidepressant"),
    ],
)
def test_inadequate_second_trial_is_not_counted(second: TreatmentTrial, reason: str) -> None:
    met, why = treatment_resistance([trial("sertraline"), second])
    assert not met
    assert why.startswith("1 of 2 adequate trials")
    assert "does not meet" in why
    assert reason in why.split("Not counted:")[1]


def test_six_weeks_is_adequate_and_the_duration_is_policy() -> None:
    trials = [trial("fluoxetine", weeks=6), trial("Zoloft", weeks=6)]
    assert treatment_resistance(trials)[0]
    met, why = treatment_resistance(trials, EligibilityPolicy(adequate_trial_weeks=8))
    assert not met and "6 wk < 8 wk" in why


def test_prescriber_can_count_a_drug_the_list_does_not_know() -> None:
    trials = [trial("sertraline"), trial("Emsam patch", antidepressant=True)]
    assert treatment_resistance(trials)[0]
    assert not treatment_resistance([trial("sertraline"), trial("bupropion", antidepressant=False)])[0]


def test_no_trials_is_not_trd() -> None:
    assert treatment_resistance(None) == (
        False,
        "No prior treatment trials are recorded; 2 adequate failed trials are needed.",
    )
    assert not treatment_resistance([])[0]
    assert treatment_resistance([trial("sertraline")], EligibilityPolicy(trials_for_resistance=1))[0]


# --- The prescriber's decision ------------------------------------------------------------------------------

ABSOLUTE = Finding("aneurysmal_vascular_disease", "absolute", "m", "s")
RELATIVE = Finding("pregnancy", "relative", "m", "s")
INTERACTION = Finding("benzodiazepine", "interaction", "m", "s")
MISSING_INFO = Finding("heart_rate.unknown", "missing", "m", "s")


@pytest.mark.parametrize(
    ("findings", "decision", "reason", "allowed", "words"),
    [
        ([], "eligible", "", True, "No absolute or relative"),
        ([INTERACTION, MISSING_INFO], "eligible", None, True, "No absolute or relative"),
        ([ABSOLUTE], "eligible", "I know better", False, "absolute contraindication (aneurysmal_vascular_disease)"),
        ([ABSOLUTE], "eligible_with_precautions", "careful", False, "Cannot record eligible with precautions"),
        ([ABSOLUTE, RELATIVE], "not_eligible", "", True, "always"),
        ([RELATIVE], "eligible_with_precautions", "", False, "written reason is needed"),
        ([RELATIVE], "eligible_with_precautions", "   ", False, "written reason is needed"),
        ([RELATIVE], "eligible", None, False, "(pregnancy)"),
        ([RELATIVE], "eligible_with_precautions", "Benefit outweighs risk; OB consulted.", True, "despite pregnancy"),
        ([RELATIVE], "eligible", "Discussed; patient chooses to proceed.", True, "Allowed"),
        ([], "maybe", "", False, "Unknown decision"),
    ],
)
def test_decision_allowed(
    findings: list[Finding], decision: str, reason: str | None, allowed: bool, words: str
) -> None:
    ok, why = decision_allowed(findings, decision, reason)
    assert ok is allowed
    assert words in why


def test_decision_on_real_findings() -> None:
    only_relative = evaluate(snap(pregnancy="pregnant", medications=("lorazepam",)))
    assert not decision_allowed(only_relative, "eligible_with_precautions", "")[0]
    assert decision_allowed(only_relative, "eligible_with_precautions", "Discussed with OB.")[0]
    blocked = evaluate(snap(age=16))
    assert not decision_allowed(blocked, "eligible", "reason")[0]
    assert decision_allowed(iter(blocked), "not_eligible", "")[0]


# --- Properties ---------------------------------------------------------------------------------------------

CODES = (
    "F33.2",
    "F32.3",
    "I71.4",
    "I67.1",
    "Q28.2",
    "I61.9",
    "I10",
    "Z33.1",
    "O09.90",
    "F20.9",
    "F25.0",
    "F30.10",
    "F31.2",
    "F31.81",
    "F19.20",
    "F16.20",
    "F10.20",
)
DRUGS: tuple[str, ...] = (
    "lorazepam",
    "Klonopin",
    "lamotrigine",
    "memantine",
    "phenelzine",
    "Adderall",
    "oxycodone",
    "naltrexone",
    "quetiapine",
    "clarithromycin",
    "theophylline",
    "levothyroxine",
    "sertraline",
    "ketamine",
    "esketamine",
)

maybe_bool = st.none() | st.booleans()
names = st.lists(st.sampled_from(DRUGS) | st.text(max_size=20), max_size=4).map(tuple)
trials = st.builds(
    TreatmentTrial,
    drug=st.sampled_from(DRUGS) | st.text(max_size=20),
    dose=st.none() | st.text(max_size=10),
    duration_weeks=st.none() | st.floats(min_value=0, max_value=200),
    response=st.none() | st.sampled_from(["none", "partial", "response", "remission", "not_tolerated"]),
    adequate_dose=maybe_bool,
    current_episode=maybe_bool,
    antidepressant=maybe_bool,
)
SNAPSHOT_FIELDS: dict[str, st.SearchStrategy[Any]] = dict(
    age=st.none() | st.integers(0, 120),
    sex_at_birth=st.none() | st.sampled_from(["female", "male", "intersex"]),
    pregnancy=st.none() | st.sampled_from(["pregnant", "not_pregnant", "unknown", "not_applicable"]),
    breastfeeding=maybe_bool,
    contraception=st.none() | st.text(max_size=10),
    diagnoses=st.none() | st.lists(st.sampled_from(CODES) | st.text(max_size=8), max_size=4).map(tuple),
    prior_trials=st.none() | st.lists(trials, max_size=4).map(tuple),
    medications=st.none() | names,
    allergies=st.none() | names,
    ketamine_misuse=st.none() | st.sampled_from(["none", "past", "active"]),
    alcohol_use_disorder=maybe_bool,
    substance_use_disorder=maybe_bool,
    psychosis=st.none() | st.sampled_from(["none", "history", "current"]),
    mood=st.none() | st.sampled_from(["none", "bipolar", "current_mania"]),
    suicidal_intent_with_plan=maybe_bool,
    **dict.fromkeys(MEDICAL_FLAGS, maybe_bool),
    height_cm=st.none() | st.floats(min_value=0, max_value=250),
    weight_kg=st.none() | st.floats(min_value=0, max_value=400),
    systolic_bp=st.none() | st.integers(0, 300),
    diastolic_bp=st.none() | st.integers(0, 200),
    heart_rate=st.none() | st.integers(0, 250),
    baseline_scores=st.none() | st.dictionaries(st.sampled_from(["phq9", "gad7", "pcl5"]), st.integers(0, 80)),
    phq9_item9=st.none() | st.integers(0, 3),
    cssrs_risk=st.none() | st.sampled_from(["negative", "low risk", "moderate risk", "high risk"]),
)
snapshots = st.builds(EvaluationSnapshot, **SNAPSHOT_FIELDS)
policies = st.builds(
    EligibilityPolicy,
    minimum_age=st.integers(0, 30),
    airway_bmi=st.floats(min_value=20, max_value=60),
    diagnosis_codes_block=st.booleans(),
    current_psychosis_absolute=st.booleans(),
)


def test_snapshot_strategy_covers_every_field() -> None:
    assert {f.name for f in fields(EvaluationSnapshot)} == set(SNAPSHOT_FIELDS)


@settings(max_examples=50)
@given(snapshots, policies)
def test_evaluate_never_raises_and_is_well_formed(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> None:
    found = evaluate(snapshot, policy)
    assert len(codes(found)) == len(found)
    ranks = [SEVERITIES.index(f.severity) for f in found]
    assert ranks == sorted(ranks)
    for finding in found:
        assert finding.message and finding.source
        if finding.severity == "absolute":
            assert "[unverified" not in finding.source.lower()
        json.dumps(finding.as_dict())
    assert evaluate(snapshot, policy) == found


ABSOLUTE_CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("aneurysmal_vascular_disease", {"aneurysmal_vascular_disease": True}),
    ("arteriovenous_malformation", {"arteriovenous_malformation": True}),
    ("intracerebral_haemorrhage", {"intracerebral_haemorrhage": True}),
    ("bp_rise_hazard", {"bp_rise_hazard": True}),
    ("psychosis", {"psychosis": "current"}),
    ("mania", {"mood": "current_mania"}),
    ("ketamine_misuse", {"ketamine_misuse": "active"}),
    ("suicide_risk", {"suicidal_intent_with_plan": True}),
    ("minimum_age", {"age": 15}),
]


@settings(max_examples=50)
@given(snapshots, st.sampled_from(ABSOLUTE_CHANGES))
def test_adding_an_absolute_condition_never_removes_another_finding(
    snapshot: EvaluationSnapshot, change: tuple[str, dict[str, Any]]
) -> None:
    rule, changes = change
    before = evaluate(snapshot)
    after = evaluate(replace(snapshot, **changes))
    assert any(f.rule == rule and f.severity == "absolute" for f in after)
    assert [f for f in before if f.rule != rule] == [f for f in after if f.rule != rule]
    assert not decision_allowed(after, "eligible", "any reason")[0]


@settings(max_examples=50)
@given(snapshots, st.sampled_from(DECISIONS), st.none() | st.text(max_size=5))
def test_decision_rules_hold_for_any_evaluation(
    snapshot: EvaluationSnapshot, decision: str, reason: str | None
) -> None:
    found = evaluate(snapshot)
    allowed, why = decision_allowed(found, decision, reason)
    severities = {f.severity for f in found}
    has_reason = bool(reason and reason.strip())
    if decision == "not_eligible":
        expected = True
    else:
        expected = "absolute" not in severities and ("relative" not in severities or has_reason)
    assert allowed is expected and why


def test_rule_suite_runs_in_milliseconds() -> None:
    started = time.perf_counter()
    for _ in range(200):
        evaluate(EvaluationSnapshot())
        evaluate(CLEAN)
    assert time.perf_counter() - started < 1.0


# --- Worked examples for the corrections of 2026-12-04 (issue 13, rules 1 and 2) -----------------------------


def test_raised_intracranial_pressure_is_absolute_and_refuses_eligible() -> None:
    """Spravato US PI 4 / 5.6: contraindicated where an increase in intracranial pressure poses a serious risk
    (eligibility.md section 1, corrected 2026-12-04 from relative)."""
    found = evaluate(snap(raised_intracranial_pressure=True))
    finding = by_code(found, "raised_intracranial_pressure")
    assert finding.severity == "absolute" and "Spravato US PI 4" in finding.source
    allowed, why = decision_allowed(found, "eligible_with_precautions", "Neurosurgery says the shunt works.")
    assert not allowed and "raised_intracranial_pressure" in why


@pytest.mark.parametrize(
    "code",
    ["F20.9", "F22", "F23", "F24", "F25.1", "F28", "F29", "F06.0", "F06.2", "F31.5", "F32.3", "F33.3"],
)
def test_every_psychosis_code_of_the_notes_raises_the_psychosis_finding(code: str) -> None:
    """eligibility.md section 3 (psychosis codes completed 2026-12-04; Spravato PI 5.2 "carefully assess patients
    with psychosis"): each code, alone on the problem list, raises a psychosis finding with the code as evidence."""
    found = el.psychosis(snap(diagnoses=("F33.1", code)), DEFAULT_POLICY)
    assert [f.rule for f in found] == ["psychosis"]
    assert found[0].evidence["diagnoses"] == (code,) and code in found[0].message


@pytest.mark.parametrize("code", ["Q27.30", "Q27.31", "Q27.34", "Q27.39", "Q28.0", "Q28.2", "Q28.3"])
def test_avm_at_any_site_raises_the_avm_finding(code: str) -> None:
    """eligibility.md section 3: Q27.3x (peripheral), Q28.0 (precerebral), Q28.2/Q28.3 (cerebral); the label
    contraindicates AVM at any site (Spravato US PI 4, added 2026-12-04)."""
    finding = by_code(
        el.arteriovenous_malformation(snap(diagnoses=(code,)), DEFAULT_POLICY), "arteriovenous_malformation.coded"
    )
    assert finding.evidence["diagnoses"] == (code,)
    reviewed = replace(DEFAULT_POLICY, version="reviewed-codes", diagnosis_codes_block=True)
    assert (
        by_code(
            el.arteriovenous_malformation(snap(diagnoses=(code,)), reviewed), "arteriovenous_malformation.coded"
        ).severity
        == "absolute"
    )


def test_code_groups_follow_the_icd10cm_tree_not_a_hand_list() -> None:
    """The psychosis screen names the block F20-F29, so a code added under it (any depth) is found, while the
    schizotypal exception (F21) and codes beside the block are not."""
    group = el.PSYCHOTIC_DISORDER_CODES
    assert "F20-F29" in group.roots
    assert group.matches("F20.81") and group.matches("F25.9") and group.matches("f29")
    assert not group.matches("F21") and not group.matches("F30.10") and not group.matches("F19.959")
    # A code the tree does not know still matches a category by its prefix, never a block.
    assert el.CodeGroup(("Q28.2",)).matches("Q28.2X") and not group.matches("F2X")

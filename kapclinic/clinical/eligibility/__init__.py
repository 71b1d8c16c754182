"""Eligibility rules: contraindications, precautions, drug interactions and missing information.

Plain Python, no Django: the evaluation page, the API and the demo build an `EvaluationSnapshot` from the record
and call `evaluate`, which returns every `Finding` with its reason, the evidence from the record and its source.
Facts come from ../shared/domain/eligibility.md (section numbers below), monitoring.md (pre-dose blood pressure
and heart rate) and instruments.md (C-SSRS triage, PHQ-9 item 9).

Severity follows the notes' engine convention: "absolute" blocks; "relative" (a relative contraindication or a
precaution) lets the prescriber proceed only with a written reason; "interaction" warns and is documented;
"missing" names information a rule needs. Thresholds that are clinic policy live in `EligibilityPolicy`, whose
`version` is stored with each decision beside `RULE_SET_VERSION`.

The modules, by topic:

- `findings`: the finding, its severity and evidence, and the helpers rules build findings with;
- `snapshot`: the evaluation as plain values; `policy`: the clinic's thresholds;
- `codes`: the ICD-10-CM code checks (eligibility.md section 3); `drugs`: the drug classes;
- section 1: `conditions` (the yes/no history questions, one table), `cardiovascular` (hypertension, blood
  pressure, heart rate), `psychiatric` (psychosis, mania, ketamine misuse, suicide risk), `reproductive`
  (pregnancy, breastfeeding, contraception), `general` (hypersensitivity, airway, age);
- section 2: `interactions` (one table); section 4: `information`;
- `rules`: the rule set in order and `evaluate`; `resistance`: treatment resistance; `decision`: what the
  prescriber may record.

Import from the package (`from kapclinic.clinical.eligibility import evaluate`); each rule is also here by name.
"""

from kapclinic.clinical.eligibility.cardiovascular import blood_pressure, heart_rate, uncontrolled_hypertension
from kapclinic.clinical.eligibility.codes import (
    AVM_CODES,
    PSYCHOTIC_DISORDER_CODES,
    PSYCHOTIC_FEATURES_CODES,
    CodeGroup,
)
from kapclinic.clinical.eligibility.conditions import (
    CONDITIONS,
    Condition,
    alcohol_use_disorder,
    aneurysmal_vascular_disease,
    arteriovenous_malformation,
    bp_rise_hazard,
    cerebrovascular_disease,
    cognitive_impairment,
    cystitis,
    intracerebral_haemorrhage,
    raised_intracranial_pressure,
    raised_intraocular_pressure,
    seizure_disorder,
    severe_hepatic_impairment,
    substance_use_disorder,
    uncontrolled_hyperthyroidism,
    unstable_cardiovascular_disease,
)
from kapclinic.clinical.eligibility.decision import DECISIONS, Decision, decision_allowed
from kapclinic.clinical.eligibility.drugs import (
    BENZODIAZEPINES,
    CYP_MODULATORS,
    KETAMINE_ALLERGENS,
    LAMOTRIGINE,
    MAOIS,
    NALTREXONE,
    NMDA_AGENTS,
    OPIOIDS,
    ORAL_ANTIDEPRESSANTS,
    OTHER_SEDATIVES,
    PSYCHOSTIMULANTS,
    THEOPHYLLINES,
    THYROID_HORMONES,
    DrugClass,
)
from kapclinic.clinical.eligibility.findings import (
    SEVERITIES,
    Evidence,
    EvidenceValue,
    Finding,
    Level,
    Rule,
    Severity,
    make_finding,
)
from kapclinic.clinical.eligibility.general import airway_risk, hypersensitivity, minimum_age
from kapclinic.clinical.eligibility.information import baseline_scores, diagnoses, medications, prior_trials
from kapclinic.clinical.eligibility.interactions import (
    INTERACTIONS,
    Interaction,
    alcohol,
    benzodiazepine,
    cyp_modulator,
    lamotrigine,
    maoi,
    naltrexone,
    nmda_agent,
    opioid,
    other_sedative,
    psychostimulant,
    theophylline,
    thyroid_hormone,
)
from kapclinic.clinical.eligibility.policy import DEFAULT_POLICY, EligibilityPolicy, policy_problems
from kapclinic.clinical.eligibility.psychiatric import ketamine_misuse, mania, psychosis, suicide_risk
from kapclinic.clinical.eligibility.reproductive import breastfeeding, contraception, pregnancy
from kapclinic.clinical.eligibility.resistance import treatment_resistance
from kapclinic.clinical.eligibility.rules import RULE_SET_VERSION, RULES, evaluate
from kapclinic.clinical.eligibility.snapshot import (
    PLAUSIBLE_RANGES,
    CssrsRisk,
    EvaluationSnapshot,
    Misuse,
    Mood,
    PregnancyStatus,
    Psychosis,
    SexAtBirth,
    TreatmentTrial,
    TrialResponse,
)

# The name the single module gave it (the tests call it): a finding, downgraded when its source is unconfirmed.
_finding = make_finding

__all__ = [
    "AVM_CODES",
    "BENZODIAZEPINES",
    "CONDITIONS",
    "CYP_MODULATORS",
    "DECISIONS",
    "DEFAULT_POLICY",
    "INTERACTIONS",
    "KETAMINE_ALLERGENS",
    "LAMOTRIGINE",
    "MAOIS",
    "NALTREXONE",
    "NMDA_AGENTS",
    "OPIOIDS",
    "ORAL_ANTIDEPRESSANTS",
    "OTHER_SEDATIVES",
    "PLAUSIBLE_RANGES",
    "PSYCHOSTIMULANTS",
    "PSYCHOTIC_DISORDER_CODES",
    "PSYCHOTIC_FEATURES_CODES",
    "RULES",
    "RULE_SET_VERSION",
    "SEVERITIES",
    "THEOPHYLLINES",
    "THYROID_HORMONES",
    "CodeGroup",
    "Condition",
    "CssrsRisk",
    "Decision",
    "DrugClass",
    "EligibilityPolicy",
    "EvaluationSnapshot",
    "Evidence",
    "EvidenceValue",
    "Finding",
    "Interaction",
    "Level",
    "Misuse",
    "Mood",
    "PregnancyStatus",
    "Psychosis",
    "Rule",
    "Severity",
    "SexAtBirth",
    "TreatmentTrial",
    "TrialResponse",
    "airway_risk",
    "alcohol",
    "alcohol_use_disorder",
    "aneurysmal_vascular_disease",
    "arteriovenous_malformation",
    "baseline_scores",
    "benzodiazepine",
    "blood_pressure",
    "bp_rise_hazard",
    "breastfeeding",
    "cerebrovascular_disease",
    "cognitive_impairment",
    "contraception",
    "cyp_modulator",
    "cystitis",
    "decision_allowed",
    "diagnoses",
    "evaluate",
    "heart_rate",
    "hypersensitivity",
    "intracerebral_haemorrhage",
    "ketamine_misuse",
    "lamotrigine",
    "make_finding",
    "mania",
    "maoi",
    "medications",
    "minimum_age",
    "naltrexone",
    "nmda_agent",
    "opioid",
    "other_sedative",
    "policy_problems",
    "pregnancy",
    "prior_trials",
    "psychosis",
    "psychostimulant",
    "raised_intracranial_pressure",
    "raised_intraocular_pressure",
    "seizure_disorder",
    "severe_hepatic_impairment",
    "substance_use_disorder",
    "suicide_risk",
    "theophylline",
    "thyroid_hormone",
    "treatment_resistance",
    "uncontrolled_hypertension",
    "uncontrolled_hyperthyroidism",
    "unstable_cardiovascular_disease",
]

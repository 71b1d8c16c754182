"""The evaluation as plain values: what the rules read (eligibility.md section 4 lists what is collected)."""

from __future__ import annotations

import math

# Mapping and the Literal types are needed at run time: intake reads the snapshot's type hints for its form.
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_type_hints

SexAtBirth = Literal["female", "male", "intersex"]
PregnancyStatus = Literal["pregnant", "not_pregnant", "unknown", "not_applicable"]
Psychosis = Literal["none", "history", "current"]  # "history" includes schizophrenia/schizoaffective in remission
Mood = Literal["none", "bipolar", "current_mania"]  # "current_mania" includes current hypomania
Misuse = Literal["none", "past", "active"]
TrialResponse = Literal["none", "partial", "response", "remission", "not_tolerated"]
# The C-SSRS screener's triage labels, as in instruments.CSSRS_SCREEN.
CssrsRisk = Literal["negative", "low risk", "moderate risk", "high risk"]


@dataclass(frozen=True)
class TreatmentTrial:
    """One prior treatment trial as the prescriber recorded it.

    `adequate_dose` is the prescriber's judgement (e.g. by ATHF criteria, which ELEKT-D used): the domain notes
    give no per-drug minimum doses, so the engine does not guess them. `antidepressant` None means: decide from
    the drug name (`ORAL_ANTIDEPRESSANTS`).
    """

    drug: str
    dose: str | None = None  # as recorded, e.g. "200 mg/day"
    duration_weeks: float | None = None
    response: TrialResponse | None = None
    adequate_dose: bool | None = None
    current_episode: bool | None = None
    antidepressant: bool | None = None


# Plausible evaluation values: outside them the value is a typing error (a weight of 0 or 900 kg), refused at entry.
PLAUSIBLE_RANGES: dict[str, tuple[float, float, str]] = {
    "height_cm": (100, 250, "cm"),
    "weight_kg": (25, 350, "kg"),
    "systolic_bp": (60, 260, "mm Hg"),
    "diastolic_bp": (30, 160, "mm Hg"),
    "heart_rate": (25, 220, "/min"),
}


@dataclass(frozen=True)
class EvaluationSnapshot:
    """The evaluation as plain values. None everywhere means "not recorded"; rules that need it say so."""

    age: int | None = None
    sex_at_birth: SexAtBirth | None = None
    pregnancy: PregnancyStatus | None = None
    breastfeeding: bool | None = None
    contraception: str | None = None  # method in use, "none" when none; None = not asked
    diagnoses: tuple[str, ...] | None = None  # ICD-10-CM codes, with or without the dot
    prior_trials: tuple[TreatmentTrial, ...] | None = None
    medications: tuple[str, ...] | None = None  # ingredient names or free text, one per entry
    allergies: tuple[str, ...] | None = None  # substances, free text allowed; () = no known allergies
    # Substance use.
    ketamine_misuse: Misuse | None = None  # ketamine, PCP or other dissociatives
    alcohol_use_disorder: bool | None = None  # active
    substance_use_disorder: bool | None = None  # active, other substances (e.g. stimulants)
    # Psychiatric history.
    psychosis: Psychosis | None = None
    mood: Mood | None = None
    suicidal_intent_with_plan: bool | None = None
    # Medical history, one flag per row of eligibility.md section 1.
    aneurysmal_vascular_disease: bool | None = None
    arteriovenous_malformation: bool | None = None
    intracerebral_haemorrhage: bool | None = None
    bp_rise_hazard: bool | None = None  # a condition where a significant rise in BP would be a serious hazard
    uncontrolled_hypertension: bool | None = None
    unstable_cardiovascular_disease: bool | None = None
    cerebrovascular_disease: bool | None = None  # history of stroke or TIA
    raised_intracranial_pressure: bool | None = None
    raised_intraocular_pressure: bool | None = None
    severe_hepatic_impairment: bool | None = None
    cystitis_or_urinary_symptoms: bool | None = None
    cognitive_impairment: bool | None = None
    airway_risk: bool | None = None  # obstructive sleep apnoea, severe COPD, difficult airway
    uncontrolled_hyperthyroidism: bool | None = None
    seizure_disorder: bool | None = None
    # Measurements at the evaluation.
    height_cm: float | None = None
    weight_kg: float | None = None
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    heart_rate: int | None = None
    # Baseline scores: instrument code (as in instruments.INSTRUMENTS) -> total.
    baseline_scores: Mapping[str, int] | None = field(default=None, hash=False)
    phq9_item9: int | None = None
    cssrs_risk: CssrsRisk | None = None

    @property
    def bmi(self) -> float | None:
        """Return the body-mass index (kg/m2, one decimal), or None without a usable height and weight."""
        if self.height_cm is None or self.weight_kg is None or self.height_cm <= 0 or self.weight_kg <= 0:
            return None
        area = (self.height_cm / 100) ** 2
        bmi = self.weight_kg / area if area > 0 else math.inf
        return round(bmi, 1) if math.isfinite(bmi) else None


# The yes/no answers of the history, by name: a rule table names the answer it reads (checked when a row is built).
HISTORY_FLAGS = frozenset(name for name, hint in get_type_hints(EvaluationSnapshot).items() if hint == bool | None)

"""Eligibility rules: contraindications, precautions, drug interactions and missing information.

Plain Python, no Django: the evaluation page, the API and the demo build an `EvaluationSnapshot` from the record
and call `evaluate`, which returns every `Finding` with its reason, the evidence from the record and its source.
Facts come from ../shared/domain/eligibility.md (section numbers below), monitoring.md (pre-dose blood pressure
and heart rate) and instruments.md (C-SSRS triage, PHQ-9 item 9).

Severity follows the notes' engine convention: "absolute" blocks; "relative" (a relative contraindication or a
precaution) lets the prescriber proceed only with a written reason; "interaction" warns and is documented;
"missing" names information a rule needs. Thresholds that are clinic policy live in `EligibilityPolicy`, whose
`version` is stored with each decision beside `RULE_SET_VERSION`.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

# Bump when a rule, a code list or a drug list changes: decisions store it to explain themselves later.
RULE_SET_VERSION = "2026-12-04.1"

Severity = Literal["absolute", "relative", "interaction", "missing"]
SEVERITIES: tuple[Severity, ...] = ("absolute", "relative", "interaction", "missing")
_RANK: dict[Severity, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}

Decision = Literal["eligible", "eligible_with_precautions", "not_eligible"]
DECISIONS: tuple[Decision, ...] = ("eligible", "eligible_with_precautions", "not_eligible")

SexAtBirth = Literal["female", "male", "intersex"]
PregnancyStatus = Literal["pregnant", "not_pregnant", "unknown", "not_applicable"]
Psychosis = Literal["none", "history", "current"]  # "history" includes schizophrenia/schizoaffective in remission
Mood = Literal["none", "bipolar", "current_mania"]  # "current_mania" includes current hypomania
Misuse = Literal["none", "past", "active"]
TrialResponse = Literal["none", "partial", "response", "remission", "not_tolerated"]
# The C-SSRS screener's triage labels, as in instruments.CSSRS_SCREEN.
CssrsRisk = Literal["negative", "low risk", "moderate risk", "high risk"]

EvidenceValue = str | int | float | bool | None | tuple[str, ...]
Evidence = Mapping[str, EvidenceValue]

# A source carrying one of these marks is not confirmed: it never yields an "absolute" finding (see `_finding`).
_UNCONFIRMED_MARKS = ("[unverified", "[verify")


@dataclass(frozen=True)
class Finding:
    """One thing the prescriber must see: what (code), how serious, why, from which source, on what evidence."""

    code: str
    severity: Severity
    message: str
    source: str
    evidence: Evidence = field(default_factory=dict, hash=False)

    @property
    def rule(self) -> str:
        """Return the rule that raised it: the code up to the first dot."""
        return self.code.split(".", 1)[0]

    def as_dict(self) -> dict[str, object]:
        """Return the finding as the API shows it (sequences as lists)."""
        evidence = {key: list(value) if isinstance(value, tuple) else value for key, value in self.evidence.items()}
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "source": self.source,
            "evidence": evidence,
        }


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
        problems = policy_problems(self)
        if problems:
            raise ValueError(f"Eligibility policy {self.version!r}: " + "; ".join(problems))


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


# --- Helpers ------------------------------------------------------------------------------------------------

Level = Literal["absolute", "relative", "precaution"]
_LEVEL_SEVERITY: dict[Level, Severity] = {"absolute": "absolute", "relative": "relative", "precaution": "relative"}
_LEVEL_WORDS: dict[Level, str] = {
    "absolute": "Absolute contraindication",
    "relative": "Relative contraindication",
    "precaution": "Precaution",
}
_LEVEL_NEED: dict[Level, str] = {
    "absolute": "an absolute contraindication",
    "relative": "a relative contraindication",
    "precaution": "a precaution",
}


def _finding(code: str, severity: Severity, message: str, source: str, evidence: Evidence) -> Finding:
    """Return a finding; an "absolute" one whose source is unconfirmed becomes "relative", saying so."""
    if severity == "absolute" and any(mark in source.lower() for mark in _UNCONFIRMED_MARKS):
        # The notes' convention: a fact marked [unverified] must not hard-block. The prescriber decides, in writing.
        severity = "relative"
        message += (
            " Downgraded from absolute: the basis is marked [unverified] in the domain notes, so the prescriber "
            "decides and records why."
        )
    return Finding(code, severity, message, source, evidence)


def _missing(code: str, what: str, needed_for: str, source: str, evidence: Evidence) -> Finding:
    return Finding(
        f"{code}.unknown",
        "missing",
        f"{what} is not recorded; it is needed to screen for {needed_for}.",
        f"eligibility.md section 4 (pre-treatment evaluation, Sanacora 2017); {source}",
        evidence,
    )


def _normalise_code(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


@cache
def _icd10cm() -> Any:
    # The ICD-10-CM tree (simple-icd-10-cm, the list the diagnosis pickers use); loaded on first use, it takes a
    # second or two, and untyped, hence Any.
    return importlib.import_module("simple_icd_10_cm")


@cache
def _under(code: str, root: str) -> bool:
    """Return whether `code` is `root` or below it in the ICD-10-CM tree (a block such as "F20-F29", a category,
    a subcategory). A code the tree does not know falls back to its prefix (never for a block)."""
    wanted, given = _normalise_code(root), _normalise_code(code)
    if given == wanted:
        return True
    icd = _icd10cm()
    root_key = root.strip().upper()
    if icd.is_valid_item(given) and icd.is_valid_item(root_key):
        return bool(icd.is_ancestor(root_key, given))
    return "-" not in root and given.startswith(wanted)


@dataclass(frozen=True)
class CodeGroup:
    """ICD-10-CM codes a screen looks for: everything under `roots` in the code tree, except under `excluding`."""

    roots: tuple[str, ...]
    excluding: tuple[str, ...] = ()

    def matches(self, code: str) -> bool:
        """Return whether the code falls in the group."""
        return any(_under(code, root) for root in self.roots) and not any(_under(code, root) for root in self.excluding)


def _coded(snapshot: EvaluationSnapshot, group: CodeGroup | tuple[str, ...]) -> tuple[str, ...]:
    """Return the recorded diagnosis codes in the group (roots given as a tuple: everything under them)."""
    wanted = group if isinstance(group, CodeGroup) else CodeGroup(group)
    if not wanted.roots:
        return ()
    return tuple(code for code in snapshot.diagnoses or () if wanted.matches(code))


def _coded_message(label: str, coded: tuple[str, ...], denied: bool, level: Level, blocks: bool) -> str:
    said = "says no" if denied else "does not say"
    text = (
        f"{_LEVEL_WORDS[level]} suspected: diagnosis {', '.join(coded)} suggests {label}, but the history {said}. "
        "Confirm and record it."
    )
    if level == "absolute" and not blocks:
        text += (
            " A diagnosis code alone does not hard-block until the clinic's code list is reviewed by a clinician "
            "(eligibility.md section 3)."
        )
    return text


def _flag_rule(
    snapshot: EvaluationSnapshot,
    policy: EligibilityPolicy,
    *,
    code: str,
    name: str,
    value: bool | None,
    label: str,
    level: Level,
    advice: str,
    source: str,
    codes: tuple[str, ...] = (),
    code_source: str = "eligibility.md section 3 (codes for screening)",
) -> list[Finding]:
    """Apply one history flag (and its diagnosis codes): yes fires, a matching code asks to confirm, None is missing."""
    coded = _coded(snapshot, codes)
    evidence: dict[str, EvidenceValue] = {name: value}
    if codes:
        evidence["diagnoses"] = coded
    if value is True:
        return [_finding(code, _LEVEL_SEVERITY[level], f"{_LEVEL_WORDS[level]}: {label}. {advice}", source, evidence)]
    if coded:
        blocks = policy.diagnosis_codes_block
        severity: Severity = "absolute" if level == "absolute" and blocks else "relative"
        message = _coded_message(label, coded, value is False, level, blocks)
        return [_finding(f"{code}.coded", severity, message, f"{source}; {code_source}", evidence)]
    if value is None:
        return [_missing(code, f"Whether the patient has {label}", _LEVEL_NEED[level], source, evidence)]
    return []


# --- Drug names ---------------------------------------------------------------------------------------------


def _normalise_text(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


@cache
def _pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted((_normalise_text(name) for name in names), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(name) for name in alternatives) + r")\b")


@dataclass(frozen=True)
class DrugClass:
    """A class of drugs named by ingredients (RxNorm-style) and a few common US brand names."""

    label: str
    ingredients: tuple[str, ...]
    brands: tuple[tuple[str, str], ...] = ()  # (brand, ingredient)

    def find(self, entries: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Return the entries that name a member (whole words, any case) and the ingredients they name."""
        to_ingredient = {_normalise_text(name): name for name in self.ingredients}
        to_ingredient.update({_normalise_text(brand): ingredient for brand, ingredient in self.brands})
        pattern = _pattern(tuple(to_ingredient))
        matched: list[str] = []
        found: list[str] = []
        for entry in entries:
            hits = pattern.findall(_normalise_text(entry))
            if hits:
                matched.append(entry)
                found += [to_ingredient[hit] for hit in hits if to_ingredient[hit] not in found]
        return tuple(matched), tuple(found)


BENZODIAZEPINES = DrugClass(
    "Benzodiazepine",
    (
        "alprazolam",
        "chlordiazepoxide",
        "clobazam",
        "clonazepam",
        "clorazepate",
        "diazepam",
        "estazolam",
        "lorazepam",
        "midazolam",
        "oxazepam",
        "temazepam",
        "triazolam",
    ),
    (("xanax", "alprazolam"), ("ativan", "lorazepam"), ("klonopin", "clonazepam"), ("valium", "diazepam")),
)
LAMOTRIGINE = DrugClass("Lamotrigine", ("lamotrigine",), (("lamictal", "lamotrigine"),))
NMDA_AGENTS = DrugClass(
    "Other NMDA/glutamate agent",
    ("memantine", "dextromethorphan"),
    (("namenda", "memantine"), ("auvelity", "dextromethorphan"), ("nuedexta", "dextromethorphan")),
)
MAOIS = DrugClass(
    "MAOI",
    ("phenelzine", "tranylcypromine", "isocarboxazid", "selegiline"),
    (("nardil", "phenelzine"), ("parnate", "tranylcypromine"), ("marplan", "isocarboxazid"), ("emsam", "selegiline")),
)
PSYCHOSTIMULANTS = DrugClass(
    "Psychostimulant",
    (
        "amphetamine",
        "dextroamphetamine",
        "lisdexamfetamine",
        "methamphetamine",
        "methylphenidate",
        "dexmethylphenidate",
        "modafinil",
        "armodafinil",
    ),
    (
        ("adderall", "amphetamine"),
        ("vyvanse", "lisdexamfetamine"),
        ("ritalin", "methylphenidate"),
        ("concerta", "methylphenidate"),
        ("focalin", "dexmethylphenidate"),
        ("provigil", "modafinil"),
        ("nuvigil", "armodafinil"),
    ),
)
OPIOIDS = DrugClass(
    "Opioid",
    (
        "buprenorphine",
        "codeine",
        "fentanyl",
        "hydrocodone",
        "hydromorphone",
        "meperidine",
        "methadone",
        "morphine",
        "oxycodone",
        "oxymorphone",
        "tapentadol",
        "tramadol",
    ),
    (("suboxone", "buprenorphine"), ("oxycontin", "oxycodone"), ("percocet", "oxycodone"), ("norco", "hydrocodone")),
)
NALTREXONE = DrugClass("Naltrexone", ("naltrexone",), (("vivitrol", "naltrexone"),))
OTHER_SEDATIVES = DrugClass(
    "Other sedative",
    (
        # Z-drugs
        "zolpidem",
        "zaleplon",
        "zopiclone",
        "eszopiclone",
        # gabapentinoids
        "gabapentin",
        "pregabalin",
        # sedating antihistamines
        "diphenhydramine",
        "doxylamine",
        "hydroxyzine",
        "promethazine",
        # antipsychotics
        "aripiprazole",
        "brexpiprazole",
        "cariprazine",
        "chlorpromazine",
        "clozapine",
        "haloperidol",
        "lurasidone",
        "olanzapine",
        "paliperidone",
        "quetiapine",
        "risperidone",
        "ziprasidone",
    ),
    (("ambien", "zolpidem"), ("neurontin", "gabapentin"), ("lyrica", "pregabalin"), ("seroquel", "quetiapine")),
)
# Only drugs with a published ketamine study are listed as evidenced; the inducers are a class inference.
CYP_MODULATORS = DrugClass(
    "CYP3A4/CYP2B6 inhibitor or inducer",
    ("clarithromycin", "ticlopidine", "rifampin", "rifampicin", "carbamazepine", "phenytoin", "St John's wort"),
    (("st johns wort", "St John's wort"), ("hypericum", "St John's wort"), ("tegretol", "carbamazepine")),
)
THEOPHYLLINES = DrugClass("Theophylline/aminophylline", ("theophylline", "aminophylline"))
THYROID_HORMONES = DrugClass(
    "Thyroid hormone",
    ("levothyroxine", "liothyronine", "thyroid desiccated"),
    (("synthroid", "levothyroxine"), ("cytomel", "liothyronine"), ("armour thyroid", "thyroid desiccated")),
)
# For treatment resistance only: oral antidepressants (SSRIs, SNRIs, TCAs, oral MAOIs and others). Transdermal
# selegiline is not oral; mark such a trial with `antidepressant=True` if the prescriber counts it.
ORAL_ANTIDEPRESSANTS = DrugClass(
    "Oral antidepressant",
    (
        "citalopram",
        "escitalopram",
        "fluoxetine",
        "fluvoxamine",
        "paroxetine",
        "sertraline",
        "venlafaxine",
        "desvenlafaxine",
        "duloxetine",
        "levomilnacipran",
        "amitriptyline",
        "clomipramine",
        "desipramine",
        "doxepin",
        "imipramine",
        "nortriptyline",
        "protriptyline",
        "trimipramine",
        "phenelzine",
        "tranylcypromine",
        "isocarboxazid",
        "bupropion",
        "mirtazapine",
        "trazodone",
        "nefazodone",
        "vilazodone",
        "vortioxetine",
    ),
    (
        ("prozac", "fluoxetine"),
        ("zoloft", "sertraline"),
        ("lexapro", "escitalopram"),
        ("celexa", "citalopram"),
        ("paxil", "paroxetine"),
        ("effexor", "venlafaxine"),
        ("pristiq", "desvenlafaxine"),
        ("cymbalta", "duloxetine"),
        ("wellbutrin", "bupropion"),
        ("remeron", "mirtazapine"),
        ("trintellix", "vortioxetine"),
        ("viibryd", "vilazodone"),
    ),
)

# Hypersensitivity: ketamine, esketamine, their products, and the benzethonium chloride preservative in
# multi-dose ketamine vials (dosing.md section 1).
KETAMINE_ALLERGENS = DrugClass(
    "Ketamine product",
    ("ketamine", "esketamine", "benzethonium"),
    (("ketalar", "ketamine"), ("spravato", "esketamine")),
)


# --- Diagnosis codes for screening (eligibility.md section 3, completed 2026-12-04) ---------------------------

# Arteriovenous malformation at any site (the label contraindicates AVM, Spravato US PI 4): peripheral (Q27.3x),
# precerebral (Q28.0) and cerebral vessels (Q28.2, Q28.3).
AVM_CODES = CodeGroup(("Q27.3", "Q28.0", "Q28.2", "Q28.3"))
# A current mood episode with psychotic features: bipolar depressed severe (F31.5), single (F32.3) and recurrent
# (F33.3) major depression. Spravato US PI 5.2: "carefully assess patients with psychosis".
PSYCHOTIC_FEATURES_CODES = CodeGroup(("F31.5", "F32.3", "F33.3"))
# Psychotic disorders: the ICD-10-CM block F20-F29 (schizophrenia F20, delusional F22, brief F23, shared F24,
# schizoaffective F25, other F28, unspecified F29) without schizotypal disorder (F21, not a psychosis), and a
# psychotic disorder due to another condition (F06.0 hallucinations, F06.2 delusions).
PSYCHOTIC_DISORDER_CODES = CodeGroup(("F20-F29", "F06.0", "F06.2"), excluding=("F21",))


# --- Section 1: contraindications and precautions -----------------------------------------------------------


def aneurysmal_vascular_disease(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Block aneurysmal vascular disease (aorta, intracranial, peripheral arteries)."""
    return _flag_rule(
        snapshot,
        policy,
        code="aneurysmal_vascular_disease",
        name="aneurysmal_vascular_disease",
        value=snapshot.aneurysmal_vascular_disease,
        label="aneurysmal vascular disease (thoracic or abdominal aorta, intracranial or peripheral arteries)",
        level="absolute",
        advice="A rise in blood pressure risks rupture.",
        source="Spravato US PI 4 (contraindications); eligibility.md section 1",
        codes=("I71", "I72", "I67.1"),
    )


def arteriovenous_malformation(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Block arteriovenous malformation."""
    return _flag_rule(
        snapshot,
        policy,
        code="arteriovenous_malformation",
        name="arteriovenous_malformation",
        value=snapshot.arteriovenous_malformation,
        label="an arteriovenous malformation",
        level="absolute",
        advice="A rise in blood pressure risks haemorrhage.",
        source="Spravato US PI 4 (contraindications); eligibility.md section 1",
        codes=AVM_CODES.roots,
        code_source="eligibility.md section 3 (codes for screening; AVM at any site, added 2026-12-04)",
    )


def intracerebral_haemorrhage(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Block a history of intracerebral haemorrhage."""
    return _flag_rule(
        snapshot,
        policy,
        code="intracerebral_haemorrhage",
        name="intracerebral_haemorrhage",
        value=snapshot.intracerebral_haemorrhage,
        label="a history of intracerebral haemorrhage",
        level="absolute",
        advice="A rise in blood pressure risks recurrence.",
        source="Spravato US PI 4 (contraindications); eligibility.md section 1",
        codes=("I60", "I61", "I62"),
    )


def hypersensitivity(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Block hypersensitivity to ketamine, esketamine or their excipients."""
    source = "Spravato US PI 4; Ketalar US PI (contraindications); eligibility.md section 1"
    if snapshot.allergies is None:
        return [
            _missing(
                "hypersensitivity", "The allergy list", "an absolute contraindication", source, {"allergies": None}
            )
        ]
    matched, found = KETAMINE_ALLERGENS.find(snapshot.allergies)
    if not matched:
        return []
    # Excipients count too (Spravato PI 4; Ketalar PI): benzethonium chloride is named because it is the
    # preservative in multi-dose ketamine vials (dosing.md section 1).
    message = f"Absolute contraindication: recorded hypersensitivity to {', '.join(found)}."
    if "benzethonium" in found:
        message += " Benzethonium chloride is the preservative in multi-dose ketamine vials."
    return [_finding("hypersensitivity", "absolute", message, source, {"allergies": matched, "matched": found})]


def bp_rise_hazard(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Block conditions in which a significant rise in blood pressure would be a serious hazard."""
    return _flag_rule(
        snapshot,
        policy,
        code="bp_rise_hazard",
        name="bp_rise_hazard",
        value=snapshot.bp_rise_hazard,
        label="a condition in which a significant rise in blood pressure would be a serious hazard",
        level="absolute",
        advice="Ketamine raises blood pressure.",
        source="Ketalar US PI (contraindications); eligibility.md section 1",
    )


def uncontrolled_hypertension(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag uncontrolled hypertension (relative overall; absolute only on a dosing day, by the pre-dose check)."""
    # I10 on the problem list is a precaution (eligibility.md section 3), a weaker signal than the flag.
    source = "Spravato US PI 5.x (increase in blood pressure); Sanacora 2017; eligibility.md section 1"
    coded = _coded(snapshot, ("I10",))
    evidence: dict[str, EvidenceValue] = {"uncontrolled_hypertension": snapshot.uncontrolled_hypertension}
    if snapshot.uncontrolled_hypertension is True:
        evidence["diagnoses"] = coded
        message = (
            "Relative contraindication: uncontrolled hypertension. Control it before the course; on a dosing day "
            "the pre-dose blood-pressure limits apply (monitoring.md section 3)."
        )
        return [_finding("uncontrolled_hypertension", "relative", message, source, evidence)]
    if coded:
        evidence["diagnoses"] = coded
        message = (
            f"Precaution: hypertension on the problem list ({', '.join(coded)}). Check that it is controlled; "
            "ketamine raises blood pressure."
        )
        return [
            _finding(
                "uncontrolled_hypertension.coded", "relative", message, f"{source}; eligibility.md section 3", evidence
            )
        ]
    if snapshot.uncontrolled_hypertension is None:
        return [
            _missing(
                "uncontrolled_hypertension",
                "Whether hypertension is controlled",
                "a relative contraindication",
                source,
                evidence,
            )
        ]
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
            _missing("blood_pressure", "Blood pressure at evaluation", "uncontrolled hypertension", source, evidence)
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
    return [_finding("blood_pressure", "relative", message, source, evidence), *findings]


def heart_rate(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag a resting heart rate outside the review bounds."""
    rate = snapshot.heart_rate
    evidence: Evidence = {"heart_rate": rate, "policy": policy.version}
    source = (
        "monitoring.md section 3 (pre-dose heart rate < 50 or > 110: review; practice [unverified; policy], here "
        f"version {policy.version}); Ketalar US PI (tachycardia)"
    )
    if rate is None:
        return [_missing("heart_rate", "Heart rate at evaluation", "a precaution", source, evidence)]
    if rate < policy.heart_rate_low or rate > policy.heart_rate_high:
        message = (
            f"Precaution: heart rate {rate}/min is outside {policy.heart_rate_low}-{policy.heart_rate_high}/min. "
            "Review the cause (arrhythmia, thyroid, stimulants) before the course."
        )
        return [_finding("heart_rate", "relative", message, source, evidence)]
    return []


def unstable_cardiovascular_disease(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag unstable or poorly controlled cardiovascular disease (cardiology clearance)."""
    return _flag_rule(
        snapshot,
        policy,
        code="unstable_cardiovascular_disease",
        name="unstable_cardiovascular_disease",
        value=snapshot.unstable_cardiovascular_disease,
        label=(
            "unstable or poorly controlled cardiovascular disease (recent myocardial infarction, unstable angina, "
            "decompensated heart failure, significant valve disease or uncontrolled arrhythmia)"
        ),
        level="relative",
        advice="Obtain cardiology clearance; weigh benefit against risk and monitor.",
        source="Spravato US PI 5.x (cardiovascular and cerebrovascular conditions); Sanacora 2017; eligibility.md 1",
    )


def cerebrovascular_disease(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag a history of stroke, TIA or other cerebrovascular disease."""
    return _flag_rule(
        snapshot,
        policy,
        code="cerebrovascular_disease",
        name="cerebrovascular_disease",
        value=snapshot.cerebrovascular_disease,
        label="a history of stroke, TIA or other cerebrovascular disease",
        level="relative",
        advice="Weigh benefit against risk and monitor blood pressure closely.",
        source="Spravato US PI 5.x (cerebrovascular conditions); eligibility.md section 1",
    )


def raised_intracranial_pressure(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Block raised intracranial pressure or brain injury with ICP concern."""
    return _flag_rule(
        snapshot,
        policy,
        code="raised_intracranial_pressure",
        name="raised_intracranial_pressure",
        value=snapshot.raised_intracranial_pressure,
        label="raised intracranial pressure, or brain injury with concern for it",
        # Absolute: the label says contraindicated, not "use with caution" (eligibility.md 1, corrected 2026-12-04).
        level="absolute",
        advice="An increase in intracranial pressure poses a serious risk.",
        source="Spravato US PI 4 and 5.6 (contraindicated where an increase in blood pressure or intracranial "
        "pressure poses a serious risk); Ketalar US PI (CSF pressure); eligibility.md section 1",
    )


def raised_intraocular_pressure(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag raised intraocular pressure or glaucoma."""
    return _flag_rule(
        snapshot,
        policy,
        code="raised_intraocular_pressure",
        name="raised_intraocular_pressure",
        value=snapshot.raised_intraocular_pressure,
        label="raised intraocular pressure or glaucoma",
        level="relative",
        advice="Ketamine may raise intraocular pressure; consider ophthalmology input.",
        source="Older ketamine labelling and anaesthesia literature [unverified current PI wording]; "
        "eligibility.md section 1",
    )


def pregnancy(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag pregnancy (not recommended), and ask for the status where pregnancy is possible."""
    source = "Spravato US PI 8.1 (may cause fetal harm; not recommended); Sanacora 2017; eligibility.md section 1"
    coded = _coded(snapshot, ("Z33.1", "O09"))
    evidence: Evidence = {"pregnancy": snapshot.pregnancy, "sex_at_birth": snapshot.sex_at_birth, "diagnoses": coded}
    if snapshot.pregnancy == "pregnant":
        message = "Relative contraindication: pregnant. Esketamine is not recommended in pregnancy (fetal harm)."
        return [_finding("pregnancy", "relative", message, source, evidence)]
    if coded:
        message = _coded_message("pregnancy", coded, snapshot.pregnancy == "not_pregnant", "relative", False)
        return [_finding("pregnancy.coded", "relative", message, f"{source}; eligibility.md section 3", evidence)]
    if snapshot.pregnancy in (None, "unknown") and snapshot.sex_at_birth != "male":
        what = "Pregnancy status" if snapshot.sex_at_birth else "Pregnancy status (and sex at birth)"
        return [_missing("pregnancy", what, "a relative contraindication (pregnancy)", source, evidence)]
    return []


def breastfeeding(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag breastfeeding (not recommended)."""
    source = "Spravato US PI 8.2 (lactation: not recommended); eligibility.md section 1"
    evidence: Evidence = {"breastfeeding": snapshot.breastfeeding, "sex_at_birth": snapshot.sex_at_birth}
    if snapshot.breastfeeding is True:
        message = "Relative contraindication: breastfeeding. Esketamine is not recommended while breastfeeding."
        return [_finding("breastfeeding", "relative", message, source, evidence)]
    if snapshot.breastfeeding is None and snapshot.sex_at_birth != "male":
        return [
            _missing(
                "breastfeeding", "Whether the patient is breastfeeding", "a relative contraindication", source, evidence
            )
        ]
    return []


def psychosis(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag psychosis: current psychosis absolute by policy; schizophrenia spectrum or a history of it relative."""
    source = (
        "Spravato US PI 5.x (assess carefully; benefit must outweigh risk); Sanacora 2017; eligibility.md section 1 "
        "(relative-to-absolute; current psychosis absolute is the [policy] default)"
    )
    current_codes = _coded(snapshot, PSYCHOTIC_FEATURES_CODES)
    spectrum_codes = _coded(snapshot, PSYCHOTIC_DISORDER_CODES)
    evidence: Evidence = {"psychosis": snapshot.psychosis, "diagnoses": current_codes + spectrum_codes}
    current_level: Level = "absolute" if policy.current_psychosis_absolute else "relative"
    if snapshot.psychosis == "current":
        message = f"{_LEVEL_WORDS[current_level]}: current psychosis. Ketamine can worsen psychotic symptoms."
        return [_finding("psychosis", _LEVEL_SEVERITY[current_level], message, source, evidence)]
    if current_codes:
        blocks = policy.diagnosis_codes_block
        severity: Severity = "absolute" if current_level == "absolute" and blocks else "relative"
        message = _coded_message(
            "a current episode with psychotic features",
            current_codes,
            snapshot.psychosis == "none",
            current_level,
            blocks,
        )
        return [_finding("psychosis.coded", severity, message, f"{source}; eligibility.md section 3", evidence)]
    if snapshot.psychosis == "history" or spectrum_codes:
        what = f"a psychotic disorder ({', '.join(spectrum_codes)})" if spectrum_codes else "a history of psychosis"
        message = f"Relative contraindication: {what}. Assess carefully; the benefit must outweigh the risk."
        return [_finding("psychosis", "relative", message, source, evidence)]
    if snapshot.psychosis is None:
        return [
            _missing("psychosis", "Psychosis history", "an absolute or relative contraindication", source, evidence)
        ]
    return []


def mania(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag mania: current mania or hypomania absolute by policy; bipolar depression relative."""
    source = (
        "Sanacora 2017 (limited data in bipolar disorder); eligibility.md section 1 (current mania absolute "
        "[policy]; bipolar depression relative, mood-stabiliser cover [policy])"
    )
    # F30 manic episode, F31.1x/F31.2 bipolar current manic (eligibility.md 3); F31.0 is bipolar current hypomanic.
    current_codes = _coded(snapshot, ("F30", "F31.0", "F31.1", "F31.2"))
    bipolar_codes = tuple(code for code in _coded(snapshot, ("F31",)) if code not in current_codes)
    evidence: Evidence = {"mood": snapshot.mood, "diagnoses": current_codes + bipolar_codes}
    current_level: Level = "absolute" if policy.current_mania_absolute else "relative"
    if snapshot.mood == "current_mania":
        message = f"{_LEVEL_WORDS[current_level]}: current mania or hypomania."
        return [_finding("mania", _LEVEL_SEVERITY[current_level], message, source, evidence)]
    if current_codes:
        blocks = policy.diagnosis_codes_block
        severity: Severity = "absolute" if current_level == "absolute" and blocks else "relative"
        message = _coded_message(
            "a current manic or hypomanic episode", current_codes, snapshot.mood == "none", current_level, blocks
        )
        return [_finding("mania.coded", severity, message, f"{source}; eligibility.md section 3", evidence)]
    if snapshot.mood == "bipolar" or bipolar_codes:
        message = (
            "Relative contraindication: bipolar disorder. Evidence is limited; a mood stabiliser should cover the "
            "course (policy), and watch for switching into mania."
        )
        return [_finding("mania.bipolar", "relative", message, source, evidence)]
    if snapshot.mood is None:
        return [
            _missing("mania", "Mania or bipolar history", "an absolute or relative contraindication", source, evidence)
        ]
    return []


def ketamine_misuse(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag ketamine or other dissociative misuse: active absolute by policy; past relative."""
    source = (
        "Spravato US PI 5.x (abuse and misuse); Sanacora 2017; eligibility.md section 1 (active ketamine "
        "misuse absolute [policy])"
    )
    # Ketamine use disorder is often coded under F19 or F16: the mapping is [unverified], so `_finding` keeps
    # a code-only match relative even when the policy lets diagnosis codes block.
    coded = _coded(snapshot, ("F19", "F16"))
    code_source = "eligibility.md section 3 (F19/F16 for ketamine use disorder [unverified mapping])"
    evidence: Evidence = {"ketamine_misuse": snapshot.ketamine_misuse, "diagnoses": coded}
    active_level: Level = "absolute" if policy.active_ketamine_misuse_absolute else "relative"
    if snapshot.ketamine_misuse == "active":
        message = f"{_LEVEL_WORDS[active_level]}: active misuse of ketamine or another dissociative."
        return [_finding("ketamine_misuse", _LEVEL_SEVERITY[active_level], message, source, evidence)]
    if coded and snapshot.ketamine_misuse != "past":
        blocks = policy.diagnosis_codes_block
        severity: Severity = "absolute" if active_level == "absolute" and blocks else "relative"
        message = _coded_message(
            "a hallucinogen or other psychoactive substance disorder, possibly ketamine",
            coded,
            snapshot.ketamine_misuse == "none",
            active_level,
            blocks,
        )
        return [_finding("ketamine_misuse.coded", severity, message, f"{source}; {code_source}", evidence)]
    if snapshot.ketamine_misuse == "past":
        message = (
            "Relative contraindication: past misuse of ketamine or another dissociative. Assess the risk of abuse "
            "and misuse, and monitor for it."
        )
        return [_finding("ketamine_misuse", "relative", message, source, evidence)]
    if snapshot.ketamine_misuse is None:
        return [
            _missing(
                "ketamine_misuse",
                "Ketamine or dissociative misuse history",
                "an absolute or relative contraindication",
                source,
                evidence,
            )
        ]
    return []


def substance_use_disorder(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag an active substance use disorder other than alcohol and ketamine (e.g. stimulants)."""
    return _flag_rule(
        snapshot,
        policy,
        code="substance_use_disorder",
        name="substance_use_disorder",
        value=snapshot.substance_use_disorder,
        label="an active substance use disorder (e.g. stimulants, other dissociatives)",
        level="relative",
        advice="Assess the risk of abuse and misuse, and monitor for it.",
        source="Spravato US PI 5.x (abuse and misuse); Sanacora 2017; eligibility.md section 1",
    )


def alcohol_use_disorder(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag an active alcohol use disorder (a substance use disorder, though also an off-label indication)."""
    return _flag_rule(
        snapshot,
        policy,
        code="alcohol_use_disorder",
        name="alcohol_use_disorder",
        value=snapshot.alcohol_use_disorder,
        label="an active alcohol use disorder",
        level="relative",
        advice="When it is the indication being treated (F10.x, eligibility.md section 3), say so in the reason.",
        source="eligibility.md section 1 (active substance use disorder); instruments.md AUDIT-C (KAP use); "
        "Spravato US PI 5.x",
    )


def severe_hepatic_impairment(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag severe hepatic impairment (Child-Pugh C)."""
    return _flag_rule(
        snapshot,
        policy,
        code="severe_hepatic_impairment",
        name="severe_hepatic_impairment",
        value=snapshot.severe_hepatic_impairment,
        label="severe hepatic impairment (Child-Pugh C)",
        level="relative",
        advice="Esketamine is not recommended; moderate impairment may need longer monitoring.",
        source="Spravato US PI 8.x (hepatic impairment); eligibility.md section 1",
    )


def cystitis(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn about ulcerative or interstitial cystitis and lower urinary tract symptoms."""
    return _flag_rule(
        snapshot,
        policy,
        code="cystitis",
        name="cystitis_or_urinary_symptoms",
        value=snapshot.cystitis_or_urinary_symptoms,
        label="ulcerative or interstitial cystitis or lower urinary tract symptoms",
        level="precaution",
        advice="Ask about urinary symptoms at follow-ups.",
        source="Spravato US PI 5.x (ulcerative or interstitial cystitis); eligibility.md section 1",
    )


def cognitive_impairment(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn about cognitive impairment or dementia."""
    return _flag_rule(
        snapshot,
        policy,
        code="cognitive_impairment",
        name="cognitive_impairment",
        value=snapshot.cognitive_impairment,
        label="cognitive impairment or dementia",
        level="precaution",
        advice="Ketamine has short-term cognitive effects; screen cognition and confirm capacity to consent.",
        source="Spravato US PI 5.x (cognitive effects); eligibility.md section 1",
    )


def airway_risk(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn about airway risk: obstructive sleep apnoea, severe COPD, difficult airway, or a high BMI."""
    source = "Anaesthesia practice [unverified source]; eligibility.md section 1"
    findings = _flag_rule(
        snapshot,
        policy,
        code="airway_risk",
        name="airway_risk",
        value=snapshot.airway_risk,
        label="an airway risk (obstructive sleep apnoea, severe COPD or a difficult airway)",
        level="precaution",
        advice="Have airway equipment and monitoring ready.",
        source=source,
    )
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
            _finding("airway_risk.bmi", "relative", message, f"{source}; policy {policy.version}", evidence)
        )
    return findings


def uncontrolled_hyperthyroidism(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag uncontrolled hyperthyroidism (sympathomimetic effects)."""
    return _flag_rule(
        snapshot,
        policy,
        code="uncontrolled_hyperthyroidism",
        name="uncontrolled_hyperthyroidism",
        value=snapshot.uncontrolled_hyperthyroidism,
        label="uncontrolled hyperthyroidism",
        level="relative",
        advice="Ketamine's sympathomimetic effects add to the tachycardia and hypertension.",
        source="Ketalar US PI (thyroid precaution) [unverified exact wording]; eligibility.md section 1",
    )


def seizure_disorder(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn about a seizure disorder."""
    return _flag_rule(
        snapshot,
        policy,
        code="seizure_disorder",
        name="seizure_disorder",
        value=snapshot.seizure_disorder,
        label="a seizure disorder",
        level="precaution",
        advice="Check for theophylline or aminophylline, which lower the seizure threshold with ketamine.",
        source="Ketalar US PI (theophylline/aminophylline interaction) [unverified]; eligibility.md section 1",
    )


def minimum_age(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Block patients under the policy's minimum age (18: Spravato is not approved in paediatrics)."""
    source = (
        "Spravato US PI 8.4 (paediatric use: not approved); eligibility.md section 1 (age limit for racemic "
        f"ketamine is [policy], here version {policy.version})"
    )
    evidence: Evidence = {"age": snapshot.age, "minimum_age": policy.minimum_age}
    if snapshot.age is None:
        return [_missing("minimum_age", "Age", "an absolute contraindication (age)", source, evidence)]
    if snapshot.age < policy.minimum_age:
        level: Level = "absolute" if policy.under_minimum_age_absolute else "relative"
        message = f"{_LEVEL_WORDS[level]}: age {snapshot.age} is under the minimum of {policy.minimum_age}."
        return [_finding("minimum_age", _LEVEL_SEVERITY[level], message, source, evidence)]
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
        findings.append(_finding("suicide_risk", "absolute", message, source, evidence))
    elif snapshot.cssrs_risk == "moderate risk":
        message = "Precaution: C-SSRS moderate risk. Prescriber review before dosing; safety plan; document."
        moderate_source = "instruments.md C-SSRS triage, moderate row [unverified row wording; policy default]"
        findings.append(_finding("suicide_risk.moderate", "relative", message, moderate_source, evidence))
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
            findings.append(
                _missing(
                    "suicide_risk",
                    "A suicide-risk assessment (C-SSRS)",
                    "active suicidal intent with a plan",
                    source,
                    evidence,
                )
            )
    return findings


# --- Section 2: drug interactions ---------------------------------------------------------------------------


def _interaction(
    snapshot: EvaluationSnapshot, code: str, drugs: DrugClass, effect: str, action: str, source: str
) -> list[Finding]:
    matched, found = drugs.find(snapshot.medications or ())
    if not matched:
        return []
    named = drugs.label if found == (drugs.label.lower(),) else f"{drugs.label} ({', '.join(found)})"
    message = f"Interaction: {named}. {effect} {action}"
    return [_finding(code, "interaction", message, source, {"medications": matched, "matched": found})]


def benzodiazepine(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn about benzodiazepines: additive sedation and a possibly blunted response."""
    return _interaction(
        snapshot,
        "benzodiazepine",
        BENZODIAZEPINES,
        "Additive sedation; observational data suggest benzodiazepines attenuate ketamine's antidepressant response.",
        "Record the doses; ask to hold or reduce 12-24 h before dosing if clinically safe (policy); never stop "
        "abruptly.",
        "Spravato US PI 7 (CNS depressants); Frye 2015, Ford 2015, Andrashko 2020 [unverified citations]; "
        "eligibility.md section 2",
    )


def lamotrigine(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn that lamotrigine may blunt ketamine's effects."""
    return _interaction(
        snapshot,
        "lamotrigine",
        LAMOTRIGINE,
        "Pretreatment reduced ketamine's perceptual effects in healthy volunteers; the effect on the "
        "antidepressant response is uncertain.",
        "Record it; it may blunt the response (policy).",
        "Anand A et al. Arch Gen Psychiatry 2000;57:270-276; eligibility.md section 2",
    )


def nmda_agent(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn about other NMDA/glutamate agents (memantine, dextromethorphan)."""
    return _interaction(
        snapshot,
        "nmda_agent",
        NMDA_AGENTS,
        "Theoretical additive effects.",
        "Precaution: review the need on dosing days.",
        "eligibility.md section 2 [unverified]",
    )


def maoi(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn that MAOIs increase blood pressure with ketamine."""
    return _interaction(
        snapshot,
        "maoi",
        MAOIS,
        "Increased blood pressure.",
        "Close blood-pressure monitoring; prescriber review.",
        "Spravato US PI 7; eligibility.md section 2",
    )


def psychostimulant(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn that psychostimulants increase blood pressure with ketamine."""
    return _interaction(
        snapshot,
        "psychostimulant",
        PSYCHOSTIMULANTS,
        "Increased blood pressure.",
        "Close blood-pressure monitoring; consider holding on dosing days (policy).",
        "Spravato US PI 7; eligibility.md section 2",
    )


def opioid(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn about opioids: additive CNS and respiratory depression."""
    return _interaction(
        snapshot,
        "opioid",
        OPIOIDS,
        "Additive CNS and respiratory depression.",
        "Monitor sedation and SpO2; avoid on dosing days if possible (policy).",
        "Spravato US PI 7 (CNS depressants); eligibility.md section 2",
    )


def naltrexone(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Note naltrexone, which blunted ketamine's antidepressant effect in one small study (record only)."""
    return _interaction(
        snapshot,
        "naltrexone",
        NALTREXONE,
        "Pretreatment blunted ketamine's antidepressant effect in one small study, not confirmed by others.",
        "Record only.",
        "Williams NR et al. Am J Psychiatry 2018; eligibility.md section 2",
    )


def alcohol(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn about alcohol (active alcohol use disorder): additive CNS depression."""
    if snapshot.alcohol_use_disorder is not True:
        return []
    message = (
        "Interaction: alcohol. Additive CNS depression. No alcohol on the dosing day and usually for 24 h before "
        "(policy); check at every pre-dose visit."
    )
    source = "Spravato US PI 7 / Medication Guide; eligibility.md section 2"
    return [_finding("alcohol", "interaction", message, source, {"alcohol_use_disorder": True})]


def other_sedative(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn about other sedatives: Z-drugs, gabapentinoids, sedating antihistamines, antipsychotics."""
    return _interaction(
        snapshot,
        "other_sedative",
        OTHER_SEDATIVES,
        "Additive sedation.",
        "Monitor sedation.",
        "Spravato US PI 7 (CNS depressants); eligibility.md section 2",
    )


def cyp_modulator(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn about CYP3A4/CYP2B6 inhibitors and inducers, which change (mainly oral) ketamine exposure."""
    # Evidenced for oral S-ketamine: clarithromycin (AUC x2.6, Hagelberg 2010), ticlopidine (x2.4, Peltoniemi
    # 2011), rifampicin (-86%, Peltoniemi 2012). Itraconazole did not raise exposure (Peltoniemi 2011), so strong
    # CYP3A4 inhibitors are not listed as a class. Carbamazepine, phenytoin, St John's wort: inducer inference.
    return _interaction(
        snapshot,
        "cyp_modulator",
        CYP_MODULATORS,
        "Ketamine is metabolised mainly by CYP3A4 and CYP2B6; inhibitors can raise and inducers lower exposure, "
        "especially by mouth.",
        "Precaution for oral and sublingual routes; dose by response.",
        "Ketalar US PI / pharmacology [unverified magnitude]; eligibility.md section 2; Hagelberg NM et al. Eur J "
        "Pain 2010; Peltoniemi MA et al. Clin Pharmacol Ther 2011;90:296-302; Peltoniemi MA et al. Basic Clin "
        "Pharmacol Toxicol 2012;111:325-332",
    )


def theophylline(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn that theophylline or aminophylline with ketamine lowers the seizure threshold."""
    return _interaction(
        snapshot,
        "theophylline",
        THEOPHYLLINES,
        "Lowered seizure threshold with ketamine.",
        "Avoid, or take precautions.",
        "Ketalar US PI [unverified]; eligibility.md section 2",
    )


def thyroid_hormone(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Warn that thyroid hormone with ketamine has caused hypertension and tachycardia."""
    return _interaction(
        snapshot,
        "thyroid_hormone",
        THYROID_HORMONES,
        "Hypertension and tachycardia reported with ketamine.",
        "Precaution: monitor blood pressure and heart rate.",
        "Ketalar US PI [unverified]; eligibility.md section 2",
    )


# SSRIs and SNRIs are not an interaction barrier (Spravato is labelled with an oral antidepressant): no rule.


# --- Section 4: information to collect before the first dose ------------------------------------------------

_SECTION_4 = "eligibility.md section 4 (pre-treatment evaluation, Sanacora 2017)"


def diagnoses(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Ask for the diagnostic assessment when no diagnosis is recorded."""
    if snapshot.diagnoses:
        return []
    return [
        Finding(
            "diagnoses.unknown",
            "missing",
            "No diagnosis is recorded; a psychiatric diagnostic assessment (ICD-10-CM) is needed, and the "
            "diagnosis-code screens cannot run.",
            _SECTION_4,
            {"diagnoses": snapshot.diagnoses},
        )
    ]


def baseline_scores(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Ask for a baseline symptom-severity score."""
    if snapshot.baseline_scores:
        return []
    return [
        Finding(
            "baseline_scores.unknown",
            "missing",
            "No baseline symptom-severity score is recorded (e.g. PHQ-9); response and remission are measured "
            "against it.",
            f"{_SECTION_4}; instruments.md",
            {"baseline_scores": None},
        )
    ]


def prior_trials(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Ask for the prior treatment history, and for the trial details treatment resistance depends on."""
    if snapshot.prior_trials is None:
        return [
            Finding(
                "prior_trials.unknown",
                "missing",
                "Prior treatment trials are not recorded; they are needed to establish treatment resistance.",
                _SECTION_4,
                {"prior_trials": None},
            )
        ]
    gaps = []
    for trial in snapshot.prior_trials:
        if trial.antidepressant is False or (trial.antidepressant is None and not _is_oral_antidepressant(trial)):
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
    return [
        Finding(
            "prior_trials.incomplete",
            "missing",
            f"Antidepressant trial details are incomplete: {'; '.join(gaps)}. Treatment resistance counts only "
            "trials of adequate dose and duration in the current episode.",
            f"{_SECTION_4}; eligibility.md section 3 (TRD definition, Spravato PI 1)",
            {"trials": tuple(gaps)},
        )
    ]


def medications(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Ask for the current medication list, which the interaction rules need."""
    if snapshot.medications is not None:
        return []
    return [
        Finding(
            "medications.unknown",
            "missing",
            "Current medications are not recorded (record none as an empty list); the interaction checks cannot run.",
            f"{_SECTION_4}; eligibility.md section 2",
            {"medications": None},
        )
    ]


def contraception(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Ask about contraception where pregnancy is possible (it sets how often to test)."""
    if snapshot.contraception is not None or snapshot.pregnancy != "not_pregnant" or snapshot.sex_at_birth == "male":
        return []
    return [
        Finding(
            "contraception.unknown",
            "missing",
            "Contraception is not recorded for a patient who could become pregnant; it sets how often to test for "
            "pregnancy.",
            "monitoring.md section 1 (pregnancy test, frequency [policy]); Spravato US PI 8.1",
            {"contraception": None, "pregnancy": snapshot.pregnancy, "sex_at_birth": snapshot.sex_at_birth},
        )
    ]


Rule = Callable[[EvaluationSnapshot, EligibilityPolicy], list[Finding]]

RULES: tuple[Rule, ...] = (
    # Section 1: contraindications and precautions.
    aneurysmal_vascular_disease,
    arteriovenous_malformation,
    intracerebral_haemorrhage,
    hypersensitivity,
    bp_rise_hazard,
    uncontrolled_hypertension,
    blood_pressure,
    heart_rate,
    unstable_cardiovascular_disease,
    cerebrovascular_disease,
    raised_intracranial_pressure,
    raised_intraocular_pressure,
    pregnancy,
    breastfeeding,
    psychosis,
    mania,
    ketamine_misuse,
    substance_use_disorder,
    alcohol_use_disorder,
    severe_hepatic_impairment,
    cystitis,
    cognitive_impairment,
    airway_risk,
    uncontrolled_hyperthyroidism,
    seizure_disorder,
    minimum_age,
    suicide_risk,
    # Section 2: drug interactions.
    benzodiazepine,
    lamotrigine,
    nmda_agent,
    maoi,
    psychostimulant,
    opioid,
    naltrexone,
    alcohol,
    other_sedative,
    cyp_modulator,
    theophylline,
    thyroid_hormone,
    # Section 4: information to collect.
    diagnoses,
    baseline_scores,
    prior_trials,
    medications,
    contraception,
)


def evaluate(snapshot: EvaluationSnapshot, policy: EligibilityPolicy = DEFAULT_POLICY) -> list[Finding]:
    """Return every finding for the snapshot: absolute, then relative, interaction, missing (rule order within)."""
    findings: dict[str, Finding] = {}
    for rule in RULES:
        for finding in rule(snapshot, policy):
            findings.setdefault(finding.code, finding)
    return sorted(findings.values(), key=lambda finding: _RANK[finding.severity])


# --- Treatment resistance ------------------------------------------------------------------------------------


def _is_oral_antidepressant(trial: TreatmentTrial) -> bool:
    if trial.antidepressant is not None:
        return trial.antidepressant
    return bool(ORAL_ANTIDEPRESSANTS.find((trial.drug,))[0])


_RESPONSE_WORDS: dict[TrialResponse, str] = {
    "none": "no response",
    "partial": "partial response",
    "response": "response",
    "remission": "remission",
    "not_tolerated": "not tolerated",
}


def _weeks(value: float) -> str:
    return f"{value:g} wk"


def treatment_resistance(
    trials: Sequence[TreatmentTrial] | None, policy: EligibilityPolicy = DEFAULT_POLICY
) -> tuple[bool, str]:
    """Return whether the trials establish treatment-resistant depression, and why.

    FDA label definition (Spravato PI 1): major depression with an inadequate response to at least 2 oral
    antidepressants of adequate dose and duration in the current episode. Adequate here means: an oral
    antidepressant, a dose the prescriber judged adequate (e.g. ATHF criteria, as in ELEKT-D), taken for at least
    `policy.adequate_trial_weeks` (6 by default: TRANSFORM's figure, [unverified]), in the current episode, with
    no response or only a partial one. A trial stopped for intolerance is not counted. Two trials of the same
    drug count once.
    """
    needed = policy.trials_for_resistance
    if not trials:
        return False, f"No prior treatment trials are recorded; {needed} adequate failed trials are needed."
    counted: dict[str, TreatmentTrial] = {}
    excluded: list[str] = []
    for trial in trials:
        reasons = []
        if not _is_oral_antidepressant(trial):
            reasons.append("not recognised as an oral antidepressant")
        if trial.adequate_dose is None:
            reasons.append("dose adequacy not judged")
        elif not trial.adequate_dose:
            reasons.append("dose below adequate")
        if trial.duration_weeks is None:
            reasons.append("duration not recorded")
        elif trial.duration_weeks < policy.adequate_trial_weeks:
            reasons.append(f"{_weeks(trial.duration_weeks)} < {_weeks(policy.adequate_trial_weeks)}")
        if trial.current_episode is None:
            reasons.append("episode not recorded")
        elif not trial.current_episode:
            reasons.append("not in the current episode")
        if trial.response is None:
            reasons.append("response not recorded")
        elif trial.response == "not_tolerated":
            reasons.append("stopped for intolerance")
        elif trial.response in ("response", "remission"):
            reasons.append(f"{trial.response}, not an inadequate response")
        key = _normalise_text(trial.drug)
        if not reasons and key in counted:
            reasons.append("same drug as a counted trial")
        if reasons:
            excluded.append(f"{trial.drug} ({'; '.join(reasons)})")
        else:
            counted[key] = trial
    met = len(counted) >= needed
    listed = "; ".join(
        f"{t.drug} {_weeks(t.duration_weeks or 0)}, {_RESPONSE_WORDS[t.response or 'none']}" for t in counted.values()
    )
    text = (
        f"{len(counted)} of {needed} adequate trials with an inadequate response in the current episode "
        f"({listed or 'none'}): {'meets' if met else 'does not meet'} the FDA label definition of treatment-resistant "
        f"depression (Spravato PI 1; adequate duration {_weeks(policy.adequate_trial_weeks)} is a policy default, "
        "[unverified])."
    )
    if excluded:
        text += f" Not counted: {'; '.join(excluded)}."
    return met, text


# --- The prescriber's decision ------------------------------------------------------------------------------


def decision_allowed(findings: Iterable[Finding], decision: str, reason: str | None) -> tuple[bool, str]:
    """Return whether the decision may be recorded against these findings, and why (or why not).

    "not_eligible" is always allowed. Any absolute finding refuses "eligible" and "eligible_with_precautions"
    alike (proceeding with precautions is still proceeding). A relative finding (contraindication or precaution)
    lets the prescriber proceed only with a written reason.
    """
    if decision not in DECISIONS:
        return False, f"Unknown decision {decision!r}; choose one of {', '.join(DECISIONS)}."
    if decision == "not_eligible":
        return True, "Not eligible can always be recorded."
    findings = list(findings)
    absolute = [finding.code for finding in findings if finding.severity == "absolute"]
    if absolute:
        return False, (
            f"Cannot record {decision.replace('_', ' ')}: absolute contraindication ({', '.join(absolute)}). "
            "Record not eligible, or correct the evaluation if a finding rests on a wrong entry."
        )
    relative = [finding.code for finding in findings if finding.severity == "relative"]
    if relative and not (reason or "").strip():
        return False, (
            f"A written reason is needed to proceed despite relative contraindications or precautions "
            f"({', '.join(relative)})."
        )
    if relative:
        return True, f"Allowed with the written reason, despite {', '.join(relative)}."
    return True, "No absolute or relative findings."

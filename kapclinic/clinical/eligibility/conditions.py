"""The yes/no history questions of eligibility.md section 1, as one table.

Each row is a condition the history asks about (and the ICD-10-CM codes that suggest it), with its level,
advice and source. One function, `Condition.findings`, applies every row: yes fires at the row's level; a matching
diagnosis code with the history not saying yes asks the prescriber to confirm (`codes.coded_finding`); not
recorded is missing information. Rules that weigh more than one answer (blood pressure, pregnancy, psychosis...)
are functions in the topic modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from kapclinic.clinical.eligibility.codes import AVM_CODES, coded, coded_finding
from kapclinic.clinical.eligibility.findings import (
    LEVELS,
    EvidenceValue,
    Finding,
    Level,
    Rule,
    level_finding,
    missing_finding,
    rules_by_code,
)
from kapclinic.clinical.eligibility.policy import EligibilityPolicy
from kapclinic.clinical.eligibility.snapshot import HISTORY_FLAGS, EvaluationSnapshot


@dataclass(frozen=True)
class Condition:
    """A condition the history answers yes or no, and the diagnosis codes that suggest it."""

    code: str  # the rule code, and the name of the rule function
    summary: str  # the rule's docstring: what it does, starting with a verb
    label: str
    level: Level
    advice: str
    source: str
    codes: tuple[str, ...] = ()  # ICD-10-CM roots: everything under them in the code tree
    code_source: str = "eligibility.md section 3 (codes for screening)"
    flag: str = ""  # the snapshot field answering it, when it is not named like the rule

    def __post_init__(self) -> None:
        if self.flag_name not in HISTORY_FLAGS:
            raise ValueError(f"{self.code}: the evaluation has no yes/no answer {self.flag_name!r}.")

    @property
    def flag_name(self) -> str:
        """Return the name of the snapshot field that answers the question."""
        return self.flag or self.code

    def findings(self, snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
        """Apply the row: yes fires, a matching code asks to confirm, None is missing."""
        value: bool | None = getattr(snapshot, self.flag_name)
        codes = coded(snapshot, self.codes)
        evidence: dict[str, EvidenceValue] = {self.flag_name: value}
        if self.codes:
            evidence["diagnoses"] = codes
        if value is True:
            return [level_finding(self.code, self.level, f"{self.label}. {self.advice}", self.source, evidence)]
        if codes:
            source = f"{self.source}; {self.code_source}"
            return [
                coded_finding(
                    self.code,
                    self.label,
                    codes,
                    denied=value is False,
                    level=self.level,
                    policy=policy,
                    source=source,
                    evidence=evidence,
                )
            ]
        if value is None:
            what = f"Whether the patient has {self.label}"
            return [missing_finding(self.code, what, LEVELS[self.level].need, self.source, evidence)]
        return []


CONDITIONS: tuple[Condition, ...] = (
    # Cardiovascular and cerebrovascular.
    Condition(
        code="aneurysmal_vascular_disease",
        summary="Block aneurysmal vascular disease (aorta, intracranial, peripheral arteries).",
        label="aneurysmal vascular disease (thoracic or abdominal aorta, intracranial or peripheral arteries)",
        level="absolute",
        advice="A rise in blood pressure risks rupture.",
        source="Spravato US PI 4 (contraindications); eligibility.md section 1",
        codes=("I71", "I72", "I67.1"),
    ),
    Condition(
        code="arteriovenous_malformation",
        summary="Block arteriovenous malformation.",
        label="an arteriovenous malformation",
        level="absolute",
        advice="A rise in blood pressure risks haemorrhage.",
        source="Spravato US PI 4 (contraindications); eligibility.md section 1",
        codes=AVM_CODES.roots,
        code_source="eligibility.md section 3 (codes for screening; AVM at any site, added 2026-12-04)",
    ),
    Condition(
        code="intracerebral_haemorrhage",
        summary="Block a history of intracerebral haemorrhage.",
        label="a history of intracerebral haemorrhage",
        level="absolute",
        advice="A rise in blood pressure risks recurrence.",
        source="Spravato US PI 4 (contraindications); eligibility.md section 1",
        codes=("I60", "I61", "I62"),
    ),
    Condition(
        code="bp_rise_hazard",
        summary="Block conditions in which a significant rise in blood pressure would be a serious hazard.",
        label="a condition in which a significant rise in blood pressure would be a serious hazard",
        level="absolute",
        advice="Ketamine raises blood pressure.",
        source="Ketalar US PI (contraindications); eligibility.md section 1",
    ),
    Condition(
        code="unstable_cardiovascular_disease",
        summary="Flag unstable or poorly controlled cardiovascular disease (cardiology clearance).",
        label="unstable or poorly controlled cardiovascular disease (recent myocardial infarction, unstable angina, "
        "decompensated heart failure, significant valve disease or uncontrolled arrhythmia)",
        level="relative",
        advice="Obtain cardiology clearance; weigh benefit against risk and monitor.",
        source="Spravato US PI 5.x (cardiovascular and cerebrovascular conditions); Sanacora 2017; eligibility.md 1",
    ),
    Condition(
        code="cerebrovascular_disease",
        summary="Flag a history of stroke, TIA or other cerebrovascular disease.",
        label="a history of stroke, TIA or other cerebrovascular disease",
        level="relative",
        advice="Weigh benefit against risk and monitor blood pressure closely.",
        source="Spravato US PI 5.x (cerebrovascular conditions); eligibility.md section 1",
    ),
    # Neurological and ocular.
    Condition(
        code="raised_intracranial_pressure",
        summary="Block raised intracranial pressure or brain injury with ICP concern.",
        label="raised intracranial pressure, or brain injury with concern for it",
        # Absolute: the label says contraindicated, not "use with caution" (eligibility.md 1, corrected 2026-12-04).
        level="absolute",
        advice="An increase in intracranial pressure poses a serious risk.",
        source="Spravato US PI 4 and 5.6 (contraindicated where an increase in blood pressure or intracranial "
        "pressure poses a serious risk); Ketalar US PI (CSF pressure); eligibility.md section 1",
    ),
    Condition(
        code="raised_intraocular_pressure",
        summary="Flag raised intraocular pressure or glaucoma.",
        label="raised intraocular pressure or glaucoma",
        level="relative",
        advice="Ketamine may raise intraocular pressure; consider ophthalmology input.",
        source="Older ketamine labelling and anaesthesia literature [unverified current PI wording]; "
        "eligibility.md section 1",
    ),
    Condition(
        code="cognitive_impairment",
        summary="Warn about cognitive impairment or dementia.",
        label="cognitive impairment or dementia",
        level="precaution",
        advice="Ketamine has short-term cognitive effects; screen cognition and confirm capacity to consent.",
        source="Spravato US PI 5.x (cognitive effects); eligibility.md section 1",
    ),
    Condition(
        code="seizure_disorder",
        summary="Warn about a seizure disorder.",
        label="a seizure disorder",
        level="precaution",
        advice="Check for theophylline or aminophylline, which lower the seizure threshold with ketamine.",
        source="Ketalar US PI (theophylline/aminophylline interaction) [unverified]; eligibility.md section 1",
    ),
    # Substance use (ketamine misuse has its own rule: psychiatric.ketamine_misuse).
    Condition(
        code="substance_use_disorder",
        summary="Flag an active substance use disorder other than alcohol and ketamine (e.g. stimulants).",
        label="an active substance use disorder (e.g. stimulants, other dissociatives)",
        level="relative",
        advice="Assess the risk of abuse and misuse, and monitor for it.",
        source="Spravato US PI 5.x (abuse and misuse); Sanacora 2017; eligibility.md section 1",
    ),
    Condition(
        code="alcohol_use_disorder",
        summary="Flag an active alcohol use disorder (a substance use disorder, though also an off-label indication).",
        label="an active alcohol use disorder",
        level="relative",
        advice="When it is the indication being treated (F10.x, eligibility.md section 3), say so in the reason.",
        source="eligibility.md section 1 (active substance use disorder); instruments.md AUDIT-C (KAP use); "
        "Spravato US PI 5.x",
    ),
    # Other organs.
    Condition(
        code="severe_hepatic_impairment",
        summary="Flag severe hepatic impairment (Child-Pugh C).",
        label="severe hepatic impairment (Child-Pugh C)",
        level="relative",
        advice="Esketamine is not recommended; moderate impairment may need longer monitoring.",
        source="Spravato US PI 8.x (hepatic impairment); eligibility.md section 1",
    ),
    Condition(
        code="cystitis",
        flag="cystitis_or_urinary_symptoms",
        summary="Warn about ulcerative or interstitial cystitis and lower urinary tract symptoms.",
        label="ulcerative or interstitial cystitis or lower urinary tract symptoms",
        level="precaution",
        advice="Ask about urinary symptoms at follow-ups.",
        source="Spravato US PI 5.x (ulcerative or interstitial cystitis); eligibility.md section 1",
    ),
    Condition(
        code="uncontrolled_hyperthyroidism",
        summary="Flag uncontrolled hyperthyroidism (sympathomimetic effects).",
        label="uncontrolled hyperthyroidism",
        level="relative",
        advice="Ketamine's sympathomimetic effects add to the tachycardia and hypertension.",
        source="Ketalar US PI (thyroid precaution) [unverified exact wording]; eligibility.md section 1",
    ),
)

_RULES = rules_by_code(CONDITIONS)
aneurysmal_vascular_disease: Rule = _RULES["aneurysmal_vascular_disease"]
arteriovenous_malformation: Rule = _RULES["arteriovenous_malformation"]
intracerebral_haemorrhage: Rule = _RULES["intracerebral_haemorrhage"]
bp_rise_hazard: Rule = _RULES["bp_rise_hazard"]
unstable_cardiovascular_disease: Rule = _RULES["unstable_cardiovascular_disease"]
cerebrovascular_disease: Rule = _RULES["cerebrovascular_disease"]
raised_intracranial_pressure: Rule = _RULES["raised_intracranial_pressure"]
raised_intraocular_pressure: Rule = _RULES["raised_intraocular_pressure"]
cognitive_impairment: Rule = _RULES["cognitive_impairment"]
seizure_disorder: Rule = _RULES["seizure_disorder"]
substance_use_disorder: Rule = _RULES["substance_use_disorder"]
alcohol_use_disorder: Rule = _RULES["alcohol_use_disorder"]
severe_hepatic_impairment: Rule = _RULES["severe_hepatic_impairment"]
cystitis: Rule = _RULES["cystitis"]
uncontrolled_hyperthyroidism: Rule = _RULES["uncontrolled_hyperthyroidism"]

"""Drug interactions (eligibility.md section 2), as one table.

Each row names what it matches (a drug class on the medication list, or a history answer for alcohol), its
severity, the effect and the action the message gives, and its source; `Interaction.findings` applies every row.
The rule codes are the ones stored with earlier findings: keep them. SSRIs and SNRIs are not an interaction
barrier (Spravato is labelled with an oral antidepressant): no row.
"""

from __future__ import annotations

from dataclasses import dataclass

from kapclinic.clinical.eligibility.drugs import (
    BENZODIAZEPINES,
    CYP_MODULATORS,
    LAMOTRIGINE,
    MAOIS,
    NALTREXONE,
    NMDA_AGENTS,
    OPIOIDS,
    OTHER_SEDATIVES,
    PSYCHOSTIMULANTS,
    THEOPHYLLINES,
    THYROID_HORMONES,
    DrugClass,
)
from kapclinic.clinical.eligibility.findings import Evidence, Finding, Rule, Severity, make_finding, rules_by_code
from kapclinic.clinical.eligibility.policy import EligibilityPolicy
from kapclinic.clinical.eligibility.snapshot import HISTORY_FLAGS, EvaluationSnapshot


@dataclass(frozen=True)
class HistoryAnswer:
    """An interaction raised by a yes in the history rather than by a medication (alcohol: an active disorder)."""

    label: str
    flag: str  # the snapshot's yes/no field

    def __post_init__(self) -> None:
        if self.flag not in HISTORY_FLAGS:
            raise ValueError(f"The evaluation has no yes/no answer {self.flag!r}.")


# Alcohol is not on the medication list: an active alcohol use disorder stands for it.
ALCOHOL = HistoryAnswer("alcohol", "alcohol_use_disorder")


@dataclass(frozen=True)
class Interaction:
    """One interaction rule: "Interaction: <what matched>. <effect> <action>" when the row matches."""

    code: str  # the rule code, and the name of the rule function
    summary: str  # the rule's docstring: what it does, starting with a verb
    matches: DrugClass | HistoryAnswer
    effect: str
    action: str
    source: str
    severity: Severity = "interaction"

    def findings(self, snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
        """Apply the row to the medication list (or the history answer)."""
        named: str
        evidence: Evidence
        if isinstance(self.matches, HistoryAnswer):
            if getattr(snapshot, self.matches.flag) is not True:
                return []
            named, evidence = self.matches.label, {self.matches.flag: True}
        else:
            drugs = self.matches
            matched, found = drugs.find(snapshot.medications or ())
            if not matched:
                return []
            named = drugs.label if found == (drugs.label.lower(),) else f"{drugs.label} ({', '.join(found)})"
            evidence = {"medications": matched, "matched": found}
        message = f"Interaction: {named}. {self.effect} {self.action}"
        return [make_finding(self.code, self.severity, message, self.source, evidence)]


INTERACTIONS: tuple[Interaction, ...] = (
    Interaction(
        code="benzodiazepine",
        summary="Warn about benzodiazepines: additive sedation and a possibly blunted response.",
        matches=BENZODIAZEPINES,
        effect="Additive sedation; observational data suggest benzodiazepines attenuate ketamine's antidepressant "
        "response.",
        action="Record the doses; ask to hold or reduce 12-24 h before dosing if clinically safe (policy); never stop "
        "abruptly.",
        source="Spravato US PI 7 (CNS depressants); Frye 2015, Ford 2015, Andrashko 2020 [unverified citations]; "
        "eligibility.md section 2",
    ),
    Interaction(
        code="lamotrigine",
        summary="Warn that lamotrigine may blunt ketamine's effects.",
        matches=LAMOTRIGINE,
        effect="Pretreatment reduced ketamine's perceptual effects in healthy volunteers; the effect on the "
        "antidepressant response is uncertain.",
        action="Record it; it may blunt the response (policy).",
        source="Anand A et al. Arch Gen Psychiatry 2000;57:270-276; eligibility.md section 2",
    ),
    Interaction(
        code="nmda_agent",
        summary="Warn about other NMDA/glutamate agents (memantine, dextromethorphan).",
        matches=NMDA_AGENTS,
        effect="Theoretical additive effects.",
        action="Precaution: review the need on dosing days.",
        source="eligibility.md section 2 [unverified]",
    ),
    Interaction(
        code="maoi",
        summary="Warn that MAOIs increase blood pressure with ketamine.",
        matches=MAOIS,
        effect="Increased blood pressure.",
        action="Close blood-pressure monitoring; prescriber review.",
        source="Spravato US PI 7; eligibility.md section 2",
    ),
    Interaction(
        code="psychostimulant",
        summary="Warn that psychostimulants increase blood pressure with ketamine.",
        matches=PSYCHOSTIMULANTS,
        effect="Increased blood pressure.",
        action="Close blood-pressure monitoring; consider holding on dosing days (policy).",
        source="Spravato US PI 7; eligibility.md section 2",
    ),
    Interaction(
        code="opioid",
        summary="Warn about opioids: additive CNS and respiratory depression.",
        matches=OPIOIDS,
        effect="Additive CNS and respiratory depression.",
        action="Monitor sedation and SpO2; avoid on dosing days if possible (policy).",
        source="Spravato US PI 7 (CNS depressants); eligibility.md section 2",
    ),
    Interaction(
        code="naltrexone",
        summary="Note naltrexone, which blunted ketamine's antidepressant effect in one small study (record only).",
        matches=NALTREXONE,
        effect="Pretreatment blunted ketamine's antidepressant effect in one small study, not confirmed by others.",
        action="Record only.",
        source="Williams NR et al. Am J Psychiatry 2018; eligibility.md section 2",
    ),
    Interaction(
        code="alcohol",
        summary="Warn about alcohol (active alcohol use disorder): additive CNS depression.",
        matches=ALCOHOL,
        effect="Additive CNS depression.",
        action="No alcohol on the dosing day and usually for 24 h before (policy); check at every pre-dose visit.",
        source="Spravato US PI 7 / Medication Guide; eligibility.md section 2",
    ),
    Interaction(
        code="other_sedative",
        summary="Warn about other sedatives: Z-drugs, gabapentinoids, sedating antihistamines, antipsychotics.",
        matches=OTHER_SEDATIVES,
        effect="Additive sedation.",
        action="Monitor sedation.",
        source="Spravato US PI 7 (CNS depressants); eligibility.md section 2",
    ),
    # Evidenced for oral S-ketamine: clarithromycin (AUC x2.6, Hagelberg 2010), ticlopidine (x2.4, Peltoniemi
    # 2011), rifampicin (-86%, Peltoniemi 2012). Itraconazole did not raise exposure (Peltoniemi 2011), so strong
    # CYP3A4 inhibitors are not listed as a class. Carbamazepine, phenytoin, St John's wort: inducer inference.
    Interaction(
        code="cyp_modulator",
        summary="Warn about CYP3A4/CYP2B6 inhibitors and inducers, which change (mainly oral) ketamine exposure.",
        matches=CYP_MODULATORS,
        effect="Ketamine is metabolised mainly by CYP3A4 and CYP2B6; inhibitors can raise and inducers lower "
        "exposure, especially by mouth.",
        action="Precaution for oral and sublingual routes; dose by response.",
        source="Ketalar US PI / pharmacology [unverified magnitude]; eligibility.md section 2; Hagelberg NM et al. "
        "Eur J Pain 2010; Peltoniemi MA et al. Clin Pharmacol Ther 2011;90:296-302; Peltoniemi MA et al. Basic Clin "
        "Pharmacol Toxicol 2012;111:325-332",
    ),
    Interaction(
        code="theophylline",
        summary="Warn that theophylline or aminophylline with ketamine lowers the seizure threshold.",
        matches=THEOPHYLLINES,
        effect="Lowered seizure threshold with ketamine.",
        action="Avoid, or take precautions.",
        source="Ketalar US PI [unverified]; eligibility.md section 2",
    ),
    Interaction(
        code="thyroid_hormone",
        summary="Warn that thyroid hormone with ketamine has caused hypertension and tachycardia.",
        matches=THYROID_HORMONES,
        effect="Hypertension and tachycardia reported with ketamine.",
        action="Precaution: monitor blood pressure and heart rate.",
        source="Ketalar US PI [unverified]; eligibility.md section 2",
    ),
)

_RULES = rules_by_code(INTERACTIONS)
benzodiazepine: Rule = _RULES["benzodiazepine"]
lamotrigine: Rule = _RULES["lamotrigine"]
nmda_agent: Rule = _RULES["nmda_agent"]
maoi: Rule = _RULES["maoi"]
psychostimulant: Rule = _RULES["psychostimulant"]
opioid: Rule = _RULES["opioid"]
naltrexone: Rule = _RULES["naltrexone"]
alcohol: Rule = _RULES["alcohol"]
other_sedative: Rule = _RULES["other_sedative"]
cyp_modulator: Rule = _RULES["cyp_modulator"]
theophylline: Rule = _RULES["theophylline"]
thyroid_hormone: Rule = _RULES["thyroid_hormone"]

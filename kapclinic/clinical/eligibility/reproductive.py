"""Pregnancy, breastfeeding and contraception (eligibility.md section 1; monitoring.md section 1)."""

from __future__ import annotations

from kapclinic.clinical.eligibility.codes import coded, coded_finding
from kapclinic.clinical.eligibility.findings import Evidence, Finding, make_finding, missing_finding
from kapclinic.clinical.eligibility.policy import EligibilityPolicy
from kapclinic.clinical.eligibility.snapshot import EvaluationSnapshot


def pregnancy(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag pregnancy (not recommended), and ask for the status where pregnancy is possible."""
    source = "Spravato US PI 8.1 (may cause fetal harm; not recommended); Sanacora 2017; eligibility.md section 1"
    codes = coded(snapshot, ("Z33.1", "O09"))
    evidence: Evidence = {"pregnancy": snapshot.pregnancy, "sex_at_birth": snapshot.sex_at_birth, "diagnoses": codes}
    if snapshot.pregnancy == "pregnant":
        message = "Relative contraindication: pregnant. Esketamine is not recommended in pregnancy (fetal harm)."
        return [make_finding("pregnancy", "relative", message, source, evidence)]
    if codes:
        return [
            coded_finding(
                "pregnancy",
                "pregnancy",
                codes,
                denied=snapshot.pregnancy == "not_pregnant",
                level="relative",
                policy=policy,
                source=f"{source}; eligibility.md section 3",
                evidence=evidence,
            )
        ]
    if snapshot.pregnancy in (None, "unknown") and snapshot.sex_at_birth != "male":
        what = "Pregnancy status" if snapshot.sex_at_birth else "Pregnancy status (and sex at birth)"
        return [missing_finding("pregnancy", what, "a relative contraindication (pregnancy)", source, evidence)]
    return []


def breastfeeding(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
    """Flag breastfeeding (not recommended)."""
    source = "Spravato US PI 8.2 (lactation: not recommended); eligibility.md section 1"
    evidence: Evidence = {"breastfeeding": snapshot.breastfeeding, "sex_at_birth": snapshot.sex_at_birth}
    if snapshot.breastfeeding is True:
        message = "Relative contraindication: breastfeeding. Esketamine is not recommended while breastfeeding."
        return [make_finding("breastfeeding", "relative", message, source, evidence)]
    if snapshot.breastfeeding is None and snapshot.sex_at_birth != "male":
        what = "Whether the patient is breastfeeding"
        return [missing_finding("breastfeeding", what, "a relative contraindication", source, evidence)]
    return []


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

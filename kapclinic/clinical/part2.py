"""42 CFR Part 2: which records are substance use disorder (SUD) records of a Part 2 program, how they are labelled
when they leave, and the notice that goes with them. Plain Python, no Django.

Whether the clinic is a Part 2 program is the clinic's own determination (42 CFR 2.11 "program", 2.12(b): federally
assisted, and holding itself out as providing SUD diagnosis, treatment or referral for treatment); the settings
say so (KAPCLINIC_PART2_PROGRAM). Within such a clinic, a patient's records are Part 2 records when the clinic
treats or diagnoses them for a SUD: a treatment plan's indication or an evaluation's diagnosis that is one.
"""

from __future__ import annotations

from collections.abc import Iterable

# ICD-10-CM F10-F19 "Mental and behavioural disorders due to psychoactive substance use", except F17 (nicotine):
# 42 CFR 2.11 "substance use disorder" excludes tobacco and caffeine. Alcohol use disorder (F10) is one of this
# clinic's off-label indications (../shared/domain/eligibility.md), ketamine misuse is coded F16/F19 there.
SUD_CATEGORIES = ("F10", "F11", "F12", "F13", "F14", "F15", "F16", "F18", "F19")

# The labels a Part 2 record carries (HL7 FHIR Data Segmentation for Privacy; HL7 v3 code systems):
# confidentiality R (restricted), the law 42CFRPart2, the sensitivity ETH (substance abuse information), and the
# refrain NORDSLCD (no redisclosure without the patient's consent).
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LABELS: tuple[tuple[str, str, str], ...] = (
    (CONFIDENTIALITY, "R", "restricted"),
    (ACT_CODE, "42CFRPart2", "42 CFR Part2"),
    (ACT_CODE, "ETH", "substance abuse information sensitivity"),
    (ACT_CODE, "NORDSLCD", "no redisclosure without consent directive"),
)

# 42 CFR 2.32(a): each disclosure made with the patient's written consent is accompanied by a written statement;
# (a)(2) is the short one (wording as amended by the 2024 final rule, 89 FR 12472 [verify]).
REDISCLOSURE_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
SOURCE = "42 CFR 2.11, 2.12, 2.32"


def is_substance_use_disorder(icd10: str) -> bool:
    """Whether an ICD-10-CM code is a substance use disorder in Part 2's sense (tobacco and caffeine excluded)."""
    return icd10.strip().upper()[:3] in SUD_CATEGORIES


def treats_substance_use(codes: Iterable[str]) -> bool:
    """Whether any of a patient's indications or diagnoses is a substance use disorder."""
    return any(is_substance_use_disorder(code) for code in codes)

"""The code systems and codes the FHIR face uses (../shared/domain/codes.md): plain data, no Django."""

from __future__ import annotations

from dataclasses import dataclass

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
US_CORE = "http://hl7.org/fhir/us/core"
US_CORE_PATIENT = f"{US_CORE}/StructureDefinition/us-core-patient"
US_CORE_PRACTITIONER = f"{US_CORE}/StructureDefinition/us-core-practitioner"
US_CORE_BIRTH_SEX = f"{US_CORE}/StructureDefinition/us-core-birthsex"
VITAL_SIGNS_PROFILE = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
US_CORE_VITALS = {
    "bp": f"{US_CORE}/StructureDefinition/us-core-blood-pressure",
    "hr": f"{US_CORE}/StructureDefinition/us-core-heart-rate",
    "spo2": f"{US_CORE}/StructureDefinition/us-core-pulse-oximetry",
    "rr": f"{US_CORE}/StructureDefinition/us-core-respiratory-rate",
}
# Where a staff member's licence number is not an NPI, it is the clinic's own identifier (settings names it).
NPI = "http://hl7.org/fhir/sid/us-npi"

# US Core birth sex codes (us-core-birthsex: F, M, UNK) for what the registry records at birth.
BIRTH_SEX = {"female": "F", "male": "M"}


@dataclass(frozen=True)
class VitalCode:
    """One vital sign as an Observation: its LOINC code(s) and display, UCUM unit (codes.md, "Vital signs")."""

    key: str
    codes: tuple[tuple[str, str], ...]  # (LOINC code, display), the first the profile's own
    unit: str


BLOOD_PRESSURE = VitalCode("bp", (("85354-9", "Blood pressure panel with all children optional"),), "mm[Hg]")
SYSTOLIC = ("8480-6", "Systolic blood pressure")
DIASTOLIC = ("8462-4", "Diastolic blood pressure")
HEART_RATE = VitalCode("hr", (("8867-4", "Heart rate"),), "/min")
# US Core pulse oximetry carries the FHIR base oxygen saturation code and the pulse-oximetry one (codes.md).
OXYGEN_SATURATION = VitalCode(
    "spo2",
    (
        ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
        ("2708-6", "Oxygen saturation in Arterial blood"),
    ),
    "%",
)
RESPIRATORY_RATE = VitalCode("rr", (("9279-1", "Respiratory rate"),), "/min")
VITALS = {v.key: v for v in (BLOOD_PRESSURE, HEART_RATE, OXYGEN_SATURATION, RESPIRATORY_RATE)}

US_CORE_SCREENING = f"{US_CORE}/StructureDefinition/us-core-observation-screening-assessment"
# The clinic's own codes for totals no LOINC code names (the in-session scales): the code is the instrument's.
INSTRUMENT_SCORE = "urn:kapclinic:instrument-total"
# A score has no unit: UCUM's annotation {score}.
SCORE_UNIT = "{score}"
# Instruments whose stored total is a sum the LOINC result code names (the C-SSRS screener's result is a risk
# level, not a sum: it is not offered as a score).
NOT_A_SUM = frozenset({"cssrs_screen"})

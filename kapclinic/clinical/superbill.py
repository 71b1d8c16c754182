"""What a superbill says beyond the charge lines: whether a provider number is an NPI, the provider taxonomy a
licence implies, the words for a place of service, and the diagnoses of a period in pointer order. Plain Python.

Sources:
- [NPI] CMS, "Requirements for NPI check digit" (45 CFR 162.406): ten digits whose last is the Luhn check digit
  of the prefix 80840 followed by the first nine.
- [NUCC] NUCC Health Care Provider Taxonomy code set (nucc.org, read 2026-12-06): 2084P0800X Psychiatry &
  Neurology, Psychiatry; 363LP0808X Nurse Practitioner, Psychiatric/Mental Health; 364SP0808X Clinical Nurse
  Specialist, Psychiatric/Mental Health; 363A00000X Physician Assistant; 103T00000X Psychologist; 1041C0700X
  Social Worker, Clinical; 101YP2500X Counselor, Professional; 106H00000X Marriage & Family Therapist;
  163W00000X Registered Nurse. A licence type names a profession, not the provider's own taxonomy: the table is
  the default the superbill prints when no other is on file [verify each against the provider's NPPES record].
- [POS] CMS Place of Service code set: 02 telehealth provided other than in the patient's home, 10 telehealth
  provided in the patient's home, 11 office.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kapclinic.clinical.claims import npi_valid as npi_valid  # [NPI]: one check-digit rule for claims and superbills

TAXONOMY_BY_LICENCE = {
    "MD": "2084P0800X",
    "DO": "2084P0800X",
    "NP": "363LP0808X",
    "PMHNP": "363LP0808X",
    "APRN": "363LP0808X",
    "CNS": "364SP0808X",
    "PA": "363A00000X",
    "PHD": "103T00000X",
    "PSYD": "103T00000X",
    "LCSW": "1041C0700X",
    "LPC": "101YP2500X",
    "LMHC": "101YP2500X",
    "LMFT": "106H00000X",
    "RN": "163W00000X",
}

PLACE_OF_SERVICE = {
    "02": "Telehealth, not in the patient's home",
    "10": "Telehealth in the patient's home",
    "11": "Office",
}


def taxonomy_for_licence(licence_type: str) -> str:
    """[NUCC] The default taxonomy for a licence type ("MD", "LCSW"), or "" when the table has none."""
    return TAXONOMY_BY_LICENCE.get(licence_type.replace(".", "").replace(" ", "").upper(), "")


def place_of_service_words(code: str) -> str:
    """[POS] "11 Office"; an unknown code as itself."""
    words = PLACE_OF_SERVICE.get(code)
    return f"{code} {words}" if words else code


def diagnoses_in_order(per_line: Iterable[Sequence[str]]) -> list[str]:
    """Every diagnosis of the lines, once, in the order first met (each line's own pointer order kept): the
    superbill's diagnosis list, which its pointers (A, B, ...) refer to."""
    seen: list[str] = []
    for codes in per_line:
        for code in codes:
            if code not in seen:
                seen.append(code)
    return seen


def pointers(line_codes: Sequence[str], listed: Sequence[str]) -> str:
    """The letters (A, B, ...) of a line's diagnoses in the superbill's list, e.g. "AB"."""
    return "".join(chr(ord("A") + listed.index(code)) for code in line_codes if code in listed)

"""The shipped instruments by code, those deliberately not shipped, lookup by code and version, and by use."""

from __future__ import annotations

from kapclinic.clinical.instruments.in_session import CADSS6, DISSOCIATION_NRS, MOAAS, RASS
from kapclinic.clinical.instruments.phq import GAD7, PHQ9
from kapclinic.clinical.instruments.scoring import Instrument, Use
from kapclinic.clinical.instruments.substance import AUDITC, CRAVING_VAS, DRUG_SINGLE
from kapclinic.clinical.instruments.suicide import CSSRS_SCREEN
from kapclinic.clinical.instruments.trauma import PCL5, PCL5_WEEK

INSTRUMENTS: dict[str, Instrument] = {
    instrument.code: instrument
    for instrument in (
        PHQ9,
        GAD7,
        PCL5,
        PCL5_WEEK,
        CSSRS_SCREEN,
        AUDITC,
        DRUG_SINGLE,
        CRAVING_VAS,
        DISSOCIATION_NRS,
        CADSS6,
        MOAAS,
        RASS,
    )
}

# Instruments the domain notes describe but that are deliberately not shipped, and why.
NOT_SHIPPED: dict[str, str] = {
    "DAST-10": "Licence allows non-commercial use only (Skinner 1982/CAMH); drug_single is the free alternative.",
    "CADSS (full)": "Licence unverified and the item count differs between versions (19/23/28); CADSS-6 is scored.",
    "QIDS-SR16": "Commercial/software licence terms unverified; the PHQ-9 is the free alternative.",
    "MADRS": "Licence unverified (notes: research use only); the PHQ-9 is the free alternative.",
    "PACS": "Licence unverified; the craving VAS is the generic alternative.",
    "ASQ": "Licence unverified and items/acuity rules not in the domain notes.",
    "TAPS": "Licence unverified and items/scoring not in the domain notes.",
    "C-SSRS since last visit": "Its triage rule is not in the domain notes (the recent screener's uses 3 months).",
    "Modified Aldrete / PADSS": "Details unverified in the domain notes.",
}


def get_instrument(code: str, version: str | None = None) -> Instrument:
    """Return the instrument with `code` (and `version`, when given), or raise ValueError naming what exists."""
    instrument = INSTRUMENTS.get(code)
    if instrument is None:
        raise ValueError(f"Unknown instrument {code!r}; known: {', '.join(sorted(INSTRUMENTS))}.")
    if version is not None and version != instrument.version:
        raise ValueError(
            f"{instrument.name} version {version!r} no longer exists; the current version is {instrument.version!r}."
        )
    return instrument


def instruments_for(use: Use, *, by_default: bool = False) -> tuple[Instrument, ...]:
    """Return the instruments asked for `use` (only those chosen by default, with `by_default`), in the
    registry's order."""
    return tuple(
        instrument
        for instrument in INSTRUMENTS.values()
        if use in (instrument.chosen_by_default if by_default else instrument.uses)
    )

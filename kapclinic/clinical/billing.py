"""Coding rules: which billing codes a signed record supports, on its date of service. Plain Python, no Django.

Codes change yearly (../shared/domain/codes.md): every code is a row of `CODES` with the dates it is in force,
and a rule asks `code_for(concept, day)` rather than naming a code. Each rule returns the lines the recorded
facts support, each with the sentence that justifies it, and says in `Coding.not_proposed` what it did not
propose and why: nothing is proposed that the record does not support. A biller reviews every line.

Sources (third-party summaries of the AMA/CMS texts, read 2026-12-05; CPT is licensed by the AMA, so the
descriptors here are short paraphrases):
- [CPT-TIME] CPT time rule for psychotherapy: 90832 16-37 min, 90834 38-52, 90837 >= 53; under 16 min no
  psychotherapy code; add-ons 90833/90836/90838 (same bands) only with an E/M service the same day
  (bonfirerevenue.com, medprecisionbilling.com, kayalhealth.com psychotherapy guides).
- [CPT-INF] 96365 IV infusion for therapy, initial, up to 1 hour (an infusion of 15 minutes or less is a push,
  not 96365); +96366 each additional hour, reported when the additional interval is more than 30 minutes beyond
  the last full hour (AAPC "infusion codes" article; codingahead.com 96366 time table).
- [HCPCS-ESK] G2082 / G2083: visit with supervised esketamine self-administration, up to 56 mg / more than 56 mg,
  includes 2 hours' observation (codes.md, CMS long descriptor quoted by a payer bulletin). S0013 esketamine
  nasal spray 1 mg, replaced by J0013 (1 mg) from 2026-01-01 (codes.md, two 2026 billing sources).
- [HCPCS-J3490] J3490 unclassified drug: racemic ketamine has no specific HCPCS code; one unit with the NDC and
  the NDC quantity (codes.md "ketamine drug itself typically J3490").
- [CPT-III-PSY] 0820T / 0821T / 0822T: continuous in-person monitoring and intervention during psychedelic
  medication therapy, each hour: first physician or QHP / second physician or QHP concurrent / clinical staff
  under direction, concurrent (codingahead.com official descriptors of 0821T and 0822T; rvuedge.com 0820T).
  Effective date and the per-hour unit rule are [verify].
- [TELE] Modifier 95 synchronous audio-video, 93 audio-only; POS 02 telehealth other than the patient's home,
  POS 10 telehealth in the patient's home (from 2022-01-01), POS 11 office (codingintel.com, FCSO and Novitas
  Medicare modifier pages).
- [E/M] The E/M level is the clinician's choice from their documentation (MDM or total time); a rule only checks
  that the chosen code is an office E/M code in force. 2021 office E/M: 99202-99205 new, 99212-99215 established.
- [E/M-TIME] Office E/M by total time on the date of the encounter (AMA CPT 2021 office E/M guidelines, minimums
  from 2024): 99202 15 min, 99203 30, 99204 45, 99205 60; 99212 10, 99213 20, 99214 30, 99215 40. With a
  psychotherapy add-on the same day, the psychotherapy minutes do not count toward the E/M time (AMA CPT
  psychotherapy guidelines, "time spent on psychotherapy is not used to select the E/M level") [verify].
- [ADD-ON] 90833/90836/90838 are add-ons to an E/M service the same day by the same physician or QHP; without one,
  the stand-alone 90832/90834/90837 (CPT psychotherapy guidelines via the [CPT-TIME] sources).
- A free consultation (the intake coordinator's, before any evaluation) is not billed: no rule codes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

# Bump when a rule, a band or a code row changes: proposed lines store it.
BILLING_RULES_VERSION = "2026-12-06.1"


class CodeSystem(StrEnum):
    CPT = "CPT"
    HCPCS = "HCPCS"


class Concept(StrEnum):
    """What was done, in the clinic's words; `CODES` says which code names it on a date."""

    PSYCHOTHERAPY_30 = "psychotherapy_30"
    PSYCHOTHERAPY_45 = "psychotherapy_45"
    PSYCHOTHERAPY_60 = "psychotherapy_60"
    PSYCHOTHERAPY_30_WITH_EM = "psychotherapy_30_with_em"
    PSYCHOTHERAPY_45_WITH_EM = "psychotherapy_45_with_em"
    PSYCHOTHERAPY_60_WITH_EM = "psychotherapy_60_with_em"
    INFUSION_FIRST_HOUR = "infusion_first_hour"
    INFUSION_ADDITIONAL_HOUR = "infusion_additional_hour"
    UNCLASSIFIED_DRUG = "unclassified_drug"
    ESKETAMINE_VISIT_UP_TO_56 = "esketamine_visit_up_to_56"
    ESKETAMINE_VISIT_OVER_56 = "esketamine_visit_over_56"
    ESKETAMINE_PER_MG = "esketamine_per_mg"
    PSYCHEDELIC_MONITORING_FIRST = "psychedelic_monitoring_first"
    PSYCHEDELIC_MONITORING_SECOND = "psychedelic_monitoring_second"
    PSYCHEDELIC_MONITORING_STAFF = "psychedelic_monitoring_staff"
    OFFICE_VISIT_NEW = "office_visit_new"
    OFFICE_VISIT_ESTABLISHED = "office_visit_established"


@dataclass(frozen=True)
class BillingCode:
    code: str
    system: CodeSystem
    concept: Concept
    short: str  # a short paraphrase, not the licensed descriptor
    effective_from: date
    effective_to: date | None  # last day in force; None: still in force
    source: str
    verify: bool = False  # found only in secondary sources: check before release

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


_C, _H = CodeSystem.CPT, CodeSystem.HCPCS
_K = Concept
# The code table: data with effective dates. A year's changes add rows (and close old ones), never edit rules.
# fmt: off
CODES: tuple[BillingCode, ...] = (
    BillingCode("90832", _C, _K.PSYCHOTHERAPY_30, "Psychotherapy, 30 min", date(2013, 1, 1), None, "CPT-TIME"),
    BillingCode("90834", _C, _K.PSYCHOTHERAPY_45, "Psychotherapy, 45 min", date(2013, 1, 1), None, "CPT-TIME"),
    BillingCode("90837", _C, _K.PSYCHOTHERAPY_60, "Psychotherapy, 60 min", date(2013, 1, 1), None, "CPT-TIME"),
    BillingCode("90833", _C, _K.PSYCHOTHERAPY_30_WITH_EM, "Psychotherapy add-on with E/M, 30 min",
                date(2013, 1, 1), None, "CPT-TIME"),
    BillingCode("90836", _C, _K.PSYCHOTHERAPY_45_WITH_EM, "Psychotherapy add-on with E/M, 45 min",
                date(2013, 1, 1), None, "CPT-TIME"),
    BillingCode("90838", _C, _K.PSYCHOTHERAPY_60_WITH_EM, "Psychotherapy add-on with E/M, 60 min",
                date(2013, 1, 1), None, "CPT-TIME"),
    BillingCode("96365", _C, _K.INFUSION_FIRST_HOUR, "IV infusion for therapy, initial, up to 1 hour",
                date(2009, 1, 1), None, "CPT-INF", verify=True),
    BillingCode("96366", _C, _K.INFUSION_ADDITIONAL_HOUR, "IV infusion for therapy, each additional hour",
                date(2009, 1, 1), None, "CPT-INF", verify=True),
    BillingCode("J3490", _H, _K.UNCLASSIFIED_DRUG, "Unclassified drug (racemic ketamine, with NDC)",
                date(2000, 1, 1), None, "HCPCS-J3490", verify=True),
    BillingCode("G2082", _H, _K.ESKETAMINE_VISIT_UP_TO_56,
                "Visit with supervised esketamine self-administration, up to 56 mg, 2 h observation",
                date(2020, 1, 1), None, "HCPCS-ESK"),
    BillingCode("G2083", _H, _K.ESKETAMINE_VISIT_OVER_56,
                "Visit with supervised esketamine self-administration, over 56 mg, 2 h observation",
                date(2020, 1, 1), None, "HCPCS-ESK"),
    BillingCode("S0013", _H, _K.ESKETAMINE_PER_MG, "Esketamine, nasal spray, 1 mg",
                date(2020, 1, 1), date(2025, 12, 31), "HCPCS-ESK", verify=True),
    BillingCode("J0013", _H, _K.ESKETAMINE_PER_MG, "Esketamine, nasal spray, 1 mg",
                date(2026, 1, 1), None, "HCPCS-ESK"),
    BillingCode("0820T", _C, _K.PSYCHEDELIC_MONITORING_FIRST,
                "Continuous in-person monitoring in psychedelic medication therapy, first physician/QHP, each hour",
                date(2024, 1, 1), None, "CPT-III-PSY", verify=True),
    BillingCode("0821T", _C, _K.PSYCHEDELIC_MONITORING_SECOND,
                "Continuous in-person monitoring in psychedelic medication therapy, second physician/QHP, each hour",
                date(2024, 1, 1), None, "CPT-III-PSY", verify=True),
    BillingCode("0822T", _C, _K.PSYCHEDELIC_MONITORING_STAFF,
                "Continuous in-person monitoring in psychedelic medication therapy, clinical staff, each hour",
                date(2024, 1, 1), None, "CPT-III-PSY", verify=True),
    *(BillingCode(c, _C, _K.OFFICE_VISIT_NEW, f"Office visit, new patient ({c})", date(2021, 1, 1), None, "E/M")
      for c in ("99202", "99203", "99204", "99205")),
    *(BillingCode(c, _C, _K.OFFICE_VISIT_ESTABLISHED, f"Office visit, established patient ({c})",
                  date(2021, 1, 1), None, "E/M")
      for c in ("99212", "99213", "99214", "99215")),
)
# fmt: on

_BY_CODE: dict[str, tuple[BillingCode, ...]] = {}
for _row in CODES:
    _BY_CODE[_row.code] = (*_BY_CODE.get(_row.code, ()), _row)


class NoCodeInForce(LookupError):
    """No code names this concept on this date (the table needs a row for it)."""


def code_for(concept: Concept, day: date) -> BillingCode:
    """The code that names `concept` on the date of service `day` (e.g. S0013 before 2026, J0013 from 2026)."""
    found = [c for c in CODES if c.concept is concept and c.in_force(day)]
    if len(found) != 1:
        raise NoCodeInForce(f"{len(found)} codes name {concept.value} on {day.isoformat()}.")
    return found[0]


def code_in_force(code: str, day: date) -> BillingCode | None:
    """The row for `code` in force on `day`, or None (unknown code, or not in force that day)."""
    return next((c for c in _BY_CODE.get(code, ()) if c.in_force(day)), None)


# --- telehealth: modifier and place of service [TELE] -------------------------------------------------------


class Modality(StrEnum):
    """How the clinician and the patient met (the therapy note's modality)."""

    IN_PERSON = "in_person"
    VIDEO = "video"
    PHONE = "phone"


class PatientLocation(StrEnum):
    HOME = "home"
    ELSEWHERE = "elsewhere"  # e.g. their workplace, a car, another facility
    UNKNOWN = "unknown"  # the record does not say


POS_OFFICE = "11"
POS_TELEHEALTH_ELSEWHERE = "02"
POS_TELEHEALTH_HOME = "10"
POS_TELEHEALTH_HOME_FROM = date(2022, 1, 1)  # before it, POS 02 served every telehealth visit

MODIFIER_BY_MODALITY = {Modality.IN_PERSON: (), Modality.VIDEO: ("95",), Modality.PHONE: ("93",)}
MODIFIER_93_FROM = date(2022, 1, 1)


@dataclass(frozen=True)
class Setting:
    """Where and how a service was given, as a claim line says it."""

    place_of_service: str
    modifiers: tuple[str, ...]
    caveats: tuple[str, ...] = ()
    why: str = ""


def setting_for(modality: Modality, location: PatientLocation, day: date) -> Setting:
    """POS and telehealth modifier for a service given in person or at a distance [TELE]."""
    if modality is Modality.IN_PERSON:
        return Setting(POS_OFFICE, (), why="in person at the clinic (POS 11)")
    caveats: list[str] = []
    if day < POS_TELEHEALTH_HOME_FROM or location is PatientLocation.ELSEWHERE:
        pos = POS_TELEHEALTH_ELSEWHERE
    else:
        pos = POS_TELEHEALTH_HOME
        if location is PatientLocation.UNKNOWN:
            caveats.append("The record does not say where the patient was: POS 10 (home) assumed; confirm it.")
    modifiers = MODIFIER_BY_MODALITY[modality]
    if modality is Modality.PHONE and day < MODIFIER_93_FROM:
        caveats.append("Audio-only before 2022: modifier 93 did not exist; check the payer's rule.")
        modifiers = ()
    how = "audio-video" if modality is Modality.VIDEO else "audio-only"
    return Setting(pos, modifiers, tuple(caveats), f"{how} telehealth (POS {pos}, modifier {' '.join(modifiers)})")


# --- the answer of every rule ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One proposed charge line and the recorded fact that justifies it."""

    code: str
    units: int
    justification: str
    place_of_service: str = POS_OFFICE
    modifiers: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()
    ndc: str = ""  # 11-digit or as printed; the drug lines only
    ndc_quantity: Decimal | None = None
    ndc_unit: str = ""  # "ML", "UN" (X12 unit qualifiers)

    def __post_init__(self) -> None:
        if self.units < 1:
            raise ValueError("A charge line has at least one unit.")


@dataclass(frozen=True)
class Coding:
    lines: tuple[Line, ...] = ()
    not_proposed: tuple[str, ...] = field(default=())  # what the record did not support, in words

    def __add__(self, other: Coding) -> Coding:
        return Coding(self.lines + other.lines, self.not_proposed + other.not_proposed)


# --- psychotherapy by documented time [CPT-TIME] --------------------------------------------------------

# (at least these minutes, stand-alone concept, add-on concept with an E/M), longest first.
PSYCHOTHERAPY_LADDER: tuple[tuple[int, Concept, Concept], ...] = (
    (53, Concept.PSYCHOTHERAPY_60, Concept.PSYCHOTHERAPY_60_WITH_EM),
    (38, Concept.PSYCHOTHERAPY_45, Concept.PSYCHOTHERAPY_45_WITH_EM),
    (16, Concept.PSYCHOTHERAPY_30, Concept.PSYCHOTHERAPY_30_WITH_EM),
)
PSYCHOTHERAPY_MIN_MINUTES = PSYCHOTHERAPY_LADDER[-1][0]


def psychotherapy(*, minutes: int | None, day: date, with_em: bool, setting: Setting, who: str) -> Coding:
    """The psychotherapy code for `minutes` of documented face-to-face time: stand-alone, or the add-on when an
    E/M service is billed for the same visit. No time documented, or under 16 minutes: no code."""
    if minutes is None:
        return Coding(not_proposed=(f"Psychotherapy: {who} documented no duration, and the codes are by time.",))
    if minutes < PSYCHOTHERAPY_MIN_MINUTES:
        return Coding(
            not_proposed=(f"Psychotherapy: {minutes} documented minutes is under the 16 minutes of the shortest code.",)
        )
    for at_least, alone, add_on in PSYCHOTHERAPY_LADDER:
        if minutes >= at_least:
            row = code_for(add_on if with_em else alone, day)
            band = f"≥ {at_least} min" if at_least == 53 else f"{at_least}+ min"
            em = " with an E/M visit the same day (add-on)" if with_em else ""
            return Coding(
                (
                    Line(
                        row.code,
                        1,
                        f"{who}, {minutes} documented minutes ({band}){em} → {row.code}; {setting.why}",
                        setting.place_of_service,
                        setting.modifiers,
                        setting.caveats,
                    ),
                )
            )
    raise AssertionError("unreachable: the ladder ends at the minimum")


# --- IV infusion [CPT-INF] ------------------------------------------------------------------------------

INFUSION_MIN_MINUTES = 16  # 15 minutes or less is an IV push, not an infusion
INFUSION_EXTRA_HOUR_OVER = 30  # an additional hour counts when more than 30 minutes beyond the last full hour


def infusion_additional_hours(minutes: int) -> int:
    """Units of +96366 for an infusion of `minutes`: 0-90 → 0, 91-150 → 1, 151-210 → 2 ..."""
    beyond = max(minutes - 60, 0)
    full, rest = divmod(beyond, 60)
    return full + (1 if rest > INFUSION_EXTRA_HOUR_OVER else 0)


def iv_infusion(*, minutes: int | None, day: date, who: str) -> Coding:
    """96365 for the first hour and +96366 per additional hour, from the documented start and stop."""
    if minutes is None:
        return Coding(not_proposed=("IV infusion: no stop time recorded, so no infusion time to code.",))
    if minutes < INFUSION_MIN_MINUTES:
        return Coding(
            not_proposed=(f"IV infusion: {minutes} minutes is 15 or less (a push, not an infusion); coded by hand.",)
        )
    first = code_for(Concept.INFUSION_FIRST_HOUR, day)
    lines = [Line(first.code, 1, f"{who}: IV infusion of {minutes} documented minutes → {first.code} (first hour)")]
    extra = infusion_additional_hours(minutes)
    if extra:
        more = code_for(Concept.INFUSION_ADDITIONAL_HOUR, day)
        lines.append(
            Line(
                more.code,
                extra,
                f"{who}: {minutes - 60} minutes beyond the first hour → {more.code} x {extra} "
                f"(an hour counts past 30 minutes)",
            )
        )
    return Coding(tuple(lines))


# --- drugs [HCPCS-J3490] [HCPCS-ESK] --------------------------------------------------------------------

NDC_UNIT_BY_PRODUCT_UNIT = {"mL": "ML", "device": "UN", "troche": "UN"}


def ketamine_drug(
    *, given_mg: Decimal, mg_per_unit: Decimal, product_unit: str, ndc: str, day: date, who: str
) -> Coding:
    """J3490 (one unit) for the racemic ketamine given, with the product's NDC and the NDC quantity."""
    if not ndc:
        return Coding(not_proposed=("Ketamine drug line: the product has no NDC, which J3490 needs on a claim.",))
    if given_mg <= 0 or mg_per_unit <= 0:
        return Coding(not_proposed=("Ketamine drug line: no dose given is recorded.",))
    row = code_for(Concept.UNCLASSIFIED_DRUG, day)
    quantity = (given_mg / mg_per_unit).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    unit = NDC_UNIT_BY_PRODUCT_UNIT.get(product_unit, "UN")
    return Coding(
        (
            Line(
                row.code,
                1,
                f"{who}: ketamine {given_mg.normalize():f} mg given (NDC {ndc}, {quantity.normalize():f} {unit}) "
                f"→ {row.code} (unclassified drug)",
                ndc=ndc,
                ndc_quantity=quantity,
                ndc_unit=unit,
            ),
        )
    )


ESKETAMINE_LOW_DOSE_MAX_MG = Decimal(56)


class EsketamineScheme(StrEnum):
    """How a payer pays a Spravato session: the bundled G-code (drug and 2 h observation included), or the drug
    per mg beside a visit the clinician codes."""

    VISIT_CODE = "visit_code"
    DRUG_PER_MG = "drug_per_mg"


def esketamine(*, given_mg: Decimal, day: date, scheme: EsketamineScheme, ndc: str, who: str) -> Coding:
    """G2082 (≤ 56 mg) or G2083 (> 56 mg); or J0013 (S0013 before 2026) x mg for a payer that pays the drug."""
    if given_mg <= 0:
        return Coding(not_proposed=("Esketamine: no dose given is recorded.",))
    mg = given_mg.to_integral_value(rounding=ROUND_HALF_UP)
    if mg != given_mg:
        return Coding(not_proposed=(f"Esketamine: {given_mg} mg is not a whole number of mg; coded by hand.",))
    if scheme is EsketamineScheme.VISIT_CODE:
        concept = (
            Concept.ESKETAMINE_VISIT_UP_TO_56 if mg <= ESKETAMINE_LOW_DOSE_MAX_MG else Concept.ESKETAMINE_VISIT_OVER_56
        )
        row = code_for(concept, day)
        band = "≤ 56 mg" if mg <= ESKETAMINE_LOW_DOSE_MAX_MG else "> 56 mg"
        return Coding(
            (Line(row.code, 1, f"{who}: esketamine {mg} mg self-administered under supervision ({band}) → {row.code}"),)
        )
    row = code_for(Concept.ESKETAMINE_PER_MG, day)
    return Coding(
        (
            Line(
                row.code,
                int(mg),
                f"{who}: esketamine {mg} mg given → {row.code} x {mg} (1 mg per unit, {day.year})",
                ndc=ndc,
                ndc_quantity=None,
                ndc_unit="UN" if ndc else "",
            ),
        )
    )


# --- psychedelic monitoring [CPT-III-PSY] ---------------------------------------------------------------

MONITORING_HOUR_PAST = 30  # [verify] an hour unit counts once its midpoint is passed (the CPT time rule)


def monitoring_hours(minutes: int) -> int:
    """Hour units for documented continuous monitoring: 31-90 → 1, 91-150 → 2 ... [verify]."""
    full, rest = divmod(minutes, 60)
    return full + (1 if rest > MONITORING_HOUR_PAST else 0)


class Monitor(StrEnum):
    FIRST_CLINICIAN = "first"
    SECOND_CLINICIAN = "second"
    CLINICAL_STAFF = "staff"


MONITOR_CONCEPT = {
    Monitor.FIRST_CLINICIAN: Concept.PSYCHEDELIC_MONITORING_FIRST,
    Monitor.SECOND_CLINICIAN: Concept.PSYCHEDELIC_MONITORING_SECOND,
    Monitor.CLINICAL_STAFF: Concept.PSYCHEDELIC_MONITORING_STAFF,
}


def psychedelic_monitoring(*, minutes: int | None, day: date, monitor: Monitor, who: str) -> Coding:
    """0820T / 0821T / 0822T per hour of documented continuous in-person monitoring [verify]."""
    if minutes is None:
        return Coding(not_proposed=(f"Monitoring: {who} documented no duration, and the codes are per hour.",))
    units = monitoring_hours(minutes)
    if units == 0:
        return Coding(not_proposed=(f"Monitoring: {minutes} documented minutes is not past half an hour.",))
    try:
        row = code_for(MONITOR_CONCEPT[monitor], day)
    except NoCodeInForce:
        return Coding(not_proposed=(f"Monitoring: no monitoring code was in force on {day.isoformat()}.",))
    return Coding(
        (
            Line(
                row.code,
                units,
                f"{who}: {minutes} documented minutes of continuous in-person monitoring → {row.code} x {units}",
                caveats=("0820T-0822T descriptors and unit rule are from secondary sources [verify].",),
            ),
        )
    )


# --- E/M: the clinician's choice [E/M] ------------------------------------------------------------------

EM_CONCEPTS = (Concept.OFFICE_VISIT_NEW, Concept.OFFICE_VISIT_ESTABLISHED)


def office_visit(*, code: str, day: date, setting: Setting, who: str) -> Coding:
    """The E/M line for the level the clinician chose; refuses a code that is not an office E/M in force."""
    row = code_in_force(code, day)
    if row is None or row.concept not in EM_CONCEPTS:
        raise ValueError(f"{code} is not an office E/M code in force on {day.isoformat()}.")
    return Coding(
        (
            Line(
                row.code,
                1,
                f"{who} chose E/M level {row.code}; {setting.why}",
                setting.place_of_service,
                setting.modifiers,
                setting.caveats,
            ),
        )
    )


class EmBasis(StrEnum):
    """What the clinician chose the E/M level by [E/M]."""

    MDM = "mdm"  # medical decision making
    TIME = "time"  # total time on the date of the encounter


EM_BASIS_LABELS = {EmBasis.MDM: "medical decision making", EmBasis.TIME: "total time"}

# [E/M-TIME] the least total time on the day each office E/M level needs when chosen by time.
EM_MINUTES_AT_LEAST: dict[str, int] = {
    "99202": 15, "99203": 30, "99204": 45, "99205": 60,
    "99212": 10, "99213": 20, "99214": 30, "99215": 40,
}  # fmt: skip
EM_MINUTES_MAX = 24 * 60


@dataclass(frozen=True)
class EmChoice:
    """The E/M level a clinician recorded where they signed: the code, what they chose it by, the time if by time."""

    code: str
    basis: EmBasis
    minutes: int | None = None


def em_choice_errors(*, code: str, basis: str, minutes: int | None, day: date) -> dict[str, str]:
    """Why a recorded E/M choice is refused, by field (empty when it stands) [E/M] [E/M-TIME]. A level chosen by
    time needs the documented minutes, and they must reach the level's minimum."""
    errors: dict[str, str] = {}
    row = code_in_force(code, day)
    if row is None or row.concept not in EM_CONCEPTS:
        errors["em_code"] = f"{code or 'That code'} is not an office E/M level in force on {day.isoformat()}."
    if basis not in set(EmBasis):
        errors["em_basis"] = "Say whether the level was chosen by medical decision making or by total time."
    elif basis == EmBasis.TIME:
        if minutes is None:
            errors["em_minutes"] = "Give the total minutes spent on the day (the level was chosen by time)."
        elif not 1 <= minutes <= EM_MINUTES_MAX:
            errors["em_minutes"] = "Give the total minutes on the day, from 1 to 1,440."
        elif "em_code" not in errors and minutes < EM_MINUTES_AT_LEAST[code]:
            errors["em_minutes"] = (
                f"{minutes} minutes does not reach {code}, which needs at least {EM_MINUTES_AT_LEAST[code]} "
                f"minutes by time; choose the level the time supports or choose by medical decision making."
            )
    if minutes is not None and basis == EmBasis.MDM and not 1 <= minutes <= EM_MINUTES_MAX:
        errors["em_minutes"] = "Give the total minutes on the day, from 1 to 1,440 (or leave it blank)."
    return errors


def evaluation_visit(*, choice: EmChoice, day: date, setting: Setting, who: str, with_add_on: bool) -> Coding:
    """The E/M line of a signed evaluation: the clinician's level, checked [E/M] [E/M-TIME]; by time with a
    psychotherapy add-on the same day, the line warns that the psychotherapy minutes may not count."""
    errors = em_choice_errors(code=choice.code, basis=choice.basis, minutes=choice.minutes, day=day)
    if errors:
        return Coding(not_proposed=(f"E/M: {' '.join(errors.values())}",))
    if choice.basis is EmBasis.TIME:
        why = f"by total time ({choice.minutes} min ≥ {EM_MINUTES_AT_LEAST[choice.code]})"
    else:
        why = "by medical decision making"
    caveats = list(setting.caveats)
    if with_add_on and choice.basis is EmBasis.TIME:
        caveats.append("Chosen by time with a psychotherapy add-on the same day: the time must exclude psychotherapy.")
    line = Line(
        choice.code,
        1,
        f"{who} chose E/M level {choice.code} {why}; {setting.why}",
        setting.place_of_service,
        setting.modifiers,
        tuple(caveats),
    )
    return Coding((line,))


def psychotherapy_add_on_applies(
    *, clinician_id: int, patient_id: int, day: date, em_visits: frozenset[tuple[int, int, date]]
) -> bool:
    """Whether a psychotherapy note is coded as the add-on: an E/M billed for the same patient by the same
    clinician on the same day [ADD-ON]. `em_visits` holds (clinician, patient, day) of each E/M line."""
    return (clinician_id, patient_id, day) in em_visits


# --- prior authorisation (issue 18 item 7) -------------------------------------------------------------------

# [policy] how long before its last day an authorisation shows on the coordinator's home and inbox.
AUTHORISATION_EXPIRY_NOTICE_DAYS = 14


@dataclass(frozen=True)
class Authorisation:
    """A payer's prior authorisation as the scheduling check reads it: the sessions it approves, its days, and how
    many sessions are already scheduled or given within those days."""

    id: int
    number: str
    approved: int
    first_day: date
    last_day: date
    used: int


@dataclass(frozen=True)
class AuthorisationWarning:
    authorisation_id: int | None
    message: str

    def __str__(self) -> str:
        return self.message


def scheduling_warnings(*, day: date, authorisations: Sequence[Authorisation]) -> tuple[AuthorisationWarning, ...]:
    """What a coordinator is told before scheduling a session on `day` for a patient with these authorisations
    (for the session's drug). None when no authorisation is recorded (self-pay, or not needed) or one in force
    still has sessions; otherwise why: outside every authorisation's days, or the one in force is used up. A
    warning, not a refusal: the payer may extend it, and the clinician decides (the going-on is recorded)."""
    if not authorisations:
        return ()
    in_force = [a for a in authorisations if a.first_day <= day <= a.last_day]
    if not in_force:
        last = max(authorisations, key=lambda a: (a.last_day, a.id))
        return (
            AuthorisationWarning(
                last.id,
                f"Prior authorisation {last.number} covers {last.first_day.isoformat()} through "
                f"{last.last_day.isoformat()}; a session on {day.isoformat()} falls outside it.",
            ),
        )
    if any(a.used < a.approved for a in in_force):
        return ()
    full = max(in_force, key=lambda a: (a.last_day, a.id))
    return (
        AuthorisationWarning(
            full.id,
            f"Prior authorisation {full.number} approves {full.approved} sessions and {full.used} are already "
            f"scheduled or given: this one would be session {full.used + 1}.",
        ),
    )


def authorisation_needs_attention(*, today: date, last_day: date, approved: int, used: int) -> str:
    """Why an authorisation shows on the coordinator's home ("" when it does not): it ends within the notice
    days, or its sessions are used up while it is in force."""
    if last_day < today:
        return ""
    if used >= approved:
        return "used up"
    if (last_day - today).days <= AUTHORISATION_EXPIRY_NOTICE_DAYS:
        return "ends soon"
    return ""


# --- reports: days in accounts receivable [DAR] ---------------------------------------------------------------
# [DAR] Days in A/R = accounts receivable outstanding / average daily gross charges over a period (HFMA / MGMA
# revenue-cycle definition, as summarised by medical-billing guides; commonly over the last 90 days). Integer
# cents in, a Decimal of days out, None when nothing was charged in the period (no average to divide by).


def days_in_receivables(*, outstanding_cents: int, charged_cents: int, days: int) -> Decimal | None:
    if days < 1:
        raise ValueError("A period has at least one day.")
    if charged_cents <= 0:
        return None
    per_day = Decimal(charged_cents) / Decimal(days)
    return (Decimal(outstanding_cents) / per_day).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def em_codes_in_force(day: date) -> Sequence[BillingCode]:
    """The office E/M codes a clinician may choose from on `day`."""
    return [c for c in CODES if c.concept in EM_CONCEPTS and c.in_force(day)]


__all__ = [
    "AUTHORISATION_EXPIRY_NOTICE_DAYS",
    "BILLING_RULES_VERSION",
    "CODES",
    "EM_MINUTES_AT_LEAST",
    "Authorisation",
    "AuthorisationWarning",
    "BillingCode",
    "CodeSystem",
    "Coding",
    "Concept",
    "EmBasis",
    "EmChoice",
    "EsketamineScheme",
    "Line",
    "Modality",
    "Monitor",
    "NoCodeInForce",
    "PatientLocation",
    "Setting",
    "authorisation_needs_attention",
    "code_for",
    "code_in_force",
    "days_in_receivables",
    "em_choice_errors",
    "em_codes_in_force",
    "esketamine",
    "evaluation_visit",
    "infusion_additional_hours",
    "iv_infusion",
    "ketamine_drug",
    "monitoring_hours",
    "office_visit",
    "psychedelic_monitoring",
    "psychotherapy",
    "psychotherapy_add_on_applies",
    "scheduling_warnings",
    "setting_for",
]

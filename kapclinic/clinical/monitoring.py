"""Session monitoring rules: pre-dose clearance, intra/post-dose alerts, discharge criteria, vitals schedule.

Plain Python, no Django. Facts come from ../shared/domain/monitoring.md (sections below) and instruments.md
(MOAA/S, CADSS). The Spravato label gives no hold or stop numbers: every threshold except the Spravato 2-hour
observation is [policy] and lives in `MonitoringPolicy`, whose `version` is stored with each clearance and alert.
Thresholds are prompts for clinician judgement, not automatic drug orders (Yip 2022, monitoring.md §3).

Levels: pre-dose "warn" does not block; "hold" needs a prescriber override with a reason (the caller records it);
"do_not_dose" is absolute for that reading. Intra/post-dose "alert" asks for a recheck and the prescriber;
"critical" is the act/stop level. An implausible reading (a typing or device error) raises ValueError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Literal

from kapclinic.clinical.consistency import refuse_inconsistent
from kapclinic.clinical.dosing import ROUTES

# Bump when a rule or its wording changes: clearances and alerts store it.
MONITORING_RULES_VERSION = "2026-12-05.1"
POLICY_VERSION = "monitoring-default-1"

# Spravato PI boxed warning, 2.x and 5.1; REMS: observe at least 2 hours. A policy may lengthen it, never shorten.
SPRAVATO_LABEL_OBSERVATION_MINUTES = 120
# Spravato PI 2 (confirmed 2026-11-24 in the MPR label summary): no food for at least 2 hours and no liquids for at
# least 30 minutes before the dose (nausea and vomiting).
SPRAVATO_LABEL_FASTING_FOOD_MINUTES = 120
SPRAVATO_LABEL_FASTING_LIQUID_MINUTES = 30


class _Level(StrEnum):
    """A level as stored (the value) and as shown (the label); model choices are built from these."""

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class PredoseLevel(_Level):
    """How serious a pre-dose finding is, least first (the module docstring says what each asks)."""

    WARN = "warn"
    HOLD = "hold"
    DO_NOT_DOSE = "do_not_dose"


class ClearanceStatus(_Level):
    """The pre-dose verdict: the worst finding's level, with "warn" counted as clear."""

    CLEAR = "clear"
    HOLD = "hold"
    DO_NOT_DOSE = "do_not_dose"


class AlertLevel(_Level):
    """How serious an intra/post-dose alert is, least first."""

    ALERT = "alert"
    CRITICAL = "critical"


_PREDOSE_RANK: dict[PredoseLevel, int] = {level: rank for rank, level in enumerate(PredoseLevel)}

# What a rule's comparison means: the reading's value against the policy threshold.
Comparison = Literal["above", "at_or_above", "below", "at_or_below"]
_COMPARE: dict[Comparison, Callable[[int, int], bool]] = {
    "above": lambda value, limit: value > limit,
    "at_or_above": lambda value, limit: value >= limit,
    "below": lambda value, limit: value < limit,
    "at_or_below": lambda value, limit: value <= limit,
}

# Plausible ranges (inclusive): outside them the value is an entry or device error, refused before any rule runs.
PLAUSIBLE_VITALS: dict[str, tuple[int, int, str]] = {
    "systolic": (50, 300, "mmHg"),
    "diastolic": (20, 200, "mmHg"),
    "heart_rate": (20, 250, "/min"),
    "spo2": (50, 100, "%"),
    "respiratory_rate": (2, 60, "/min"),
}
VITAL_LABELS: dict[str, str] = {
    "systolic": "Systolic BP",
    "diastolic": "Diastolic BP",
    "heart_rate": "Heart rate",
    "spo2": "SpO₂",
    "respiratory_rate": "Respiratory rate",
}

SOURCE_BP_PREDOSE = (
    "Spravato PI 2.x/5.x (assess BP before dosing; > 140/90 elevated: weigh the risk); hold 160/100 and "
    "do-not-dose 180/110 are clinic policy (monitoring.md §3)"
)
SOURCE_HR = "Clinic policy from practice, [unverified] (monitoring.md §3); Ketalar PI (tachycardia, arrhythmia)"
SOURCE_SPO2 = "Spravato PI boxed warning and REMS (respiratory depression); clinic policy (monitoring.md §3)"
SOURCE_RR = "Practice; clinic policy (monitoring.md §3)"
SOURCE_MOAAS = "MOAA/S (instruments.md); clinic policy (monitoring.md §3)"
SOURCE_SUICIDE = "C-SSRS since last visit / ASQ, PHQ-9 item 9 (instruments.md); clinic policy (monitoring.md §1)"
SOURCE_MISSING = "monitoring.md §1: record BP, HR and SpO₂ before dosing (Spravato PI 2.x/5.x for BP)"
SOURCE_BP_ALERT = (
    "Clinic policy (monitoring.md §3); ACC/AHA 2017 (> 180/120 severe); Yip 2022 (observe, recheck, stop the "
    "infusion if persistent)"
)


@dataclass(frozen=True)
class MonitoringPolicy:
    """Clinic thresholds with monitoring.md defaults. Comparisons are in each field's comment and in the rows of
    PREDOSE_RULES and ALERT_RULES, which name the fields."""

    version: str = POLICY_VERSION
    # Pre-dose (§3): warn when above; hold and do-not-dose when at or above.
    predose_systolic_warn: int = 140  # > : the Spravato PI's example of elevated
    predose_systolic_hold: int = 160  # >=
    predose_systolic_do_not_dose: int = 180  # >=
    predose_diastolic_warn: int = 90  # >
    predose_diastolic_hold: int = 100  # >=
    predose_diastolic_do_not_dose: int = 110  # >=
    predose_hr_low: int = 50  # < : review
    predose_hr_high: int = 110  # > : review
    predose_spo2_low: int = 94  # < : review
    predose_rr_low: int = 10  # < : review
    predose_moaas_required: int = 5  # MOAA/S below this: do not dose
    # What "review" means before a dose: "hold" (prescriber decides, in writing) or "warn" (shown, not blocking).
    predose_review_level: str = "hold"
    # Intra/post-dose alert (§3): above the high limits, below the low limits (each row of ALERT_RULES names its
    # field and comparison).
    alert_systolic: int = 180
    alert_diastolic: int = 110
    alert_hr_high: int = 120  # the notes say sustained 5 minutes: one reading prompts a recheck
    alert_hr_low: int = 50
    alert_spo2_low: int = 94
    alert_rr_low: int = 10
    alert_moaas_at_or_below: int = 3  # instruments.md: <= 3 "sedated"
    # Act / stop (§3).
    critical_systolic: int = 200
    critical_diastolic: int = 120
    critical_hr_high: int = 140
    critical_spo2_low: int = 90  # the notes say for > 30 s: one reading prompts action and a recheck
    critical_rr_low: int = 8
    critical_moaas_at_or_below: int = 1  # instruments.md: <= 1 emergency
    # Discharge (§6): BP below these or within the margin of baseline; HR within the band; SpO2 at least this.
    discharge_systolic_below: int = 160
    discharge_diastolic_below: int = 100
    discharge_hr_low: int = 50
    discharge_hr_high: int = 110
    discharge_spo2_min: int = 94
    discharge_baseline_margin_percent: int = 20  # BP only, never at or above the alert level
    # Spravato: BP "consistent at a safe level" before leaving (monitoring.md §6, Spravato HCP dosing page), judged
    # on the last two readings as "stable or falling": the last at most this many mmHg above the one before. Clinic
    # policy, not a published figure: neither the label nor the notes say how much of a rise still counts as
    # stable. Two cuff readings minutes apart differ by a few mmHg with no real change, so a rise this small is
    # taken as stable; a larger one asks for another reading before discharge.
    discharge_bp_stable_within_mmhg: int = 5
    discharge_cadss_max: int = 4  # instruments.md: CADSS back to pre-dose or <= 4
    # Observation minimum (§6): Spravato is the label; the others are policy. IV counts from the infusion's end.
    observation_minutes_intranasal: int = SPRAVATO_LABEL_OBSERVATION_MINUTES
    observation_minutes_iv: int = 30
    observation_minutes_im: int = 120
    observation_minutes_sublingual: int = 120
    # Vitals schedule (§2): IV infusion length, and the interval after the fixed readings until discharge.
    iv_infusion_minutes: int = 40
    iv_after_interval_minutes: int = 15
    im_after_interval_minutes: int = 30
    sublingual_after_interval_minutes: int = 30
    intranasal_recheck_minutes: int = 30  # after the 2-hour check, if not yet discharged [policy]
    # Fasting before the dose (§1), minutes since the last food / drink. Spravato is the label's (no food for 2 h,
    # no liquids for 30 min: nausea and vomiting); a policy may lengthen it, never shorten.
    fasting_food_minutes_intranasal: int = SPRAVATO_LABEL_FASTING_FOOD_MINUTES
    fasting_liquid_minutes_intranasal: int = SPRAVATO_LABEL_FASTING_LIQUID_MINUTES
    # IV, IM and sublingual ketamine: clinic policy, not a published figure. No ketamine source in the notes sets a
    # fasting time (monitoring.md §1 marks the rule [policy]); practice is commonly no solids for 4-6 h and clear
    # liquids up to 2 h before, borrowed from procedural-sedation fasting, because ketamine causes nausea and
    # vomiting, and vomiting while sedated or dissociated risks aspiration (monitoring.md §4). The defaults take
    # the short end of the solids range (4 h) and the 2 h for clear liquids.
    fasting_food_minutes_ketamine: int = 240
    fasting_liquid_minutes_ketamine: int = 120

    def __post_init__(self) -> None:
        refuse_inconsistent("Monitoring", self.version, policy_problems(self))


def policy_problems(policy: MonitoringPolicy) -> list[str]:
    """Return what is inconsistent in a policy, so a bad setting fails when it is loaded, not in clinic."""
    p = policy
    problems = []
    if not p.version.strip():
        problems.append("a policy needs a version")
    if not p.predose_systolic_warn <= p.predose_systolic_hold <= p.predose_systolic_do_not_dose:
        problems.append("pre-dose systolic limits must rise: warn <= hold <= do not dose")
    if not p.predose_diastolic_warn <= p.predose_diastolic_hold <= p.predose_diastolic_do_not_dose:
        problems.append("pre-dose diastolic limits must rise: warn <= hold <= do not dose")
    if not 0 < p.predose_hr_low < p.predose_hr_high:
        problems.append("pre-dose heart-rate bounds must satisfy 0 < low < high")
    if p.predose_review_level not in (PredoseLevel.WARN, PredoseLevel.HOLD):
        problems.append("predose_review_level must be 'warn' or 'hold'")
    if not 0 <= p.predose_moaas_required <= 5:
        problems.append("predose_moaas_required must be 0-5")
    if not (p.alert_systolic <= p.critical_systolic and p.alert_diastolic <= p.critical_diastolic):
        problems.append("blood-pressure alert limits must not exceed the critical limits")
    if not p.alert_hr_low < p.alert_hr_high <= p.critical_hr_high:
        problems.append("heart-rate limits must satisfy alert low < alert high <= critical high")
    if not (p.critical_spo2_low <= p.alert_spo2_low and p.critical_rr_low <= p.alert_rr_low):
        problems.append("SpO2 and respiratory-rate critical limits must not exceed the alert limits")
    if not 0 <= p.critical_moaas_at_or_below <= p.alert_moaas_at_or_below <= 5:
        problems.append("MOAA/S limits must satisfy 0 <= critical <= alert <= 5")
    if not 0 < p.discharge_hr_low < p.discharge_hr_high:
        problems.append("discharge heart-rate bounds must satisfy 0 < low < high")
    if not 0 <= p.discharge_baseline_margin_percent <= 100:
        problems.append("discharge_baseline_margin_percent must be 0-100")
    if not 0 <= p.discharge_bp_stable_within_mmhg <= 20:
        problems.append("discharge_bp_stable_within_mmhg must be 0-20")
    if p.observation_minutes_intranasal < SPRAVATO_LABEL_OBSERVATION_MINUTES:
        problems.append("observation_minutes_intranasal cannot be below the Spravato label's 120 minutes")
    if p.fasting_food_minutes_intranasal < SPRAVATO_LABEL_FASTING_FOOD_MINUTES:
        problems.append("fasting_food_minutes_intranasal cannot be below the Spravato label's 120 minutes")
    if p.fasting_liquid_minutes_intranasal < SPRAVATO_LABEL_FASTING_LIQUID_MINUTES:
        problems.append("fasting_liquid_minutes_intranasal cannot be below the Spravato label's 30 minutes")
    if p.fasting_food_minutes_ketamine < 0 or p.fasting_liquid_minutes_ketamine < 0:
        problems.append("fasting minutes cannot be negative")
    minutes = [
        f.name
        for f in fields(p)
        if (f.name.endswith("_minutes") or f.name.startswith("observation_minutes"))
        and not f.name.startswith("fasting_")
    ]
    problems += [f"{name} must be above 0" for name in minutes if getattr(p, name) <= 0]
    return problems


DEFAULT_POLICY = MonitoringPolicy()


# --- Readings -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VitalReading:
    """One set of vital signs; any value may be missing, but not all."""

    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None

    def __post_init__(self) -> None:
        if all(getattr(self, name) is None for name in PLAUSIBLE_VITALS):
            raise ValueError("A reading needs at least one value.")

    @property
    def bp(self) -> str:
        """Return "150/95", with "?" for a missing half."""
        systolic = "?" if self.systolic is None else self.systolic
        diastolic = "?" if self.diastolic is None else self.diastolic
        return f"{systolic}/{diastolic}"


def reading_problems(reading: VitalReading) -> list[str]:
    """Return why a reading cannot be right (out of the plausible range, systolic not above diastolic)."""
    problems = []
    for name, (low, high, unit) in PLAUSIBLE_VITALS.items():
        value = getattr(reading, name)
        if value is None:
            continue
        label = VITAL_LABELS[name]
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{label} must be a whole number, not {value!r}.")
        elif not low <= value <= high:
            problems.append(
                f"{label} {value} {unit} is outside the plausible range {low}-{high} {unit}: check the entry or device."
            )
    systolic, diastolic = reading.systolic, reading.diastolic
    if isinstance(systolic, int) and isinstance(diastolic, int) and systolic <= diastolic:
        problems.append(f"Systolic {systolic} mmHg is not above diastolic {diastolic} mmHg: check the entry.")
    return problems


def _require_plausible(reading: VitalReading, what: str = "reading") -> None:
    problems = reading_problems(reading)
    if problems:
        raise ValueError(f"Implausible {what}: " + " ".join(problems))


def _check_moaas(moaas: int | None) -> None:
    if moaas is not None and (isinstance(moaas, bool) or not 0 <= moaas <= 5):
        raise ValueError(f"MOAA/S is scored 0-5, not {moaas!r}.")


# --- Pre-dose clearance (§1, §3) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One pre-dose finding: what, how serious, the numbers, and the source."""

    code: str
    level: PredoseLevel
    message: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "level": self.level.value, "message": self.message, "source": self.source}


@dataclass(frozen=True)
class Clearance:
    """The pre-dose verdict: "clear" (warnings allowed), "hold" (prescriber override) or "do_not_dose"."""

    status: ClearanceStatus
    findings: tuple[Finding, ...]
    policy_version: str = POLICY_VERSION
    rules_version: str = MONITORING_RULES_VERSION

    @property
    def needs_override(self) -> bool:
        return self.status == ClearanceStatus.HOLD

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "findings": [finding.as_dict() for finding in self.findings],
            "policy_version": self.policy_version,
            "rules_version": self.rules_version,
        }


@dataclass(frozen=True)
class PredoseRule:
    """One row of the pre-dose vital-sign table (monitoring.md §3): when the reading's `measure` is `comparison` the
    policy's `threshold` field, a finding `code` at `level`, where "review" is the policy's `predose_review_level`.
    The message is formatted with the `{value}` read, the `{limit}` crossed and what a review `{need}`s."""

    measure: str  # a VitalReading field
    comparison: Comparison
    threshold: str  # a MonitoringPolicy field
    level: PredoseLevel | Literal["review"]
    code: str
    message: str
    source: str


def _bp_rows(measure: str) -> tuple[PredoseRule, ...]:
    """The three rows of one half of the blood pressure, worst first: do not dose, hold, warn."""
    label = VITAL_LABELS[measure]
    return (
        PredoseRule(
            measure,
            "at_or_above",
            f"predose_{measure}_do_not_dose",
            PredoseLevel.DO_NOT_DOSE,
            f"bp_{measure}_do_not_dose",
            f"{label} {{value}} mmHg is at or above the do-not-dose limit of {{limit}} mmHg: no dose at this reading. "
            "Rest, recheck, treat if needed.",
            SOURCE_BP_PREDOSE,
        ),
        PredoseRule(
            measure,
            "at_or_above",
            f"predose_{measure}_hold",
            PredoseLevel.HOLD,
            f"bp_{measure}_hold",
            f"{label} {{value}} mmHg is at or above the hold limit of {{limit}} mmHg: the prescriber decides whether "
            "to dose, in writing. Recheck after rest.",
            SOURCE_BP_PREDOSE,
        ),
        PredoseRule(
            measure,
            "above",
            f"predose_{measure}_warn",
            PredoseLevel.WARN,
            f"bp_{measure}_warn",
            f"{label} {{value}} mmHg is above {{limit}} mmHg (elevated): weigh the short-term rise in BP against the "
            "benefit.",
            SOURCE_BP_PREDOSE,
        ),
    )


# Per measure, the rows are tried in order and the first that fires is the one finding. A missing BP, HR or SpO₂
# is a finding of its own (`predose_clearance`).
PREDOSE_RULES: tuple[PredoseRule, ...] = (
    *_bp_rows("systolic"),
    *_bp_rows("diastolic"),
    PredoseRule(
        "heart_rate",
        "below",
        "predose_hr_low",
        "review",
        "hr_low",
        "Heart rate {value} /min is below {limit} /min: {need}.",
        SOURCE_HR,
    ),
    PredoseRule(
        "heart_rate",
        "above",
        "predose_hr_high",
        "review",
        "hr_high",
        "Heart rate {value} /min is above {limit} /min: {need}.",
        SOURCE_HR,
    ),
    PredoseRule(
        "spo2",
        "below",
        "predose_spo2_low",
        "review",
        "spo2_low",
        "SpO₂ {value}% is below {limit}% on room air: {need}.",
        SOURCE_SPO2,
    ),
    PredoseRule(
        "respiratory_rate",
        "below",
        "predose_rr_low",
        "review",
        "rr_low",
        "Respiratory rate {value} /min is below {limit} /min: {need}.",
        SOURCE_RR,
    ),
)


def _vital_findings(measures: Iterable[str], reading: VitalReading, policy: MonitoringPolicy) -> list[Finding]:
    """Return the findings of `PREDOSE_RULES` for these measures of the reading: per measure, the first that fires."""
    review = PredoseLevel.WARN if policy.predose_review_level == PredoseLevel.WARN else PredoseLevel.HOLD
    need = (
        "the prescriber decides whether to dose, in writing" if review == PredoseLevel.HOLD else "review before dosing"
    )
    findings: list[Finding] = []
    for measure in measures:
        value = getattr(reading, measure)
        if value is None:
            continue
        for rule in (rule for rule in PREDOSE_RULES if rule.measure == measure):
            limit = int(getattr(policy, rule.threshold))
            if _COMPARE[rule.comparison](value, limit):
                level = review if rule.level == "review" else rule.level
                message = rule.message.format(value=value, limit=limit, need=need)
                findings.append(Finding(rule.code, level, message, rule.source))
                break
    return findings


@dataclass(frozen=True)
class CheckInAnswers:
    """What check-in records that the pre-dose checks need (monitoring.md §1). None: not asked."""

    minutes_since_food: int | None = None
    minutes_since_liquid: int | None = None
    pregnancy_test: str | None = None  # "negative", "positive", "declined" or "not_applicable"
    pregnancy_test_required: bool = False  # the patient could become pregnant (`pregnancy_test_required`)
    escort_confirmed: bool | None = None
    substances_today: bool | None = None  # alcohol or other substances (cannabis, opioids, sedatives, stimulants)


SOURCE_FASTING_SPRAVATO = (
    "Spravato PI 2 (no food for at least 2 hours, no liquids for 30 minutes before: nausea and vomiting); "
    "monitoring.md §1"
)
SOURCE_FASTING_KETAMINE = (
    "Clinic policy fasting_food_minutes_ketamine / fasting_liquid_minutes_ketamine, not a published figure "
    "(monitoring.md §1: practice is commonly no solids 4-6 h, clear liquids up to 2 h, as for procedural sedation)"
)
SOURCE_PREGNANCY = "Spravato PI 8.1 (may cause fetal harm; not recommended); clinic policy (monitoring.md §1)"
SOURCE_ESCORT = (
    "Spravato PI 5.x / Medication Guide (no driving until the next day after sleep); the same rule for ketamine "
    "is clinic policy (monitoring.md §1)"
)
SOURCE_SUBSTANCES = (
    "Spravato PI 7 (CNS depressants: additive sedation); positive answer -> prescriber decision, clinic policy "
    "(monitoring.md §1, eligibility.md §2)"
)


def _fasting(route: str, what: str, minutes: int | None, needed: int, source: str) -> Finding | None:
    noun = "ate" if what == "food" else "drank"
    if minutes is None:
        return Finding(
            f"fasting_{what}_not_recorded",
            PredoseLevel.WARN,
            f"When the patient last {noun} is not recorded: ask before dosing ({needed} min without {what} for "
            f"this route).",
            source,
        )
    if minutes < 0:
        raise ValueError(f"The time the patient last {noun} cannot be after now.")
    if minutes >= needed:
        return None
    return Finding(
        f"fasting_{what}",
        PredoseLevel.HOLD,
        f"Last {noun} {minutes} min ago; {'esketamine' if route == 'intranasal' else 'this route'} needs {needed} "
        f"min without {what}: wait {needed - minutes} min and recheck, or the prescriber decides in writing.",
        source,
    )


def fasting_minutes(route: str, policy: MonitoringPolicy = DEFAULT_POLICY) -> tuple[int, int, str]:
    """Return the minutes without food and without liquids before a dose by `route`, and their source
    (monitoring.md §1): the check-in's hold and the patient's reminder the day before say the same."""
    _check_route(route)
    if route == "intranasal":
        return policy.fasting_food_minutes_intranasal, policy.fasting_liquid_minutes_intranasal, SOURCE_FASTING_SPRAVATO
    return policy.fasting_food_minutes_ketamine, policy.fasting_liquid_minutes_ketamine, SOURCE_FASTING_KETAMINE


def check_in_findings(route: str, answers: CheckInAnswers, policy: MonitoringPolicy = DEFAULT_POLICY) -> list[Finding]:
    """Return the pre-dose findings from what check-in records (monitoring.md §1), a ladder:

    | Check | Level | Source |
    | fasting: food / liquids within the route's limits | hold (not recorded: warn) | Spravato PI 2; policy |
    | pregnancy test positive | do not dose | Spravato PI 8.1 |
    | pregnancy test declined where required | hold | Spravato PI 8.1; policy |
    | no escort or ride home | hold (not recorded: warn) | Spravato PI 5.x / Medication Guide |
    | alcohol or other substances today | hold (not asked: warn) | Spravato PI 7; policy |
    """
    _check_route(route)
    findings: list[Finding] = []
    food, liquid, source = fasting_minutes(route, policy)
    for what, minutes, needed in (
        ("food", answers.minutes_since_food, food),
        ("liquid", answers.minutes_since_liquid, liquid),
    ):
        if needed and (finding := _fasting(route, what, minutes, needed, source)):
            findings.append(finding)
    if answers.pregnancy_test == "positive":
        findings.append(
            Finding(
                "pregnancy_positive",
                PredoseLevel.DO_NOT_DOSE,
                "Today's pregnancy test is positive: do not dose.",
                SOURCE_PREGNANCY,
            )
        )
    elif answers.pregnancy_test_required and answers.pregnancy_test in (None, "declined", "not_applicable"):
        findings.append(
            Finding(
                "pregnancy_test_missing",
                PredoseLevel.HOLD,
                "No pregnancy test result today for a patient who could become pregnant: the prescriber decides, in "
                "writing.",
                SOURCE_PREGNANCY,
            )
        )
    if answers.escort_confirmed is False:
        findings.append(
            Finding(
                "escort_missing",
                PredoseLevel.HOLD,
                "No escort or ride home: the patient must not drive until the next day after sleep. Arrange one, "
                "or the prescriber decides in writing.",
                SOURCE_ESCORT,
            )
        )
    elif answers.escort_confirmed is None:
        findings.append(
            Finding(
                "escort_not_recorded",
                PredoseLevel.WARN,
                "Escort or ride home not confirmed at check-in: confirm it.",
                SOURCE_ESCORT,
            )
        )
    if answers.substances_today is True:
        findings.append(
            Finding(
                "substances_today",
                PredoseLevel.HOLD,
                "Alcohol or other substance use today (additive sedation): the prescriber decides whether to dose, "
                "in writing.",
                SOURCE_SUBSTANCES,
            )
        )
    elif answers.substances_today is None:
        findings.append(
            Finding(
                "substances_not_asked",
                PredoseLevel.WARN,
                "Alcohol or other substance use today was not asked at check-in: ask before dosing.",
                SOURCE_SUBSTANCES,
            )
        )
    return findings


def predose_clearance(
    reading: VitalReading,
    *,
    moaas: int | None = None,
    suicide_risk_high: bool = False,
    route: str | None = None,
    check_in: CheckInAnswers | None = None,
    policy: MonitoringPolicy = DEFAULT_POLICY,
) -> Clearance:
    """Return the pre-dose verdict on this reading: the worst level of its findings ("warn" stays "clear").

    BP, HR and SpO₂ must be recorded (§1); a missing one holds for the prescriber. HR, SpO₂ and RR "review"
    findings take `policy.predose_review_level`. MOAA/S below 5 and high suicide risk do not dose. With the
    `route` and the `check_in` answers, the check-in findings (`check_in_findings`) join them.
    """
    _require_plausible(reading, "pre-dose reading")
    _check_moaas(moaas)
    p = policy
    findings: list[Finding] = []
    if reading.systolic is None or reading.diastolic is None:
        findings.append(
            Finding(
                "bp_missing",
                PredoseLevel.HOLD,
                "Blood pressure is not recorded: measure it before dosing.",
                SOURCE_MISSING,
            )
        )
    findings += _vital_findings(("systolic", "diastolic"), reading, p)
    if reading.heart_rate is None:
        findings.append(
            Finding(
                "hr_missing", PredoseLevel.HOLD, "Heart rate is not recorded: measure it before dosing.", SOURCE_MISSING
            )
        )
    findings += _vital_findings(("heart_rate",), reading, p)
    if reading.spo2 is None:
        findings.append(
            Finding(
                "spo2_missing", PredoseLevel.HOLD, "SpO₂ is not recorded: measure it before dosing.", SOURCE_MISSING
            )
        )
    findings += _vital_findings(("spo2", "respiratory_rate"), reading, p)
    if moaas is not None and moaas < p.predose_moaas_required:
        findings.append(
            Finding(
                "moaas_below_required",
                PredoseLevel.DO_NOT_DOSE,
                f"MOAA/S {moaas} before the dose (needs {p.predose_moaas_required}, alert): do not dose a sedated "
                "patient.",
                SOURCE_MOAAS,
            )
        )
    if suicide_risk_high:
        findings.append(
            Finding(
                "suicide_risk_high",
                PredoseLevel.DO_NOT_DOSE,
                "High suicide risk on today's screen: do not dose; follow the suicide-risk protocol.",
                SOURCE_SUICIDE,
            )
        )
    if check_in is not None:
        if route is None:
            raise ValueError("The check-in findings need the route (fasting limits differ).")
        findings += check_in_findings(route, check_in, p)
    findings.sort(key=lambda f: -_PREDOSE_RANK[f.level])
    worst = findings[0].level if findings else PredoseLevel.WARN
    status = ClearanceStatus.CLEAR if worst == PredoseLevel.WARN else ClearanceStatus(worst.value)
    return Clearance(status=status, findings=tuple(findings), policy_version=p.version)


# --- Intra/post-dose alerts (§3) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """A reading outside the intra/post-dose thresholds. Messages and sources stay under 300 characters."""

    code: str
    level: AlertLevel
    message: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "level": self.level.value, "message": self.message, "source": self.source}


_SYMPTOMS = "chest pain, severe headache, neurological deficit, dyspnoea"


@dataclass(frozen=True)
class AlertRule:
    """One row of the intra/post-dose alert table (monitoring.md §3): when the reading's `measure` is
    `comparison` the policy's `threshold` field, raise `code` at `level`. The message is formatted with the
    `{value}` read and the `{limit}` crossed; the policy file tunes the limit through the threshold's field."""

    measure: str  # a VitalReading field, or "moaas"
    comparison: Comparison
    threshold: str  # a MonitoringPolicy field
    level: AlertLevel
    code: str
    message: str
    source: str

    def alert(self, value: int, policy: MonitoringPolicy) -> Alert | None:
        """Return the alert when `value` crosses this rule's threshold under `policy`, else None."""
        limit = int(getattr(policy, self.threshold))
        if not _COMPARE[self.comparison](value, limit):
            return None
        return Alert(self.code, self.level, self.message.format(value=value, limit=limit), self.source)


# Per measure, the rows are tried in order and the first that fires is the one alert: critical before alert.
# One reading cannot show "sustained 5 minutes" (HR) or "over 30 s" (SpO₂): it fires and the message asks for
# the recheck that decides.
ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "systolic",
        "above",
        "critical_systolic",
        AlertLevel.CRITICAL,
        "bp_systolic_critical",
        "Systolic BP {value} mmHg is above {limit} mmHg: stop the infusion or dosing, call the prescriber, check for "
        f"symptoms ({_SYMPTOMS}); emergency protocol if present.",
        SOURCE_BP_ALERT,
    ),
    AlertRule(
        "systolic",
        "above",
        "alert_systolic",
        AlertLevel.ALERT,
        "bp_systolic_high",
        "Systolic BP {value} mmHg is above {limit} mmHg: recheck in 5 minutes, tell the prescriber, ask about "
        f"symptoms ({_SYMPTOMS}).",
        SOURCE_BP_ALERT,
    ),
    AlertRule(
        "diastolic",
        "above",
        "critical_diastolic",
        AlertLevel.CRITICAL,
        "bp_diastolic_critical",
        "Diastolic BP {value} mmHg is above {limit} mmHg: stop the infusion or dosing, call the prescriber, check for "
        f"symptoms ({_SYMPTOMS}); emergency protocol if present.",
        SOURCE_BP_ALERT,
    ),
    AlertRule(
        "diastolic",
        "above",
        "alert_diastolic",
        AlertLevel.ALERT,
        "bp_diastolic_high",
        "Diastolic BP {value} mmHg is above {limit} mmHg: recheck in 5 minutes, tell the prescriber, ask about "
        f"symptoms ({_SYMPTOMS}).",
        SOURCE_BP_ALERT,
    ),
    AlertRule(
        "heart_rate",
        "above",
        "critical_hr_high",
        AlertLevel.CRITICAL,
        "hr_critical",
        "Heart rate {value} /min is above {limit} /min: stop dosing, call the prescriber, check the rhythm and "
        "symptoms.",
        SOURCE_HR,
    ),
    AlertRule(
        "heart_rate",
        "above",
        "alert_hr_high",
        AlertLevel.ALERT,
        "hr_high",
        "Heart rate {value} /min is above {limit} /min: recheck; tell the prescriber if it lasts 5 minutes.",
        SOURCE_HR,
    ),
    AlertRule(
        "heart_rate",
        "below",
        "alert_hr_low",
        AlertLevel.ALERT,
        "hr_low",
        "Heart rate {value} /min is below {limit} /min: recheck, check symptoms, tell the prescriber.",
        SOURCE_HR,
    ),
    AlertRule(
        "spo2",
        "below",
        "critical_spo2_low",
        AlertLevel.CRITICAL,
        "spo2_critical",
        "SpO₂ {value}% is below {limit}%: if it lasts over 30 s give oxygen, support the airway and stop dosing; call "
        "the prescriber.",
        SOURCE_SPO2,
    ),
    AlertRule(
        "spo2",
        "below",
        "alert_spo2_low",
        AlertLevel.ALERT,
        "spo2_low",
        "SpO₂ {value}% is below {limit}%: stimulate, reposition, check the probe, recheck.",
        SOURCE_SPO2,
    ),
    AlertRule(
        "respiratory_rate",
        "below",
        "critical_rr_low",
        AlertLevel.CRITICAL,
        "rr_critical",
        "Respiratory rate {value} /min is below {limit} /min: support the airway, give oxygen, stop dosing; call the "
        "prescriber.",
        SOURCE_RR,
    ),
    AlertRule(
        "respiratory_rate",
        "below",
        "alert_rr_low",
        AlertLevel.ALERT,
        "rr_low",
        "Respiratory rate {value} /min is below {limit} /min: stimulate, watch SpO₂, recheck.",
        SOURCE_RR,
    ),
    AlertRule(
        "moaas",
        "at_or_below",
        "critical_moaas_at_or_below",
        AlertLevel.CRITICAL,
        "sedation_critical",
        "MOAA/S {value} (at or below {limit}): emergency: airway, SpO₂, call the prescriber.",
        SOURCE_MOAAS,
    ),
    AlertRule(
        "moaas",
        "at_or_below",
        "alert_moaas_at_or_below",
        AlertLevel.ALERT,
        "sedation_deep",
        "MOAA/S {value} (at or below {limit}): sedated: nurse at the bedside, watch airway and SpO₂, record as an "
        "adverse event.",
        SOURCE_MOAAS,
    ),
)


def reading_alerts(
    reading: VitalReading, *, moaas: int | None = None, policy: MonitoringPolicy = DEFAULT_POLICY
) -> list[Alert]:
    """Return the alerts for a reading during or after the dose: per measure, the first row of `ALERT_RULES`
    that fires (the critical one, else the alert), in the table's order."""
    _require_plausible(reading)
    _check_moaas(moaas)
    values: dict[str, int | None] = {name: getattr(reading, name) for name in PLAUSIBLE_VITALS}
    values["moaas"] = moaas
    alerts: list[Alert] = []
    fired: set[str] = set()
    for rule in ALERT_RULES:
        value = values[rule.measure]
        if value is None or rule.measure in fired:
            continue
        if alert := rule.alert(value, policy):
            alerts.append(alert)
            fired.add(rule.measure)
    return alerts


def sedation_alerts(moaas: int, *, policy: MonitoringPolicy = DEFAULT_POLICY) -> list[Alert]:
    """Return the alert for a MOAA/S scored during or after the dose on its own (an in-session score, no vitals):
    the same MOAA/S rows of `ALERT_RULES` a reading with a score meets (instruments.md: <= 3 sedated, <= 1
    emergency)."""
    _check_moaas(moaas)
    for rule in ALERT_RULES:
        if rule.measure == "moaas" and (alert := rule.alert(moaas, policy)):
            return [alert]
    return []


# --- Observation and discharge (§6) -------------------------------------------------------------------------


def _check_route(route: str) -> None:
    if route not in ROUTES:
        raise ValueError(f"Unknown route {route!r}; choose one of {', '.join(ROUTES)}.")


def observation_minutes(route: str, policy: MonitoringPolicy = DEFAULT_POLICY) -> int:
    """Return the minimum observation for `route` (IV: after the infusion ends; others: after the dose)."""
    _check_route(route)
    return int(getattr(policy, f"observation_minutes_{route}"))


@dataclass(frozen=True)
class DischargeCriterion:
    """One discharge criterion of monitoring.md §6, whether it is met, and the detail behind it."""

    code: str
    label: str
    met: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "label": self.label, "met": self.met, "detail": self.detail}


def _within(value: int, base: int, percent: int) -> bool:
    # Integer arithmetic: |value - base| <= base x percent / 100.
    return abs(value - base) * 100 <= base * percent


def _observation(
    route: str, minutes_since_dose: int, minutes_since_infusion_end: int | None, policy: MonitoringPolicy
) -> DischargeCriterion:
    needed = observation_minutes(route, policy)
    label = "Observation time met for the route"
    if route == "iv":
        if minutes_since_infusion_end is None:
            return DischargeCriterion(
                "observation_time",
                label,
                False,
                "The infusion's end time is not recorded; IV observation counts from it.",
            )
        elapsed, since = minutes_since_infusion_end, "since the infusion ended"
        basis = "policy; until mental status is at baseline (Sanacora 2017)"
    else:
        elapsed, since = minutes_since_dose, "since the dose"
        basis = (
            "Spravato PI: at least 2 hours and until clinically stable"
            if route == "intranasal"
            else "policy; monitoring.md §6"
        )
    if elapsed >= needed:
        return DischargeCriterion(
            "observation_time", label, True, f"{elapsed} min {since}, at least {needed} ({basis})."
        )
    return DischargeCriterion(
        "observation_time",
        label,
        False,
        f"{elapsed} of {needed} min {since} ({basis}): {needed - elapsed} min to go.",
    )


def _alertness(
    moaas: int | None, oriented: bool | None, cadss: int | None, cadss_baseline: int | None, policy: MonitoringPolicy
) -> DischargeCriterion:
    label = "Alert and oriented: MOAA/S 5; dissociation resolved"
    failed, passed = [], []
    if moaas is None:
        failed.append("MOAA/S not recorded")
    elif moaas < 5:
        failed.append(f"MOAA/S {moaas}, needs 5")
    else:
        passed.append("MOAA/S 5")
    if oriented is None:
        failed.append("orientation not recorded")
    elif not oriented:
        failed.append("not oriented")
    else:
        passed.append("oriented")
    if cadss is not None:
        limit = max(policy.discharge_cadss_max, cadss_baseline if cadss_baseline is not None else 0)
        if cadss > limit:
            failed.append(f"CADSS {cadss}, above {limit} (pre-dose score or {policy.discharge_cadss_max})")
        else:
            passed.append(f"CADSS {cadss}")
    return DischargeCriterion("alert_oriented", label, not failed, "; ".join(failed or passed) + ".")


def _bp_safe(reading: VitalReading, baseline: VitalReading | None, policy: MonitoringPolicy) -> tuple[bool, str]:
    """Return whether one reading's BP is at a level safe for discharge, and why (monitoring.md §6, criterion 3)."""
    p = policy
    s, d = reading.systolic, reading.diastolic
    if s is None or d is None:
        return False, "BP not recorded"
    # Never at or above the intra/post-dose alert level, whatever the baseline: the 20% alternative alone would
    # discharge 185/100 after a 158/92 baseline (monitoring.md §6, corrected 2026-12-04).
    if s >= p.alert_systolic or d >= p.alert_diastolic:
        return False, (
            f"BP {s}/{d} at or above the alert level {p.alert_systolic}/{p.alert_diastolic}: never discharged at "
            "this reading, whatever the baseline"
        )
    limit = f"{p.discharge_systolic_below}/{p.discharge_diastolic_below}"
    if s < p.discharge_systolic_below and d < p.discharge_diastolic_below:
        return True, f"BP {s}/{d} below {limit}"
    margin = p.discharge_baseline_margin_percent
    if (
        baseline is not None
        and baseline.systolic is not None
        and baseline.diastolic is not None
        and _within(s, baseline.systolic, margin)
        and _within(d, baseline.diastolic, margin)
    ):
        return True, f"BP {s}/{d} within {margin}% of baseline {baseline.bp}"
    return False, f"BP {s}/{d} not below {limit}" + (
        "" if baseline is None else f" nor within {margin}% of baseline {baseline.bp}"
    )


def _bp_trend(
    last: VitalReading, previous: VitalReading | None, baseline: VitalReading | None, policy: MonitoringPolicy
) -> tuple[bool, str]:
    """Spravato: BP "consistent at a safe level" before leaving, judged on the last two readings (monitoring.md
    §6, Spravato HCP dosing page): both safe, and the last not above the one before by more than the clinic's
    tolerance, `discharge_bp_stable_within_mmhg` (stable or falling; the tolerance is policy, not published)."""
    if previous is None or previous.systolic is None or previous.diastolic is None:
        return False, "esketamine needs two BP readings after the dose to show BP stable or falling"
    safe, why = _bp_safe(previous, baseline, policy)
    if not safe:
        return False, f"the reading before: {why}"
    assert last.systolic is not None and last.diastolic is not None  # the caller judged `last` safe
    rise = max(last.systolic - previous.systolic, last.diastolic - previous.diastolic)
    tolerance = policy.discharge_bp_stable_within_mmhg
    if rise > tolerance:
        return False, (
            f"BP rising: {previous.bp} then {last.bp} (more than {tolerance} mmHg up; the tolerance is clinic policy "
            "discharge_bp_stable_within_mmhg)"
        )
    return True, f"BP {previous.bp} then {last.bp}: {'falling' if rise < 0 else 'stable'}"


def _vitals(
    route: str,
    last: VitalReading | None,
    previous: VitalReading | None,
    baseline: VitalReading | None,
    policy: MonitoringPolicy,
) -> DischargeCriterion:
    p = policy
    label = "Vital signs within discharge limits or near baseline"
    if last is None:
        return DischargeCriterion("vitals", label, False, "No reading after the dose.")
    failed: list[str] = []
    passed: list[str] = []
    safe, why = _bp_safe(last, baseline, p)
    (passed if safe else failed).append(why)
    if safe and route == "intranasal":
        steady, why = _bp_trend(last, previous, baseline, p)
        (passed if steady else failed).append(why)
    # HR 50-110 only: the 20% of baseline alternative applies to BP (monitoring.md §6, corrected 2026-12-04).
    hr = last.heart_rate
    band = f"{p.discharge_hr_low}-{p.discharge_hr_high}"
    if hr is None:
        failed.append("heart rate not recorded")
    elif p.discharge_hr_low <= hr <= p.discharge_hr_high:
        passed.append(f"HR {hr} within {band}")
    else:
        failed.append(f"HR {hr} outside {band}")
    spo2 = last.spo2
    base_spo2 = baseline.spo2 if baseline is not None else None
    if spo2 is None:
        failed.append("SpO₂ not recorded")
    elif spo2 >= p.discharge_spo2_min:
        passed.append(f"SpO₂ {spo2}% at least {p.discharge_spo2_min}%")
    elif base_spo2 is not None and spo2 >= base_spo2:
        passed.append(f"SpO₂ {spo2}% at baseline {base_spo2}%")
    else:
        failed.append(f"SpO₂ {spo2}% below {p.discharge_spo2_min}%")
    return DischargeCriterion("vitals", label, not failed, "; ".join(failed or passed) + ".")


def _yes(code: str, label: str, value: bool | None, yes: str, no: str, unknown: str) -> DischargeCriterion:
    if value is None:
        return DischargeCriterion(code, label, False, unknown)
    return DischargeCriterion(code, label, value, yes if value else no)


def discharge_check(
    *,
    route: str,
    minutes_since_dose: int,
    last_reading: VitalReading | None,
    moaas: int | None,
    oriented: bool | None,
    walks_steadily: bool | None,
    nausea_controlled: bool | None,
    new_suicidal_ideation: bool | None,
    escort_present: bool | None,
    minutes_since_infusion_end: int | None = None,
    baseline_reading: VitalReading | None = None,
    previous_reading: VitalReading | None = None,
    cadss: int | None = None,
    cadss_baseline: int | None = None,
    policy: MonitoringPolicy = DEFAULT_POLICY,
) -> list[DischargeCriterion]:
    """Return the discharge criteria of monitoring.md §6 in order; discharge needs every one met (`all_met`).

    Not recorded (None) is never met. `previous_reading` is the post-dose reading before the last: esketamine
    discharge judges BP on the last two (stable or falling at a safe level). Not covered here, for the caller:
    the Spravato REMS monitoring form, and the nurse's and prescriber's discharge signatures.
    """
    _check_route(route)
    if minutes_since_dose < 0 or (minutes_since_infusion_end is not None and minutes_since_infusion_end < 0):
        raise ValueError("Minutes since the dose or the infusion's end cannot be negative.")
    readings = (
        (last_reading, "last reading"),
        (previous_reading, "previous reading"),
        (baseline_reading, "baseline reading"),
    )
    for reading, what in readings:
        if reading is not None:
            _require_plausible(reading, what)
    _check_moaas(moaas)
    steady_detail: list[str] = []
    if walks_steadily is None:
        steady_detail.append("walking not assessed")
    elif not walks_steadily:
        steady_detail.append("does not walk steadily without help")
    if nausea_controlled is None:
        steady_detail.append("nausea not assessed")
    elif not nausea_controlled:
        steady_detail.append("nausea not controlled")
    steady = DischargeCriterion(
        "walks_steadily",
        "Walks steadily without assistance; nausea controlled",
        not steady_detail,
        "; ".join(steady_detail) + "." if steady_detail else "Walks steadily; nausea controlled.",
    )
    return [
        _observation(route, minutes_since_dose, minutes_since_infusion_end, policy),
        _alertness(moaas, oriented, cadss, cadss_baseline, policy),
        _vitals(route, last_reading, previous_reading, baseline_reading, policy),
        steady,
        _yes(
            "no_new_suicidal_ideation",
            "No new suicidal ideation on the exit check",
            None if new_suicidal_ideation is None else not new_suicidal_ideation,
            "No new suicidal ideation.",
            "New suicidal ideation: do not discharge; follow the suicide-risk protocol.",
            "Exit suicide check not recorded.",
        ),
        _yes(
            "escort_present",
            "Responsible adult escort or arranged ride present",
            escort_present,
            "Escort present; told not to drive until the next day after sleep.",
            "No escort or ride: the patient must not leave alone or drive (Spravato PI 5.x).",
            "Escort not confirmed.",
        ),
    ]


def all_met(criteria: Iterable[DischargeCriterion]) -> bool:
    """Return True when there are criteria and every one is met."""
    criteria = list(criteria)
    return bool(criteria) and all(c.met for c in criteria)


# --- Vitals schedule (§2) -----------------------------------------------------------------------------------

# Fixed readings after the dose (minutes), before the repeating interval takes over. 0 = the pre-dose reading.
_IM_FIXED = (0, 5, 15, 30, 45, 60)  # [policy]
_SL_FIXED = (0, 15, 30, 45, 60)  # [policy]
_SPRAVATO_FIXED = (0, 40)  # Spravato PI: reassess BP at about 40 minutes


def _schedule(route: str, policy: MonitoringPolicy, infusion_minutes: int | None) -> tuple[list[int], int, int, bool]:
    """Return the fixed offsets, the observation end, the repeating interval, and whether it fills up to the end."""
    if route == "iv":
        infusion = policy.iv_infusion_minutes if infusion_minutes is None else infusion_minutes
        if infusion <= 0:
            raise ValueError("The infusion length must be above 0 minutes.")
        # Emory protocol (Riva-Posse 2018): every 10 minutes during the infusion, every 15 after it.
        fixed = [0, *range(10, infusion, 10), infusion]
        return fixed, infusion + policy.observation_minutes_iv, policy.iv_after_interval_minutes, True
    if route == "im":
        return list(_IM_FIXED), policy.observation_minutes_im, policy.im_after_interval_minutes, True
    if route == "sublingual":
        return list(_SL_FIXED), policy.observation_minutes_sublingual, policy.sublingual_after_interval_minutes, True
    # Spravato: the label asks for 40 minutes and before discharge only; rechecks after 2 hours are [policy].
    return list(_SPRAVATO_FIXED), policy.observation_minutes_intranasal, policy.intranasal_recheck_minutes, False


def vitals_schedule(
    route: str, *, policy: MonitoringPolicy = DEFAULT_POLICY, infusion_minutes: int | None = None
) -> list[int]:
    """Return the minutes after the dose (IV: after the infusion starts) at which vitals are due, to the
    observation minimum; 0 is the pre-dose reading. Readings continue at the route's interval until discharge
    (`next_reading_due`). Spravato: before, at 40 minutes, and before discharge at 2 hours or later.
    """
    _check_route(route)
    fixed, end, interval, fill = _schedule(route, policy, infusion_minutes)
    offsets = list(fixed)
    while fill and offsets[-1] + interval < end:
        offsets.append(offsets[-1] + interval)
    if offsets[-1] < end:
        offsets.append(end)  # a reading at the observation minimum, before discharge
    return offsets


def next_reading_due(
    route: str,
    after_minute: int,
    *,
    policy: MonitoringPolicy = DEFAULT_POLICY,
    infusion_minutes: int | None = None,
) -> int:
    """Return the minute of the next reading due after `after_minute` (the last reading taken), continuing at the
    route's interval past the observation minimum until the patient is discharged.
    """
    offsets = vitals_schedule(route, policy=policy, infusion_minutes=infusion_minutes)
    for offset in offsets:
        if offset > after_minute:
            return offset
    interval = _schedule(route, policy, infusion_minutes)[2]
    last = offsets[-1]
    return last + ((after_minute - last) // interval + 1) * interval


__all__ = [
    "ALERT_RULES",
    "DEFAULT_POLICY",
    "MONITORING_RULES_VERSION",
    "PLAUSIBLE_VITALS",
    "POLICY_VERSION",
    "PREDOSE_RULES",
    "PREGNANCY_TEST_AGES",
    "SPRAVATO_LABEL_OBSERVATION_MINUTES",
    "Alert",
    "AlertLevel",
    "AlertRule",
    "CheckInAnswers",
    "Clearance",
    "ClearanceStatus",
    "DischargeCriterion",
    "Finding",
    "MonitoringPolicy",
    "PredoseLevel",
    "PredoseRule",
    "VitalReading",
    "all_met",
    "check_in_findings",
    "discharge_check",
    "next_reading_due",
    "observation_minutes",
    "policy_problems",
    "predose_clearance",
    "pregnancy_test_required",
    "reading_alerts",
    "reading_problems",
    "vitals_schedule",
]


# Ages at which a urine hCG is done before each dose for a patient assigned female at birth [policy: who "could
# become pregnant" is the clinic's rule; monitoring.md section 1, Spravato PI 8.1].
PREGNANCY_TEST_AGES = (12, 55)


def pregnancy_test_required(sex_at_birth: str, age: int) -> bool:
    """Whether the pre-dose check needs a pregnancy test result (monitoring.md section 1)."""
    low, high = PREGNANCY_TEST_AGES
    return sex_at_birth == "female" and low <= age <= high

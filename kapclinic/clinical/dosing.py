"""Dose arithmetic for ketamine and esketamine: the session's target, mg, volume or units, waste, hard stops.

Plain Python, no Django. Milligrams and millilitres are Decimal throughout (never float), so the working shown
to the prescriber and nurse is the arithmetic that was done. Facts come from ../shared/domain/dosing.md:
section 1 (products: 28 mg per Spravato device), section 5 (Spravato schedule, 28 mg steps) and section 6
(dose_mg = mg/kg x kg; volume = mg / concentration; waste = (drawn - given) x concentration; rounding; hard stops).

Hard stops are reported, never enforced here: the caller refuses the order unless a prescriber overrides with a
written reason. Bad input (impossible weight, unknown route, stale weight) raises ValueError instead, because no
dose can be calculated from it. Every value marked [policy] in the notes lives in `DosingPolicy`, whose `version`
is stored with each order beside `DOSING_RULES_VERSION`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

from kapclinic.clinical.consistency import refuse_inconsistent
from kapclinic.clinical.wording import day_text

# Bump when a rule or its wording changes: orders store it to explain their working later.
DOSING_RULES_VERSION = "2026-12-04.2"
POLICY_VERSION = "dosing-default-1"

Route = Literal["iv", "im", "intranasal", "sublingual"]
ROUTES: tuple[Route, ...] = ("iv", "im", "intranasal", "sublingual")
WEIGHT_BASED_ROUTES: tuple[Route, ...] = ("iv", "im")  # mg/kg; the others are fixed mg
FIXED_DOSE_ROUTES: tuple[Route, ...] = tuple(route for route in ROUTES if route not in WEIGHT_BASED_ROUTES)
PARENTERAL_ROUTES: tuple[Route, ...] = ("iv", "im")
ROUTE_NAMES: dict[str, str] = {
    "iv": "IV",
    "im": "IM",
    "intranasal": "Intranasal esketamine (Spravato)",
    "sublingual": "Sublingual",
}
TITRATION_KINDS = ("none", "step")

# Spravato PI 2 and openFDA NDC 50458-028: each device holds 28 mg.
SPRAVATO_MG_PER_DEVICE = Decimal(28)
# Spravato PI 2.1-2.4: the label's largest session dose; a policy may lower the hard stop, never raise it.
SPRAVATO_LABEL_MAX_MG = Decimal(84)
# The US dose set (Spravato US PI 2.1-2.2, spravatohcp dosing page): 56 or 84 mg. 28 mg doses and 28 mg steps
# come from the EU SmPC (ex-US; >= 65 years start at 28 mg): a clinic policy option, off by default (dosing.md 5,
# corrected 2026-12-04).
SPRAVATO_US_DOSES_MG = (Decimal(56), Decimal(84))
SPRAVATO_EX_US_DOSES_MG = (Decimal(28), Decimal(56), Decimal(84))

# The label's indications, which dose differently (Spravato US PI 1, 2.1, 2.2).
SpravatoIndication = Literal["trd", "mdsi"]
SPRAVATO_INDICATIONS: dict[str, str] = {
    "trd": "Treatment-resistant depression (TRD)",
    "mdsi": "Depressive symptoms in MDD with acute suicidal ideation or behaviour (MDSI)",
}
# Spravato US PI 2.1 (TRD): twice weekly in weeks 1-4 (induction), once weekly in weeks 5-8, then weekly or every
# 2 weeks; the benefit is evaluated at the end of induction. PI 2.2 (MDSI): twice weekly for 4 weeks.
SPRAVATO_INDUCTION_WEEKS = 4
SPRAVATO_PHASE_SESSIONS_PER_WEEK = ((4, 2), (8, 1), (None, 1))  # (last week of the phase or None, at most)
# Outside these the entry is a typing error, not a patient (exclusive low, inclusive high).
WEIGHT_LIMITS_KG = (Decimal(0), Decimal(400))
HEIGHT_LIMITS_CM = (Decimal(100), Decimal(250))  # as eligibility.PLAUSIBLE_RANGES
# dosing.md section 6: AdjBW = IBW + 0.4 x (TBW - IBW); Devine IBW = base + 2.3 kg per inch over 60 in.
ADJUSTED_WEIGHT_FACTOR = Decimal("0.4")
DEVINE_BASE_KG = {"male": Decimal(50), "female": Decimal("45.5")}
DEVINE_KG_PER_INCH = Decimal("2.3")
CM_PER_INCH = Decimal("2.54")

MG = Decimal("0.001")
TIMES, MINUS = "\u00d7", "\u2212"  # multiplication and minus signs for the working; escaped for the linter
KG = Decimal("0.1")

SOURCE_IV_MAX = (
    "dosing.md §6 hard stops [policy]; studied range 0.1-1.0 mg/kg (Fava 2020), 0.5 mg/kg best supported "
    "(Sanacora 2017)"
)
SOURCE_IM_MAX = "dosing.md §6 hard stops [policy]; KAP practice 0.5-1.5 mg/kg IM (Dore 2019, [unverified ranges])"
SOURCE_PARENTERAL_MAX = "dosing.md §6 hard stops [policy]: any single parenteral dose"
SOURCE_SL_MAX = "dosing.md §4 and §6 hard stops [policy]: sublingual single dose"
SOURCE_IN_MAX = "Spravato PI 2.1-2.4 (56 or 84 mg per session); dosing.md §6 hard stops [policy]"
SOURCE_IN_FREQUENCY = (
    "Spravato US PI 2.1 (weeks 1-4 twice weekly, 5-8 weekly, 9 on weekly or every 2 weeks); dosing.md §5 and §6 "
    "hard stops [policy]"
)
SOURCE_IN_DEVICES = "Spravato PI 2 (28 mg per device); dosing.md §1"
SOURCE_IN_US_DOSES = "Spravato US PI 2.1-2.2 (56 or 84 mg); dosing.md §5 (corrected 2026-12-04)"
SOURCE_IN_EX_US = "EU SmPC (28 mg doses and 28 mg steps; ex-US), clinic policy intranasal_ex_us_28_mg; dosing.md §5"
SOURCE_IN_TRD_START = "Spravato US PI 2.1 (TRD: day 1 56 mg; 84 mg only after a 56 mg start); dosing.md §5"
SOURCE_IN_MDSI = "Spravato US PI 2.2 (MDSI: 84 mg twice weekly for 4 weeks, then reassess); dosing.md §5"
SOURCE_IN_REVIEW = "Spravato US PI 2.1 (evaluate therapeutic benefit at the end of induction); dosing.md §5"


@dataclass(frozen=True)
class DosingPolicy:
    """Clinic policy for dose calculation, with dosing.md section 6 defaults; all [policy] unless noted."""

    version: str = POLICY_VERSION
    # Hard stops (dosing.md §6): a dose above one needs a prescriber override with a written reason.
    iv_max_mg_per_kg: Decimal = Decimal("1.0")
    im_max_mg_per_kg: Decimal = Decimal("1.5")
    parenteral_max_mg: Decimal = Decimal(150)
    sublingual_max_mg: Decimal = Decimal(300)
    intranasal_max_mg: Decimal = Decimal(84)  # never above the label's 84 mg (Spravato PI 2)
    intranasal_max_sessions_per_week: int = 2
    # Ex-US (EU SmPC) option: 28 mg doses and 28 mg steps. Off: the US label's 56 or 84 mg only.
    intranasal_ex_us_28_mg: bool = False
    # Rounding (dosing.md §6): mg to the nearest 1 mg for IV/IM; volume to 0.01 mL below 1 mL (tuberculin
    # syringe), else 0.1 mL; sublingual to whole units (0.5 for a scored troche).
    dose_rounding_mg: Decimal = Decimal(1)
    volume_rounding_small_ml: Decimal = Decimal("0.01")
    volume_rounding_ml: Decimal = Decimal("0.1")
    volume_small_below_ml: Decimal = Decimal(1)
    sublingual_unit_step: Decimal = Decimal(1)
    # Re-weigh each session or when the weight is older than this (monitoring.md §1).
    weight_max_age_days: int = 30
    # Obesity option (dosing.md §6, no psychiatric RCT evidence): dose on adjusted body weight at BMI >= threshold.
    adjusted_weight_when_obese: bool = False
    obesity_bmi_threshold: Decimal = Decimal(30)
    # An IV infusion that ended far sooner than planned (clinical.infusion.short_infusion) warns and needs a reason.
    # Clinic policy, not published figures: dosing.md §2 gives the standard (0.5 mg/kg over 40 minutes, Sanacora
    # 2017) and the durations reported (2-100 minutes, Andrade 2017), but no source says how short an infusion may
    # run before it is a bolus. Under 10 minutes the dose went in more than 4 times faster than the standard 40,
    # nearer a push than the infusion the trials studied, whatever was planned; under half the planned minutes it
    # ran more than twice as fast as ordered, well beyond a timing error, so the nurse records why.
    iv_bolus_minutes: int = 10  # ended in under this many minutes: "bolus"
    iv_far_shorter_percent: int = 50  # ended before this % of the planned minutes: "far shorter than ordered"

    def __post_init__(self) -> None:
        refuse_inconsistent("Dosing", self.version, policy_problems(self))


def policy_problems(policy: DosingPolicy) -> list[str]:
    """Return what is inconsistent in a policy, so a bad setting fails when it is loaded, not in clinic."""
    problems = []
    if not policy.version.strip():
        problems.append("a policy needs a version")
    positive = (
        "iv_max_mg_per_kg",
        "im_max_mg_per_kg",
        "parenteral_max_mg",
        "sublingual_max_mg",
        "intranasal_max_mg",
        "dose_rounding_mg",
        "volume_rounding_small_ml",
        "volume_rounding_ml",
        "volume_small_below_ml",
        "sublingual_unit_step",
        "obesity_bmi_threshold",
    )
    problems += [f"{name} must be above 0" for name in positive if not getattr(policy, name) > 0]
    if policy.intranasal_max_mg > SPRAVATO_LABEL_MAX_MG:
        problems.append("intranasal_max_mg cannot exceed the Spravato label's 84 mg")
    if policy.intranasal_max_mg % SPRAVATO_MG_PER_DEVICE:
        problems.append("intranasal_max_mg must be a whole number of 28 mg devices")
    if policy.intranasal_max_sessions_per_week < 1:
        problems.append("intranasal_max_sessions_per_week must be at least 1")
    if policy.sublingual_unit_step > 1:
        problems.append("sublingual_unit_step is a fraction of one unit (at most 1)")
    if policy.weight_max_age_days < 0:
        problems.append("weight_max_age_days cannot be negative")
    if policy.iv_bolus_minutes < 1:
        problems.append("iv_bolus_minutes must be at least 1")
    if not 1 <= policy.iv_far_shorter_percent <= 100:
        problems.append("iv_far_shorter_percent must be 1-100")
    return problems


DEFAULT_POLICY = DosingPolicy()


@dataclass(frozen=True)
class HardStop:
    """A dose or plan above a policy maximum: the caller refuses unless a prescriber overrides with a reason."""

    code: str
    message: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "source": self.source}


@dataclass(frozen=True)
class SpravatoCourse:
    """Where an esketamine dose falls in the patient's course, for the label's dosing by indication and phase.

    `doses_before`: esketamine doses already given in this course; `course_week`: 1 is the week of the course's
    first dose (this one when none was given); `benefit_reviewed`: the end-of-induction review is on record.
    """

    indication: str | None
    doses_before: int = 0
    course_week: int = 1
    benefit_reviewed: bool = False

    def __post_init__(self) -> None:
        if self.indication is not None and self.indication not in SPRAVATO_INDICATIONS:
            raise ValueError(f"Unknown esketamine indication {self.indication!r}; choose TRD or MDSI.")
        if self.doses_before < 0 or self.course_week < 1:
            raise ValueError("A course starts at week 1 with no dose before it.")


def course_week(first_dose_on: date | None, today: date) -> int:
    """Return the week of the course `today` falls in: 1 from the day of the first dose (or today, when none)."""
    if first_dose_on is None:
        return 1
    days = (today - first_dose_on).days
    if days < 0:
        raise ValueError("The course's first dose cannot be after today.")
    return days // 7 + 1


def spravato_doses(policy: DosingPolicy = DEFAULT_POLICY) -> tuple[Decimal, ...]:
    """Return the esketamine doses the clinic gives: the US label's 56 or 84 mg, with 28 mg by the ex-US option."""
    return SPRAVATO_EX_US_DOSES_MG if policy.intranasal_ex_us_28_mg else SPRAVATO_US_DOSES_MG


def _phase_limit(week: int, indication: str) -> int:
    if indication == "mdsi":
        return 2  # twice weekly throughout; past week 4 has its own stop (Spravato US PI 2.2)
    for last_week, at_most in SPRAVATO_PHASE_SESSIONS_PER_WEEK:
        if last_week is None or week <= last_week:
            return at_most
    raise AssertionError("the last phase has no end")  # pragma: no cover


def _dose_set_stops(amount: Decimal, label: str, code: str, policy: DosingPolicy) -> list[HardStop]:
    """A Spravato dose outside the clinic's dose set: 56 or 84 mg (US label), 28 mg too with the ex-US option."""
    if amount in spravato_doses(policy) or amount % SPRAVATO_MG_PER_DEVICE or amount > SPRAVATO_LABEL_MAX_MG:
        return []  # in the set, or refused by the whole-device and maximum checks
    return [
        HardStop(
            code,
            f"{label} {_fmt(amount)} mg is not a US label dose (56 or 84 mg). 28 mg doses and steps are an ex-US "
            "(EU SmPC) option this clinic has not turned on. A prescriber may proceed only with a written reason.",
            f"{SOURCE_IN_US_DOSES}; {SOURCE_IN_EX_US}",
        )
    ]


def _dose_list(policy: DosingPolicy) -> str:
    doses = [f"{_fmt(dose)} mg" for dose in spravato_doses(policy)]
    return f"{', '.join(doses[:-1])} or {doses[-1]}"


def _dose_source(policy: DosingPolicy) -> str:
    return f"{SOURCE_IN_US_DOSES}; {SOURCE_IN_EX_US}" if policy.intranasal_ex_us_28_mg else SOURCE_IN_US_DOSES


def _indication(course: SpravatoCourse | None) -> str:
    if course is None or course.indication is None:
        raise ValueError(
            "The esketamine indication (TRD or MDSI) is needed before the first esketamine order: the US label "
            "doses them differently (Spravato US PI 2.1, 2.2)."
        )
    return course.indication


def spravato_order_stops(
    dose_mg: Decimal,
    course: SpravatoCourse | None,
    doses_in_previous_6_days: int | None,
    policy: DosingPolicy = DEFAULT_POLICY,
) -> list[HardStop]:
    """Return the hard stops of the US label's esketamine schedule for one dose (dosing.md §5), as a ladder:

    | Rule | Fires when | Source |
    | dose set | not 56 or 84 mg (28 mg too with the ex-US option) | Spravato US PI 2.1-2.2; EU SmPC |
    | TRD start | first TRD dose of the course is 84 mg | Spravato US PI 2.1 |
    | MDSI length | an MDSI dose after week 4 | Spravato US PI 2.2 |
    | frequency | more doses in 7 days than the phase allows (2 in weeks 1-4, then 1) or the policy | PI 2.1 |
    | benefit review | a TRD dose after week 4 with no end-of-induction review recorded | PI 2.1 |

    Raises ValueError without the indication.
    """
    indication = _indication(course)
    assert course is not None
    stops = _dose_set_stops(dose_mg, "Spravato dose", "intranasal_not_label_dose", policy)
    if indication == "trd" and course.doses_before == 0 and dose_mg > SPRAVATO_US_DOSES_MG[0]:
        stops.append(
            HardStop(
                "intranasal_trd_first_dose",
                f"First TRD dose of the course {_fmt(dose_mg)} mg: the label starts at 56 mg on day 1 and gives 84 mg "
                "only after a 56 mg start. A prescriber may proceed only with a written reason.",
                SOURCE_IN_TRD_START,
            )
        )
    week = course.course_week
    if indication == "mdsi" and week > SPRAVATO_INDUCTION_WEEKS:
        stops.append(
            HardStop(
                "intranasal_mdsi_beyond_4_weeks",
                f"Week {week} of an MDSI course: the label doses MDSI twice weekly for 4 weeks, then reassesses. "
                "Continuing needs the prescriber's written reason (or a TRD plan).",
                SOURCE_IN_MDSI,
            )
        )
    if doses_in_previous_6_days is not None:
        if doses_in_previous_6_days < 0:
            raise ValueError("The number of doses in the previous 6 days cannot be negative.")
        count = doses_in_previous_6_days + 1
        limit = min(_phase_limit(week, indication), policy.intranasal_max_sessions_per_week)
        if count > limit:
            phase = (
                "MDSI: twice weekly"
                if indication == "mdsi"
                else (
                    "weeks 1-4: up to twice weekly" if week <= SPRAVATO_INDUCTION_WEEKS else "from week 5: once weekly"
                )
            )
            stops.append(
                HardStop(
                    "intranasal_above_max_sessions_per_week",
                    f"This would be Spravato dose {count} within 7 days, in week {week} of the course ({phase}; "
                    f"policy at most {policy.intranasal_max_sessions_per_week} a week). A prescriber may proceed "
                    "only with a written reason.",
                    SOURCE_IN_FREQUENCY,
                )
            )
    if indication == "trd" and week > SPRAVATO_INDUCTION_WEEKS and not course.benefit_reviewed:
        stops.append(
            HardStop(
                "intranasal_benefit_review_due",
                f"Week {week}: induction (weeks 1-4) is over. Evaluate the therapeutic benefit before continuing; "
                "write the review (e.g. the change in PHQ-9 or MADRS) as the reason to continue.",
                SOURCE_IN_REVIEW,
            )
        )
    return stops


def spravato_plan_stops(
    indication: str | None,
    starting_dose: Decimal,
    session_days: Sequence[int],
    *,
    continues_course: bool = False,
    ceiling: Decimal | None = None,
    step: Decimal | None = None,
    policy: DosingPolicy = DEFAULT_POLICY,
) -> list[HardStop]:
    """Return the hard stops of the label's schedule for an esketamine plan (dosing.md §5).

    `session_days` are the planned sessions' days from the course's first dose (0 = that day). The starting dose
    is the course's first dose unless the plan `continues_course`. Raises ValueError without the indication.
    """
    indication = _indication(SpravatoCourse(indication))
    stops = _dose_set_stops(starting_dose, "Spravato starting dose", "intranasal_not_label_dose", policy)
    if ceiling is not None:
        stops += _dose_set_stops(ceiling, "Spravato titration ceiling", "intranasal_not_label_dose_ceiling", policy)
    # A step of whole devices from a dose in the set to a ceiling in the set stays in the set (56 -> 84 is one
    # 28 mg step the US label allows); only a step of part of a device can leave it.
    if step is not None and step % SPRAVATO_MG_PER_DEVICE:
        stops.append(
            HardStop(
                "intranasal_not_whole_devices_step",
                f"Spravato titration step {_fmt(step)} mg is not a whole number of 28 mg devices.",
                SOURCE_IN_DEVICES,
            )
        )
    if indication == "trd" and not continues_course and starting_dose > SPRAVATO_US_DOSES_MG[0]:
        stops.append(
            HardStop(
                "intranasal_trd_first_dose",
                f"A TRD course starting at {_fmt(starting_dose)} mg: the label starts at 56 mg on day 1 and gives "
                "84 mg only after a 56 mg start. A prescriber may proceed only with a written reason.",
                SOURCE_IN_TRD_START,
            )
        )
    days = sorted(session_days)
    if indication == "mdsi" and days and days[-1] // 7 + 1 > SPRAVATO_INDUCTION_WEEKS:
        stops.append(
            HardStop(
                "intranasal_mdsi_beyond_4_weeks",
                f"The plan runs into week {days[-1] // 7 + 1}: the label doses MDSI twice weekly for 4 weeks, then "
                "reassesses. Plan 4 weeks, or continue under a TRD plan.",
                SOURCE_IN_MDSI,
            )
        )
    for day in days:
        week = day // 7 + 1
        in_window = sum(1 for other in days if day - 7 < other <= day)
        if in_window > _phase_limit(week, indication):
            stops.append(
                HardStop(
                    "intranasal_above_phase_frequency",
                    f"Session on day {day + 1} of the course (week {week}) would be dose {in_window} within 7 days: "
                    "the label gives twice weekly in weeks 1-4 and once weekly from week 5 (then weekly or every "
                    "2 weeks). Plan the maintenance phase as its own weekly plan after the benefit review.",
                    SOURCE_IN_FREQUENCY,
                )
            )
            break
    return stops


@dataclass(frozen=True)
class TitrationRule:
    """How the dose may change across sessions, in the plan's unit (mg/kg for IV/IM, mg otherwise).

    "none": the same dose every session. "step": the dose rises by `step` only at a session the prescriber marks
    "escalate", and only after `after_sessions` sessions; never above `ceiling` or the policy maximum.
    """

    kind: str = "none"
    step: Decimal | None = None
    ceiling: Decimal | None = None
    after_sessions: int = 1  # escalation allowed from session after_sessions + 1

    def __post_init__(self) -> None:
        if self.kind not in TITRATION_KINDS:
            raise ValueError(f"Unknown titration {self.kind!r}; choose one of {', '.join(TITRATION_KINDS)}.")
        if self.kind == "step":
            object.__setattr__(self, "step", _positive(self.step, "The titration step"))
            object.__setattr__(self, "ceiling", _positive(self.ceiling, "The titration ceiling"))
        if self.after_sessions < 0:
            raise ValueError("A titration cannot start before the first session.")

    def describe(self, unit: str = "mg/kg") -> str:
        """Return the rule in plain words, e.g. for the plan page and the signed order."""
        if self.kind == "none" or self.step is None or self.ceiling is None:
            return "No titration: the same dose every session."
        start = self.after_sessions + 1
        return (
            f"Step up by {_amount(self.step, unit)} at a session the prescriber marks to escalate, from session "
            f"{start} on, never above {_amount(self.ceiling, unit)} or the policy maximum."
        )


@dataclass(frozen=True)
class DosePlan:
    """What the treatment plan orders: the route, the starting dose in the route's unit, and the titration."""

    route: str
    starting_dose: Decimal  # mg/kg for IV and IM; fixed mg for intranasal and sublingual
    titration: TitrationRule = TitrationRule()

    def __post_init__(self) -> None:
        _check_route(self.route)
        start = _positive(self.starting_dose, "The starting dose")
        object.__setattr__(self, "starting_dose", start)
        ceiling = self.titration.ceiling
        if self.titration.kind == "step" and ceiling is not None and ceiling < start:
            raise ValueError(
                f"The titration ceiling {_amount(ceiling, self.unit)} is below the starting dose "
                f"{_amount(start, self.unit)}."
            )

    @property
    def unit(self) -> str:
        return dose_unit(self.route)


@dataclass(frozen=True)
class TargetDose:
    """This session's dose in the plan's unit, and how it was reached."""

    dose: Decimal
    unit: str
    escalated: bool
    working: tuple[str, ...]


@dataclass(frozen=True)
class DoseCalculation:
    """The calculated dose with its working: what the prescriber signs and the nurse draws up."""

    route: str
    dose_mg: Decimal  # the rounded dose ordered
    measured_mg: Decimal  # mg in the measured volume or units: what is drawn up and recorded as given
    volume_ml: Decimal | None  # IV and IM
    units: Decimal | None  # devices (intranasal) or troches (sublingual)
    unit_name: str | None  # "device" or "troche"
    concentration: Decimal  # mg/mL (IV/IM), mg per troche (sublingual), 28 mg per device (intranasal)
    dose_mg_per_kg: Decimal | None  # the ordered mg/kg (IV/IM)
    weight_kg: Decimal | None  # the weight the dose is calculated on (actual or adjusted)
    actual_weight_kg: Decimal | None
    weight_basis: str | None  # "actual" or "adjusted" (IV/IM)
    escalated: bool
    working: tuple[str, ...]
    hard_stops: tuple[HardStop, ...] = ()
    notes: tuple[str, ...] = ()
    policy_version: str = POLICY_VERSION
    rules_version: str = DOSING_RULES_VERSION

    @property
    def blocked(self) -> bool:
        """True when a hard stop fired: the order needs a prescriber override with a written reason."""
        return bool(self.hard_stops)

    def as_dict(self) -> dict[str, object]:
        """Return the calculation as JSON-safe values (Decimals as strings, so nothing is lost)."""

        def text(value: Decimal | None) -> str | None:
            return None if value is None else _fmt(value)

        return {
            "route": self.route,
            "dose_mg": text(self.dose_mg),
            "measured_mg": text(self.measured_mg),
            "volume_ml": text(self.volume_ml),
            "units": text(self.units),
            "unit_name": self.unit_name,
            "concentration": text(self.concentration),
            "dose_mg_per_kg": text(self.dose_mg_per_kg),
            "weight_kg": text(self.weight_kg),
            "actual_weight_kg": text(self.actual_weight_kg),
            "weight_basis": self.weight_basis,
            "escalated": self.escalated,
            "working": list(self.working),
            "hard_stops": [stop.as_dict() for stop in self.hard_stops],
            "notes": list(self.notes),
            "policy_version": self.policy_version,
            "rules_version": self.rules_version,
        }


# --- Helpers ------------------------------------------------------------------------------------------------


def _dec(value: object, what: str) -> Decimal:
    """Return `value` as a finite Decimal; floats are refused so no binary rounding reaches a dose."""
    if isinstance(value, bool | float):
        raise ValueError(f"{what} must be a Decimal, an int or a numeric string, not {type(value).__name__}.")
    if not isinstance(value, Decimal | int | str):
        raise ValueError(f"{what} must be a number.")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{what} {value!r} is not a number.") from None
    if not number.is_finite():
        raise ValueError(f"{what} must be a finite number.")
    return number


def _positive(value: object, what: str) -> Decimal:
    if value is None:
        raise ValueError(f"{what} is missing.")
    number = _dec(value, what)
    if number <= 0:
        raise ValueError(f"{what} must be above 0 (got {_fmt(number)}).")
    return number


def _fmt(value: Decimal) -> str:
    """Plain digits without trailing zeros: 39.00 -> "39", 0.780 -> "0.78"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _fmt1(value: Decimal) -> str:
    """At least one decimal place, as in the notes' worked example ("78.0 kg", "39.0 mg")."""
    text = _fmt(value)
    return text if "." in text else f"{text}.0"


def _amount(value: Decimal, unit: str) -> str:
    """A dose with its unit: mg/kg keeps one decimal ("1.0 mg/kg"), mg drops trailing zeros ("84 mg")."""
    return f"{_fmt1(value) if unit == 'mg/kg' else _fmt(value)} {unit}"


def _round_to(value: Decimal, step: Decimal) -> Decimal:
    # Nearest step; an exact tie goes to the lower dose, so rounding never adds drug on a coin toss.
    return (value / step).quantize(Decimal(1), rounding=ROUND_HALF_DOWN) * step


def _plural(count: Decimal, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _check_route(route: str) -> None:
    if route not in ROUTES:
        raise ValueError(f"Unknown route {route!r}; choose one of {', '.join(ROUTES)}.")


def dose_unit(route: str) -> str:
    """Return the unit a plan's dose is written in for `route`: "mg/kg" (IV, IM) or "mg"."""
    _check_route(route)
    return "mg/kg" if route in WEIGHT_BASED_ROUTES else "mg"


def route_maximum(route: str, policy: DosingPolicy = DEFAULT_POLICY) -> Decimal:
    """Return the policy's per-session maximum for `route`, in the route's unit (mg/kg or mg)."""
    _check_route(route)
    return {
        "iv": policy.iv_max_mg_per_kg,
        "im": policy.im_max_mg_per_kg,
        "intranasal": policy.intranasal_max_mg,
        "sublingual": policy.sublingual_max_mg,
    }[route]


def check_weight(weight_kg: object) -> Decimal:
    """Return the weight as Decimal kg, or raise ValueError for an impossible entry (<= 0 or > 400 kg)."""
    if weight_kg is None:
        raise ValueError("The weight is missing.")
    weight = _dec(weight_kg, "The weight")
    low, high = WEIGHT_LIMITS_KG
    if not low < weight <= high:
        raise ValueError(
            f"A weight of {_fmt(weight)} kg is not possible (above {low} and at most {high} kg): re-weigh."
        )
    return weight


def check_weight_age(measured_on: date, today: date, policy: DosingPolicy = DEFAULT_POLICY) -> int:
    """Return the weight's age in days, or raise ValueError when it is in the future or older than the policy allows."""
    age = (today - measured_on).days
    if age < 0:
        raise ValueError(f"The weight is dated {day_text(measured_on)}, after today ({day_text(today)}).")
    if age > policy.weight_max_age_days:
        raise ValueError(
            f"The weight was measured {age} days ago ({day_text(measured_on)}); the policy allows "
            f"{policy.weight_max_age_days} days for mg/kg dosing: re-weigh today."
        )
    return age


def dosing_weight(
    weight_kg: Decimal,
    *,
    height_cm: Decimal | None = None,
    sex_at_birth: str | None = None,
    policy: DosingPolicy = DEFAULT_POLICY,
) -> tuple[Decimal, str, list[str]]:
    """Return the weight to dose on, its basis ("actual" or "adjusted") and the working lines.

    Actual body weight unless the obesity option is on and BMI >= the threshold; then the adjusted body weight
    AdjBW = IBW + 0.4 x (TBW - IBW), with the Devine IBW (dosing.md §6; [policy], no psychiatric RCT evidence).
    """
    weight = check_weight(weight_kg)
    if not policy.adjusted_weight_when_obese:
        return weight, "actual", [f"Weight {_fmt1(weight)} kg (actual body weight)."]
    if height_cm is None:
        raise ValueError("The obesity option is on: the height is needed to work out the BMI.")
    height = _dec(height_cm, "The height")
    low, high = HEIGHT_LIMITS_CM
    if not low <= height <= high:
        raise ValueError(f"A height of {_fmt(height)} cm is outside {low}-{high} cm: check the entry.")
    bmi = (weight / (height / 100) ** 2).quantize(KG, rounding=ROUND_HALF_UP)
    threshold = policy.obesity_bmi_threshold
    if bmi < threshold:
        line = f"Weight {_fmt1(weight)} kg (actual body weight; BMI {_fmt1(bmi)} is below {_fmt(threshold)}, policy)."
        return weight, "actual", [line]
    lines = [
        f"BMI {_fmt1(bmi)} is at least {_fmt(threshold)}: dosing on adjusted body weight (obesity option, policy)."
    ]
    # Devine has no formula for anyone but male or female: the female one gives the lower weight, hence the lower dose.
    sex = sex_at_birth if sex_at_birth in DEVINE_BASE_KG else "female"
    base = DEVINE_BASE_KG[sex]
    inches_over = max((height / CM_PER_INCH - 60).quantize(KG, rounding=ROUND_HALF_DOWN), Decimal(0))
    ibw = (base + DEVINE_KG_PER_INCH * inches_over).quantize(KG, rounding=ROUND_HALF_DOWN)
    formula = f"Devine, {sex}" if sex == sex_at_birth else f"Devine, female formula: sex at birth is {sex_at_birth}"
    lines.append(
        f"IBW ({formula}) = {_fmt(base)} kg + 2.3 kg {TIMES} {_fmt1(inches_over)} in over 60 in = {_fmt1(ibw)} kg."
    )
    if weight <= ibw:
        lines.append(f"Actual weight {_fmt1(weight)} kg is not above the IBW: dosing on actual weight.")
        return weight, "actual", lines
    adjusted = (ibw + ADJUSTED_WEIGHT_FACTOR * (weight - ibw)).quantize(KG, rounding=ROUND_HALF_DOWN)
    lines.append(f"AdjBW = {_fmt1(ibw)} + 0.4 {TIMES} ({_fmt1(weight)} {MINUS} {_fmt1(ibw)}) = {_fmt1(adjusted)} kg.")
    return adjusted, "adjusted", lines


# --- Target dose (titration) --------------------------------------------------------------------------------


def target_dose(
    plan: DosePlan,
    *,
    session_number: int,
    escalate: bool = False,
    previous_dose: Decimal | None = None,
    policy: DosingPolicy = DEFAULT_POLICY,
) -> TargetDose:
    """Return this session's dose in the plan's unit.

    Deterministic: without titration, the plan's dose. With a step rule the dose stays at the previous session's
    dose (the starting dose when none is given) unless the prescriber marks this session "escalate"; then it rises
    by one step, never above the plan's ceiling or the policy maximum. A starting dose above the policy maximum
    is not lowered here: `calculate_dose` reports it as a hard stop for the prescriber.
    """
    if session_number < 1:
        raise ValueError("Session numbers start at 1.")
    unit, rule, start = plan.unit, plan.titration, plan.starting_dose
    if rule.kind == "none" or rule.step is None or rule.ceiling is None:
        if escalate:
            raise ValueError("This plan has no titration: changing the dose needs a new plan.")
        return TargetDose(start, unit, False, (f"Dose {_amount(start, unit)}: the plan's dose (no titration).",))
    ceiling = rule.ceiling
    if previous_dose is None:
        base = start
        lines = [f"Starting dose {_amount(start, unit)} (no previous dose given)."]
    else:
        base = _positive(previous_dose, "The previous dose")
        lines = [f"Previous session's dose {_amount(base, unit)}."]
    if not escalate:
        if base > ceiling:
            lines.append(f"Lowered to the plan's ceiling {_amount(ceiling, unit)}.")
            return TargetDose(ceiling, unit, False, tuple(lines))
        lines.append(f"Dose {_amount(base, unit)}: not escalated this session.")
        return TargetDose(base, unit, False, tuple(lines))
    if session_number <= rule.after_sessions:
        raise ValueError(
            f"The plan allows a step-up from session {rule.after_sessions + 1}; this is session {session_number}."
        )
    maximum = route_maximum(plan.route, policy)
    limit, limit_name = (ceiling, "the plan's ceiling") if ceiling <= maximum else (maximum, "the policy maximum")
    if base >= limit:
        dose = min(base, ceiling)
        lines.append(f"Already at {limit_name} {_amount(limit, unit)}: no further step; dose {_amount(dose, unit)}.")
        return TargetDose(dose, unit, False, tuple(lines))
    raised = base + rule.step
    step_line = (
        f"{_amount(base, unit)} + step {_amount(rule.step, unit)} = {_amount(raised, unit)} "
        f"(escalated at session {session_number})"
    )
    if raised > limit:
        lines.append(f"{step_line}, capped at {limit_name} {_amount(limit, unit)}.")
        return TargetDose(limit, unit, True, tuple(lines))
    lines.append(f"{step_line}.")
    return TargetDose(raised, unit, True, tuple(lines))


# --- Dose calculation ---------------------------------------------------------------------------------------


def calculate_dose(
    plan: DosePlan,
    *,
    weight_kg: Decimal | None = None,
    concentration: Decimal | None = None,
    session_number: int = 1,
    escalate: bool = False,
    previous_dose: Decimal | None = None,
    height_cm: Decimal | None = None,
    sex_at_birth: str | None = None,
    weight_measured_on: date | None = None,
    today: date | None = None,
    doses_in_previous_6_days: int | None = None,
    spravato: SpravatoCourse | None = None,
    policy: DosingPolicy = DEFAULT_POLICY,
) -> DoseCalculation:
    """Return this session's dose, volume or units, the working, and any hard stops.

    `concentration` is mg/mL for IV and IM, mg per troche for sublingual, and 28 mg per device for intranasal
    (the default there). `previous_dose` is the last session's dose in the plan's unit, for titration.
    `doses_in_previous_6_days` (intranasal) counts Spravato doses on the 6 calendar days before today, so with
    today's dose it is a 7-day window: Monday and Thursday doses never put a third dose in one window.
    `spravato` (intranasal, required) places the dose in the course: indication, doses before, week.
    """
    target = target_dose(
        plan, session_number=session_number, escalate=escalate, previous_dose=previous_dose, policy=policy
    )
    if plan.route in WEIGHT_BASED_ROUTES:
        return _parenteral(
            plan, target, weight_kg, concentration, height_cm, sex_at_birth, weight_measured_on, today, policy
        )
    info_weight = None if weight_kg is None else check_weight(weight_kg)
    if plan.route == "sublingual":
        return _sublingual(target, info_weight, concentration, policy)
    return _intranasal(target, info_weight, concentration, doses_in_previous_6_days, spravato, policy)


def _parenteral(
    plan: DosePlan,
    target: TargetDose,
    weight_kg: Decimal | None,
    concentration: Decimal | None,
    height_cm: Decimal | None,
    sex_at_birth: str | None,
    weight_measured_on: date | None,
    today: date | None,
    policy: DosingPolicy,
) -> DoseCalculation:
    route = plan.route
    name = ROUTE_NAMES[route]
    if weight_kg is None:
        raise ValueError(f"{name} dosing is in mg/kg: today's weight is needed.")
    actual = check_weight(weight_kg)
    if weight_measured_on is not None and today is not None:
        check_weight_age(weight_measured_on, today, policy)
    strength = _positive(concentration, "The concentration (mg/mL)")
    weight, basis, weight_lines = dosing_weight(actual, height_cm=height_cm, sex_at_birth=sex_at_birth, policy=policy)
    per_kg = target.dose
    working = [*target.working, *weight_lines]
    raw_mg = per_kg * weight
    working.append(f"{_amount(per_kg, 'mg/kg')} {TIMES} {_fmt1(weight)} kg = {_fmt1(raw_mg)} mg.")
    dose_mg = _round_to(raw_mg, policy.dose_rounding_mg)
    if dose_mg <= 0:
        raise ValueError(f"{_fmt1(raw_mg)} mg rounds to 0 mg: check the dose and the weight.")
    working.append(f"Rounded to {_fmt(dose_mg)} mg (nearest {_fmt(policy.dose_rounding_mg)} mg, policy).")
    raw_ml = dose_mg / strength
    small = raw_ml < policy.volume_small_below_ml
    step = policy.volume_rounding_small_ml if small else policy.volume_rounding_ml
    volume = _round_to(raw_ml, step)
    if volume <= 0:
        raise ValueError(
            f"{_fmt(dose_mg)} mg at {_fmt(strength)} mg/mL is too small a volume to measure: use a lower concentration."
        )
    exact = raw_ml.quantize(MG) == raw_ml
    line = f"{_fmt(dose_mg)} mg ÷ {_fmt(strength)} mg/mL {'=' if exact else '≈'} {_fmt(raw_ml.quantize(MG))} mL"
    if volume != raw_ml:
        where = f"below {_fmt(policy.volume_small_below_ml)} mL" if small else "otherwise"
        line += f", rounded to {_fmt(volume)} mL (nearest {_fmt(step)} mL {where}, policy)"
    working.append(f"{line}.")
    measured = volume * strength
    if measured != dose_mg:
        working.append(f"{_fmt(volume)} mL {TIMES} {_fmt(strength)} mg/mL = {_fmt(measured)} mg drawn up and given.")
    stops: list[HardStop] = []
    per_kg_max, source = (
        (policy.iv_max_mg_per_kg, SOURCE_IV_MAX) if route == "iv" else (policy.im_max_mg_per_kg, SOURCE_IM_MAX)
    )
    # The mg/kg stop checks what was ordered: 1 mg rounding must not trip it for a dose ordered at the maximum.
    if per_kg > per_kg_max:
        stops.append(_above(f"{route}_above_max_mg_per_kg", f"{name} dose", per_kg, per_kg_max, "mg/kg", source))
    largest = max(dose_mg, measured)
    if largest > policy.parenteral_max_mg:
        stops.append(
            _above(
                "parenteral_above_max_mg",
                f"{name} dose",
                largest,
                policy.parenteral_max_mg,
                "mg",
                SOURCE_PARENTERAL_MAX,
                "for any single parenteral dose",
            )
        )
    notes = ["A second licensed person verifies drug, concentration, dose and volume (dosing.md §6, policy)."]
    if route == "iv" and strength >= 100:
        notes.append("100 mg/mL must be diluted before IV use (Ketalar PI).")
    return DoseCalculation(
        route=route,
        dose_mg=dose_mg,
        measured_mg=measured,
        volume_ml=volume,
        units=None,
        unit_name=None,
        concentration=strength,
        dose_mg_per_kg=per_kg,
        weight_kg=weight,
        actual_weight_kg=actual,
        weight_basis=basis,
        escalated=target.escalated,
        working=tuple(working),
        hard_stops=tuple(stops),
        notes=tuple(notes),
        policy_version=policy.version,
    )


def _info_per_kg(dose_mg: Decimal, weight: Decimal | None) -> list[str]:
    if weight is None:
        return []
    per_kg = (dose_mg / weight).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return [f"That is about {_fmt(per_kg)} mg/kg at {_fmt1(weight)} kg (for information)."]


def _sublingual(
    target: TargetDose, weight: Decimal | None, concentration: Decimal | None, policy: DosingPolicy
) -> DoseCalculation:
    strength = _positive(concentration, "The product strength (mg per troche)")
    working = list(target.working)
    raw_units = target.dose / strength
    units = _round_to(raw_units, policy.sublingual_unit_step)
    if units <= 0:
        raise ValueError(
            f"{_fmt(target.dose)} mg rounds to 0 troches of {_fmt(strength)} mg: choose a lower-strength product."
        )
    exact = raw_units.quantize(MG) == raw_units
    working.append(
        f"{_fmt(target.dose)} mg ÷ {_fmt(strength)} mg per troche {'=' if exact else '≈'} "
        f"{_fmt(raw_units.quantize(MG))} {_plural(raw_units, 'troche')}."
    )
    step = "whole troche" if policy.sublingual_unit_step == 1 else f"{_fmt(policy.sublingual_unit_step)} troche"
    working.append(f"Rounded to {_fmt(units)} {_plural(units, 'troche')} (nearest {step}, policy).")
    dose_mg = units * strength
    working.append(f"{_fmt(units)} {TIMES} {_fmt(strength)} mg = {_fmt(dose_mg)} mg.")
    working += _info_per_kg(dose_mg, weight)
    stops = []
    if dose_mg > policy.sublingual_max_mg:
        stops.append(
            _above("sublingual_above_max_mg", "Sublingual dose", dose_mg, policy.sublingual_max_mg, "mg", SOURCE_SL_MAX)
        )
    notes = (
        "Record the troches given, time in mouth, and whether saliva was swallowed or spat (dosing.md §4).",
        "Compounded product, not FDA-approved (FDA safety communication, 10 Oct 2023).",
    )
    return _whole_units("sublingual", target, dose_mg, units, "troche", strength, weight, working, stops, notes, policy)


def _intranasal(
    target: TargetDose,
    weight: Decimal | None,
    concentration: Decimal | None,
    doses_in_previous_6_days: int | None,
    course: SpravatoCourse | None,
    policy: DosingPolicy,
) -> DoseCalculation:
    strength = SPRAVATO_MG_PER_DEVICE if concentration is None else _dec(concentration, "The device strength")
    if strength != SPRAVATO_MG_PER_DEVICE:
        raise ValueError(f"Spravato devices hold 28 mg each (Spravato PI 2), not {_fmt(strength)} mg.")
    devices = target.dose / strength
    if devices != devices.to_integral_value():
        raise ValueError(
            f"{_fmt(target.dose)} mg is not a whole number of 28 mg Spravato devices: use "
            f"{_dose_list(policy)} ({_dose_source(policy)})."
        )
    working = [
        *target.working,
        f"{_fmt(target.dose)} mg ÷ 28 mg per device = {_fmt(devices)} {_plural(devices, 'device')} "
        "(Spravato PI 2: 28 mg per device).",
    ]
    working += _info_per_kg(target.dose, weight)
    stops = []
    if target.dose > policy.intranasal_max_mg:
        stops.append(
            _above(
                "intranasal_above_max_mg",
                "Spravato dose",
                target.dose,
                policy.intranasal_max_mg,
                "mg",
                SOURCE_IN_MAX,
                "per session",
            )
        )
    stops += spravato_order_stops(target.dose, course, doses_in_previous_6_days, policy)
    assert course is not None and course.indication is not None  # spravato_order_stops refuses without them
    working.insert(
        len(target.working),
        f"Indication {course.indication.upper()}; week {course.course_week} of the course, "
        f"{course.doses_before} esketamine {'dose' if course.doses_before == 1 else 'doses'} before this one.",
    )
    notes_list = [
        "Patient self-administers under direct supervision; 5-minute rest between devices; do not prime "
        "(Spravato PI 2)."
    ]
    if target.dose not in SPRAVATO_US_DOSES_MG and target.dose in spravato_doses(policy):
        notes_list.append(f"{_fmt(target.dose)} mg is ex-US dosing ({SOURCE_IN_EX_US}), not a US label dose.")
    notes = tuple(notes_list)
    return _whole_units(
        "intranasal", target, target.dose, devices, "device", strength, weight, working, stops, notes, policy
    )


def _whole_units(
    route: str,
    target: TargetDose,
    dose_mg: Decimal,
    units: Decimal,
    unit_name: str,
    strength: Decimal,
    weight: Decimal | None,
    working: list[str],
    stops: list[HardStop],
    notes: tuple[str, ...],
    policy: DosingPolicy,
) -> DoseCalculation:
    """A dose given as whole units of a fixed strength (troches, Spravato devices): nothing drawn up, not per kg."""
    return DoseCalculation(
        route=route,
        dose_mg=dose_mg,
        measured_mg=dose_mg,
        volume_ml=None,
        units=units,
        unit_name=unit_name,
        concentration=strength,
        dose_mg_per_kg=None,
        weight_kg=weight,
        actual_weight_kg=weight,
        weight_basis=None,
        escalated=target.escalated,
        working=tuple(working),
        hard_stops=tuple(stops),
        notes=notes,
        policy_version=policy.version,
    )


def _above(
    code: str, what: str, amount: Decimal, limit: Decimal, unit: str, source: str, scope: str = "per session"
) -> HardStop:
    return HardStop(
        code,
        f"{what} {_amount(amount, unit)} is above the policy maximum of {_amount(limit, unit)} {scope}. "
        "A prescriber may proceed only with a written reason.",
        source,
    )


# --- Waste and plan checks ----------------------------------------------------------------------------------


def waste_mg(volume_drawn_ml: Decimal, volume_given_ml: Decimal, concentration_mg_per_ml: Decimal) -> Decimal:
    """Return the mg to waste: (volume drawn - volume given) x concentration (dosing.md §6), to 0.001 mg.

    Worked example (dosing.md §6): 1.0 mL of 50 mg/mL drawn, 0.78 mL given -> 0.22 mL = 11 mg.
    """
    drawn = _positive(volume_drawn_ml, "The volume drawn")
    given = _dec(volume_given_ml, "The volume given")
    strength = _positive(concentration_mg_per_ml, "The concentration (mg/mL)")
    if given < 0:
        raise ValueError("The volume given cannot be negative.")
    if given > drawn:
        raise ValueError(
            f"The volume given ({_fmt(given)} mL) is more than the volume drawn ({_fmt(drawn)} mL): check both."
        )
    return ((drawn - given) * strength).quantize(MG, rounding=ROUND_HALF_UP)


def plan_dose_check(
    route: str,
    dose: Decimal,
    sessions_per_week: Decimal | int,
    policy: DosingPolicy = DEFAULT_POLICY,
    *,
    ceiling: Decimal | None = None,
) -> list[HardStop]:
    """Return the hard stops a treatment plan hits: starting dose or ceiling above the route maximum, a Spravato
    dose that is not whole 28 mg devices, or Spravato more often than the policy's sessions per week.

    `dose` and `ceiling` are in the route's unit (mg/kg for IV/IM, mg otherwise). The 150 mg parenteral cap
    needs a weight, so it is checked per session by `calculate_dose`. A fixed every-3-days series is 7/3 = 2.33
    sessions a week (3 doses in some 7-day windows), so it exceeds a twice-weekly limit.
    """
    _check_route(route)
    unit = dose_unit(route)
    maximum = route_maximum(route, policy)
    per_week = _positive(sessions_per_week, "Sessions per week")
    source = {"iv": SOURCE_IV_MAX, "im": SOURCE_IM_MAX, "intranasal": SOURCE_IN_MAX, "sublingual": SOURCE_SL_MAX}[route]
    name = ROUTE_NAMES[route]
    stops: list[HardStop] = []
    amounts = [("", "starting dose", _positive(dose, "The dose"))]
    if ceiling is not None:
        amounts.append(("_ceiling", "titration ceiling", _positive(ceiling, "The titration ceiling")))
    for suffix, label, amount in amounts:
        if amount > maximum:
            stops.append(
                _above(
                    f"{route}_above_max_{unit.replace('/', '_per_')}{suffix}",
                    f"{name} {label}",
                    amount,
                    maximum,
                    unit,
                    source,
                )
            )
        if route == "intranasal" and amount % SPRAVATO_MG_PER_DEVICE:
            stops.append(
                HardStop(
                    f"intranasal_not_whole_devices{suffix}",
                    f"{name} {label} {_fmt(amount)} mg is not a whole number of 28 mg devices: use "
                    f"{_dose_list(policy)}.",
                    f"{SOURCE_IN_DEVICES}; {_dose_source(policy)}",
                )
            )
    if route == "intranasal" and per_week > policy.intranasal_max_sessions_per_week:
        shown = per_week.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        stops.append(
            HardStop(
                "intranasal_above_max_sessions_per_week",
                f"{_fmt(shown)} Spravato sessions a week is above the policy maximum of "
                f"{policy.intranasal_max_sessions_per_week} a week. A prescriber may proceed only with a written "
                "reason.",
                SOURCE_IN_FREQUENCY,
            )
        )
    return stops


__all__ = [
    "DEFAULT_POLICY",
    "DOSING_RULES_VERSION",
    "FIXED_DOSE_ROUTES",
    "POLICY_VERSION",
    "ROUTES",
    "SPRAVATO_MG_PER_DEVICE",
    "WEIGHT_BASED_ROUTES",
    "DoseCalculation",
    "DosePlan",
    "DosingPolicy",
    "HardStop",
    "SpravatoCourse",
    "TargetDose",
    "TitrationRule",
    "calculate_dose",
    "check_weight",
    "check_weight_age",
    "course_week",
    "dose_unit",
    "dosing_weight",
    "plan_dose_check",
    "policy_problems",
    "route_maximum",
    "spravato_doses",
    "spravato_order_stops",
    "spravato_plan_stops",
    "target_dose",
    "waste_mg",
]

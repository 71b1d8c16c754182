"""Score trajectories: each total over time with its band and whether it meets response and remission.

Plain Python, no Django, like `instruments`: the chart, the portal and later reports take the same answer.
Definitions are those of ../shared/domain/outcomes.md section 2 as coded in `instruments.response` and
`instruments.remission`; an instrument without a documented rule is never marked for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from math import sqrt

from kapclinic.clinical import instruments
from kapclinic.clinical.instruments import Instrument
from kapclinic.clinical.schedule import add_months


@dataclass(frozen=True)
class TrajectoryPoint:
    """One scored response on the trajectory.

    `response` and `remission` are None when the instrument has no such rule; `response` is False at and
    before the baseline (nothing to compare with).
    """

    at: datetime
    total: int
    band: str | None
    is_baseline: bool
    response: bool | None
    remission: bool | None


@dataclass(frozen=True)
class Trajectory:
    """An instrument's totals in time order, the baseline, and when response and remission were first met."""

    instrument: str
    points: tuple[TrajectoryPoint, ...]
    has_response_rule: bool
    has_remission_rule: bool
    first_response: datetime | None
    first_remission: datetime | None

    @property
    def baseline(self) -> TrajectoryPoint | None:
        return next((point for point in self.points if point.is_baseline), None)


def trajectory(
    instrument: Instrument, points: Sequence[tuple[datetime, int]], *, first_dose: datetime | None = None
) -> Trajectory:
    """Return the trajectory of `points` (when, total) for `instrument`, sorted by time.

    The baseline is the first point, or with `first_dose` given the last point at or before it (outcomes.md:
    "Baseline: last score before first dose"), falling back to the first point when none precedes the dose.
    Raise ValueError for a total outside the instrument's range or an instrument without a total.
    """
    ordered = sorted(points, key=lambda point: point[0])
    baseline_index = _baseline_index(ordered, first_dose)
    baseline_total = ordered[baseline_index][1] if ordered else 0
    has_response = instrument.response_rule is not None
    has_remission = instrument.remission is not None
    result: list[TrajectoryPoint] = []
    for index, (at, total) in enumerate(ordered):
        band = instruments.band_for(instrument, total)
        responded: bool | None = None
        if has_response:
            responded = index > baseline_index and instruments.response(baseline_total, total, instrument)
        result.append(
            TrajectoryPoint(
                at=at,
                total=total,
                band=None if band is None else band.label,
                is_baseline=index == baseline_index,
                response=responded,
                remission=instruments.remission(total, instrument) if has_remission else None,
            )
        )
    return Trajectory(
        instrument=instrument.code,
        points=tuple(result),
        has_response_rule=has_response,
        has_remission_rule=has_remission,
        first_response=next((point.at for point in result if point.response), None),
        first_remission=next((point.at for point in result if point.remission), None),
    )


def _baseline_index(ordered: Sequence[tuple[datetime, int]], first_dose: datetime | None) -> int:
    if first_dose is None:
        return 0
    before = [index for index, (at, _) in enumerate(ordered) if at <= first_dose]
    return before[-1] if before else 0


# --- A course's outcome, prompts and durability (issue 19) ----------------------------------------------------
#
# Every rule answers True, False or None; None means the record cannot tell (a score is missing or the
# instrument has no such rule), and the reason says which. Nothing is imputed (outcomes.md section 3: state how
# missing follow-ups were handled — here they are counted as missing, never carried forward).

# outcomes.md section 1: "Baseline (within 14 days before first dose)".
BASELINE_WINDOW = timedelta(days=14)
# outcomes.md section 1: "End of course (within 7 days of last dose)".
END_OF_COURSE_WINDOW = timedelta(days=7)
# outcomes.md section 2: "Partial response: 25-49% reduction" [policy].
PARTIAL_RESPONSE_PERCENT = 25
# Issue 19 [policy]: early non-response is less than 25 % improvement after the induction phase.
EARLY_NON_RESPONSE_PERCENT = 25
# The induction phase [policy]: APA consensus (Sanacora 2017) reconsiders after about 3-4 sessions
# [unverified number]; the Spravato PI evaluates at the end of the 4-week induction.
INDUCTION_DOSES = 4
# outcomes.md section 2 Relapse: "on 2 consecutive assessments" [policy].
RELAPSE_CONSECUTIVE = 2
# outcomes.md section 1 window tolerances [policy]: 1 month +/- 7 days, 3 months +/- 14, 6 months +/- 30.
DURABILITY_WINDOWS: tuple[tuple[int, int], ...] = ((1, 7), (3, 14), (6, 30))

SOURCE_BASELINE = "outcomes.md section 2 Baseline: last score before first dose, within 14 days (section 1)"
SOURCE_END = "outcomes.md section 1: end of course within 7 days of the last dose"
SOURCE_EARLY = (
    "issue 19 / outcomes.md section 2 [policy]: less than 25 % improvement after the induction phase "
    "(4 doses; APA consensus Sanacora 2017, Spravato PI 4-week induction)"
)
SOURCE_RELAPSE = (
    "outcomes.md section 2 Relapse [policy]: after a response, the response lost on 2 consecutive assessments"
)
SOURCE_DURABILITY = "outcomes.md section 1: follow-up 1, 3, 6 months after the course, windows +/- 7, 14, 30 days"

Score = tuple[datetime, int]


@dataclass(frozen=True)
class Finding:
    """A rule's answer with its evidence: `fires` None when the record cannot tell, and `reason` says why."""

    rule: str
    fires: bool | None
    reason: str
    source: str
    evidence: tuple[Score, ...] = ()


@dataclass(frozen=True)
class CourseOutcome:
    """One instrument over one course: baseline to end of course, each rule True, False or None (cannot tell)."""

    instrument: str
    baseline: Score | None
    end: Score | None
    response: bool | None
    partial_response: bool | None
    remission: bool | None
    meaningful_improvement: bool | None
    worsened: bool | None
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Whether both the baseline and the end-of-course score were measured (a completer's measures)."""
        return self.baseline is not None and self.end is not None


def baseline_score(points: Sequence[Score], first_dose: datetime) -> Score | None:
    """Return the last score at or before the first dose and no more than 14 days before it, or None."""
    window = [point for point in points if first_dose - BASELINE_WINDOW <= point[0] <= first_dose]
    return max(window, key=lambda point: point[0]) if window else None


def end_of_course_score(points: Sequence[Score], last_dose: datetime) -> Score | None:
    """Return the first score after the last dose and within 7 days of it, or None.

    The first, not the last: a score taken days later may already reflect the fading of the course's effect,
    which durability measures separately.
    """
    window = [point for point in points if last_dose < point[0] <= last_dose + END_OF_COURSE_WINDOW]
    return min(window, key=lambda point: point[0]) if window else None


def percent_improvement(baseline: int, current: int) -> float | None:
    """Return the drop from baseline as a percentage of it; None for a zero baseline (nothing to improve)."""
    return None if baseline == 0 else (baseline - current) * 100 / baseline


def course_outcome(
    instrument: Instrument, points: Sequence[Score], *, first_dose: datetime, last_dose: datetime
) -> CourseOutcome:
    """Return the course's outcome on `instrument` from its scores (when, total) and the first and last dose."""
    if last_dose < first_dose:
        raise ValueError("The last dose cannot come before the first.")
    return outcome_from_scores(instrument, baseline_score(points, first_dose), end_of_course_score(points, last_dose))


def outcome_from_scores(instrument: Instrument, baseline: Score | None, end: Score | None) -> CourseOutcome:
    """Return the course's outcome from its baseline and end-of-course scores as `baseline_score` and
    `end_of_course_score` pick them (the cohort figures have the database pick them by the same windows)."""
    missing: list[str] = []
    if baseline is None:
        missing.append(f"No {instrument.name} in the 14 days before the first dose.")
    if end is None:
        missing.append(f"No {instrument.name} in the 7 days after the last dose.")
    if baseline is None or end is None:
        return CourseOutcome(instrument.code, baseline, end, None, None, None, None, None, tuple(missing))
    responded, partial, remission, meaningful, worsened = _judged(instrument, baseline[1], end[1])
    return CourseOutcome(
        instrument=instrument.code,
        baseline=baseline,
        end=end,
        response=responded,
        partial_response=partial,
        remission=remission,
        meaningful_improvement=meaningful,
        worsened=worsened,
        missing=tuple(missing),
    )


_Judgement = tuple[bool | None, bool | None, bool | None, bool | None, bool | None]


def _judge(instrument: Instrument, before: int, after: int) -> _Judgement:
    """Response, partial response, remission, meaningful improvement and worsening from `before` to `after`."""
    improved = percent_improvement(before, after)
    responded = instruments.response(before, after, instrument) if instrument.response_rule else None
    partial: bool | None = None
    if instrument.response_rule is not None and instrument.response_rule.percent is not None:
        partial = improved is not None and improved >= PARTIAL_RESPONSE_PERCENT and not responded
    return (
        responded,
        partial,
        instruments.remission(after, instrument) if instrument.remission else None,
        instruments.meaningful_improvement(before, after, instrument) if instrument.mcid else None,
        instruments.worsened(before, after, instrument) if instrument.worsening else None,
    )


def _judged(instrument: Instrument, before: int, after: int) -> _Judgement:
    if instruments.INSTRUMENTS.get(instrument.code) is not instrument:
        return _judge(instrument, before, after)
    return _judged_registered(instrument.code, before, after)


# The cohort figures judge every course of the clinic (tens of thousands) on totals that repeat (a PHQ-9 total is
# 0 to 27): each pair of totals is judged once per registered instrument. Keyed by code, not by the instrument
# (hashing one walks all its items), and only for the registry's own instrument of that code.
@cache
def _judged_registered(code: str, before: int, after: int) -> _Judgement:
    return _judge(instruments.INSTRUMENTS[code], before, after)


def early_non_response(
    instrument: Instrument,
    points: Sequence[Score],
    dose_times: Sequence[datetime],
    *,
    induction_doses: int = INDUCTION_DOSES,
    percent: int = EARLY_NON_RESPONSE_PERCENT,
) -> Finding:
    """Return whether the patient improved by less than `percent` % once the induction phase is over.

    Measured with the latest score after the `induction_doses`-th dose against the baseline. Fires only on a
    measured score: without a baseline or a score after the induction, it cannot tell and says which is missing.
    """
    rule = "early non-response"
    doses = sorted(dose_times)
    if len(doses) < induction_doses:
        reason = f"{len(doses)} of {induction_doses} induction doses given: too early to judge."
        return Finding(rule, None, reason, SOURCE_EARLY)
    baseline = baseline_score(points, doses[0])
    if baseline is None:
        return Finding(rule, None, f"No baseline {instrument.name} before the first dose.", SOURCE_EARLY)
    after = [point for point in points if point[0] > doses[induction_doses - 1]]
    if not after:
        reason = f"No {instrument.name} since dose {induction_doses}: ask for one before judging the response."
        return Finding(rule, None, reason, SOURCE_EARLY, (baseline,))
    latest = max(after, key=lambda point: point[0])
    improved = percent_improvement(baseline[1], latest[1])
    if improved is None:
        reason = f"Baseline {instrument.name} of 0: no improvement can be measured."
        return Finding(rule, None, reason, SOURCE_EARLY, (baseline, latest))
    fires = improved < percent
    reason = (
        f"{instrument.name} {baseline[1]} → {latest[1]} after {induction_doses} doses: "
        f"{improved:.0f} % improvement ({'under' if fires else 'at least'} {percent} %)."
    )
    return Finding(rule, fires, reason, SOURCE_EARLY, (baseline, latest))


def relapse(
    instrument: Instrument, points: Sequence[Score], *, first_dose: datetime, consecutive: int = RELAPSE_CONSECUTIVE
) -> Finding:
    """Return whether a patient who responded has lost the response on `consecutive` assessments in a row.

    Response is judged against the baseline before `first_dose`, by the instrument's own definition.
    """
    rule = "relapse"
    if instrument.response_rule is None:
        return Finding(rule, None, f"{instrument.name} has no response definition.", SOURCE_RELAPSE)
    baseline = baseline_score(points, first_dose)
    if baseline is None:
        return Finding(rule, None, f"No baseline {instrument.name} before the first dose.", SOURCE_RELAPSE)
    later = sorted((point for point in points if point[0] > first_dose), key=lambda point: point[0])
    responded_at: Score | None = None
    run: list[Score] = []
    for point in later:
        responding = instruments.response(baseline[1], point[1], instrument)
        if responded_at is None:
            responded_at = point if responding else None
            continue
        run = [] if responding else [*run, point]
        if len(run) >= consecutive:
            reason = (
                f"Responded ({instrument.name} {baseline[1]} → {responded_at[1]}), then "
                + ", ".join(str(total) for _, total in run)
                + f" on {consecutive} assessments in a row."
            )
            return Finding(rule, True, reason, SOURCE_RELAPSE, (baseline, responded_at, *run))
    if responded_at is None:
        return Finding(rule, False, f"No response yet on the {instrument.name}.", SOURCE_RELAPSE, (baseline,))
    return Finding(rule, False, "The response holds.", SOURCE_RELAPSE, (baseline, responded_at, *run))


@dataclass(frozen=True)
class DurabilityPoint:
    """A follow-up `months` after the course: its window and what the score in it shows."""

    months: int
    window_from: datetime
    window_to: datetime
    status: str  # "responding", "not responding", "missing", "not yet due", "cannot tell"
    score: Score | None


def durability(
    instrument: Instrument,
    points: Sequence[Score],
    *,
    first_dose: datetime,
    course_end: datetime,
    now: datetime,
) -> tuple[DurabilityPoint, ...]:
    """Return the 1-, 3- and 6-month follow-ups: whether the response holds in each window.

    The score nearest the target date in the window counts. A window still open with no score is "not yet due";
    a closed window with none is "missing" (never carried forward). Without a baseline or a response definition
    each measured point is "cannot tell".
    """
    scores: list[Score | None] = []
    for _, low, target, high in follow_up_windows(course_end):
        in_window = [point for point in points if low <= point[0] <= high]
        scores.append(min(in_window, key=lambda point: abs(point[0] - target)) if in_window else None)
    return durability_from_scores(
        instrument, baseline=baseline_score(points, first_dose), scores=scores, course_end=course_end, now=now
    )


def follow_up_windows(course_end: datetime) -> tuple[tuple[int, datetime, datetime, datetime], ...]:
    """Return each follow-up's (months, window start, target, window end) after a course ending at `course_end`."""
    return tuple(
        (months, course_end + before, course_end + at, course_end + after)
        for months, before, at, after in _window_shifts(course_end.date())
    )


@lru_cache(maxsize=4096)
def _window_shifts(day: date) -> tuple[tuple[int, timedelta, timedelta, timedelta], ...]:
    """From a course's last day to each follow-up window's start, target and end. Each target is the same time
    `months` later, on the day `schedule.add_months` gives (the follow-ups' own calendar): whole days from `day`.
    The cohort figures open these windows for every course (tens of thousands), whose last doses fall on a few
    hundred days: the day arithmetic once per day."""
    shifts = []
    for months, days in DURABILITY_WINDOWS:
        to_target, half = add_months(day, months) - day, timedelta(days=days)
        shifts.append((months, to_target - half, to_target, to_target + half))
    return tuple(shifts)


def durability_from_scores(
    instrument: Instrument,
    *,
    baseline: Score | None,
    scores: Sequence[Score | None],
    course_end: datetime,
    now: datetime,
) -> tuple[DurabilityPoint, ...]:
    """Return the follow-ups from the score each window holds (`durability` picks the one nearest the target;
    the cohort figures have the database pick it the same way), in the order of `DURABILITY_WINDOWS`."""
    if len(scores) != len(DURABILITY_WINDOWS):
        raise ValueError("One score (or None) per follow-up window.")
    results: list[DurabilityPoint] = []
    for (months, low, _, high), score in zip(follow_up_windows(course_end), scores, strict=True):
        if score is None:
            status = "not yet due" if now <= high else "missing"
        elif baseline is None or instrument.response_rule is None:
            status = "cannot tell"
        else:
            holds = _judged(instrument, baseline[1], score[1])[0]
            status = "responding" if holds else "not responding"
        results.append(DurabilityPoint(months, low, high, status, score))
    return tuple(results)


SOURCE_WORSENING = (
    "outcomes.md section 2 Worsening [policy]: an increase of at least the instrument's threshold (PHQ-9 5)"
)
SOURCE_LOSS = (
    "outcomes.md section 3 follow-up: responding at the end of the course, not responding at a 1-, 3- or 6-month "
    "follow-up (section 1 windows)"
)


def worsening(instrument: Instrument, points: Sequence[Score], *, first_dose: datetime) -> Finding:
    """Return whether the latest score since the first dose is worse than the baseline by the instrument's threshold.

    During the course as after it: a patient getting worse should not wait for the end-of-course measure.
    """
    rule = "worsening"
    if instrument.worsening is None:
        return Finding(rule, None, f"{instrument.name} has no worsening definition.", SOURCE_WORSENING)
    baseline = baseline_score(points, first_dose)
    if baseline is None:
        return Finding(rule, None, f"No baseline {instrument.name} before the first dose.", SOURCE_WORSENING)
    after = [point for point in points if point[0] > first_dose]
    if not after:
        return Finding(rule, None, f"No {instrument.name} since the first dose.", SOURCE_WORSENING, (baseline,))
    latest = max(after, key=lambda point: point[0])
    fires = instruments.worsened(baseline[1], latest[1], instrument)
    reason = (
        f"{instrument.name} {baseline[1]} → {latest[1]}: "
        f"{'worse by' if fires else 'not worse by'} {instrument.worsening.points} points or more."
    )
    return Finding(rule, fires, reason, SOURCE_WORSENING, (baseline, latest))


def response_lost_at_follow_up(
    instrument: Instrument,
    points: Sequence[Score],
    *,
    first_dose: datetime,
    last_dose: datetime,
    now: datetime,
) -> Finding:
    """Return whether a patient responding at the end of the course was not responding at a durability point.

    The first follow-up (1, 3 or 6 months) measured as "not responding" fires; a missing follow-up is said,
    never counted as a loss.
    """
    rule = "loss of response at follow-up"
    outcome = course_outcome(instrument, points, first_dose=first_dose, last_dose=last_dose)
    if outcome.response is None:
        reason = " ".join(outcome.missing) or f"{instrument.name} has no response definition."
        return Finding(rule, None, reason, SOURCE_LOSS)
    if not outcome.response:
        return Finding(rule, False, "Not responding at the end of the course: nothing to lose.", SOURCE_LOSS)
    assert outcome.baseline is not None and outcome.end is not None
    follow_ups = durability(instrument, points, first_dose=first_dose, course_end=last_dose, now=now)
    for point in follow_ups:
        if point.status == "not responding" and point.score is not None:
            reason = (
                f"Responding at the end of the course ({instrument.name} {outcome.baseline[1]} → {outcome.end[1]}), "
                f"{point.score[1]} at the {point.months}-month follow-up."
            )
            return Finding(rule, True, reason, SOURCE_LOSS, (outcome.baseline, outcome.end, point.score))
    missing = [f"{point.months} month" for point in follow_ups if point.status == "missing"]
    reason = "The response holds at every follow-up measured." + (f" Missing: {', '.join(missing)}." if missing else "")
    return Finding(rule, False, reason, SOURCE_LOSS, (outcome.baseline, outcome.end))


def days_to_response(trajectory_: Trajectory, first_dose: datetime) -> int | None:
    """Return whole days from the first dose to the first response, or None when there was none."""
    if trajectory_.first_response is None:
        return None
    return (trajectory_.first_response - first_dose).days


def days_to_first_response(instrument: Instrument, points: Sequence[Score], first_dose: datetime) -> int | None:
    """`days_to_response(trajectory(instrument, points, first_dose=first_dose), first_dose)` without building the
    trajectory (no band or remission per point): the cohort figures read tens of thousands of courses. The same
    baseline (the last score at or before the first dose, else the first) and the first later score to respond."""
    if instrument.response_rule is None or not points:
        return None
    ordered = sorted(points, key=lambda point: point[0])
    index = _baseline_index(ordered, first_dose)
    baseline = ordered[index][1]
    for at, total in ordered[index + 1 :]:
        if instruments.response(baseline, total, instrument):
            return (at - first_dose).days
    return None


# 95 % two-sided normal quantile.
Z_95 = 1.959963984540054


def wilson_interval(successes: int, total: int, z: float = Z_95) -> tuple[float, float] | None:
    """Return the Wilson score interval for a proportion (Wilson EB, JASA 1927;22:209-212); None when total is 0.

    Chosen over the normal (Wald) interval because clinic cohorts are small and rates near 0 or 1, where Wald's
    falls outside [0, 1] (Brown, Cai, DasGupta, Stat Sci 2001;16:101-133).
    """
    if total < 0 or successes < 0 or successes > total:
        raise ValueError("Successes must be between 0 and the total.")
    if total == 0:
        return None
    share = successes / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half = z * sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    # At 0 or all successes the bound is exactly 0 or 1; the arithmetic would leave a rounding crumb.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == total else min(1.0, centre + half)
    return low, high

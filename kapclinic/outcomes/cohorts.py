"""The clinic's outcome figures by cohort (issue 19 item 3): started, evaluable, response, remission and worsening
rates for everyone started and for completers, with 95 % Wilson intervals, time to response and durability.

The primary outcome is the PHQ-9 (outcomes.md section 3: report denominators; ITT and completers separately).
A course is a signed plan with at least one dose; its start is its first dose. "All started" counts a course with
no baseline or no end-of-course score as not responding (not evaluable, said as such, never imputed as a score);
"completers" are the courses with both scores. A fixed number of queries whatever the number of courses: the
database summarises each course to the few scores the rules judge and keeps the summaries, summarising again only
the courses whose records changed (`stored_course_summaries`, issue 19 item 8).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from functools import partial
from statistics import median
from typing import NamedTuple

from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical import outcomes as rules
from kapclinic.clinical.instruments import INSTRUMENTS, Instrument
from kapclinic.dosing.models import Route
from kapclinic.errors import AccessDenied
from kapclinic.outcomes.course_summaries import CourseSummary, stored_course_summaries
from kapclinic.outcomes.courses import PRIMARY
from kapclinic.patients.access import on_care_team_of
from kapclinic.plans.selectors import signed_plans
from kapclinic.roles import Action, Scope, scope_for

FOLLOW_UP_MONTHS = tuple(months for months, _ in rules.DURABILITY_WINDOWS)


@dataclass(frozen=True)
class CohortFilter:
    start_from: date | None = None
    start_to: date | None = None
    route: str = ""
    indication: str = ""  # an ICD-10-CM code or its start ("F33" takes F33.0-F33.9)
    clinician: int | None = None  # the plan's prescriber (signer) or therapist
    instrument: str = PRIMARY  # the PHQ-9, or the GAD-7 or PCL-5 by their own definitions (clinical.outcomes)


class CourseRow(NamedTuple):
    """One course with its PHQ-9 outcome: what every figure is counted from (a named tuple: made for every course
    of the clinic per figure, twice as fast as a frozen dataclass)."""

    plan_id: int
    patient_id: int
    start: datetime
    route: str
    indication: str
    prescriber_id: int | None
    therapist_id: int
    finished: bool
    outcome: rules.CourseOutcome
    days_to_response: int | None
    follow_ups: tuple[rules.DurabilityPoint, ...]
    relapsed: bool | None = None  # responded, then lost it on 2 consecutive assessments (rules.relapse)
    last: datetime | None = None  # the last dose

    @property
    def course_days(self) -> int | None:
        return None if self.last is None else (self.last - self.start).days


@dataclass(frozen=True)
class Rate:
    """`count` of `of`, with its share and 95 % Wilson interval (None when `of` is 0: "no patients")."""

    count: int
    of: int

    @property
    def share(self) -> float | None:
        return None if self.of == 0 else self.count / self.of

    @property
    def interval(self) -> tuple[float, float] | None:
        return rules.wilson_interval(self.count, self.of)


@dataclass(frozen=True)
class CohortFigures:
    label: str
    started: int
    with_baseline: int
    with_end: int
    completers: int
    response_all: Rate
    remission_all: Rate
    worsened_all: Rate
    response_completers: Rate
    remission_completers: Rate
    worsened_completers: Rate
    median_days_to_response: float | None
    durability: dict[int, Rate] = field(default_factory=dict)
    relapsed: Rate = field(default_factory=lambda: Rate(0, 0))  # of the responders
    remission_defined: bool = True  # False for a measure without a remission rule (the PCL-5): never "0 %"

    @property
    def not_evaluable(self) -> int:
        return self.started - self.completers


def figures_scope(ctx: AuditContext) -> Scope:
    scope = scope_for(ctx.user.role, Action.OUTCOME_COHORTS)
    if scope is Scope.NONE:
        access_event_record(ctx=ctx, action=Action.OUTCOME_COHORTS, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not see the clinic's outcome figures.")
    return scope


def course_rows(*, ctx: AuditContext, where: CohortFilter, now: datetime | None = None) -> list[CourseRow]:
    """Every course the reader may count that matches `where` (a prescriber: their care team's patients)."""
    scope = figures_scope(ctx)
    now = now or timezone.now()
    plans = signed_plans()
    if scope is Scope.TEAM:
        plans = plans.filter(on_care_team_of(ctx.user.pk, patient_field="patient_id"))
    if where.route:
        plans = plans.filter(route=where.route)
    if where.indication:
        plans = plans.filter(indication_code__istartswith=where.indication.strip())
    if where.clinician is not None:
        plans = plans.filter(signed_by_id=where.clinician) | plans.filter(therapist_id=where.clinician)
    instrument = INSTRUMENTS[where.instrument]
    with _collector_paused():
        rows = _rows(stored_course_summaries(plans, instrument), instrument, where, now)
    access_event_record(
        ctx=ctx,
        action=Action.OUTCOME_COHORTS,
        detail={"courses": len(rows), "scope": scope.value, "filter": _filter_detail(where)},
    )
    return rows


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while the courses' rows are made: it would walk the tens of
    thousands of new objects again and again as they come (some 40 % of the time at 50,000 courses, measured with
    bench/outcomes.py). They make no reference cycle: reference counting frees them whatever the collector does."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _rows(courses: list[CourseSummary], instrument: Instrument, where: CohortFilter, now: datetime) -> list[CourseRow]:
    zone = timezone.get_current_timezone()
    rows: list[CourseRow] = []
    for course in courses:
        first, last = course.first_dose, course.last_dose
        start = first.astimezone(zone).date()  # timezone.localdate, without looking the zone up per course
        if (where.start_from and start < where.start_from) or (where.start_to and start > where.start_to):
            continue
        outcome = rules.outcome_from_scores(instrument, course.baseline, course.end)
        responded = course.first_response if outcome.baseline is not None else None
        rows.append(
            CourseRow(
                plan_id=course.plan_id,
                patient_id=course.patient_id,
                start=first,
                route=course.route,
                indication=course.indication,
                prescriber_id=course.prescriber_id,
                therapist_id=course.therapist_id,
                finished=course.sessions_to_come == 0,
                outcome=outcome,
                days_to_response=None if responded is None else (responded - first).days,  # as days_to_response
                follow_ups=rules.durability_from_scores(
                    instrument, baseline=course.baseline, scores=course.follow_ups, course_end=last, now=now
                ),
                relapsed=course.relapsed if outcome.response else None,
                last=last,
            )
        )
    return rows


def _filter_detail(where: CohortFilter) -> dict[str, object]:
    return {
        "from": where.start_from.isoformat() if where.start_from else "",
        "to": where.start_to.isoformat() if where.start_to else "",
        "route": where.route,
        "indication": where.indication,
        "clinician": where.clinician,
        "instrument": where.instrument,
    }


def figures(label: str, rows: Iterable[CourseRow]) -> CohortFigures:
    """The cohort's figures from its courses (pure counting: the test recomputes them from raw responses)."""
    rows = list(rows)
    started = len(rows)
    # One pass over the courses (tens of thousands, once overall and once per cohort), not one per figure.
    with_baseline = with_end = 0
    completers = response = remission = worsened = 0
    responders: list[CourseRow] = []
    days: list[int] = []
    for row in rows:
        outcome = row.outcome
        if outcome.baseline is not None:
            with_baseline += 1
        if outcome.end is not None:
            with_end += 1
        if outcome.complete:
            completers += 1
            if outcome.response:
                response += 1
                responders.append(row)
            if outcome.remission:
                remission += 1
            if outcome.worsened:
                worsened += 1
        if row.days_to_response is not None:
            days.append(row.days_to_response)
    durability: dict[int, Rate] = {}
    for index, months in enumerate(FOLLOW_UP_MONTHS):
        measured = [r.follow_ups[index] for r in responders if r.follow_ups[index].status in _MEASURED]
        durability[months] = Rate(sum(1 for p in measured if p.status == "responding"), len(measured))
    return CohortFigures(
        label=label,
        started=started,
        with_baseline=with_baseline,
        with_end=with_end,
        completers=completers,
        response_all=Rate(response, started),
        remission_all=Rate(remission, started),
        worsened_all=Rate(worsened, started),
        response_completers=Rate(response, completers),
        remission_completers=Rate(remission, completers),
        worsened_completers=Rate(worsened, completers),
        median_days_to_response=median(days) if days else None,
        durability=durability,
        relapsed=Rate(sum(1 for r in responders if r.relapsed), len(responders)),
        remission_defined=not rows or INSTRUMENTS[rows[0].outcome.instrument].remission is not None,
    )


_MEASURED = ("responding", "not responding")

ROUTE_LABELS = dict(Route.choices)


def _month(row: CourseRow, zone: tzinfo | None = None) -> str:
    start = row.start.astimezone(zone or timezone.get_current_timezone())
    return f"{start.year:04d}-{start.month:02d}"  # strftime("%Y-%m"), a third of the time


DIMENSIONS: dict[str, tuple[str, Callable[[CourseRow], str]]] = {
    "month": ("Start month", _month),
    "indication": ("Indication", lambda row: row.indication),
    "route": ("Route", lambda row: ROUTE_LABELS.get(row.route, row.route)),
    "prescriber": ("Prescriber", lambda row: str(row.prescriber_id or "")),
}


def cohorts_by(rows: list[CourseRow], dimension: str) -> list[CohortFigures]:
    """The figures of each group of `rows` by `dimension` (month, indication, route, prescriber), in order."""
    _, key = DIMENSIONS[dimension]
    if key is _month:  # the zone looked up once, not per course (tens of thousands)
        key = partial(_month, zone=timezone.get_current_timezone())
    groups: dict[str, list[CourseRow]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return [figures(label, groups[label]) for label in sorted(groups)]

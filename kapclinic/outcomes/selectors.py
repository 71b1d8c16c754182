"""Reads of outcomes: a patient's outcome per instrument with the open prompts, a clinician's open prompts, one
prompt; each through the access check and audited. The clinic's cohort figures are in `cohorts`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record, access_events_record_many
from kapclinic.clinical import outcomes as rules
from kapclinic.errors import NotFound
from kapclinic.outcomes.courses import Course, course_of
from kapclinic.outcomes.models import OutcomePrompt
from kapclinic.outcomes.services import course_findings
from kapclinic.patients.access import PatientAccess, on_care_team_of, patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.prepared import prepared_rows
from kapclinic.roles import Action, Scope, scope_for


@dataclass(frozen=True)
class InstrumentOutcome:
    """One instrument over the current course: the outcome so far, the rules' findings, the follow-ups."""

    instrument: str
    name: str
    outcome: rules.CourseOutcome | None  # None while the course goes on (no last dose yet)
    latest: rules.Score | None
    findings: tuple[rules.Finding, ...]
    follow_ups: tuple[rules.DurabilityPoint, ...]


@dataclass(frozen=True)
class PatientOutcome:
    access: PatientAccess
    course: Course | None
    instruments: tuple[InstrumentOutcome, ...]
    open_prompts: tuple[OutcomePrompt, ...]
    answered_prompts: tuple[OutcomePrompt, ...]

    @property
    def patient(self) -> Patient:
        return self.access.patient


def patient_outcome(*, ctx: AuditContext, patient_id: int, now: datetime | None = None) -> PatientOutcome:
    """The patient's outcome status per instrument and their prompts (care team and director; audited)."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.OUTCOME_VIEW)
    now = now or timezone.now()
    course = course_of(patient_id)
    measured: list[InstrumentOutcome] = []
    if course is not None and course.first_dose is not None and course.last_dose is not None:
        findings = course_findings(course, now)
        for instrument in course.instruments():
            points = course.scores.get(instrument.code, [])
            outcome = (
                rules.course_outcome(instrument, points, first_dose=course.first_dose, last_dose=course.last_dose)
                if course.finished
                else None
            )
            follow_ups = (
                rules.durability(instrument, points, first_dose=course.first_dose, course_end=course.last_dose, now=now)
                if course.finished
                else ()
            )
            measured.append(
                InstrumentOutcome(
                    instrument=instrument.code,
                    name=instrument.name,
                    outcome=outcome,
                    latest=points[-1] if points else None,
                    findings=tuple(f for _, i, f in findings if i.code == instrument.code),
                    follow_ups=follow_ups,
                )
            )
    prompts = list(
        OutcomePrompt.objects.filter(patient_id=patient_id)
        .select_related("action", "action__by")
        .order_by("-raised_at", "-id")[:50]
    )
    return PatientOutcome(
        access=access,
        course=course,
        instruments=tuple(measured),
        open_prompts=tuple(p for p in prompts if p.is_open),
        answered_prompts=tuple(p for p in prompts if not p.is_open),
    )


def open_prompts(user: User) -> QuerySet[OutcomePrompt]:
    """The open prompts of the patients `user` may see (care team; the director all), unread and unaudited: the
    lists below audit what they show."""
    scope = scope_for(user.role, Action.OUTCOME_VIEW)
    if scope is Scope.NONE:
        return OutcomePrompt.objects.none()
    prompts = OutcomePrompt.objects.filter(cleared_at__isnull=True)
    if scope is Scope.TEAM:
        prompts = prompts.filter(on_care_team_of(user.pk, patient_field="patient_id"))
    return prompts


def open_prompts_page(*, ctx: AuditContext, page: str | int | None, per_page: int = 20) -> Page[OutcomePrompt]:
    """A page of the clinician's open prompts, newest first; each patient shown is audited."""
    prompts = open_prompts(ctx.user).select_related("patient").order_by("-raised_at", "-id")
    shown = Paginator(prompts, per_page).get_page(page)
    access_events_record_many(ctx=ctx, action="outcome.prompt_list", patient_ids=[p.patient_id for p in shown])
    return shown


def open_prompts_newest(*, ctx: AuditContext, limit: int) -> list[OutcomePrompt]:
    """The newest open prompts of the user's patients, up to `limit` and one more (whether there are more); the
    ones to show are audited. One query."""
    user = ctx.user
    scope = scope_for(user.role, Action.OUTCOME_VIEW)
    # Built and compiled once per process, scope and limit (kapclinic/prepared.py): the prescriber's home asks on
    # every load. The query is open_prompts', run with the user's id.

    def newest(user_id: int) -> QuerySet[OutcomePrompt]:
        prompts = OutcomePrompt.objects.filter(cleared_at__isnull=True)
        if scope is Scope.TEAM:
            prompts = prompts.filter(on_care_team_of(user_id, patient_field="patient_id"))
        return prompts.select_related("patient").order_by("-raised_at", "-id")[: limit + 1]

    found = [] if scope is Scope.NONE else prepared_rows(("outcomes.prompts_newest", scope, limit), newest, user.pk)
    access_events_record_many(ctx=ctx, action="outcome.prompt_list", patient_ids=[p.patient_id for p in found[:limit]])
    return found


def open_prompts_on_chart(*, user: User, patient_id: int) -> list[OutcomePrompt]:
    """For the chart (the chart read is audited): the patient's open prompts if `user` may see them. One query (the
    care-team check inside it); none for a role that sees no prompts."""
    scope = scope_for(user.role, Action.OUTCOME_VIEW)
    if scope is Scope.NONE:
        return []
    # Built and compiled once per process and scope (kapclinic/prepared.py): on the chart from the cache, building
    # this query took a third of the page's own time (issue 15, item 3).
    if scope is Scope.TEAM:
        return prepared_rows("outcomes.prompts_on_chart.team", _prompts_on_chart_team, patient_id, user.pk)
    return prepared_rows("outcomes.prompts_on_chart", _prompts_on_chart, patient_id)


def _prompts_on_chart(patient_id: int) -> QuerySet[OutcomePrompt]:
    return OutcomePrompt.objects.filter(cleared_at__isnull=True, patient_id=patient_id).order_by("-raised_at", "-id")


def _prompts_on_chart_team(patient_id: int, user_id: int) -> QuerySet[OutcomePrompt]:
    return _prompts_on_chart(patient_id).filter(on_care_team_of(user_id, patient_field="patient_id"))


def prompt_get(*, ctx: AuditContext, prompt_id: int) -> OutcomePrompt:
    """One prompt with its answer, after checking the reader may see its patient (audited)."""
    prompt = OutcomePrompt.objects.select_related("patient", "action", "action__by").filter(pk=prompt_id).first()
    if prompt is None:
        access_event_record(
            ctx=ctx, action=Action.OUTCOME_VIEW, outcome=Outcome.NOT_FOUND, detail={"prompt": prompt_id}
        )
        raise NotFound("No such prompt.")
    patient_get_for_user(ctx=ctx, patient_id=prompt.patient_id, action=Action.OUTCOME_VIEW)
    return prompt

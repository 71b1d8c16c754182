"""Outcomes over the API (issue 19 item 7): a patient's outcome and prompts, answering a prompt, cohort figures.
The same selectors and services as the pages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId
from kapclinic.clinical import outcomes as rules
from kapclinic.outcomes import services
from kapclinic.outcomes.cohorts import CohortFigures, CohortFilter, Rate, course_rows, figures
from kapclinic.outcomes.models import OutcomePrompt, PromptAction
from kapclinic.outcomes.selectors import patient_outcome, prompt_get

router = Router(tags=["outcomes"])


class ScoreOut(Schema):
    at: datetime
    total: int


class OutcomeFindingOut(Schema):
    rule: str
    fires: bool | None = Field(description="true: the rule fires; null: the record cannot tell (see reason)")
    reason: str
    source: str
    evidence: list[ScoreOut]


class CourseOutcomeOut(Schema):
    baseline: ScoreOut | None
    end: ScoreOut | None
    response: bool | None
    partial_response: bool | None
    remission: bool | None
    meaningful_improvement: bool | None
    worsened: bool | None
    missing: list[str] = Field(description="Why a rule cannot tell: the scores missing (never imputed)")


class FollowUpOut(Schema):
    months: int
    window_from: datetime
    window_to: datetime
    status: str
    score: ScoreOut | None


class InstrumentOutcomeOut(Schema):
    instrument: str
    name: str
    latest: ScoreOut | None
    outcome: CourseOutcomeOut | None = Field(description="null while the course goes on")
    findings: list[OutcomeFindingOut]
    follow_ups: list[FollowUpOut]


class PromptActionOut(Schema):
    choice: str
    reason: str
    by: int = Field(alias="by_id")
    at: datetime


class PromptOut(Schema):
    id: int
    patient: int = Field(alias="patient_id")
    plan: int = Field(alias="plan_id")
    rule: str
    instrument: str
    reason: str
    source: str
    evidence: list[ScoreOut]
    raised_at: datetime
    cleared_at: datetime | None
    action: PromptActionOut | None

    @staticmethod
    def resolve_evidence(obj: OutcomePrompt) -> list[dict[str, object]]:
        return [{"at": at, "total": total} for at, total in obj.evidence_points]

    @staticmethod
    def resolve_action(obj: OutcomePrompt) -> PromptAction | None:
        return getattr(obj, "action", None) if obj.cleared_at is not None else None


class CourseOut(Schema):
    plan: int
    route: str
    indication_code: str
    first_dose: datetime | None
    last_dose: datetime | None
    doses: int
    finished: bool


class PatientOutcomeOut(Schema):
    patient: int
    course: CourseOut | None
    instruments: list[InstrumentOutcomeOut]
    open_prompts: list[PromptOut]


def _score(score: rules.Score | None) -> dict[str, object] | None:
    return None if score is None else {"at": score[0], "total": score[1]}


def _finding(finding: rules.Finding) -> dict[str, object]:
    return {
        "rule": finding.rule,
        "fires": finding.fires,
        "reason": finding.reason,
        "source": finding.source,
        "evidence": [_score(point) for point in finding.evidence],
    }


@router.get("/patients/{patient_id}/outcome", response={200: PatientOutcomeOut, **ERROR_ANSWERS})
def patient_outcome_read(request: HttpRequest, patient_id: DbId) -> dict[str, object]:
    """The patient's current course, outcome status per instrument and open prompts (care team, director)."""
    status = patient_outcome(ctx=api_context(request), patient_id=patient_id)
    course = status.course
    return {
        "patient": patient_id,
        "course": None
        if course is None
        else {
            "plan": course.plan.pk,
            "route": course.plan.route,
            "indication_code": course.plan.indication_code,
            "first_dose": course.first_dose,
            "last_dose": course.last_dose,
            "doses": len(course.dose_times),
            "finished": course.finished,
        },
        "instruments": [
            {
                "instrument": i.instrument,
                "name": i.name,
                "latest": _score(i.latest),
                "outcome": None
                if i.outcome is None
                else {
                    "baseline": _score(i.outcome.baseline),
                    "end": _score(i.outcome.end),
                    "response": i.outcome.response,
                    "partial_response": i.outcome.partial_response,
                    "remission": i.outcome.remission,
                    "meaningful_improvement": i.outcome.meaningful_improvement,
                    "worsened": i.outcome.worsened,
                    "missing": list(i.outcome.missing),
                },
                "findings": [_finding(f) for f in i.findings],
                "follow_ups": [
                    {
                        "months": d.months,
                        "window_from": d.window_from,
                        "window_to": d.window_to,
                        "status": d.status,
                        "score": _score(d.score),
                    }
                    for d in i.follow_ups
                ],
            }
            for i in status.instruments
        ],
        "open_prompts": list(status.open_prompts),
    }


class PromptActionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    choice: str = Field(description="continue, adjust_plan, add_integration, booster, refer or stop")
    reason: str = Field(description="Why: on the record with who and when")


@router.get("/prompts/{prompt_id}", response={200: PromptOut, **ERROR_ANSWERS})
def prompt_read(request: HttpRequest, prompt_id: DbId) -> OutcomePrompt:
    return prompt_get(ctx=api_context(request), prompt_id=prompt_id)


@router.post("/prompts/{prompt_id}/action", response={200: PromptOut, **ERROR_ANSWERS})
def prompt_action(request: HttpRequest, prompt_id: DbId, payload: PromptActionIn) -> OutcomePrompt:
    """Answer a prompt (the patient's prescriber or therapist): recorded with who and when; the prompt is cleared.
    Someone outside the care team: 403, nothing changed, audited. Already answered: 409."""
    ctx = api_context(request)
    services.prompt_act(ctx=ctx, prompt_id=prompt_id, choice=payload.choice, reason=payload.reason)
    return prompt_get(ctx=ctx, prompt_id=prompt_id)


class CohortParams(Schema):
    model_config = ConfigDict(extra="forbid")

    start_from: date | None = Field(None, alias="from", description="first dose on or after (YYYY-MM-DD)")
    start_to: date | None = Field(None, alias="to", description="first dose on or before (YYYY-MM-DD)")
    route: Literal["", "iv", "im", "intranasal", "sublingual"] = Field("", description="the plan's route")
    indication: str = Field("", max_length=10, description="ICD-10-CM code or its start, e.g. F33")
    clinician: DbId | None = Field(None, description="the plan's prescriber or therapist (user id)")


class RateOut(Schema):
    count: int
    of: int
    share: float | None = Field(description="null when `of` is 0 (no patients)")
    ci95_low: float | None
    ci95_high: float | None


class CohortOut(Schema):
    instrument: str
    started: int
    with_baseline: int
    with_end_of_course: int
    completers: int
    not_evaluable: int
    all_started: dict[str, RateOut] = Field(description="response, remission, worsened over everyone started")
    completers_rates: dict[str, RateOut] = Field(description="the same over completers (baseline and end scores)")
    median_days_to_response: float | None
    durability: dict[str, RateOut] = Field(description="end-of-course responders still responding at 1, 3, 6 months")


def _rate(rate: Rate) -> dict[str, object]:
    interval = rate.interval
    return {
        "count": rate.count,
        "of": rate.of,
        "share": rate.share,
        "ci95_low": interval[0] if interval else None,
        "ci95_high": interval[1] if interval else None,
    }


def cohort_answer(found: CohortFigures) -> dict[str, object]:
    return {
        "instrument": "phq9",
        "started": found.started,
        "with_baseline": found.with_baseline,
        "with_end_of_course": found.with_end,
        "completers": found.completers,
        "not_evaluable": found.not_evaluable,
        "all_started": {
            "response": _rate(found.response_all),
            "remission": _rate(found.remission_all),
            "worsened": _rate(found.worsened_all),
        },
        "completers_rates": {
            "response": _rate(found.response_completers),
            "remission": _rate(found.remission_completers),
            "worsened": _rate(found.worsened_completers),
        },
        "median_days_to_response": found.median_days_to_response,
        "durability": {f"{months}_months": _rate(rate) for months, rate in found.durability.items()},
    }


@router.get("/outcomes/cohorts", response={200: CohortOut, **ERROR_ANSWERS})
def cohorts(request: HttpRequest, params: Query[CohortParams]) -> dict[str, object]:
    """The PHQ-9 figures of the courses started in the period (director: every patient; prescriber: their own),
    with counts and 95 % Wilson intervals. An empty cohort answers zero counts and null shares."""
    where = CohortFilter(params.start_from, params.start_to, params.route, params.indication, params.clinician)
    return cohort_answer(figures("cohort", course_rows(ctx=api_context(request), where=where)))

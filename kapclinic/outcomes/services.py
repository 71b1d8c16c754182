"""Outcome prompts: raised when a rule fires for a patient's course, answered by the care team.

`prompts_evaluate` runs when a score is stored (the measures app's `response_scored` signal, inside its
transaction) and from the sweep (`manage.py outcomes_sweep`) for what time alone brings (a follow-up window).
Idempotent: the open prompt is unique per patient, course, rule and instrument in the database; an answered prompt
is raised again only on evidence newer than the answer (worsening, relapse), and the one-time judgements (early
non-response, loss at a follow-up) once per course.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Channel, Outcome
from kapclinic.audit.services import access_event_record, invalid_value_record
from kapclinic.clinical import outcomes as rules
from kapclinic.clinical.instruments import Instrument
from kapclinic.errors import Conflict, NotFound
from kapclinic.outcomes.courses import Course, course_of
from kapclinic.outcomes.models import OutcomePrompt, PromptAction, PromptChoice, PromptRule
from kapclinic.patients.access import patient_get_for_user
from kapclinic.plans.models import TreatmentPlan
from kapclinic.plans.selectors import signed_plans
from kapclinic.roles import Action

ONCE_PER_COURSE = frozenset({PromptRule.EARLY_NON_RESPONSE, PromptRule.LOSS_AT_FOLLOW_UP})


def _system() -> AuditContext:
    """The rules raise prompts on their own: the audit row names no user, on the system channel."""
    return AuditContext(user=AnonymousUser(), channel=Channel.SYSTEM)  # type: ignore[arg-type]


def course_findings(course: Course, now: datetime) -> list[tuple[PromptRule, Instrument, rules.Finding]]:
    """Every prompt rule's finding for each instrument the course is judged on (fired or not)."""
    first, last = course.first_dose, course.last_dose
    if first is None or last is None:
        return []
    found: list[tuple[PromptRule, Instrument, rules.Finding]] = []
    for instrument in course.instruments():
        points = course.scores.get(instrument.code, [])
        found.append(
            (PromptRule.EARLY_NON_RESPONSE, instrument, rules.early_non_response(instrument, points, course.dose_times))
        )
        found.append((PromptRule.WORSENING, instrument, rules.worsening(instrument, points, first_dose=first)))
        found.append((PromptRule.RELAPSE, instrument, rules.relapse(instrument, points, first_dose=first)))
        if course.finished:
            lost = rules.response_lost_at_follow_up(instrument, points, first_dose=first, last_dose=last, now=now)
            found.append((PromptRule.LOSS_AT_FOLLOW_UP, instrument, lost))
    return found


def prompts_evaluate(*, patient_id: int, now: datetime | None = None) -> list[OutcomePrompt]:
    """Raise a prompt for each rule that fires on the patient's current course; return the prompts raised now."""
    course = course_of(patient_id)
    if course is None:
        return []
    now = now or timezone.now()
    raised: list[OutcomePrompt] = []
    for rule, instrument, finding in course_findings(course, now):
        if finding.fires:
            prompt = _prompt_raise(course.plan, rule, instrument.code, finding)
            if prompt is not None:
                raised.append(prompt)
    return raised


def _prompt_raise(
    plan: TreatmentPlan, rule: PromptRule, instrument: str, finding: rules.Finding
) -> OutcomePrompt | None:
    until = max(at for at, _ in finding.evidence)
    earlier = OutcomePrompt.objects.filter(patient_id=plan.patient_id, plan=plan, rule=rule, instrument=instrument)
    if earlier.filter(cleared_at__isnull=True).exists():
        return None
    if rule in ONCE_PER_COURSE and earlier.exists():
        return None
    # Raised again only on a score newer than the last answer (the clinician has seen everything before it).
    if earlier.filter(cleared_at__gte=until).exists() or earlier.filter(evidence_until=until).exists():
        return None
    try:
        with transaction.atomic():
            prompt = OutcomePrompt.objects.create(
                patient_id=plan.patient_id,
                plan=plan,
                rule=rule,
                instrument=instrument,
                reason=finding.reason,
                source=finding.source,
                evidence=[{"at": at.isoformat(), "total": total} for at, total in finding.evidence],
                evidence_until=until,
            )
            access_event_record(
                ctx=_system(),
                action="outcome.prompt_raise",
                patient_id=plan.patient_id,
                detail={"prompt": prompt.pk, "rule": rule.value, "instrument": instrument},
            )
    except IntegrityError:
        # Raised by a concurrent evaluation a moment ago (the unique open prompt): that one stands.
        return None
    return prompt


def prompts_sweep(*, now: datetime | None = None, patient_ids: list[int] | None = None) -> int:
    """Evaluate every patient with a signed plan (or those given), each in its own transaction; return how many
    prompts were raised."""
    if patient_ids is None:
        patient_ids = list(signed_plans().order_by().values_list("patient_id", flat=True).distinct())
    raised = 0
    for patient_id in patient_ids:
        with transaction.atomic():
            raised += len(prompts_evaluate(patient_id=patient_id, now=now))
    return raised


def prompt_act(*, ctx: AuditContext, prompt_id: int, choice: str, reason: str) -> PromptAction:
    """Record the clinician's answer to a prompt (care team only) and clear it; refusals audited, nothing changed."""
    prompt = OutcomePrompt.objects.filter(pk=prompt_id).first()
    if prompt is None:
        access_event_record(
            ctx=ctx, action=Action.OUTCOME_PROMPT_ACT, outcome=Outcome.NOT_FOUND, detail={"prompt": prompt_id}
        )
        raise NotFound("No such prompt.")
    patient_get_for_user(ctx=ctx, patient_id=prompt.patient_id, action=Action.OUTCOME_PROMPT_ACT, record_allowed=False)
    reason = reason.strip()
    errors: dict[str, str] = {}
    if choice not in PromptChoice.values:
        errors["choice"] = "Choose what to do: " + ", ".join(label.lower() for label in PromptChoice.labels) + "."
    if len(reason) < 3:
        errors["reason"] = "Say why, in a few words (it goes on the record)."
    elif len(reason) > 2000:
        errors["reason"] = "Keep the reason under 2,000 characters."
    if errors:
        raise invalid_value_record(
            ctx=ctx,
            action=Action.OUTCOME_PROMPT_ACT,
            patient_id=prompt.patient_id,
            exc=ValidationError(errors),
            detail={"prompt": prompt_id},
        )
    with transaction.atomic():
        locked = OutcomePrompt.objects.select_for_update().get(pk=prompt_id)
        if locked.cleared_at is not None:
            raise Conflict("This prompt was already answered; its answer is on the record.")
        action = PromptAction.objects.create(prompt=locked, choice=choice, reason=reason, by=ctx.user)
        locked.cleared_at = action.at
        locked.save(update_fields=["cleared_at"])
        access_event_record(
            ctx=ctx,
            action=Action.OUTCOME_PROMPT_ACT,
            patient_id=locked.patient_id,
            detail={"prompt": locked.pk, "choice": choice, "rule": locked.rule},
        )
    return action

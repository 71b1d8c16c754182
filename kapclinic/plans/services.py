"""Treatment-plan writes: draft, sign (which proposes the session series), and the checks behind them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.dosing import plan_dose_check, spravato_plan_stops
from kapclinic.clinical.icd10 import is_icd10_cm
from kapclinic.clinical.instruments import Use, instruments_for
from kapclinic.clinical.schedule import FREQUENCIES, session_dates, standard_schedule
from kapclinic.dosing.courses import esketamine_course
from kapclinic.dosing.models import WEIGHT_BASED_ROUTES, DosingSession, Route, SessionState
from kapclinic.dosing.services import sessions_cancel_not_started
from kapclinic.errors import Conflict, NotFound
from kapclinic.intake.selectors import eligibility_in_force
from kapclinic.measures.models import ScheduledMeasure
from kapclinic.patients.access import patient_get_for_user
from kapclinic.plans.forms import PlanForm
from kapclinic.plans.models import TitrationKind, TreatmentPlan
from kapclinic.policy import dosing_policy
from kapclinic.roles import Action

# Which form field a hard stop belongs to (the ceiling's codes end in "_ceiling").
_STOP_FIELDS = {"intranasal_above_max_sessions_per_week": "interval_days"}


_STOP_FIELDS.update(
    {
        "intranasal_above_phase_frequency": "session_count",
        "intranasal_mdsi_beyond_4_weeks": "session_count",
        "intranasal_not_whole_devices_step": "titration_step",
    }
)


def _course_days(values: dict[str, Any], previous: TreatmentPlan | None) -> tuple[list[int], bool]:
    """The planned sessions' days from the esketamine course's first dose, and whether the plan continues a
    course already given (a plan replacing an esketamine plan with doses given: the label's weeks go on)."""
    dates = session_dates(values["first_session_on"], values["session_count"], values["interval_days"])
    course = esketamine_course(previous) if previous is not None and previous.route == Route.INTRANASAL else None
    start = course.first_dose_on if course is not None and course.first_dose_on is not None else dates[0]
    return [(day - start).days for day in dates], start != dates[0]


def _dose_problems(values: dict[str, Any], previous: TreatmentPlan | None) -> dict[str, str]:
    """Hard stops of the dosing policy for a plan's starting dose, ceiling and frequency (dosing.md section 6),
    and of the label's esketamine schedule by indication and phase (dosing.md section 5)."""
    policy = dosing_policy()
    ceiling = Decimal(values["titration_ceiling"]) if values.get("titration_ceiling") else None
    stops = plan_dose_check(
        values["route"],
        Decimal(values["dose"]),
        Decimal(str(FREQUENCIES[values["interval_days"]].per_week)),
        policy,
        ceiling=ceiling,
    )
    errors: dict[str, list[str]] = {}
    if values["route"] == Route.INTRANASAL:
        days, continues = _course_days(values, previous)
        try:
            stops += spravato_plan_stops(
                values.get("esketamine_indication") or None,
                Decimal(values["dose"]),
                days,
                continues_course=continues,
                ceiling=ceiling,
                step=Decimal(values["titration_step"]) if values.get("titration_step") else None,
                policy=policy,
            )
        except ValueError as exc:
            errors["esketamine_indication"] = [str(exc)]
    for stop in stops:
        field = _STOP_FIELDS.get(stop.code, "titration_ceiling" if stop.code.endswith("_ceiling") else "dose")
        if stop.message not in errors.get(field, []):
            errors.setdefault(field, []).append(stop.message)
    return {field: " ".join(messages) for field, messages in errors.items()}


def _previous_plan(patient_id: int | None, instance: TreatmentPlan | None) -> TreatmentPlan | None:
    """The signed plan a new or draft plan replaces (a new draft replaces the patient's latest signed plan)."""
    if instance is not None and instance.pk:
        return instance.supersedes
    if patient_id is None:
        return None
    return (
        TreatmentPlan.objects.filter(patient_id=patient_id, signed_at__isnull=False)
        .order_by("-signed_at", "-id")
        .first()
    )


def plan_clean(
    raw: dict[str, Any], *, instance: TreatmentPlan | None = None, patient_id: int | None = None
) -> dict[str, Any]:
    """Return the plan values, or raise ValidationError with every problem at once."""
    data = dict(raw)
    if isinstance(data.get("goals"), list):
        data["goals_text"] = "\n".join(str(g) for g in data.pop("goals"))
    form = PlanForm(data=data, instance=instance)
    if not form.is_valid():
        raise ValidationError({k: " ".join(str(m) for m in v) for k, v in form.errors.items()})
    values = form.plan_values()
    errors: dict[str, str] = {}
    if not is_icd10_cm(values["indication_code"]):
        errors["indication_code"] = f"{values['indication_code']} is not an ICD-10-CM code."
    if values["first_session_on"] < timezone.localdate():
        errors["first_session_on"] = "The first session cannot be in the past."
    if values["titration"] == TitrationKind.STEP:
        step, ceiling = values.get("titration_step"), values.get("titration_ceiling")
        if not step or step <= 0:
            errors["titration_step"] = "A step-up titration needs its step."
        if not ceiling or ceiling < values["dose"]:
            errors["titration_ceiling"] = "The ceiling must be at least the starting dose."
    else:
        values["titration_step"] = values["titration_ceiling"] = None
    if not values["goals"]:
        errors["goals_text"] = "Write at least one goal, in the patient's words."
    if any(len(g) > 300 for g in values["goals"]):
        errors["goals_text"] = "Keep each goal under 300 characters."
    problems = _dose_problems(values, _previous_plan(patient_id, instance))
    errors.update({k: v for k, v in problems.items() if k not in errors})
    if errors:
        raise ValidationError(errors)
    return values


def _apply(plan: TreatmentPlan, values: dict[str, Any]) -> None:
    dose = values.pop("dose")
    for name, value in values.items():
        setattr(plan, name, value)
    if plan.route in WEIGHT_BASED_ROUTES:
        plan.starting_dose_mg_per_kg, plan.starting_dose_mg = dose, None
    else:
        plan.starting_dose_mg_per_kg, plan.starting_dose_mg = None, dose
    plan.dosing_policy_version = dosing_policy().version


def _plan_checked(
    ctx: AuditContext, patient_id: int, raw: dict[str, Any], instance: TreatmentPlan | None = None
) -> dict[str, Any]:
    """plan_clean for a write; a refusal is recorded before it is raised (a plan above the policy maximum is a
    safety refusal: it stays in the audit log)."""
    try:
        return plan_clean(raw, instance=instance, patient_id=patient_id)
    except ValidationError as exc:
        access_event_record(
            ctx=ctx,
            action=Action.PLAN_WRITE,
            patient_id=patient_id,
            outcome=Outcome.INVALID,
            detail={"fields": sorted(exc.message_dict), "errors": {k: v[:1] for k, v in exc.message_dict.items()}},
        )
        raise


def plan_draft_create(*, ctx: AuditContext, patient_id: int, raw: dict[str, Any]) -> TreatmentPlan:
    """Start a plan as a draft (prescriber). The latest signed plan, if any, is what it will replace."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PLAN_WRITE, record_allowed=False)
    values = _plan_checked(ctx, patient_id, raw)
    with transaction.atomic():
        previous = (
            TreatmentPlan.objects.filter(patient_id=patient_id, signed_at__isnull=False)
            .order_by("-signed_at", "-id")
            .first()
        )
        plan = TreatmentPlan(patient_id=patient_id, created_by=ctx.user, supersedes=previous)
        _apply(plan, values)
        plan.save()
        access_event_record(ctx=ctx, action=Action.PLAN_WRITE, patient_id=patient_id, detail={"plan": plan.pk})
    return plan


def _plan_for_write(ctx: AuditContext, plan_id: int) -> TreatmentPlan:
    plan = TreatmentPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise NotFound("No such treatment plan.")
    patient_get_for_user(ctx=ctx, patient_id=plan.patient_id, action=Action.PLAN_WRITE, record_allowed=False)
    return plan


def plan_draft_update(
    *, ctx: AuditContext, plan_id: int, raw: dict[str, Any], version: int | None = None
) -> TreatmentPlan:
    """Change a draft; a signed plan is never changed (409) and a stale form is refused (409).

    Refusals are recorded before the write's transaction, so they stay in the audit log.
    """
    plan = _plan_for_write(ctx, plan_id)
    if plan.is_signed:
        access_event_record(
            ctx=ctx,
            action=Action.PLAN_WRITE,
            patient_id=plan.patient_id,
            outcome=Outcome.DENIED,
            detail={"plan": plan.pk, "why": "signed"},
        )
        raise Conflict("This plan is signed and cannot be changed; write a new plan to replace it.")
    values = _plan_checked(ctx, plan.patient_id, raw, plan)
    with transaction.atomic():
        plan = TreatmentPlan.objects.select_for_update().get(pk=plan_id)
        if plan.is_signed:
            raise Conflict("This plan was signed while you edited it; write a new plan to replace it.")
        if version is not None and version != plan.version:
            raise Conflict("Someone else changed this draft since you opened it; reload it and try again.")
        _apply(plan, values)
        plan.updated_at = timezone.now()
        plan.version += 1
        plan.save()
        access_event_record(
            ctx=ctx, action=Action.PLAN_WRITE, patient_id=plan.patient_id, detail={"plan": plan.pk, "edit": True}
        )
    return plan


def proposed_dates(plan: TreatmentPlan) -> list[datetime]:
    """The session series the plan proposes from the first session, at the session time, in the frequency's
    pattern of gaps (twice weekly: 3 then 4 days)."""
    return [
        timezone.make_aware(datetime.combine(day, plan.session_time))
        for day in session_dates(plan.first_session_on, plan.session_count, plan.interval_days)
    ]


def plan_sign(*, ctx: AuditContext, plan_id: int) -> TreatmentPlan:
    """Sign the plan (prescriber): needs an eligible decision; proposes the dosing sessions on the calendar.

    A plan that replaces an earlier one cancels the earlier plan's sessions that have not started.
    """
    plan = _plan_for_write(ctx, plan_id)
    decision, why = eligibility_in_force(plan.patient_id)
    if decision is None:
        access_event_record(
            ctx=ctx,
            action=Action.PLAN_WRITE,
            patient_id=plan.patient_id,
            outcome=Outcome.DENIED,
            detail={"plan": plan.pk, "why": why},
        )
        raise ValidationError({"plan": f"The plan can be signed only when the patient is eligible: {why}"})
    # Re-check the draft against today's policy and date: it may have been written under an older one.
    _plan_checked(ctx, plan.patient_id, _raw_of(plan), plan)
    with transaction.atomic():
        plan = TreatmentPlan.objects.select_for_update().get(pk=plan_id)
        if plan.is_signed:
            raise Conflict("This plan is already signed.")
        if plan.supersedes_id is not None:
            sessions_cancel_not_started(
                ctx=ctx, patient_id=plan.patient_id, reason=f"Replaced by treatment plan {plan.pk}."
            )
        plan.signature_stamp(ctx.user.pk)
        plan.save()
        for number, when in enumerate(proposed_dates(plan), start=1):
            DosingSession.objects.create(
                patient_id=plan.patient_id,
                plan=plan,
                number=number,
                scheduled_for=when,
                minutes=plan.session_minutes,
                therapist_id=plan.therapist_id,
                state=SessionState.PROPOSED,
            )
        scheduled = _measures_schedule(ctx, plan)
        access_event_record(
            ctx=ctx,
            action="plan.sign",
            patient_id=plan.patient_id,
            detail={
                "plan": plan.pk,
                "digest": plan.signed_digest,
                "sessions_proposed": plan.session_count,
                "measures_scheduled": scheduled,
            },
        )
    return plan


def _measures_schedule(ctx: AuditContext, plan: TreatmentPlan) -> int:
    """Put the plan's measurement schedule in the patient's portal: the chosen questionnaires before each dosing
    session, then PHQ-9 and GAD-7 at the end of the course and 1, 3 and 6 months after (outcomes.md via
    kapclinic/clinical/schedule.py). Returns how many were added (one per instrument and day at most)."""
    dates = [timezone.localtime(d).date() for d in proposed_dates(plan)]
    # Followed up after every course: the instruments chosen by default for follow-up (outcomes.md: depression
    # and anxiety at the end of the course, 1, 3 and 6 months after).
    follow_up = [instrument.code for instrument in instruments_for(Use.FOLLOW_UP, by_default=True)]
    wanted: list[tuple[str, str, date]] = [
        (code, f"Before dosing session {n}", day) for n, day in enumerate(dates, start=1) for code in plan.measures
    ]
    for milestone in standard_schedule(baseline_on=timezone.localdate(), course_end_on=dates[-1])[1:]:
        wanted += [(code, milestone.label, milestone.due_on) for code in follow_up]
    made = 0
    for code, label, due_on in wanted:
        _, created = ScheduledMeasure.objects.get_or_create(
            patient_id=plan.patient_id,
            instrument=code,
            due_on=due_on,
            defaults={"label": label, "created_by": ctx.user},
        )
        made += created
    return made


def _raw_of(plan: TreatmentPlan) -> dict[str, Any]:
    """The plan's values as the form takes them (for re-checking a draft before signing)."""
    return {
        "indication_code": plan.indication_code,
        "indication_text": plan.indication_text,
        "route": plan.route,
        "esketamine_indication": plan.esketamine_indication,
        "dose": plan.starting_dose_mg_per_kg or plan.starting_dose_mg,
        "titration": plan.titration,
        "titration_step": plan.titration_step,
        "titration_ceiling": plan.titration_ceiling,
        "session_count": plan.session_count,
        "interval_days": plan.interval_days,
        "first_session_on": plan.first_session_on,
        "session_time": plan.session_time,
        "session_minutes": plan.session_minutes,
        "therapist": plan.therapist_id,
        "goals": list(plan.goals),
        "measures": list(plan.measures),
        "notes": plan.notes,
    }

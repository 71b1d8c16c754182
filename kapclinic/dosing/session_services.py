"""Running a dosing session (pathway stage 5): each step a service, one transaction, audited.

State machine: scheduled -> checked in -> cleared (or held) -> dosing -> monitoring -> recovery -> discharged,
or stopped early / escalated; then signed. Every step locks the session row and, when the page sent the
version it showed, refuses a stale one (two nurses on one session): the loser gets a clear 409.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn, ParamSpec, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical import dosing as dose_rules
from kapclinic.clinical import infusion as infusion_rules
from kapclinic.clinical import monitoring as rules
from kapclinic.clinical import session_states as states
from kapclinic.clinical.instruments import Use, instruments_for
from kapclinic.clinical.registry import age_on
from kapclinic.clinical.session_states import Step
from kapclinic.days import day_start
from kapclinic.dosing.courses import order_indication, spravato_course
from kapclinic.dosing.models import (
    Administration,
    AdverseEvent,
    AdverseEventReview,
    AdverseSeverity,
    AlertAcknowledgement,
    CheckIn,
    Clearance,
    Discharge,
    DoseOrder,
    DosingSession,
    MonitoringAlert,
    PregnancyTest,
    RemsEnrollment,
    RemsSubmission,
    Route,
    SessionEvent,
    SessionEventKind,
    SessionState,
    SessionTransition,
    VitalSign,
    VitalSource,
)
from kapclinic.dosing.selectors import dosing_blockers
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.ledger.models import Lot, Product
from kapclinic.ledger.services import ConfirmedWitness, Quantity, Witness, ledger_entry_record, witness_confirm
from kapclinic.patients.access import patient_get_for_user
from kapclinic.policy import dosing_policy, monitoring_policy
from kapclinic.roles import Action, may

READING_FIELDS = ("systolic", "diastolic", "heart_rate", "spo2", "respiratory_rate")


def _session_access(ctx: AuditContext, session_id: int, action: Action) -> None:
    """Refuse (and audit, outside any transaction) a user who may not do `action` on this session's patient."""
    found = DosingSession.objects.filter(pk=session_id).values_list("patient_id", flat=True).first()
    if found is None:
        raise NotFound("No such dosing session.")
    patient_get_for_user(ctx=ctx, patient_id=found, action=action, record_allowed=False)


@contextmanager
def _session_step(
    ctx: AuditContext, session_id: int, action: Action, version: int | None = None
) -> Iterator[DosingSession]:
    """Check access (outside the step's transaction, so a refusal stays in the audit log), then lock the
    session row for the step's transaction and refuse a stale version."""
    _session_access(ctx, session_id, action)
    with transaction.atomic():
        session = DosingSession.objects.select_for_update().select_related("plan", "patient").get(pk=session_id)
        if version is not None and version != session.version:
            raise Conflict(
                "Someone else updated this session since your screen loaded (it is now "
                f"{session.get_state_display().lower()}); reload to see their change, then try again."
            )
        yield session


def _require_step(session: DosingSession, step: Step) -> None:
    """Refuse a step the session's state does not allow (the table in kapclinic/clinical/session_states.py)."""
    refused = states.refusal(session.state, step)
    if refused is not None:
        raise Conflict(refused)


def _move(
    ctx: AuditContext,
    session: DosingSession,
    step: Step,
    to: str | None = None,
    reason: str = "",
    at: datetime | None = None,
) -> None:
    """Move the session as `step` does (to `to` where the step has a choice); a move the table lacks is refused."""
    to = states.next_state(session.state, step, to)
    if to is None:
        raise Conflict(states.refusal(session.state, step) or f"Cannot {step} from here.")
    SessionTransition.objects.create(
        session=session, from_state=session.state, to_state=to, by=ctx.user, reason=reason, at=at or timezone.now()
    )
    session.state = to
    session.updated_at = timezone.now()
    session.version += 1
    session.save()


def _audit(ctx: AuditContext, session: DosingSession, action: str, **detail: Any) -> None:
    access_event_record(ctx=ctx, action=action, patient_id=session.patient_id, detail={"session": session.pk, **detail})


class _Refused(Exception):
    """A refused safety step; raised inside the step's transaction, audited after its rollback."""

    def __init__(self, session: DosingSession, action: str, why: str, field: str) -> None:
        super().__init__(why)
        self.patient_id, self.session_id, self.action, self.why, self.field = (
            session.patient_id,
            session.pk,
            action,
            why,
            field,
        )


def _refuse(ctx: AuditContext, session: DosingSession, action: str, why: str, field: str = "session") -> NoReturn:
    raise _Refused(session, action, why, field)


P = ParamSpec("P")
R = TypeVar("R")


def _audits_refusals(step: Callable[P, R]) -> Callable[P, R]:
    """A refused safety step (dosing without clearance, an order over the maximum) stays in the audit log: the
    refusal is recorded after the step's transaction has rolled back, then reported as a validation error."""

    @functools.wraps(step)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return step(*args, **kwargs)
        except _Refused as refused:
            ctx = kwargs["ctx"]
            assert isinstance(ctx, AuditContext)
            access_event_record(
                ctx=ctx,
                action=refused.action,
                patient_id=refused.patient_id,
                outcome=Outcome.DENIED,
                detail={"session": refused.session_id, "why": refused.why},
            )
            raise ValidationError({refused.field: refused.why}) from None

    return run


def pregnancy_test_applies(session: DosingSession) -> bool:
    """A urine hCG before dosing for a patient who could become pregnant (monitoring.md section 1; [policy])."""
    patient = session.patient
    return rules.pregnancy_test_required(patient.sex_at_birth, age_on(patient.birth_date, timezone.localdate()))


@_audits_refusals
def session_check_in(
    *,
    ctx: AuditContext,
    session_id: int,
    identity_confirmed: bool,
    checklist_confirmed: bool,
    pregnancy_test: str,
    weight_kg: Decimal,
    checklist_note: str = "",
    last_food_at: datetime | None = None,
    last_liquid_at: datetime | None = None,
    escort_confirmed: bool | None = None,
    substances_today: bool | None = None,
    substances_note: str = "",
    version: int | None = None,
) -> CheckIn:
    """Check the patient in; what is recorded here (fasting, pregnancy test, escort, substances today) feeds the
    pre-dose checks (monitoring.md section 1). Fasting and escort default to the patient's checklist."""
    errors: dict[str, str] = {}
    now = timezone.now()
    for name, when in (("last_food_at", last_food_at), ("last_liquid_at", last_liquid_at)):
        if when is not None and (timezone.make_aware(when) if timezone.is_naive(when) else when) > now:
            errors[name] = "This time cannot be in the future."
    if substances_today and not substances_note.strip():
        errors["substances_note"] = "Say what was taken and when."
    if not identity_confirmed:
        errors["identity_confirmed"] = "Confirm the patient's identity (two identifiers) before check-in."
    if pregnancy_test not in PregnancyTest.values:
        errors["pregnancy_test"] = "Record the pregnancy test result, or not applicable."
    if not Decimal("20") <= Decimal(weight_kg) <= Decimal("400"):
        errors["weight_kg"] = "Weight must be between 20 and 400 kg; check the scale reading."
    if not checklist_confirmed and not checklist_note.strip():
        errors["checklist_note"] = "The checklist is not confirmed: say what is missing and how it was resolved."
    if errors:
        raise ValidationError(errors)
    with _session_step(ctx, session_id, Action.SESSION_RUN, version) as session:
        _require_step(session, Step.CHECK_IN)
        if pregnancy_test_applies(session) and pregnancy_test == PregnancyTest.NOT_APPLICABLE:
            raise ValidationError({"pregnancy_test": "This patient could become pregnant: record the test result."})
        blockers = dosing_blockers(patient_id=session.patient_id, plan=session.plan)
        if blockers:
            _refuse(ctx, session, "session.check_in", " ".join(blockers))
        checklist = getattr(session, "checklist", None)
        if checklist is not None and last_food_at is None:
            last_food_at = checklist.fasting_since
        if checklist is not None and escort_confirmed is None and checklist_confirmed and checklist.ride_name.strip():
            escort_confirmed = True  # the nurse went through the checklist, ride home included
        check_in = CheckIn.objects.create(
            session=session,
            identity_confirmed=True,
            checklist_confirmed=checklist_confirmed,
            checklist_note=checklist_note.strip()[:300],
            pregnancy_test=pregnancy_test,
            weight_kg=Decimal(weight_kg),
            last_food_at=last_food_at,
            last_liquid_at=last_liquid_at,
            escort_confirmed=escort_confirmed,
            substances_today=substances_today,
            substances_note=substances_note.strip()[:200],
            by=ctx.user,
        )
        if checklist is not None and checklist_confirmed:
            checklist.confirmed_at, checklist.confirmed_by = timezone.now(), ctx.user
            checklist.save(update_fields=["confirmed_at", "confirmed_by"])
        _move(ctx, session, Step.CHECK_IN)
        _audit(ctx, session, "session.check_in", pregnancy_test=pregnancy_test)
    return check_in


def _reading(values: dict[str, Any]) -> rules.VitalReading:
    return rules.VitalReading(**{name: values.get(name) for name in READING_FIELDS})


def _measured_at(session: DosingSession, measured_at: datetime | None) -> datetime:
    now = timezone.now()
    when = measured_at or now
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    if when > now + timedelta(minutes=1):
        raise ValidationError({"measured_at": "A reading cannot be timed in the future."})
    check_in = CheckIn.objects.filter(session=session).values_list("at", flat=True).first()
    start = check_in or session.scheduled_for
    if when < start - timedelta(minutes=30):
        raise ValidationError(
            {"measured_at": f"A reading cannot be timed before the session ({timezone.localtime(start):%H:%M})."}
        )
    return when


def vital_record(
    *,
    ctx: AuditContext,
    session_id: int,
    values: dict[str, Any],
    measured_at: datetime | None = None,
    source: str = VitalSource.MANUAL,
    version: int | None = None,
) -> tuple[VitalSign, list[MonitoringAlert], Clearance | None]:
    """Store a reading; before the dose it decides clearance, after it raises alerts at once (monitoring.md s3)."""
    unknown = set(values) - set(READING_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Not a vital sign."))
    try:
        reading = _reading(values)
    except ValueError as exc:  # e.g. no value at all
        raise ValidationError({"reading": str(exc)}) from None
    problems = rules.reading_problems(reading)
    if problems:
        raise ValidationError({"reading": " ".join(problems)})
    if source not in VitalSource.values:
        raise ValidationError({"source": "Choose manual or device."})
    with _session_step(ctx, session_id, Action.SESSION_RUN, version) as session:
        _require_step(session, Step.RECORD_VITALS)
        when = _measured_at(session, measured_at)
        predose = session.state in states.BEFORE_DOSE
        vital = VitalSign.objects.create(
            session=session, measured_at=when, predose=predose, source=source, recorded_by=ctx.user, **values
        )
        alerts: list[MonitoringAlert] = []
        clearance: Clearance | None = None
        if predose:
            clearance = _clear(ctx, session, vital, reading)
        else:
            alerts = [
                MonitoringAlert.objects.create(
                    session=session,
                    vital=vital,
                    code=alert.code,
                    level=alert.level,
                    message=alert.message,
                    source=alert.source,
                )
                for alert in rules.reading_alerts(reading, policy=monitoring_policy())
            ]
            # A reading adds to the record and changes no step: it leaves the version alone, so a device
            # posting every few minutes never makes the nurse's open forms stale.
        _audit(ctx, session, "session.vitals", vital=vital.pk, alerts=[a.code for a in alerts])
    return vital, alerts, clearance


def check_in_answers(session: DosingSession, check_in: CheckIn | None, at: datetime) -> rules.CheckInAnswers:
    """What check-in recorded, as the pre-dose rules take it (minutes before `at`, the reading's time)."""

    def minutes(since: datetime | None) -> int | None:
        return None if since is None else max(int((at - since).total_seconds() // 60), 0)

    if check_in is None:
        return rules.CheckInAnswers(pregnancy_test_required=pregnancy_test_applies(session))
    return rules.CheckInAnswers(
        minutes_since_food=minutes(check_in.last_food_at),
        minutes_since_liquid=minutes(check_in.last_liquid_at),
        pregnancy_test=check_in.pregnancy_test,
        pregnancy_test_required=pregnancy_test_applies(session),
        escort_confirmed=check_in.escort_confirmed,
        substances_today=check_in.substances_today,
    )


def _clear(ctx: AuditContext, session: DosingSession, vital: VitalSign, reading: rules.VitalReading) -> Clearance:
    policy = monitoring_policy()
    answers = check_in_answers(session, CheckIn.objects.filter(session=session).first(), vital.measured_at)
    verdict = rules.predose_clearance(reading, route=session.plan.route, check_in=answers, policy=policy)
    findings = [f.as_dict() for f in verdict.findings]
    status = verdict.status
    clearance = Clearance.objects.create(
        session=session,
        vital=vital,
        status=status,
        findings=findings,
        policy_version=policy.version,
        by=ctx.user,
    )
    target = SessionState.CLEARED if status == "clear" else SessionState.HELD
    if session.state != target:
        _move(ctx, session, Step.RECORD_VITALS, target, reason="; ".join(f["message"] for f in findings))
    return clearance


@_audits_refusals
def clearance_override(*, ctx: AuditContext, session_id: int, reason: str, version: int | None = None) -> Clearance:
    """The prescriber clears a held session with a reason; a "do not dose" finding is never overridden."""
    if len(reason.strip()) < 10:
        raise ValidationError(
            {"reason": "Give the clinical reason for dosing despite the hold (10 characters or more)."}
        )
    with _session_step(ctx, session_id, Action.DOSE_ORDER, version) as session:
        _require_step(session, Step.OVERRIDE_HOLD)
        latest = Clearance.objects.filter(session=session).order_by("-at", "-id").first()
        if latest is None or latest.status == "do_not_dose":
            _refuse(ctx, session, "session.clearance_override", "A do-not-dose finding cannot be overridden.")
        cleared = Clearance.objects.create(
            session=session,
            vital=latest.vital,
            status="clear",
            findings=latest.findings,
            policy_version=latest.policy_version,
            by=ctx.user,
            override_by=ctx.user,
            override_reason=reason.strip(),
        )
        _move(ctx, session, Step.OVERRIDE_HOLD, reason=f"Hold overridden: {reason.strip()}")
        _audit(ctx, session, "session.clearance_override", reason=reason.strip()[:200])
    return cleared


def dose_calculate(
    session: DosingSession, product: Product, *, escalate: bool = False, indication: str = ""
) -> dose_rules.DoseCalculation:
    """The dose for this session from the plan, today's weight and the titration rule (dosing.md section 6);
    esketamine by its indication and where the dose falls in the course (dosing.md section 5)."""
    plan = session.plan
    check_in = CheckIn.objects.filter(session=session).first()
    previous = (
        DoseOrder.objects.filter(session__plan=plan, session__number__lt=session.number)
        .order_by("-session__number", "-signed_at")
        .first()
    )
    previous_dose = None
    if previous is not None:
        previous_dose = previous.dose_mg_per_kg if plan.route in dose_rules.WEIGHT_BASED_ROUTES else previous.dose_mg
    spravato_recent, spravato = None, None
    if plan.route == Route.INTRANASAL:
        since = timezone.localdate() - timedelta(days=6)
        spravato_recent = Administration.objects.filter(
            session__patient_id=session.patient_id, route=Route.INTRANASAL, started_at__gte=day_start(since)
        ).count()
        spravato = spravato_course(plan, order_indication(plan, indication), excluding_session_id=session.pk)
    starting = plan.starting_dose_mg_per_kg if plan.starting_dose_mg_per_kg is not None else plan.starting_dose_mg
    assert starting is not None
    return dose_rules.calculate_dose(
        dose_rules.DosePlan(
            route=plan.route,
            starting_dose=starting,
            titration=dose_rules.TitrationRule(
                kind=plan.titration, step=plan.titration_step, ceiling=plan.titration_ceiling
            ),
        ),
        weight_kg=check_in.weight_kg if check_in else None,
        concentration=product.mg_per_unit,
        session_number=session.number,
        escalate=escalate,
        previous_dose=previous_dose,
        sex_at_birth=session.patient.sex_at_birth,
        weight_measured_on=timezone.localtime(check_in.at).date() if check_in else None,
        today=timezone.localdate(),
        doses_in_previous_6_days=spravato_recent,
        spravato=spravato,
        policy=dosing_policy(),
    )


@_audits_refusals
def dose_order_sign(
    *,
    ctx: AuditContext,
    session_id: int,
    product_id: int,
    escalate: bool = False,
    override_reason: str = "",
    indication: str = "",
    infusion_minutes: int | None = None,
    version: int | None = None,
) -> DoseOrder:
    """The prescriber signs today's dose order; above a policy maximum it needs a written override reason.
    An IV order carries its planned infusion minutes (standard 40: dosing.md section 2); None means the standard.
    Esketamine needs its indication (TRD or MDSI): the plan's, or given here for a plan written before it was asked."""
    product = Product.objects.filter(pk=product_id, active=True).first()
    if product is None:
        raise ValidationError({"product": "Choose the product to draw from."})
    with _session_step(ctx, session_id, Action.DOSE_ORDER, version) as session:
        _require_step(session, Step.ORDER_DOSE)
        blockers = dosing_blockers(patient_id=session.patient_id, plan=session.plan)
        if blockers:
            _refuse(ctx, session, "dose.order", " ".join(blockers))
        plan = session.plan
        if plan.route == Route.INTRANASAL and not RemsEnrollment.objects.filter(patient=session.patient).exists():
            _refuse(
                ctx,
                session,
                "dose.order",
                "Esketamine needs the patient's REMS enrollment on record before the first dose (Spravato REMS).",
            )
        try:
            esketamine_indication = order_indication(plan, indication)
        except ValueError as exc:
            raise ValidationError({"indication": str(exc)}) from None
        if plan.route == Route.INTRANASAL and not esketamine_indication:
            _refuse(
                ctx,
                session,
                "dose.order",
                "Indication needed before the first esketamine order: choose TRD or MDSI (the US label doses them "
                "differently; Spravato US PI 2.1, 2.2).",
                field="indication",
            )
        try:
            calc = dose_calculate(session, product, escalate=escalate, indication=esketamine_indication)
        except ValueError as exc:
            raise ValidationError({"dose": str(exc)}) from None
        working = list(calc.working)
        planned_minutes = None
        if plan.route == Route.IV:
            try:
                planned_minutes = infusion_rules.check_planned_minutes(
                    infusion_rules.STANDARD_MINUTES if infusion_minutes is None else infusion_minutes
                )
            except infusion_rules.InfusionError as exc:
                raise ValidationError({"infusion_minutes": str(exc)}) from None
            note = infusion_rules.planned_minutes_note(planned_minutes)
            working.append(note or f"Infusion over {planned_minutes} min ({infusion_rules.SOURCE_STANDARD}).")
        elif infusion_minutes is not None:
            raise ValidationError({"infusion_minutes": "Only an IV order has an infusion duration."})
        hard_stops = [f.as_dict() for f in calc.hard_stops]
        if hard_stops and len(override_reason.strip()) < 10:
            _refuse(
                ctx,
                session,
                "dose.order",
                " ".join(f["message"] for f in hard_stops) + " An override needs the prescriber's written reason.",
                field="override_reason",
            )
        order = DoseOrder(
            session=session,
            route=plan.route,
            dose_mg=calc.dose_mg,
            dose_mg_per_kg=calc.dose_mg_per_kg,
            weight_kg=calc.weight_kg,
            product=product,
            volume_ml=calc.volume_ml,
            units=calc.units,
            escalated=escalate,
            esketamine_indication=esketamine_indication,
            infusion_minutes=planned_minutes,
            working=working,
            hard_stops=hard_stops,
            override_reason=override_reason.strip() if hard_stops else "",
            policy_version=dosing_policy().version,
        )
        order.signature_stamp(ctx.user.pk)
        order.save(force_insert=True)
        session.version += 1
        session.save(update_fields=["version"])
        _audit(ctx, session, "dose.order", order=order.pk, dose_mg=str(calc.dose_mg), overridden=bool(hard_stops))
    return order


def _short_infusion(
    ctx: AuditContext, session: DosingSession, order: DoseOrder, started_at: datetime, ended_at: datetime, reason: str
) -> infusion_rules.ShortInfusion | None:
    """The finding when an IV infusion ends far sooner than planned; refused without the reason for it."""
    planned = order.infusion_minutes or infusion_rules.STANDARD_MINUTES
    short = infusion_rules.short_infusion(
        planned_minutes=planned, actual_minutes=(ended_at - started_at).total_seconds() / 60, policy=dosing_policy()
    )
    if short is not None and len(reason.strip()) < 10:
        _refuse(
            ctx,
            session,
            "session.infusion_end",
            f"{short.message} Give the reason it ended early ({short.source}).",
            field="short_infusion_reason",
        )
    return short


def _short_reason(short: infusion_rules.ShortInfusion | None, reason: str) -> str:
    return f"{short.message} Reason: {reason.strip()}" if short is not None else ""


@_audits_refusals
def administration_record(
    *,
    ctx: AuditContext,
    session_id: int,
    lot_id: int,
    location_id: int,
    started_at: datetime,
    drawn: Decimal,
    given: Decimal,
    ended_at: datetime | None = None,
    infusion_rate_ml_per_h: Decimal | None = None,
    short_infusion_reason: str = "",
    witness: Witness | None = None,
    version: int | None = None,
) -> Administration:
    """Record the dose given (amounts in the product's unit: mL or devices); the ledger draw and the waste of
    any remainder (with a witness) are written in the same transaction (controlled-substances.md)."""
    if drawn <= 0 or given <= 0:
        raise ValidationError({"given": "Amounts drawn and given must be above zero."})
    if given > drawn:
        raise ValidationError({"given": "More cannot be given than was drawn."})
    now = timezone.now()
    if started_at > now + timedelta(minutes=1) or (ended_at is not None and ended_at > now + timedelta(minutes=1)):
        raise ValidationError({"started_at": "Times cannot be in the future."})
    if ended_at is not None and ended_at < started_at:
        raise ValidationError({"ended_at": "The end cannot be before the start."})
    confirmed = None
    if witness is not None:
        # The witness's password is checked before the step's transaction, so a failure stays counted and audited.
        _session_access(ctx, session_id, Action.SESSION_RUN)
        confirmed = ConfirmedWitness(witness_confirm(ctx, witness, what="Wasting the remainder"))
    with _session_step(ctx, session_id, Action.SESSION_RUN, version) as session:
        _require_step(session, Step.ADMINISTER)
        blockers = dosing_blockers(patient_id=session.patient_id, plan=session.plan)
        if blockers:
            _refuse(ctx, session, "session.administer", " ".join(blockers))
        checked_in_at = CheckIn.objects.filter(session=session).values_list("at", flat=True).first()
        if checked_in_at is not None and started_at < checked_in_at:
            raise ValidationError({"started_at": "The dose cannot start before the patient was checked in."})
        order = DoseOrder.objects.filter(session=session).order_by("-signed_at", "-id").first()
        if order is None:
            _refuse(ctx, session, "session.administer", "There is no signed dose order for this session.")
        lot = Lot.objects.select_related("product").filter(pk=lot_id).first()
        if lot is None or lot.product_id != order.product_id:
            raise ValidationError({"lot": "Choose a lot of the ordered product."})
        per_unit = lot.product.mg_per_unit
        given_mg, drawn_mg = (
            (given * per_unit).quantize(Decimal("0.001")),
            (drawn * per_unit).quantize(Decimal("0.001")),
        )
        tolerance = max(Decimal("1"), order.dose_mg * Decimal("0.02"))
        if abs(given_mg - order.dose_mg) > tolerance:
            _refuse(
                ctx,
                session,
                "session.administer",
                f"{given_mg.normalize():f} mg given differs from the order of {order.dose_mg.normalize():f} mg.",
                field="given",
            )
        if session.plan.route == Route.IV and infusion_rate_ml_per_h is None:
            raise ValidationError({"infusion_rate_ml_per_h": "Record the infusion rate for an IV dose."})
        short = None
        if session.plan.route == Route.IV and ended_at is not None:
            short = _short_infusion(ctx, session, order, started_at, ended_at, short_infusion_reason)
        reference = f"Dosing session {session.pk}, order {order.pk}"
        entry = ledger_entry_record(
            ctx=ctx,
            kind="administration",
            lot_id=lot.pk,
            location_id=location_id,
            quantity=Quantity(given, lot.product.unit),
            occurred_at=started_at,
            patient_id=session.patient_id,
            reference=reference,
        )
        waste = None
        if drawn > given:
            waste = ledger_entry_record(
                ctx=ctx,
                kind="waste",
                lot_id=lot.pk,
                location_id=location_id,
                quantity=Quantity(drawn - given, lot.product.unit),
                occurred_at=ended_at or started_at,
                witness=confirmed,
                patient_id=session.patient_id,
                reason=f"Remainder of the dose drawn for {reference.lower()}",
                reference=reference,
            )
        administration = Administration.objects.create(
            session=session,
            order=order,
            route=session.plan.route,
            lot=lot,
            location_id=location_id,
            started_at=started_at,
            ended_at=ended_at,
            infusion_rate_ml_per_h=infusion_rate_ml_per_h,
            drawn_mg=drawn_mg,
            given_mg=given_mg,
            ledger_entry=entry,
            waste_entry=waste,
            by=ctx.user,
        )
        session.started_at = started_at
        # An infusion still running stays "dosing"; an injection, spray or lozenge goes straight to monitoring.
        running = session.plan.route == Route.IV and ended_at is None
        _move(ctx, session, Step.ADMINISTER, at=started_at)
        if not running:
            _move(
                ctx,
                session,
                Step.ADMINISTER,
                reason=_short_reason(short, short_infusion_reason),
                at=ended_at or started_at,
            )
        _audit(
            ctx,
            session,
            "session.administer",
            given_mg=str(given_mg),
            entry=entry.pk,
            short_infusion=short and short.code,
        )
    return administration


@_audits_refusals
def session_advance(
    *,
    ctx: AuditContext,
    session_id: int,
    to: str,
    at: datetime | None = None,
    reason: str = "",
    version: int | None = None,
) -> DosingSession:
    """The simple steps: infusion ended (dosing -> monitoring) and monitoring -> recovery.

    An IV infusion ended far sooner than its order planned (a bolus) needs the reason, kept on the step."""
    step = {SessionState.MONITORING.value: Step.END_INFUSION, SessionState.RECOVERY.value: Step.RECOVER}.get(to)
    if step is None:
        raise ValidationError({"to": "Only monitoring (infusion ended) or recovery are steps of their own."})
    when = at or timezone.now()
    if when > timezone.now() + timedelta(minutes=1):
        raise ValidationError({"at": "The time cannot be in the future."})
    with _session_step(ctx, session_id, Action.SESSION_RUN, version) as session:
        _require_step(session, step)
        last = SessionTransition.objects.filter(session=session).order_by("-at", "-id").values_list("at", flat=True)
        if last and when < last[0]:
            raise ValidationError({"at": "This step cannot be timed before the previous one."})
        short = None
        administration = Administration.objects.filter(session=session).select_related("order").first()
        if to == SessionState.MONITORING and session.plan.route == Route.IV and administration is not None:
            short = _short_infusion(ctx, session, administration.order, administration.started_at, when, reason)
        _move(ctx, session, step, reason=_short_reason(short, reason), at=when)
        _audit(ctx, session, f"session.{to}", short_infusion=short and short.code)
    return session


def event_record(
    *,
    ctx: AuditContext,
    session_id: int,
    kind: str,
    code: str,
    occurred_at: datetime | None = None,
    severity: str = "",
    value: str = "",
    note: str = "",
) -> SessionEvent:
    """A side effect, intervention, rescue medication or score, with its time."""
    if kind not in SessionEventKind.values:
        raise ValidationError({"kind": "Choose side effect, intervention, rescue medication or score."})
    if not code.strip():
        raise ValidationError({"code": "Say what it was."})
    if severity and severity not in AdverseSeverity.values:
        raise ValidationError({"severity": "Severity is mild, moderate or severe."})
    if kind == SessionEventKind.RESCUE_MEDICATION and not value.strip():
        raise ValidationError({"value": "Record the dose and route of the rescue medication."})
    if kind == SessionEventKind.SCORE:
        value = _score_value(code.strip(), value)
    with _session_step(ctx, session_id, Action.SESSION_RUN) as session:
        _require_step(session, Step.RECORD_EVENT)
        when = _measured_at(session, occurred_at)
        event = SessionEvent.objects.create(
            session=session,
            kind=kind,
            code=code.strip()[:40],
            severity=severity,
            value=value.strip()[:60],
            note=note.strip(),
            occurred_at=when,
            by=ctx.user,
        )
        alerts = _score_alerts(session, event)
        _audit(ctx, session, "session.event", kind=kind, code=event.code, alerts=[a.code for a in alerts])
    return event


def _score_alerts(session: DosingSession, event: SessionEvent) -> list[MonitoringAlert]:
    """A MOAA/S scored after the dose raises the same alert a reading with that score would (monitoring.md
    section 3): a deeply sedated patient is on the prescriber's home page whether or not vitals were taken."""
    if event.kind != SessionEventKind.SCORE or event.code != "moaas" or session.state in states.BEFORE_DOSE:
        return []
    return [
        MonitoringAlert.objects.create(
            session=session, event=event, code=alert.code, level=alert.level, message=alert.message, source=alert.source
        )
        for alert in rules.sedation_alerts(int(event.value), policy=monitoring_policy())
    ]


def _score_value(code: str, value: str) -> str:
    """A score is one of the in-session scales (sedation, dissociation: the instruments whose uses include
    Use.IN_SESSION, kapclinic/clinical/instruments), within that scale's range."""
    scales = {instrument.code: instrument for instrument in instruments_for(Use.IN_SESSION)}
    instrument = scales.get(code)
    if instrument is None:
        raise ValidationError({"code": f"Score one of the in-session scales: {', '.join(scales)}."})
    try:
        total = int(value.strip())
    except ValueError:
        raise ValidationError({"value": f"Enter the {instrument.name} score as a whole number."}) from None
    top = instrument.max_total
    if total < instrument.min_total or (top is not None and total > top):
        raise ValidationError(
            {"value": f"{instrument.name} scores from {instrument.min_total} to {top}; {total} is outside."}
        )
    return str(total)


def alert_acknowledge(*, ctx: AuditContext, alert_id: int, action_taken: str) -> AlertAcknowledgement:
    """Acknowledge an alert as oneself, with the action taken (never on someone else's behalf)."""
    alert = MonitoringAlert.objects.select_related("session").filter(pk=alert_id).first()
    if alert is None:
        raise NotFound("No such alert.")
    if len(action_taken.strip()) < 3:
        raise ValidationError({"action_taken": "Say what was done (e.g. rechecked in 5 minutes, infusion paused)."})
    with _session_step(ctx, alert.session_id, Action.ALERT_ACKNOWLEDGE) as session:
        if AlertAcknowledgement.objects.filter(alert=alert).exists():
            raise Conflict("This alert was already acknowledged.")
        ack = AlertAcknowledgement.objects.create(alert=alert, by=ctx.user, action_taken=action_taken.strip())
        _audit(ctx, session, "alert.acknowledge", alert=alert.pk, code=alert.code)
    return ack


def discharge_criteria(session: DosingSession, answers: dict[str, Any]) -> list[rules.DischargeCriterion]:
    """The discharge checklist (monitoring.md section 6) from the session record and the nurse's answers."""
    administration = getattr(session, "administration", None)
    vitals = list(VitalSign.objects.filter(session=session).order_by("measured_at", "id"))
    baseline = next((v for v in vitals if v.predose), None)
    after_dose = [v for v in vitals if not v.predose]
    last = after_dose[-1] if after_dose else None
    # Esketamine: BP is judged on the last two readings, so the one before the last that has a BP.
    previous = next((v for v in reversed(after_dose[:-1]) if v.systolic and v.diastolic), None)
    infusion_end = (
        SessionTransition.objects.filter(session=session, to_state=SessionState.MONITORING)
        .values_list("at", flat=True)
        .first()
    )
    now = timezone.now()
    # A dose may be recorded up to a minute ahead of the server's clock (administration_record): never negative.
    since_dose = max(0, int((now - administration.started_at).total_seconds() // 60)) if administration else 0
    since_end = max(0, int((now - infusion_end).total_seconds() // 60)) if infusion_end else None
    return rules.discharge_check(
        route=session.plan.route,
        minutes_since_dose=since_dose,
        minutes_since_infusion_end=since_end,
        last_reading=_reading_of(last) if last else None,
        baseline_reading=_reading_of(baseline) if baseline else None,
        previous_reading=_reading_of(previous) if previous else None,
        moaas=answers.get("moaas"),
        oriented=bool(answers.get("oriented")),
        walks_steadily=bool(answers.get("walks_steadily")),
        nausea_controlled=bool(answers.get("nausea_controlled")),
        # Asked as a question (yes / no): not answered stays None, which never meets the criterion.
        new_suicidal_ideation=_answer(answers.get("new_suicidal_ideation")),
        escort_present=bool(answers.get("escort_present")),
        policy=monitoring_policy(),
    )


def _answer(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _reading_of(vital: VitalSign) -> rules.VitalReading:
    return rules.VitalReading(**{name: getattr(vital, name) for name in READING_FIELDS})


# Observation time for esketamine is the label's (Spravato PI boxed warning; REMS): no override.
NEVER_OVERRIDDEN = {"observation_time"}


@_audits_refusals
def session_discharge(
    *,
    ctx: AuditContext,
    session_id: int,
    answers: dict[str, Any],
    driver_name: str,
    override_reason: str = "",
    version: int | None = None,
) -> Discharge:
    """Discharge; an unmet criterion needs the prescriber's override with a reason (never Spravato's 2 hours)."""
    if not driver_name.strip():
        raise ValidationError({"driver_name": "Record who is driving the patient home."})
    with _session_step(ctx, session_id, Action.SESSION_RUN, version) as session:
        _require_step(session, Step.DISCHARGE)
        criteria = discharge_criteria(session, answers)
        unmet = [c for c in criteria if not c.met]
        overridden_by = None
        if unmet:
            label = "; ".join(f"{c.label} ({c.detail.rstrip('.')})" for c in unmet)
            if session.plan.route == Route.INTRANASAL and any(c.code in NEVER_OVERRIDDEN for c in unmet):
                _refuse(ctx, session, "session.discharge", "Esketamine needs at least 2 hours of observation.")
            if not may(ctx.user.role, Action.DOSE_ORDER):
                _refuse(ctx, session, "session.discharge", f"Not met: {label}. Only the prescriber can override.")
            if len(override_reason.strip()) < 10:
                _refuse(
                    ctx,
                    session,
                    "session.discharge",
                    f"Not met: {label}. Give the reason to discharge anyway.",
                    field="override_reason",
                )
            overridden_by = ctx.user
        discharge = Discharge.objects.create(
            session=session,
            criteria=[asdict(c) for c in criteria],
            driver_name=driver_name.strip()[:120],
            override_by=overridden_by,
            override_reason=override_reason.strip() if unmet else "",
            by=ctx.user,
        )
        session.ended_at = discharge.at
        _move(ctx, session, Step.DISCHARGE)
        _audit(ctx, session, "session.discharge", unmet=[c.code for c in unmet])
    return discharge


def session_stop(
    *, ctx: AuditContext, session_id: int, outcome: str, reason: str, version: int | None = None
) -> DosingSession:
    """Stop a session early or escalate it (emergency care); the reason is required."""
    if outcome not in states.STOP_OUTCOMES:
        raise ValidationError({"outcome": "Choose stopped early or escalated."})
    if len(reason.strip()) < 5:
        raise ValidationError({"reason": "Say why the session stopped."})
    with _session_step(ctx, session_id, Action.SESSION_RUN, version) as session:
        _require_step(session, Step.STOP)
        session.ended_at = timezone.now()
        _move(ctx, session, Step.STOP, outcome, reason=reason.strip())
        _audit(ctx, session, f"session.{outcome}", reason=reason.strip()[:200])
    return session


def session_sign(*, ctx: AuditContext, session_id: int, version: int | None = None) -> DosingSession:
    """Sign the finished session record; after this the database refuses any change to it."""
    with _session_step(ctx, session_id, Action.SESSION_RUN, version) as session:
        _require_step(session, Step.SIGN)
        if session.is_signed:
            raise Conflict("This session is already signed.")
        _audit(ctx, session, "session.sign")
        session.signature_stamp(ctx.user.pk)
        session.save()
    return session


def adverse_event_record(
    *,
    ctx: AuditContext,
    patient_id: int,
    what: str,
    severity: str,
    action: str,
    occurred_at: datetime,
    serious: bool = False,
    outcome: str = "",
    session_id: int | None = None,
) -> AdverseEvent:
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.ADVERSE_EVENT_RECORD, record_allowed=False)
    errors: dict[str, str] = {}
    if not what.strip():
        errors["what"] = "Say what happened."
    if severity not in AdverseSeverity.values:
        errors["severity"] = "Severity is mild, moderate or severe."
    if not action.strip():
        errors["action"] = "Say what was done."
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    if occurred_at > timezone.now() + timedelta(minutes=1):
        errors["occurred_at"] = "An adverse event cannot be in the future."
    if session_id is not None and not DosingSession.objects.filter(pk=session_id, patient_id=patient_id).exists():
        errors["session"] = "That session is not this patient's."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        event = AdverseEvent.objects.create(
            patient_id=patient_id,
            session_id=session_id,
            what=what.strip()[:300],
            severity=severity,
            serious=serious,
            action=action.strip(),
            outcome=outcome.strip(),
            occurred_at=occurred_at,
            by=ctx.user,
        )
        access_event_record(
            ctx=ctx,
            action="adverse_event.record",
            patient_id=patient_id,
            detail={"event": event.pk, "severity": severity, "serious": serious},
        )
    return event


def adverse_event_review(*, ctx: AuditContext, event_id: int, note: str) -> AdverseEventReview:
    if not may(ctx.user.role, Action.ADVERSE_EVENT_REVIEW):
        raise AccessDenied("Only the clinic director reviews adverse events.")
    event = AdverseEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound("No such adverse event.")
    if not note.strip():
        raise ValidationError({"note": "Record the review (what follows from it)."})
    with transaction.atomic():
        if AdverseEventReview.objects.filter(event=event).exists():
            raise Conflict("This adverse event was already reviewed.")
        review = AdverseEventReview.objects.create(event=event, by=ctx.user, note=note.strip())
        access_event_record(
            ctx=ctx, action="adverse_event.review", patient_id=event.patient_id, detail={"event": event.pk}
        )
    return review


def rems_enrollment_record(*, ctx: AuditContext, patient_id: int, enrolled_on: Any, reference: str) -> RemsEnrollment:
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.DOSE_ORDER, record_allowed=False)
    if not reference.strip():
        raise ValidationError({"reference": "Enter the REMS patient enrollment reference."})
    if enrolled_on > timezone.localdate():
        raise ValidationError({"enrolled_on": "The enrollment date cannot be in the future."})
    with transaction.atomic():
        enrollment = RemsEnrollment.objects.create(
            patient_id=patient_id, enrolled_on=enrolled_on, reference=reference.strip()[:60], recorded_by=ctx.user
        )
        access_event_record(ctx=ctx, action="rems.enroll", patient_id=patient_id, detail={"reference": reference[:60]})
    return enrollment


def rems_submit(*, ctx: AuditContext, session_id: int, reference: str = "") -> RemsSubmission:
    """Mark the session's REMS patient monitoring form submitted (the 7-day clock on the director's dashboard)."""
    with _session_step(ctx, session_id, Action.REMS_SUBMIT) as session:
        if session.plan.route != Route.INTRANASAL:
            raise ValidationError({"session": "Only esketamine sessions have a REMS monitoring form."})
        _require_step(session, Step.SUBMIT_REMS)
        if RemsSubmission.objects.filter(session=session).exists():
            raise Conflict("The REMS form of this session was already marked submitted.")
        submission = RemsSubmission.objects.create(session=session, by=ctx.user, reference=reference.strip()[:80])
        _audit(ctx, session, "rems.submit")
    return submission

"""Dosing-session writes: each a transaction with its audit event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical import session_states as states
from kapclinic.clinical.session_states import NOT_STARTED, Step
from kapclinic.dosing.models import DosingSession, PreparationChecklist, SessionTransition
from kapclinic.dosing.selectors import dosing_blockers
from kapclinic.errors import Conflict, NotFound
from kapclinic.patients.access import patient_get_for_user
from kapclinic.roles import Action, Role


def sessions_cancel_not_started(*, ctx: AuditContext, patient_id: int, reason: str) -> list[int]:
    """Cancel the patient's proposed and scheduled sessions (consent withdrawn, plan replaced); return their ids.

    Runs inside the caller's transaction when there is one, so the cancellation and its cause land together.
    """
    now = timezone.now()
    with transaction.atomic():
        sessions = list(DosingSession.objects.select_for_update().filter(patient_id=patient_id, state__in=NOT_STARTED))
        for session in sessions:
            cancelled = states.next_state(session.state, Step.CANCEL)
            assert cancelled is not None  # not started: the table cancels it
            SessionTransition.objects.create(
                session=session, from_state=session.state, to_state=cancelled, by=ctx.user, reason=reason
            )
            session.state = cancelled
            session.updated_at = now
            session.version += 1
            session.save(update_fields=["state", "updated_at", "version"])
        if sessions:
            access_event_record(
                ctx=ctx,
                action="dosing.cancel",
                patient_id=patient_id,
                detail={"sessions": [s.pk for s in sessions], "reason": reason[:200]},
            )
    return [s.pk for s in sessions]


def session_schedule(
    *, ctx: AuditContext, session_id: int, room: str = "", nurse_id: int | None = None, version: int | None = None
) -> DosingSession:
    """Confirm a proposed session on the calendar: refused (and audited) without consent, eligibility, a signed plan."""
    session = DosingSession.objects.select_related("plan").filter(pk=session_id).first()
    if session is None:
        raise NotFound("No such dosing session.")
    patient_get_for_user(ctx=ctx, patient_id=session.patient_id, action=Action.DOSING_SCHEDULE, record_allowed=False)
    blockers = dosing_blockers(patient_id=session.patient_id, plan=session.plan, on=session.scheduled_for.date())
    if blockers:
        # Scheduling dosing without consent or eligibility is a safety refusal: kept in the audit log.
        access_event_record(
            ctx=ctx,
            action=Action.DOSING_SCHEDULE,
            patient_id=session.patient_id,
            outcome=Outcome.DENIED,
            detail={"session": session.pk, "why": blockers},
        )
        raise ValidationError({"session": " ".join(blockers)})
    if nurse_id is not None and not User.objects.filter(pk=nurse_id, role=Role.NURSE, is_active=True).exists():
        raise ValidationError({"nurse": "Choose an active nurse."})
    with transaction.atomic():
        session = DosingSession.objects.select_for_update().get(pk=session_id)
        if version is not None and version != session.version:
            raise Conflict("Someone else changed this session since you opened it; reload and try again.")
        scheduled = states.next_state(session.state, Step.SCHEDULE)
        if scheduled is None:
            raise Conflict(f"This session is {session.get_state_display().lower()}, not proposed.")
        if session.scheduled_for < timezone.now():
            raise ValidationError({"session": "This session's time has passed; a new plan proposes new dates."})
        SessionTransition.objects.create(session=session, from_state=session.state, to_state=scheduled, by=ctx.user)
        session.state = scheduled
        session.room = room.strip()[:40]
        session.nurse_id = nurse_id
        session.updated_at = timezone.now()
        session.version += 1
        session.save()
        PreparationChecklist.objects.get_or_create(session=session, defaults={"updated_by": ctx.user})
        access_event_record(
            ctx=ctx, action=Action.DOSING_SCHEDULE, patient_id=session.patient_id, detail={"session": session.pk}
        )
    return session


CHECKLIST_FIELDS = ("fasting_since", "medications_held", "ride_name", "ride_phone", "no_driving_until_next_day")


def checklist_save(*, ctx: AuditContext, session_id: int, values: dict[str, Any]) -> PreparationChecklist:
    """The patient fills in (or changes) the preparation checklist for an upcoming session, until check-in."""
    session = DosingSession.objects.filter(pk=session_id).first()
    if session is None:
        raise NotFound("No such dosing session.")
    patient_get_for_user(ctx=ctx, patient_id=session.patient_id, action=Action.CHECKLIST_COMPLETE, record_allowed=False)
    unknown = set(values) - set(CHECKLIST_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This is not part of the checklist."))
    errors: dict[str, str] = {}
    fasting = values.get("fasting_since")
    if fasting is not None:
        if timezone.is_naive(fasting):
            fasting = timezone.make_aware(fasting)
        if fasting > timezone.now() + timedelta(minutes=5):
            errors["fasting_since"] = "Fasting cannot start in the future; enter when you last ate."
        elif fasting < session.scheduled_for - timedelta(days=2):
            errors["fasting_since"] = "That is more than two days before the session; check the date."
    phone = str(values.get("ride_phone") or "").strip()
    if phone and sum(ch.isdigit() for ch in phone) < 7:
        errors["ride_phone"] = "Enter the driver's phone number, with the area code."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        session = DosingSession.objects.select_for_update().get(pk=session_id)
        if states.refusal(session.state, Step.CHANGE_CHECKLIST) is not None:
            raise Conflict("This session has started; the checklist can no longer be changed.")
        checklist, _ = PreparationChecklist.objects.get_or_create(session=session, defaults={"updated_by": ctx.user})
        checklist.fasting_since = fasting
        checklist.medications_held = bool(values.get("medications_held"))
        checklist.ride_name = str(values.get("ride_name") or "").strip()[:120]
        checklist.ride_phone = phone[:25]
        checklist.no_driving_until_next_day = bool(values.get("no_driving_until_next_day"))
        checklist.updated_at = timezone.now()
        checklist.updated_by = ctx.user
        checklist.completed_at = checklist.completed_at or (timezone.now() if checklist.is_complete else None)
        if not checklist.is_complete:
            checklist.completed_at = None
        checklist.save()
        access_event_record(
            ctx=ctx,
            action=Action.CHECKLIST_COMPLETE,
            patient_id=session.patient_id,
            detail={"session": session.pk, "complete": checklist.is_complete},
        )
    return checklist

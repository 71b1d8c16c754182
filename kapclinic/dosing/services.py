"""Dosing-session writes: each a transaction with its audit event."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment, Place
from kapclinic.appointments.services import dosing_booking_hold, dosing_bookings_cancel
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical import session_states as states
from kapclinic.clinical.availability import PLACE_KINDS, dosing_session_minutes, place_needed
from kapclinic.clinical.session_states import NOT_STARTED, Step
from kapclinic.dosing.models import DosingSession, PreparationChecklist, SessionTransition
from kapclinic.dosing.selectors import dosing_blockers
from kapclinic.dosing.signals import scheduled_despite_warnings, scheduling_warnings_asked
from kapclinic.errors import Conflict, NotFound
from kapclinic.patients.access import patient_get_for_user
from kapclinic.roles import Action, Role


def _cancel(ctx: AuditContext, session: DosingSession, reason: str) -> None:
    """Move a locked session not yet begun to cancelled, with the reason in its transitions."""
    cancelled = states.next_state(session.state, Step.CANCEL)
    assert cancelled is not None  # not started: the table cancels it
    SessionTransition.objects.create(
        session=session, from_state=session.state, to_state=cancelled, by=ctx.user, reason=reason[:2000]
    )
    session.state = cancelled
    session.updated_at = timezone.now()
    session.version += 1
    session.save(update_fields=["state", "updated_at", "version"])


def sessions_cancel_not_started(*, ctx: AuditContext, patient_id: int, reason: str) -> list[int]:
    """Cancel the patient's proposed and scheduled sessions (consent withdrawn, plan replaced) and free their
    bookings; return their ids.

    Runs inside the caller's transaction when there is one, so the cancellation and its cause land together.
    """
    with transaction.atomic():
        sessions = list(DosingSession.objects.select_for_update().filter(patient_id=patient_id, state__in=NOT_STARTED))
        for session in sessions:
            _cancel(ctx, session, reason)
        booked = [s.booking_id for s in sessions if s.booking_id is not None]
        if booked:
            dosing_bookings_cancel(ctx=ctx, appointment_ids=booked, reason=reason)
        if sessions:
            access_event_record(
                ctx=ctx,
                action="dosing.cancel",
                patient_id=patient_id,
                detail={"sessions": [s.pk for s in sessions], "bookings": booked, "reason": reason[:200]},
            )
    return [s.pk for s in sessions]


def session_schedule(
    *,
    ctx: AuditContext,
    session_id: int,
    nurse_id: int | None = None,
    place_id: int | None = None,
    starts_at: datetime | None = None,
    version: int | None = None,
    go_on_reason: str = "",
) -> DosingSession:
    """Confirm a proposed session on the calendar: book its nurse for its whole length and its chair (IV) or room,
    with a prescriber on site, at the proposed time or `starts_at`. Refused (and audited) without consent,
    eligibility, a signed plan; refused with the next free times when the nurse, the place or the patient is taken.
    A warning from above (a prior authorisation used up or out of its dates) stops it until the user goes on with
    `go_on_reason`, which the warning app records (who, when, why)."""
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
    errors: dict[str, str] = {}
    if nurse_id is None:
        errors["nurse"] = "Choose the nurse who monitors this session (booked for its whole length)."
    elif not User.objects.filter(pk=nurse_id, role=Role.NURSE, is_active=True).exists():
        errors["nurse"] = "Choose an active nurse."
    place_kind = place_needed("dosing", route=session.plan.route)
    if place_id is None and Place.objects.filter(kind=place_kind, active=True).exists():
        errors["place"] = f"Choose the {PLACE_KINDS[place_kind].lower()} it takes."
    if starts_at is not None and timezone.is_naive(starts_at):
        starts_at = timezone.make_aware(starts_at)
    if errors:
        raise ValidationError(errors)
    warnings = scheduling_warnings(session, timezone.localdate(starts_at or session.scheduled_for))
    if warnings and len(go_on_reason.strip()) < GO_ON_REASON_MIN:
        access_event_record(
            ctx=ctx,
            action=Action.DOSING_SCHEDULE,
            patient_id=session.patient_id,
            outcome=Outcome.INVALID,
            detail={"session": session.pk, "warnings": [str(w) for w in warnings]},
        )
        raise ValidationError(
            {"go_on_reason": " ".join(str(w) for w in warnings) + " To schedule it anyway, say why (a sentence)."}
        )
    assert nurse_id is not None
    with transaction.atomic():
        session = DosingSession.objects.select_for_update().select_related("plan").get(pk=session_id)
        if version is not None and version != session.version:
            raise Conflict("Someone else changed this session since you opened it; reload and try again.")
        scheduled = states.next_state(session.state, Step.SCHEDULE)
        if scheduled is None:
            raise Conflict(f"This session is {session.get_state_display().lower()}, not proposed.")
        when = starts_at or session.scheduled_for
        if when < timezone.now():
            field = "starts_at" if starts_at is not None else "session"
            raise ValidationError({field: "This time has passed; choose a time to come."})
        minutes = dosing_session_minutes(session.minutes, route=session.plan.route)
        booking = dosing_booking_hold(
            ctx=ctx,
            patient_id=session.patient_id,
            nurse_id=nurse_id,
            starts_at=when,
            minutes=minutes,
            place_id=place_id,
            place_kind=place_kind,
        )
        SessionTransition.objects.create(session=session, from_state=session.state, to_state=scheduled, by=ctx.user)
        session.state = scheduled
        _follow_booking(session, booking)
        session.save()
        PreparationChecklist.objects.get_or_create(session=session, defaults={"updated_by": ctx.user})
        if warnings:
            scheduled_despite_warnings.send(
                sender=DosingSession, ctx=ctx, session=session, warnings=warnings, reason=go_on_reason.strip()
            )
        access_event_record(
            ctx=ctx,
            action=Action.DOSING_SCHEDULE,
            patient_id=session.patient_id,
            detail={"session": session.pk, "booking": booking.pk, **({"went_on": True} if warnings else {})},
        )
    return session


GO_ON_REASON_MIN = 10  # a sentence, as the house's other override reasons


def scheduling_warnings(session: DosingSession, day: date) -> list[object]:
    """What the apps above warn of before `session` is scheduled on `day` (str() of each is its sentence)."""
    answers = scheduling_warnings_asked.send(
        sender=DosingSession, patient_id=session.patient_id, route=session.plan.route, day=day, session_id=session.pk
    )
    return [warning for _, found in answers for warning in (found or [])]


def _follow_booking(session: DosingSession, booking: Appointment) -> None:
    """The session's time, length, nurse and room as its booking holds them (the booking is the calendar's)."""
    session.booking = booking
    session.scheduled_for = booking.starts_at
    session.minutes = int((booking.ends_at - booking.starts_at).total_seconds() // 60)
    session.nurse_id = booking.with_user_id
    session.room = booking.place.name if booking.place is not None else ""
    session.updated_at = timezone.now()
    session.version += 1


def session_follow_booking_change(*, ctx: AuditContext, appointment: Appointment, change: str, reason: str) -> None:
    """The booking of a session not yet begun was moved, cancelled or marked not attended from the calendar (inside
    that change's transaction): the session moves with it or is cancelled. Refused once the session has begun."""
    session = DosingSession.objects.select_for_update().filter(booking=appointment).first()
    if session is None:
        return
    if session.state not in NOT_STARTED:
        raise Conflict(f"This dosing session is {session.get_state_display().lower()}: its booking cannot change.")
    if change == "rescheduled":
        _follow_booking(session, appointment)
        session.save()
        return
    _cancel(ctx, session, ("Did not attend: " if change == "no_show" else "Booking cancelled: ") + reason)


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

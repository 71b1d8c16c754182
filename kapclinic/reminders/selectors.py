"""Reads for reminders: what is due to be sent, the patient's bookings with their answers, the reminders they
were sent, and the bookings whose patient asks for another time (the staff inbox). Callers have checked access."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from kapclinic.appointments.models import Appointment, AppointmentStatus
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.reminders import Preparation, Which, preparation_for, reminder_due
from kapclinic.patients.access import PatientAccess, patient_get_for_user
from kapclinic.plans.models import TreatmentPlan
from kapclinic.policy import monitoring_policy
from kapclinic.reminders.models import BookingReply, ReminderPreference, ReminderSent, ReplyKind
from kapclinic.roles import Action

DOSING = "dosing"  # the kind of a dosing session's booking (issue 16, item 1)
# Reminders go out the day before at the earliest: bookings further ahead are not read.
HORIZON = timedelta(days=2)


@dataclass(frozen=True)
class DueReminder:
    appointment: Appointment  # with its patient and the patient's preference, if any
    which: Which
    preparation: Preparation | None


def plan_routes(patient_ids: Iterable[int]) -> dict[int, str]:
    """Return the route of each patient's plan in force (the newest signed one, as plans.selectors.current_plan),
    in one query."""
    routes: dict[int, str] = {}
    plans = (
        TreatmentPlan.objects.filter(patient_id__in=set(patient_ids), signed_at__isnull=False)
        .order_by("patient_id", "-signed_at", "-id")
        .values_list("patient_id", "route")
    )
    for patient_id, route in plans:
        routes.setdefault(patient_id, route)
    return routes


def preparations(appointments: list[Appointment]) -> dict[int, Preparation]:
    """Return the preparation of each dosing booking among `appointments` (by appointment id)."""
    dosing = [a for a in appointments if a.kind == DOSING and a.patient_id is not None]
    if not dosing:
        return {}
    routes = plan_routes(a.patient_id for a in dosing if a.patient_id is not None)
    policy = monitoring_policy()
    return {a.pk: preparation_for(routes.get(a.patient_id or 0), policy) for a in dosing}


def reminders_due(*, now: datetime) -> list[DueReminder]:
    """Return the reminders due at `now` and not yet sent for the booking's current time, soonest first."""
    booked = list(
        Appointment.objects.filter(
            status=AppointmentStatus.BOOKED, patient__isnull=False, starts_at__gt=now, starts_at__lte=now + HORIZON
        )
        .select_related("patient", "patient__reminder_preference")
        .order_by("starts_at", "id")
    )
    local_now = timezone.localtime(now)
    due = [(a, w) for a in booked if (w := reminder_due(starts=timezone.localtime(a.starts_at), now=local_now))]
    sent = set(
        ReminderSent.objects.filter(appointment_id__in=[a.pk for a, _ in due]).values_list(
            "appointment_id", "which", "for_starts_at"
        )
    )
    waiting = [(a, w) for a, w in due if (a.pk, w.value, a.starts_at) not in sent]
    prepared = preparations([a for a, _ in waiting])
    return [DueReminder(a, w, prepared.get(a.pk)) for a, w in waiting]


def preference_for(patient_id: int) -> ReminderPreference | None:
    return ReminderPreference.objects.filter(patient_id=patient_id).first()


def current_replies(appointments: Iterable[Appointment]) -> dict[int, BookingReply]:
    """Return the newest reply to each booking at its current time (by appointment id), in one query."""
    starts = {a.pk: a.starts_at for a in appointments}
    replies: dict[int, BookingReply] = {}
    for reply in BookingReply.objects.filter(appointment_id__in=starts).order_by("appointment_id", "-at", "-id"):
        if reply.for_starts_at == starts[reply.appointment_id]:
            replies.setdefault(reply.appointment_id, reply)
    return replies


@dataclass(frozen=True)
class BookingView:
    """One of the patient's upcoming bookings as the portal shows it."""

    appointment: Appointment
    reply: BookingReply | None
    preparation: Preparation | None


def upcoming_bookings(*, patient_id: int, now: datetime, limit: int = 20) -> list[BookingView]:
    """Return the patient's booked appointments not yet started, soonest first, with their answer and preparation."""
    appointments = list(
        Appointment.objects.filter(patient_id=patient_id, status=AppointmentStatus.BOOKED, starts_at__gt=now)
        .select_related("with_user", "place")
        .order_by("starts_at", "id")[:limit]
    )
    replies = current_replies(appointments)
    prepared = preparations(appointments)
    return [BookingView(a, replies.get(a.pk), prepared.get(a.pk)) for a in appointments]


def portal_bookings(*, ctx: AuditContext, patient_id: int) -> list[BookingView]:
    """The patient's own upcoming bookings (`upcoming_bookings`) for their portal; the read is audited."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PORTAL_USE, record_allowed=False)
    bookings = upcoming_bookings(patient_id=patient_id, now=timezone.now())
    access_event_record(
        ctx=ctx,
        action="portal.bookings",
        patient_id=patient_id,
        detail={"bookings": [b.appointment.pk for b in bookings]},
    )
    return bookings


def portal_reminders(
    *, ctx: AuditContext, patient_id: int, limit: int = 50
) -> tuple[PatientAccess, list[ReminderSent]]:
    """The reminders sent to the patient, newest first, for their portal; the read is audited."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PORTAL_USE, record_allowed=False)
    sent = list(ReminderSent.objects.filter(appointment__patient_id=patient_id).order_by("-sent_at", "-id")[:limit])
    access_event_record(ctx=ctx, action="portal.reminders", patient_id=patient_id, detail={"shown": len(sent)})
    return access, sent


def reschedule_asked(*, now: datetime) -> QuerySet[Appointment]:
    """The upcoming bookings whose patient's newest answer at the booked time asks for another time, annotated
    with `reply_note` and `reply_at`, unread: reschedule_requests lists them, the staff header counts them.
    Derived: moving or cancelling the booking, or the patient confirming, takes it off."""
    newest = BookingReply.objects.filter(appointment=OuterRef("pk"), for_starts_at=OuterRef("starts_at")).order_by(
        "-at", "-id"
    )
    return (
        Appointment.objects.filter(status=AppointmentStatus.BOOKED, patient__isnull=False, starts_at__gt=now)
        .annotate(
            reply_kind=Subquery(newest.values("kind")[:1]),
            reply_note=Subquery(newest.values("note")[:1]),
            reply_at=Subquery(newest.values("at")[:1]),
        )
        .filter(reply_kind=ReplyKind.RESCHEDULE)
    )


def reschedule_requests(*, now: datetime, limit: int) -> list[Appointment]:
    """Return reschedule_asked's bookings, soonest first."""
    return list(reschedule_asked(now=now).select_related("patient", "with_user").order_by("starts_at", "id")[:limit])

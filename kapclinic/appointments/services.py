"""Booking appointments (no double-booking of a staff member) and recording a consultation's outcome."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.availability import (
    availability_problems,
    booked_between,
    next_free_times,
    on_site_problems,
    staff_busy,
)
from kapclinic.appointments.links import video_link_problem
from kapclinic.appointments.models import (
    Appointment,
    AppointmentChange,
    AppointmentChangeKind,
    AppointmentKind,
    AppointmentMode,
    AppointmentStatus,
    Closure,
    ConsultationOutcome,
    Place,
    TimeOff,
    WorkingHours,
)
from kapclinic.appointments.signals import booking_changed
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.availability import (
    KIND_NEEDS,
    LONGEST_BOOKING_MINUTES,
    PLACE_KINDS,
    SHORTEST_BOOKING_MINUTES,
    WeeklyHours,
    booking_minutes,
    clashes,
    place_needed,
)
from kapclinic.clinical.instruments import Use, instruments_for
from kapclinic.clinical.wording import day_text, weekday_time_text
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.intake.models import Inquiry, InquiryStatus
from kapclinic.measures.models import ScheduledMeasure
from kapclinic.patients.access import patient_get_for_user
from kapclinic.roles import Action, Role, may

# Who may hold each kind of appointment (../shared/design/pathway.md): the intake coordinator or a clinician holds
# the free consultation (stage 1); the prescriber the medical and psychiatric evaluation (stage 2); the therapist or
# the prescriber the preparation and integration sessions (stages 4 and 6: they write those notes, roles.md).
# Who may hold each kind: the booking rules' table (kapclinic/clinical/availability.py), defined once.
WHO_HOLDS: dict[str, tuple[Role, ...]] = {
    kind: tuple(Role(role) for role in KIND_NEEDS[kind].held_by) for kind in AppointmentKind.values
}

# The kinds booked through the booking form and POST /appointments; a dosing session through its plan's session.
BOOKED_DIRECTLY = tuple(kind for kind in AppointmentKind.values if kind != AppointmentKind.DOSING)

REASON_MAX = 500


def may_hold(role: str, kind: str) -> bool:
    """Whether staff of `role` may hold an appointment of `kind`."""
    return role in WHO_HOLDS.get(kind, ())


def _holder_problem(staff: User | None, kind: str) -> str | None:
    if staff is None or staff.role == Role.PATIENT:
        return "Choose an active staff member."
    if not may_hold(staff.role, kind):
        roles = ", ".join(role.label.lower() for role in WHO_HOLDS[kind])
        return f"{staff.display_name} ({staff.get_role_display()}) does not hold this kind of appointment ({roles} do)."
    return None


class BookingClash(ValidationError):
    """A time refused because someone or something it needs is taken, away or closed then, with the next free
    starts: a page shows it next to its field; the bookings API answers 409 with the free starts as data."""

    def __init__(self, field: str, text: str, next_free: list[datetime]) -> None:
        offer = " Next free: " + ", ".join(weekday_time_text(f) for f in next_free) + "." if next_free else ""
        super().__init__({field: text + offer})
        self.field, self.text, self.next_free = field, text, next_free


def _free_or_refuse(
    *,
    staff: User,
    kind: str,
    patient_id: int | None,
    starts_at: datetime,
    ends_at: datetime,
    ignore: int | None = None,
    place: Place | None = None,
) -> None:
    """Refuse a time when the clinic is closed, the staff member is not working or away, the place is not open,
    or the staff member (beyond what they may hold at once), the patient or the place already has a booking then;
    each with the next times when the staff member, the place and the patient are all free (BookingClash). The
    caller holds the locks on the staff member's and the place's rows."""
    minutes = int((ends_at - starts_at).total_seconds() // 60)

    def refuse(field: str, text: str) -> None:
        free = next_free_times(
            staff=staff, kind=kind, minutes=minutes, wanted=starts_at, place=place, patient_id=patient_id, ignore=ignore
        )
        raise BookingClash(field, text, free)

    for field, text in availability_problems(staff=staff, place=place, starts_at=starts_at, ends_at=ends_at).items():
        refuse(field, text)
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    held = staff_busy(staff, kind, start, end, patient_id=None, ignore=ignore)
    if (clash := next(iter(clashes(start, end, held)), None)) is not None:
        at = max(clash[0], start)
        at_once = KIND_NEEDS[kind].at_once
        what = (
            f"{at_once} {KIND_NEEDS[kind].label.lower()}s (the most one holds at once)"
            if at_once > 1
            else "an appointment"
        )
        refuse("starts_at", f"{staff.display_name} already has {what} at {at:%H:%M} on {day_text(at)}.")
    if patient_id is not None and booked_between(Q(patient_id=patient_id), start, end, ignore):
        refuse("starts_at", "The patient already has an appointment at that time.")
    if place is not None and (taken := booked_between(Q(place=place), start, end, ignore)):
        at = timezone.localtime(taken[0].starts_at)
        refuse("place", f"{place.name} is booked at {at:%H:%M} on {day_text(at)}.")


def _place_locked(place_id: int, wanted: str) -> Place:
    """The place, its row locked so that two bookings of the same room or chair at once are serialised; refused
    when it does not exist, is out of use, or is not the kind of place (`wanted`: room or chair) the booking takes."""
    place = Place.objects.select_for_update().filter(pk=place_id, active=True).first()
    if (problem := _place_problem(place, wanted)) is not None:
        raise ValidationError({"place": problem})
    assert place is not None
    return place


def _place_problem(place: Place | None, wanted: str) -> str | None:
    """Why this place cannot hold a booking that takes a `wanted` (room or chair): none in use, or the wrong kind."""
    if place is None:
        return f"Choose a {PLACE_KINDS.get(wanted, 'room').lower()} that is in use."
    if place.kind != wanted:
        return f"{place.name} is {place.get_kind_display().lower()}: this takes a {PLACE_KINDS[wanted].lower()}."
    return None


def _time_problems(starts_at: datetime, minutes: int) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not SHORTEST_BOOKING_MINUTES <= minutes <= LONGEST_BOOKING_MINUTES:
        errors["minutes"] = "An appointment lasts 10 minutes to 8 hours."
    if starts_at < timezone.now() - timedelta(minutes=5):
        errors["starts_at"] = "An appointment cannot be booked in the past."
    return errors


def _booking_hold(
    *,
    ctx: AuditContext,
    kind: str,
    staff_id: int,
    starts_at: datetime,
    minutes: int,
    place_id: int | None,
    place_kind: str,
    patient_id: int | None,
    inquiry_id: int | None = None,
    mode: str = AppointmentMode.IN_PERSON,
    video_link: str = "",
) -> Appointment:
    """Inside the caller's transaction: lock the staff member's and the place's rows (two bookings of the same
    person or chair at once are serialised), refuse any clash or absence with the next free times, and book."""
    ends_at = starts_at + timedelta(minutes=minutes)
    staff = User.objects.select_for_update().filter(pk=staff_id, is_active=True).first()
    if (problem := _holder_problem(staff, kind)) is not None:
        raise ValidationError({"with_user": problem})
    assert staff is not None
    place = _place_locked(place_id, place_kind) if place_id is not None else None
    _free_or_refuse(staff=staff, kind=kind, patient_id=patient_id, starts_at=starts_at, ends_at=ends_at, place=place)
    for field, text in on_site_problems(kind, starts_at, ends_at).items():
        raise ValidationError({field: text})
    return Appointment.objects.create(
        kind=kind,
        with_user=staff,
        place=place,
        starts_at=starts_at,
        ends_at=ends_at,
        mode=mode,
        video_link=video_link,
        patient_id=patient_id,
        inquiry_id=inquiry_id,
        created_by=ctx.user,
    )


def dosing_booking_hold(
    *,
    ctx: AuditContext,
    patient_id: int,
    nurse_id: int,
    starts_at: datetime,
    minutes: int,
    place_id: int | None,
    place_kind: str,
) -> Appointment:
    """Book a dosing session's nurse (for its whole length) and chair or room, with a prescriber on site, inside
    the scheduling's transaction (dosing.services.session_schedule, which checks access and audits)."""
    errors = _time_problems(starts_at, minutes)
    if errors:
        raise ValidationError(errors)
    return _booking_hold(
        ctx=ctx,
        kind=AppointmentKind.DOSING,
        staff_id=nurse_id,
        starts_at=starts_at,
        minutes=minutes,
        place_id=place_id,
        place_kind=place_kind,
        patient_id=patient_id,
    )


def dosing_bookings_cancel(*, ctx: AuditContext, appointment_ids: list[int], reason: str) -> None:
    """Cancel the bookings of dosing sessions cancelled with their plan or consent, inside that transaction; each
    change kept in the booking's history (the caller audits the cancellation)."""
    for appointment in Appointment.objects.select_for_update().filter(
        pk__in=appointment_ids, status=AppointmentStatus.BOOKED
    ):
        before = (appointment.starts_at, appointment.ends_at, appointment.with_user_id)
        appointment.status = AppointmentStatus.CANCELLED
        appointment.save(update_fields=["status"])
        AppointmentChange.objects.create(
            appointment=appointment,
            kind=AppointmentChangeKind.CANCELLED,
            reason=reason[:REASON_MAX] or "Cancelled with the session.",
            from_starts_at=before[0],
            from_ends_at=before[1],
            from_with_user_id=before[2],
            by=ctx.user,
        )


def appointment_book(
    *,
    ctx: AuditContext,
    kind: str,
    with_user_id: int,
    starts_at: datetime,
    minutes: int,
    mode: str,
    video_link: str = "",
    patient_id: int | None = None,
    inquiry_id: int | None = None,
    place_id: int | None = None,
) -> Appointment:
    """Book an appointment with staff who hold that kind, in a room if given; refused (with the next free times)
    when the clinic is closed, the staff member is not working, or the staff member, the patient or the room
    already has a booking at that time."""
    if not may(ctx.user.role, Action.APPOINTMENT_BOOK):
        access_event_record(ctx=ctx, action=Action.APPOINTMENT_BOOK, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not book appointments.")
    errors: dict[str, str] = {}
    video_link = video_link.strip()
    if kind == AppointmentKind.DOSING:
        errors["kind"] = "A dosing session is booked by scheduling the plan's proposed session (the plan page)."
    elif kind not in AppointmentKind.values:
        errors["kind"] = "Choose the kind of appointment."
    if mode not in AppointmentMode.values:
        errors["mode"] = "Choose in person or video."
    if mode == AppointmentMode.VIDEO and not video_link:
        errors["video_link"] = "A video appointment needs its link."
    elif video_link and (problem := video_link_problem(video_link)) is not None:
        errors["video_link"] = problem
    if timezone.is_naive(starts_at):
        starts_at = timezone.make_aware(starts_at)
    errors.update(_time_problems(starts_at, minutes))
    if (patient_id is None) == (inquiry_id is None):
        errors["patient"] = "Book for a patient or for an inquiry."
    if place_id is not None and mode == AppointmentMode.VIDEO:
        errors["place"] = "A video appointment takes no room."
    if errors:
        raise ValidationError(errors)
    if patient_id is not None:
        patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.APPOINTMENT_BOOK, record_allowed=False)
    elif inquiry_id is not None and not Inquiry.objects.filter(pk=inquiry_id).exists():
        raise NotFound("No such inquiry.")
    with transaction.atomic():
        appointment = _booking_hold(
            ctx=ctx,
            kind=kind,
            staff_id=with_user_id,
            starts_at=starts_at,
            minutes=minutes,
            place_id=place_id,
            place_kind=place_needed(kind),
            patient_id=patient_id,
            inquiry_id=inquiry_id,
            mode=mode,
            video_link=video_link,
        )
        if inquiry_id is not None and kind == AppointmentKind.CONSULTATION:
            Inquiry.objects.filter(pk=inquiry_id, status__in=[InquiryStatus.NEW, InquiryStatus.CONTACTED]).update(
                status=InquiryStatus.CONSULTATION_BOOKED, updated_at=timezone.now()
            )
        access_event_record(
            ctx=ctx,
            action="appointment.book",
            patient_id=patient_id,
            detail={"appointment": appointment.pk, "kind": kind, "inquiry": inquiry_id},
        )
    return appointment


def _reason_or_refuse(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < 3:
        raise ValidationError({"reason": "Give the reason."})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"The reason is at most {REASON_MAX} characters."})
    return reason


def _may_change(ctx: AuditContext, appointment_id: int, action: str) -> None:
    """The booking rule applies to a change: the role books, and a patient's appointment is their care team's.
    Checked before the change's transaction, so that a refusal stays in the audit log."""
    if not may(ctx.user.role, Action.APPOINTMENT_BOOK):
        access_event_record(ctx=ctx, action=action, outcome=Outcome.DENIED, detail={"appointment": appointment_id})
        raise AccessDenied("Your role does not change appointments.")
    found = Appointment.objects.filter(pk=appointment_id).values_list("patient_id", flat=True)
    if not found.exists():
        raise NotFound("No such appointment.")
    patient_id = found.first()
    if patient_id is not None:
        patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.APPOINTMENT_BOOK, record_allowed=False)


def _booked_or_refuse(appointment_id: int) -> Appointment:
    appointment = Appointment.objects.select_for_update().filter(pk=appointment_id).first()
    if appointment is None:
        raise NotFound("No such appointment.")
    if appointment.status != AppointmentStatus.BOOKED:
        raise Conflict(f"This appointment is already {appointment.get_status_display().lower()}.")
    return appointment


def _change_record(
    ctx: AuditContext, appointment: Appointment, kind: str, reason: str, *, before: tuple[datetime, datetime, int]
) -> AppointmentChange:
    change = AppointmentChange.objects.create(
        appointment=appointment,
        kind=kind,
        reason=reason,
        from_starts_at=before[0],
        from_ends_at=before[1],
        from_with_user_id=before[2],
        to_starts_at=appointment.starts_at if kind == AppointmentChangeKind.RESCHEDULED else None,
        to_ends_at=appointment.ends_at if kind == AppointmentChangeKind.RESCHEDULED else None,
        by=ctx.user,
    )
    access_event_record(
        ctx=ctx,
        action=f"appointment.{kind}",
        patient_id=appointment.patient_id,
        detail={"appointment": appointment.pk, "change": change.pk, "inquiry": appointment.inquiry_id},
    )
    if appointment.kind == AppointmentKind.DOSING:
        # The session moves or is cancelled with its booking, or refuses (it has begun) and the change rolls back.
        booking_changed.send(sender=Appointment, ctx=ctx, appointment=appointment, change=kind, reason=reason)
    return change


def appointment_cancel(*, ctx: AuditContext, appointment_id: int, reason: str) -> Appointment:
    """Cancel a booked appointment that has not started, with the reason (kept in its history)."""
    reason = _reason_or_refuse(reason)
    _may_change(ctx, appointment_id, "appointment.cancelled")
    with transaction.atomic():
        appointment = _booked_or_refuse(appointment_id)
        if appointment.starts_at <= timezone.now():
            raise Conflict("This appointment has started: record that the person did not attend, or its outcome.")
        before = (appointment.starts_at, appointment.ends_at, appointment.with_user_id)
        appointment.status = AppointmentStatus.CANCELLED
        appointment.save(update_fields=["status"])
        if appointment.kind == AppointmentKind.CONSULTATION and appointment.inquiry_id is not None:
            # The inquiry waits for a new consultation (unless another one is still booked).
            still_booked = Appointment.objects.filter(
                inquiry_id=appointment.inquiry_id, kind=AppointmentKind.CONSULTATION, status=AppointmentStatus.BOOKED
            ).exists()
            if not still_booked:
                Inquiry.objects.filter(pk=appointment.inquiry_id, status=InquiryStatus.CONSULTATION_BOOKED).update(
                    status=InquiryStatus.CONTACTED, updated_at=timezone.now()
                )
        _change_record(ctx, appointment, AppointmentChangeKind.CANCELLED, reason, before=before)
    return appointment


def appointment_no_show(*, ctx: AuditContext, appointment_id: int, reason: str) -> Appointment:
    """Mark that the person did not attend a booked appointment that has started, with the reason."""
    reason = _reason_or_refuse(reason)
    _may_change(ctx, appointment_id, "appointment.no_show")
    with transaction.atomic():
        appointment = _booked_or_refuse(appointment_id)
        if appointment.starts_at > timezone.now():
            raise Conflict("This appointment has not started yet: cancel or move it instead.")
        before = (appointment.starts_at, appointment.ends_at, appointment.with_user_id)
        appointment.status = AppointmentStatus.NO_SHOW
        appointment.save(update_fields=["status"])
        _change_record(ctx, appointment, AppointmentChangeKind.NO_SHOW, reason, before=before)
    return appointment


def appointment_reschedule(
    *,
    ctx: AuditContext,
    appointment_id: int,
    starts_at: datetime,
    reason: str,
    minutes: int | None = None,
    with_user_id: int | None = None,
) -> Appointment:
    """Move a booked appointment that has not started (and, if given, to another staff member who holds that
    kind), with the reason; the old time stays in its history. `minutes`: the new length, default the same (a
    dosing session's always stays its route's). A clash is refused with the next free times."""
    if timezone.is_naive(starts_at):
        starts_at = timezone.make_aware(starts_at)
    errors = _time_problems(starts_at, minutes) if minutes is not None else _time_problems(starts_at, 30)
    try:
        reason = _reason_or_refuse(reason)
    except ValidationError as exc:
        errors["reason"] = exc.messages[0]
    if errors:
        raise ValidationError(errors)
    _may_change(ctx, appointment_id, "appointment.rescheduled")
    with transaction.atomic():
        appointment = _booked_or_refuse(appointment_id)
        if appointment.starts_at <= timezone.now():
            raise Conflict("This appointment has started: it cannot be moved (record its outcome or a no-show).")
        if minutes is None or appointment.kind == AppointmentKind.DOSING:
            minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
        ends_at = starts_at + timedelta(minutes=minutes)
        staff_id = with_user_id if with_user_id is not None else appointment.with_user_id
        staff = User.objects.select_for_update().filter(pk=staff_id, is_active=True).first()
        if (problem := _holder_problem(staff, appointment.kind)) is not None:
            raise ValidationError({"with_user": problem})
        assert staff is not None
        before = (appointment.starts_at, appointment.ends_at, appointment.with_user_id)
        if before == (starts_at, ends_at, staff.pk):
            raise ValidationError({"starts_at": "That is the time it is already booked for."})
        # The booking keeps its room or chair (its kind was checked when it was booked): locked, and still in use.
        place = _place_locked(appointment.place.pk, appointment.place.kind) if appointment.place is not None else None
        _free_or_refuse(
            staff=staff,
            kind=appointment.kind,
            patient_id=appointment.patient_id,
            starts_at=starts_at,
            ends_at=ends_at,
            ignore=appointment.pk,
            place=place,
        )
        for field, text in on_site_problems(appointment.kind, starts_at, ends_at).items():
            raise ValidationError({field: text})
        appointment.starts_at, appointment.ends_at, appointment.with_user = starts_at, ends_at, staff
        appointment.save(update_fields=["starts_at", "ends_at", "with_user"])
        _change_record(ctx, appointment, AppointmentChangeKind.RESCHEDULED, reason, before=before)
    return appointment


def consultation_outcome_record(
    *, ctx: AuditContext, appointment_id: int, outcome: str, note: str = "", send_pre_screen: bool = True
) -> Appointment:
    """Record how a free consultation ended; proceeding sends the pre-screen questionnaires to the portal."""
    if not may(ctx.user.role, Action.APPOINTMENT_BOOK):
        raise AccessDenied("Your role does not record consultations.")
    if outcome not in ConsultationOutcome.values:
        raise ValidationError({"outcome": "Choose proceed, refer elsewhere or declined."})
    if outcome == ConsultationOutcome.REFER and not note.strip():
        raise ValidationError({"outcome_note": "Say where the person was referred."})
    # A registered patient's consultation is theirs: the care team rule of APPOINTMENT_BOOK applies, as on the
    # appointment page. Checked before the transaction so that a refusal stays in the audit log.
    booked_for = Appointment.objects.filter(pk=appointment_id).values_list("patient_id", flat=True).first()
    if booked_for is not None:
        patient_get_for_user(ctx=ctx, patient_id=booked_for, action=Action.APPOINTMENT_BOOK, record_allowed=False)
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().filter(pk=appointment_id).first()
        if appointment is None or appointment.kind != AppointmentKind.CONSULTATION:
            raise NotFound("No such consultation.")
        if appointment.outcome:
            raise Conflict("This consultation's outcome was already recorded.")
        if appointment.status != AppointmentStatus.BOOKED:
            raise Conflict(f"This consultation is {appointment.get_status_display().lower()}: it has no outcome.")
        patient_id = appointment.patient_id
        if patient_id is None and appointment.inquiry is not None:
            patient_id = appointment.inquiry.patient_id
        if outcome == ConsultationOutcome.PROCEED and send_pre_screen and patient_id is None:
            raise ValidationError(
                {"outcome": "Convert the inquiry to a patient first, so the questionnaires reach them."}
            )
        appointment.outcome = outcome
        appointment.outcome_note = note.strip()
        appointment.status = AppointmentStatus.DONE
        appointment.save(update_fields=["outcome", "outcome_note", "status"])
        sent = []
        if outcome == ConsultationOutcome.PROCEED and send_pre_screen and patient_id is not None:
            today = timezone.localdate()
            # The pre-screen sent to the portal (../shared/design/pathway.md stage 1).
            for instrument in instruments_for(Use.PRE_SCREEN):
                _, created = ScheduledMeasure.objects.get_or_create(
                    patient_id=patient_id,
                    instrument=instrument.code,
                    due_on=today,
                    defaults={"label": "Pre-screen", "created_by": ctx.user},
                )
                if created:
                    sent.append(instrument.code)
        if outcome in (ConsultationOutcome.REFER, ConsultationOutcome.DECLINED) and appointment.inquiry_id:
            Inquiry.objects.filter(pk=appointment.inquiry_id).exclude(status=InquiryStatus.CONVERTED).update(
                status=InquiryStatus.CLOSED, closed_reason=f"{appointment.get_outcome_display()}: {note.strip()}"[:200]
            )
        access_event_record(
            ctx=ctx,
            action="consultation.outcome",
            patient_id=patient_id,
            detail={"appointment": appointment.pk, "outcome": outcome, "pre_screen": sent},
        )
    return appointment


FREE_TIMES_OFFERED = 10
ANY_STAFF_LIMIT = 25  # holders searched when no staff member is named: a clinic's whole staff of that kind


def free_times_for(
    *,
    ctx: AuditContext,
    kind: str,
    staff_id: int | None,
    wanted: datetime | None = None,
    minutes: int | None = None,
    place_id: int | None = None,
    patient_id: int | None = None,
) -> dict[str, object]:
    """The next free starts for a booking of `kind` with the staff member, or with anyone who holds that kind
    when none is named (each start with who is free then), and the place and the patient if given."""
    if not may(ctx.user.role, Action.APPOINTMENT_BOOK):
        access_event_record(ctx=ctx, action=Action.APPOINTMENT_BOOK, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not book appointments.")
    errors: dict[str, str] = {}
    if kind not in KIND_NEEDS:
        errors["kind"] = "Choose the kind of booking: " + ", ".join(KIND_NEEDS) + "."
    elif minutes is None:
        if kind == "dosing":
            errors["minutes"] = "Give a dosing session's length (it depends on the route)."
        else:
            minutes = booking_minutes(kind)
    if minutes is not None and not SHORTEST_BOOKING_MINUTES <= minutes <= LONGEST_BOOKING_MINUTES:
        errors["minutes"] = "A booking lasts 10 minutes to 8 hours."
    if wanted is not None and timezone.is_naive(wanted):
        wanted = timezone.make_aware(wanted)
    holders = User.objects.filter(is_active=True).exclude(role=Role.PATIENT)
    staff: list[User] = []
    if staff_id is not None:
        one = holders.filter(pk=staff_id).first()
        if one is None:
            errors["staff"] = "Choose an active staff member."
        elif kind in KIND_NEEDS and one.role not in KIND_NEEDS[kind].held_by:
            errors["staff"] = f"{one.display_name} does not hold this kind of booking."
        else:
            staff = [one]
    elif kind in KIND_NEEDS:
        roles = KIND_NEEDS[kind].held_by
        staff = list(holders.filter(role__in=roles).order_by("last_name", "first_name", "pk")[:ANY_STAFF_LIMIT])
        if not staff:
            errors["staff"] = "No active staff member holds this kind of booking."
    place = None
    if place_id is not None and kind in KIND_NEEDS:
        place = Place.objects.filter(pk=place_id, active=True).first()
        # A dosing session's place depends on its route (a chair for IV), which free times are not told.
        problem = _place_problem(place, place_needed(kind)) if kind != "dosing" or place is None else None
        if problem is not None:
            errors["place"] = problem
    if errors:
        raise ValidationError(errors)
    if patient_id is not None:
        patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.APPOINTMENT_BOOK)
    assert minutes is not None
    options = sorted(
        (
            (start, person)
            for person in staff
            for start in next_free_times(
                staff=person,
                kind=kind,
                minutes=minutes,
                wanted=wanted or timezone.now(),
                place=place,
                patient_id=patient_id,
                count=FREE_TIMES_OFFERED,
            )
        ),
        key=lambda option: (option[0], option[1].last_name, option[1].first_name, option[1].pk),
    )[:FREE_TIMES_OFFERED]
    return {
        "kind": kind,
        "minutes": minutes,
        "staff": staff_id,
        "place": place_id,
        "starts": sorted({start for start, _ in options}),
        "options": [{"start": start, "staff": p.pk, "staff_name": p.display_name} for start, p in options],
    }


# --- Rooms, hours, time off and closures (issue 16, item 2) ------------------------------------------------------


def _may_manage_availability(ctx: AuditContext, what: str) -> None:
    if not may(ctx.user.role, Action.AVAILABILITY_MANAGE):
        access_event_record(ctx=ctx, action=Action.AVAILABILITY_MANAGE, outcome=Outcome.DENIED, detail={"what": what})
        raise AccessDenied("Your role does not manage rooms, hours or closures.")


def _owner(user_id: int | None, place_id: int | None) -> tuple[User | None, Place | None]:
    """The staff member or the place whose hours or time off these are: exactly one."""
    if (user_id is None) == (place_id is None):
        raise ValidationError({"owner": "Choose a staff member or a room."})
    if user_id is not None:
        user = User.objects.filter(pk=user_id, is_active=True).exclude(role=Role.PATIENT).first()
        if user is None:
            raise ValidationError({"owner": "Choose an active staff member."})
        return user, None
    place = Place.objects.filter(pk=place_id or 0, active=True).first()
    if place is None:
        raise ValidationError({"owner": "Choose a room or chair that is in use."})
    return None, place


def working_hours_record(
    *,
    ctx: AuditContext,
    rule: str,
    starts: time,
    ends: time,
    since: date,
    until: date | None = None,
    user_id: int | None = None,
    place_id: int | None = None,
) -> WorkingHours:
    """Record a recurring block of a staff member's working hours or a place's opening hours."""
    _may_manage_availability(ctx, "hours")
    errors: dict[str, str] = {}
    rule = rule.strip().upper()
    try:
        WeeklyHours(rule, starts, ends, since=since, until=until)
    except ValueError as exc:
        errors["ends" if "end after" in str(exc) else "rule"] = str(exc)
    if until is not None and until < since:
        errors["until"] = "The last day cannot be before the first."
    if errors:
        raise ValidationError(errors)
    user, place = _owner(user_id, place_id)
    with transaction.atomic():
        hours = WorkingHours.objects.create(
            user=user, place=place, rule=rule, starts=starts, ends=ends, since=since, until=until, recorded_by=ctx.user
        )
        access_event_record(ctx=ctx, action="availability.hours", detail={"hours": hours.pk})
    return hours


def _booked_between(starts_at: datetime, ends_at: datetime, **owner: object) -> list[Appointment]:
    return list(
        Appointment.objects.filter(
            status=AppointmentStatus.BOOKED,
            starts_at__lt=ends_at,
            starts_at__gt=starts_at - timedelta(minutes=LONGEST_BOOKING_MINUTES),
            ends_at__gt=starts_at,
            **owner,
        ).order_by("starts_at")[:5]
    )


def _period_problems(starts_at: datetime, ends_at: datetime) -> dict[str, str]:
    if ends_at <= starts_at:
        return {"ends_at": "The end must be after the start."}
    if ends_at - starts_at > timedelta(days=366):
        return {"ends_at": "Record at most a year at a time."}
    return {}


def _booked_refusal(booked: list[Appointment], whom: str) -> ValidationError:
    times = ", ".join(weekday_time_text(timezone.localtime(a.starts_at)) for a in booked)
    return ValidationError({"starts_at": f"{whom} has appointments booked then ({times}): move or cancel them first."})


def time_off_record(
    *,
    ctx: AuditContext,
    starts_at: datetime,
    ends_at: datetime,
    reason: str = "",
    user_id: int | None = None,
    place_id: int | None = None,
) -> TimeOff:
    """Record a staff member away or a place out of use; refused while appointments are booked in the period."""
    _may_manage_availability(ctx, "time_off")
    errors = _period_problems(starts_at, ends_at)
    if len(reason) > 200:
        errors["reason"] = "Keep the reason under 200 characters."
    if errors:
        raise ValidationError(errors)
    user, place = _owner(user_id, place_id)
    with transaction.atomic():
        # Locked as a booking locks them, so no appointment slips into the period meanwhile.
        if user is not None:
            User.objects.select_for_update().filter(pk=user.pk).first()
            booked = _booked_between(starts_at, ends_at, with_user=user)
        else:
            Place.objects.select_for_update().filter(pk=place_id or 0).first()
            booked = _booked_between(starts_at, ends_at, place=place)
        if booked:
            raise _booked_refusal(booked, user.display_name if user is not None else place.name if place else "")
        away = TimeOff.objects.create(
            user=user, place=place, starts_at=starts_at, ends_at=ends_at, reason=reason.strip(), recorded_by=ctx.user
        )
        access_event_record(ctx=ctx, action="availability.time_off", detail={"time_off": away.pk})
    return away


def closure_record(*, ctx: AuditContext, starts_at: datetime, ends_at: datetime, reason: str) -> Closure:
    """Close the clinic for a period (a holiday, training); refused while appointments are booked in it."""
    _may_manage_availability(ctx, "closure")
    errors = _period_problems(starts_at, ends_at)
    reason = reason.strip()
    if not reason:
        errors["reason"] = "Say why the clinic is closed: the refusal of a booking shows it."
    elif len(reason) > 200:
        errors["reason"] = "Keep the reason under 200 characters."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        booked = _booked_between(starts_at, ends_at)
        if booked:
            raise _booked_refusal(booked, "The clinic")
        closure = Closure.objects.create(starts_at=starts_at, ends_at=ends_at, reason=reason, recorded_by=ctx.user)
        access_event_record(ctx=ctx, action="availability.closure", detail={"closure": closure.pk})
    return closure

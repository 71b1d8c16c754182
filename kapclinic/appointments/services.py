"""Booking appointments (no double-booking of a staff member) and recording a consultation's outcome."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.accounts.roles import Action, Role, may
from kapclinic.appointments.links import video_link_problem
from kapclinic.appointments.models import (
    Appointment,
    AppointmentKind,
    AppointmentMode,
    AppointmentStatus,
    ConsultationOutcome,
)
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.intake.models import Inquiry, InquiryStatus
from kapclinic.measures.models import ScheduledMeasure
from kapclinic.patients.access import patient_get_for_user

# Sent to the portal after a consultation that proceeds to evaluation (../shared/design/pathway.md stage 1).
PRE_SCREEN = ("phq9", "gad7", "pcl5", "auditc", "drug_single")


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
) -> Appointment:
    """Book an appointment; refused if the staff member (or the person) already has one at that time."""
    if not may(ctx.user.role, Action.APPOINTMENT_BOOK):
        access_event_record(ctx=ctx, action=Action.APPOINTMENT_BOOK, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not book appointments.")
    errors: dict[str, str] = {}
    video_link = video_link.strip()
    if kind not in AppointmentKind.values:
        errors["kind"] = "Choose the kind of appointment."
    if mode not in AppointmentMode.values:
        errors["mode"] = "Choose in person or video."
    if mode == AppointmentMode.VIDEO and not video_link:
        errors["video_link"] = "A video appointment needs its link."
    elif video_link and (problem := video_link_problem(video_link)) is not None:
        errors["video_link"] = problem
    if not 10 <= minutes <= 480:
        errors["minutes"] = "An appointment lasts 10 minutes to 8 hours."
    if timezone.is_naive(starts_at):
        starts_at = timezone.make_aware(starts_at)
    if starts_at < timezone.now() - timedelta(minutes=5):
        errors["starts_at"] = "An appointment cannot be booked in the past."
    if (patient_id is None) == (inquiry_id is None):
        errors["patient"] = "Book for a patient or for an inquiry."
    if errors:
        raise ValidationError(errors)
    if patient_id is not None:
        patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.APPOINTMENT_BOOK, record_allowed=False)
    elif inquiry_id is not None and not Inquiry.objects.filter(pk=inquiry_id).exists():
        raise NotFound("No such inquiry.")
    ends_at = starts_at + timedelta(minutes=minutes)
    with transaction.atomic():
        # Lock the staff member's row: two bookings for the same person at the same time are serialised.
        staff = User.objects.select_for_update().filter(pk=with_user_id, is_active=True).first()
        if staff is None or staff.role == Role.PATIENT:
            raise ValidationError({"with_user": "Choose an active staff member."})
        clash = (
            Appointment.objects.filter(status=AppointmentStatus.BOOKED, starts_at__lt=ends_at, ends_at__gt=starts_at)
            .filter(with_user=staff)
            .first()
        )
        if clash is not None:
            local = timezone.localtime(clash.starts_at)
            raise ValidationError(
                {"starts_at": f"{staff.display_name} already has an appointment at {local:%H:%M} on {local:%b %d}."}
            )
        if patient_id is not None and (
            Appointment.objects.filter(
                status=AppointmentStatus.BOOKED, starts_at__lt=ends_at, ends_at__gt=starts_at, patient_id=patient_id
            ).exists()
        ):
            raise ValidationError({"starts_at": "The patient already has an appointment at that time."})
        appointment = Appointment.objects.create(
            kind=kind,
            with_user=staff,
            starts_at=starts_at,
            ends_at=ends_at,
            mode=mode,
            video_link=video_link,
            patient_id=patient_id,
            inquiry_id=inquiry_id,
            created_by=ctx.user,
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
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().filter(pk=appointment_id).first()
        if appointment is None or appointment.kind != AppointmentKind.CONSULTATION:
            raise NotFound("No such consultation.")
        if appointment.outcome:
            raise Conflict("This consultation's outcome was already recorded.")
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
            for code in PRE_SCREEN:
                _, created = ScheduledMeasure.objects.get_or_create(
                    patient_id=patient_id,
                    instrument=code,
                    due_on=today,
                    defaults={"label": "Pre-screen", "created_by": ctx.user},
                )
                if created:
                    sent.append(code)
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

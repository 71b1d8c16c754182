"""Appointments with a staff member: free consultations first; later evaluations and sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from kapclinic.appointments.links import video_href
from kapclinic.clinical.availability import PLACE_KINDS, rule_text

if TYPE_CHECKING:
    from kapclinic.intake.models import Inquiry
    from kapclinic.patients.models import Patient


class AppointmentKind(models.TextChoices):
    CONSULTATION = "consultation", "Free consultation"
    EVALUATION = "evaluation", "Medical and psychiatric evaluation"
    PREPARATION = "preparation", "Preparation session"
    INTEGRATION = "integration", "Integration session"
    # Booked by scheduling a plan's proposed session (dosing.services.session_schedule), never from the booking
    # form: the session record (DosingSession.booking) is what a dosing booking is for.
    DOSING = "dosing", "Dosing session"


class AppointmentMode(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    VIDEO = "video", "Video"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "Did not attend"


class AppointmentChangeKind(models.TextChoices):
    CANCELLED = "cancelled", "Cancelled"
    RESCHEDULED = "rescheduled", "Rescheduled"
    NO_SHOW = "no_show", "Marked did not attend"


class ConsultationOutcome(models.TextChoices):
    PROCEED = "proceed", "Proceed to evaluation"
    REFER = "refer", "Refer elsewhere"
    DECLINED = "declined", "Declined"


class Place(models.Model):
    """A room, or an infusion chair (in a room), that a booking may hold (issue 16, item 1)."""

    name = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=8, choices=list(PLACE_KINDS.items()))
    in_room = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="chairs",
        limit_choices_to={"kind": "room"},
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


def _one_owner(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        name=f"{prefix}_one_owner",
        condition=Q(user__isnull=False, place__isnull=True) | Q(user__isnull=True, place__isnull=False),
    )


class WorkingHours(models.Model):
    """A recurring block of a staff member's working hours or a place's opening hours, as an iCalendar RRULE
    (kapclinic/clinical/availability.py WeeklyHours). Someone or somewhere with no hours recorded is taken to be
    available during the clinic's opening hours (appointments/free_times.py OpeningHours)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="working_hours"
    )
    place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.PROTECT, related_name="opening_hours")
    rule = models.CharField(max_length=200, help_text="e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
    starts = models.TimeField()
    ends = models.TimeField()
    since = models.DateField()
    until = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["since", "starts", "id"]
        constraints = [
            _one_owner("working_hours"),
            models.CheckConstraint(name="working_hours_end_after_start", condition=Q(ends__gt=F("starts"))),
        ]

    def __str__(self) -> str:
        return f"{self.days} {self.starts:%H:%M}-{self.ends:%H:%M}"

    @property
    def days(self) -> str:
        """The rule in words ("Mon to Fri")."""
        return rule_text(self.rule)


class TimeOff(models.Model):
    """A staff member away, or a place out of use, from `starts_at` to `ends_at`."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="time_off"
    )
    place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.PROTECT, related_name="time_off")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            _one_owner("time_off"),
            models.CheckConstraint(name="time_off_ends_after_start", condition=Q(ends_at__gt=F("starts_at"))),
        ]

    def __str__(self) -> str:
        return f"time off {self.starts_at:%Y-%m-%d %H:%M}"


class Closure(models.Model):
    """The whole clinic closed (a holiday, a move): nothing is booked over it."""

    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [models.CheckConstraint(name="closure_ends_after_start", condition=Q(ends_at__gt=F("starts_at")))]

    def __str__(self) -> str:
        return f"closed {self.starts_at:%Y-%m-%d}: {self.reason}"


class Appointment(models.Model):
    kind = models.CharField(max_length=14, choices=AppointmentKind.choices)
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    inquiry = models.ForeignKey(
        "intake.Inquiry", null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    with_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments")
    place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    mode = models.CharField(max_length=10, choices=AppointmentMode.choices)
    video_link = models.URLField(blank=True)
    status = models.CharField(max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED)
    outcome = models.CharField(max_length=10, choices=ConsultationOutcome.choices, blank=True)
    outcome_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["with_user", "starts_at"], name="appointment_staff_time"),
            models.Index(fields=["place", "starts_at"], name="appointment_place_time"),
            # The calendar's week for everyone, and the clinic-wide clash search of a closure.
            models.Index(fields=["starts_at"], name="appointment_time"),
        ]
        constraints = [
            models.CheckConstraint(name="appointment_ends_after_start", condition=Q(ends_at__gt=F("starts_at"))),
            models.CheckConstraint(
                name="appointment_for_someone", condition=Q(patient__isnull=False) | Q(inquiry__isnull=False)
            ),
            models.CheckConstraint(
                name="appointment_video_has_link", condition=~Q(mode=AppointmentMode.VIDEO) | ~Q(video_link="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with {self.with_user_id} at {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def video_href(self) -> str:
        """The video link as a page may link to it: only a safe https address (see links.py), else ""."""
        return video_href(self.video_link)

    @property
    def person(self) -> Patient | Inquiry | None:
        """Who the appointment is for: the patient, or the inquiry before there is one (pages name them with
        the `patient_name` filter, as every staff page names a patient)."""
        return self.patient if self.patient is not None else self.inquiry

    @property
    def person_name(self) -> str:
        """The name as a calendar feed gives it ("Given Family")."""
        if self.patient is not None:
            return self.patient.full_name
        return self.inquiry.full_name if self.inquiry is not None else ""


class AppointmentChange(models.Model):
    """One cancellation, move or no-show of an appointment, with its reason: the history is kept (append-only)."""

    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=12, choices=AppointmentChangeKind.choices)
    reason = models.TextField(max_length=500)
    # A move keeps where it came from and where it went (and with whom, if that changed).
    from_starts_at = models.DateTimeField()
    from_ends_at = models.DateTimeField()
    from_with_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    to_starts_at = models.DateTimeField(null=True, blank=True)
    to_ends_at = models.DateTimeField(null=True, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} of appointment {self.appointment_id}"

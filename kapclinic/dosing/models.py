"""Dosing sessions (stage 5): proposed by a signed plan, scheduled once consent and eligibility hold."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.signing import SignedRecord


class SessionState(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    SCHEDULED = "scheduled", "Scheduled"
    CHECKED_IN = "checked_in", "Checked in"
    CLEARED = "cleared", "Cleared to dose"
    HELD = "held", "Held"
    DOSING = "dosing", "Dosing"
    MONITORING = "monitoring", "Monitoring"
    RECOVERY = "recovery", "Recovery"
    DISCHARGED = "discharged", "Discharged"
    STOPPED_EARLY = "stopped_early", "Stopped early"
    ESCALATED = "escalated", "Escalated"
    CANCELLED = "cancelled", "Cancelled"


# States in which the session is still ahead: cancelled when consent is withdrawn.
NOT_STARTED = (SessionState.PROPOSED, SessionState.SCHEDULED)
FINISHED = (SessionState.DISCHARGED, SessionState.STOPPED_EARLY, SessionState.ESCALATED, SessionState.CANCELLED)


class DosingSession(SignedRecord):
    SIGNED_FIELDS = ("patient", "plan", "number", "state", "started_at", "ended_at")

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="dosing_sessions")
    plan = models.ForeignKey("plans.TreatmentPlan", on_delete=models.PROTECT, related_name="sessions")
    number = models.PositiveSmallIntegerField()
    scheduled_for = models.DateTimeField(db_index=True)
    minutes = models.PositiveSmallIntegerField(default=180)
    room = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=14, choices=SessionState.choices, default=SessionState.PROPOSED)
    nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Optimistic lock: every change bumps it; a stale form is refused (two nurses on one session).
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["scheduled_for", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="dosing_session_number_unique"),
            models.CheckConstraint(name="dosing_session_state_known", condition=Q(state__in=SessionState.values)),
        ]

    def __str__(self) -> str:
        return f"dosing session {self.number} of plan {self.plan_id} ({self.state})"


class SessionTransition(models.Model):
    """Who moved a session from one state to the next, when, and why (append-only)."""

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="transitions")
    from_state = models.CharField(max_length=14, choices=SessionState.choices)
    to_state = models.CharField(max_length=14, choices=SessionState.choices)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(max_length=2000, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"session {self.session_id}: {self.from_state} -> {self.to_state}"


class PreparationChecklist(models.Model):
    """What the patient confirms in the portal before a dosing session (pathway stage 4)."""

    session = models.OneToOneField(DosingSession, on_delete=models.PROTECT, related_name="checklist")
    fasting_since = models.DateTimeField(null=True, blank=True)
    medications_held = models.BooleanField(default=False)
    ride_name = models.CharField("who drives you home", max_length=120, blank=True)
    ride_phone = models.CharField("their phone", max_length=25, blank=True)
    no_driving_until_next_day = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The nurse's confirmation at check-in; after it the patient can no longer change it.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"checklist for session {self.session_id}"

    @property
    def is_complete(self) -> bool:
        return bool(
            self.fasting_since
            and self.medications_held
            and self.ride_name.strip()
            and self.ride_phone.strip()
            and self.no_driving_until_next_day
        )

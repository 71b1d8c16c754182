"""Dosing sessions (stage 5): proposed by a signed plan, scheduled once consent and eligibility hold."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.clinical import dosing as dose_rules
from kapclinic.clinical import monitoring as monitoring_rules
from kapclinic.clinical.session_states import FINISHED as FINISHED
from kapclinic.clinical.session_states import NOT_STARTED as NOT_STARTED
from kapclinic.clinical.session_states import SessionState as SessionState
from kapclinic.signing import Signed, SignedRecord


class Route(models.TextChoices):
    IV = "iv", "Intravenous infusion (racemic ketamine)"
    IM = "im", "Intramuscular injection (racemic ketamine)"
    INTRANASAL = "intranasal", "Intranasal esketamine (Spravato)"
    SUBLINGUAL = "sublingual", "Sublingual lozenge / troche (racemic ketamine)"


# The rule core's routes (kapclinic/clinical/dosing.py) with the labels pages show; a test holds the two together.
WEIGHT_BASED_ROUTES = tuple(Route(r) for r in dose_rules.WEIGHT_BASED_ROUTES)


class EsketamineIndication(models.TextChoices):
    """The Spravato label's indications, which it doses differently (Spravato US PI 1, 2.1, 2.2)."""

    TRD = "trd", "Treatment-resistant depression (TRD)"
    MDSI = "mdsi", "Depressive symptoms in MDD with acute suicidal ideation or behaviour (MDSI)"


# The states and the moves between them are the clinical table's (kapclinic/clinical/session_states.py); the
# columns take their choices from it, as the ledger's take the entry kinds.
STATE_CHOICES = [(state.value, state.label) for state in SessionState]


class DosingSession(SignedRecord):
    SIGNED_FIELDS = ("patient", "plan", "number", "state", "started_at", "ended_at")

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="dosing_sessions")
    plan = models.ForeignKey("plans.TreatmentPlan", on_delete=models.PROTECT, related_name="sessions")
    number = models.PositiveSmallIntegerField()
    scheduled_for = models.DateTimeField(db_index=True)
    minutes = models.PositiveSmallIntegerField(default=180)
    room = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=14, choices=STATE_CHOICES, default=SessionState.PROPOSED.value)
    nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The calendar's booking that holds the nurse and the chair or room (issue 16: one booking engine for every
    # kind), made when the session is scheduled; `scheduled_for`, `nurse` and `room` follow it when it moves.
    booking = models.OneToOneField(
        "appointments.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dosing_session",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Optimistic lock: every change bumps it; a stale form is refused (two nurses on one session).
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["scheduled_for", "id"]
        # Open alerts are read through the sessions under way (state in AFTER_DOSE), the board by day and state:
        # both start from this index rather than from every session ever held (issue 15, item 3).
        indexes = [
            models.Index(fields=["state", "scheduled_for"], name="dosing_session_state_when"),
            # A patient's latest discharged session (the therapist's integration sessions due), one probe however
            # many sessions the patient has had.
            models.Index(fields=["patient", "state", "ended_at"], name="dosing_session_patient_end"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="dosing_session_number_unique"),
            models.CheckConstraint(
                name="dosing_session_state_known", condition=Q(state__in=[state.value for state in SessionState])
            ),
        ]

    def __str__(self) -> str:
        return f"dosing session {self.number} of plan {self.plan_id} ({self.state})"


class SessionTransition(models.Model):
    """Who moved a session from one state to the next, when, and why (append-only)."""

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="transitions")
    from_state = models.CharField(max_length=14, choices=STATE_CHOICES)
    to_state = models.CharField(max_length=14, choices=STATE_CHOICES)
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


class PregnancyTest(models.TextChoices):
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    NEGATIVE = "negative", "Negative"
    POSITIVE = "positive", "Positive"
    DECLINED = "declined", "Declined"


class CheckIn(models.Model):
    """Check-in (pathway stage 5): identity, checklist, pregnancy test, today's weight. Append-only."""

    session = models.OneToOneField(DosingSession, on_delete=models.PROTECT, related_name="check_in")
    identity_confirmed = models.BooleanField()
    checklist_confirmed = models.BooleanField()
    checklist_note = models.CharField(max_length=300, blank=True)
    pregnancy_test = models.CharField(max_length=14, choices=PregnancyTest.choices)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1)
    # What the pre-dose rules need from check-in (monitoring.md section 1); None: not asked (older check-ins).
    last_food_at = models.DateTimeField("last ate", null=True, blank=True)
    last_liquid_at = models.DateTimeField("last drank", null=True, blank=True)
    escort_confirmed = models.BooleanField("escort or ride home confirmed", null=True, blank=True)
    substances_today = models.BooleanField("alcohol or other substances today", null=True, blank=True)
    substances_note = models.CharField("what and when", max_length=200, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"check-in of session {self.session_id}"


class VitalSource(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    DEVICE = "device", "Device"


class VitalSign(models.Model):
    """One set of vital signs at a moment of the session. Append-only; a correction points at what it corrects.

    On PostgreSQL the table is partitioned by month of `measured_at` (dosing 0010, kapclinic/dbpartitions.py),
    not of `recorded_at`: every row has it at insert (required; the service fills in now when none is given)
    and it never changes (append-only), and it is what a session's vitals are read and ordered by (the
    session_id, measured_at index), bounded below by the session itself (a reading more than 30 minutes before
    check-in is refused: session_services._measured_at), so a session's query can skip every earlier month
    (selectors.session_vitals). `recorded_at` would put a late entry in a later month than its reading and
    has no bound a query of the session knows. The foreign keys pointing here (a correction, a clearance, an
    alert) are kept by trigger, not by constraint: kapclinic/dbtriggers.py REFERENCES_CHECKED.
    """

    # Indexed first in vital_session_time (below), which serves the foreign key too.
    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="vitals", db_index=False)
    measured_at = models.DateTimeField()  # the partition key on PostgreSQL (above)
    systolic = models.PositiveSmallIntegerField(null=True, blank=True)
    diastolic = models.PositiveSmallIntegerField(null=True, blank=True)
    heart_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    spo2 = models.PositiveSmallIntegerField("SpO₂", null=True, blank=True)
    respiratory_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    predose = models.BooleanField(default=False)
    source = models.CharField(max_length=8, choices=VitalSource.choices, default=VitalSource.MANUAL)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Kept by trigger: no foreign key can reference a partitioned table by id alone (REFERENCES_CHECKED).
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    correction_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["measured_at", "id"]
        indexes = [models.Index(fields=["session", "measured_at"], name="vital_session_time")]

    def __str__(self) -> str:
        return f"vitals of session {self.session_id} at {self.measured_at:%H:%M}"


class Clearance(models.Model):
    """The pre-dose rules' verdict on the pre-dose vitals (clear, hold, do not dose), with their findings."""

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="clearances")
    vital = models.ForeignKey(VitalSign, on_delete=models.PROTECT, related_name="+", db_constraint=False)  # by trigger
    status = models.CharField(max_length=12)
    findings = models.JSONField(default=list)
    policy_version = models.CharField(max_length=40)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # A hold overridden by the prescriber, with the reason (a "do not dose" is never overridden).
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    override_reason = models.TextField(max_length=2000, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"clearance {self.status} of session {self.session_id}"


class DoseOrder(Signed):
    """The prescriber's signed order for this session's dose, with the calculation's working. Append-only."""

    SIGNED_FIELDS = ("session", "route", "dose_mg", "volume_ml", "product", "working", "signed_by")
    SIGNED_WHEN_SET = ("infusion_minutes", "esketamine_indication")
    SIGNED_DECIMALS_AS_CALCULATED = ("dose_mg", "volume_ml")
    DIGEST_FIELD = "digest"

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="orders")
    route = models.CharField(max_length=12)
    dose_mg = models.DecimalField(max_digits=7, decimal_places=2)
    dose_mg_per_kg = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    volume_ml = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    units = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    escalated = models.BooleanField(default=False)
    # Esketamine: the indication the dose was ordered for (the plan's, or asked at the first order of an older plan).
    esketamine_indication = models.CharField(max_length=4, blank=True, default="")
    # IV: the planned infusion minutes, part of the order (0.5 mg/kg over about 40 min: dosing.md section 2).
    infusion_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    working = models.JSONField(default=list)
    hard_stops = models.JSONField(default=list)
    override_reason = models.TextField(max_length=2000, blank=True)
    policy_version = models.CharField(max_length=40)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["signed_at", "id"]

    def __str__(self) -> str:
        return f"order {self.dose_mg} mg for session {self.session_id}"


class Administration(models.Model):
    """The nurse's record of the dose given, drawn from a lot in the ledger in the same transaction. Append-only."""

    session = models.OneToOneField(DosingSession, on_delete=models.PROTECT, related_name="administration")
    order = models.ForeignKey(DoseOrder, on_delete=models.PROTECT, related_name="+")
    route = models.CharField(max_length=12)
    lot = models.ForeignKey("inventory.Lot", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("inventory.StorageLocation", on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    infusion_rate_ml_per_h = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    drawn_mg = models.DecimalField(max_digits=8, decimal_places=3)
    given_mg = models.DecimalField(max_digits=8, decimal_places=3)
    ledger_entry = models.OneToOneField("inventory.LedgerEntry", on_delete=models.PROTECT, related_name="+")
    waste_entry = models.OneToOneField(
        "inventory.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"administration for session {self.session_id}"


# The monitoring rules' alert levels, as stored and shown (kapclinic/clinical/monitoring.py AlertLevel).
ALERT_LEVEL_CHOICES = [(level.value, level.label) for level in monitoring_rules.AlertLevel]


class MonitoringAlert(models.Model):
    """A reading or an in-session score outside the thresholds (monitoring.md section 3). Append-only;
    acknowledged separately. It points at what raised it: the vital signs, or the scored event (a MOAA/S)."""

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="alerts")
    vital = models.ForeignKey(  # kept by trigger, as Clearance.vital
        VitalSign, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts", db_constraint=False
    )
    event = models.ForeignKey("SessionEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="alerts")
    code = models.CharField(max_length=40)
    level = models.CharField(max_length=10, choices=ALERT_LEVEL_CHOICES)
    message = models.CharField(max_length=300)
    source = models.CharField(max_length=300)
    raised_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["raised_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(vital__isnull=False, event__isnull=True) | Q(vital__isnull=True, event__isnull=False),
                name="monitoring_alert_raised_by_a_reading_or_a_score",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} on session {self.session_id}"


class AlertAcknowledgement(models.Model):
    alert = models.OneToOneField(MonitoringAlert, on_delete=models.PROTECT, related_name="acknowledgement")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    action_taken = models.TextField(max_length=2000)

    def __str__(self) -> str:
        return f"acknowledgement of alert {self.alert_id}"


class SessionEventKind(models.TextChoices):
    SIDE_EFFECT = "side_effect", "Side effect"
    INTERVENTION = "intervention", "Intervention"
    RESCUE_MEDICATION = "rescue_medication", "Rescue medication"
    SCORE = "score", "Score"


SIDE_EFFECTS = (
    ("nausea", "Nausea"),
    ("vomiting", "Vomiting"),
    ("dizziness", "Dizziness / vertigo"),
    ("hypertension", "Increased blood pressure"),
    ("agitation", "Agitation"),
    ("emergence_reaction", "Emergence reaction"),
    ("dissociation_distress", "Distressing dissociation"),
    ("sedation", "Excessive sedation"),
    ("respiratory_depression", "Respiratory depression"),
    ("headache", "Headache"),
    ("other", "Other"),
)


class SessionEvent(models.Model):
    """What happened during the session, with its time: side effects, interventions, rescue drugs, scores."""

    session = models.ForeignKey(DosingSession, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20, choices=SessionEventKind.choices)
    code = models.CharField(max_length=40, help_text="side effect code, drug name, or instrument code")
    severity = models.CharField(max_length=10, blank=True)
    value = models.CharField(max_length=60, blank=True, help_text="dose of a drug, score of a scale")
    note = models.TextField(max_length=2000, blank=True)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.code} in session {self.session_id}"


class Discharge(models.Model):
    """Discharge with the criteria as assessed; an unmet criterion needs the prescriber's override. Append-only."""

    session = models.OneToOneField(DosingSession, on_delete=models.PROTECT, related_name="discharge")
    criteria = models.JSONField(default=list)
    driver_name = models.CharField(max_length=120)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    override_reason = models.TextField(max_length=2000, blank=True)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"discharge of session {self.session_id}"


class AdverseSeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class AdverseEvent(models.Model):
    """An adverse event (CTCAE-style grade, monitoring.md section 4); shown to the director until reviewed."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="adverse_events")
    session = models.ForeignKey(
        DosingSession, null=True, blank=True, on_delete=models.PROTECT, related_name="adverse_events"
    )
    what = models.CharField(max_length=300)
    severity = models.CharField(max_length=10, choices=AdverseSeverity.choices)
    serious = models.BooleanField(default=False)
    action = models.TextField(max_length=2000)
    outcome = models.TextField(max_length=2000, blank=True)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"adverse event {self.what} ({self.severity})"


class AdverseEventReview(models.Model):
    event = models.OneToOneField(AdverseEvent, on_delete=models.PROTECT, related_name="review")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(max_length=2000)

    def __str__(self) -> str:
        return f"review of adverse event {self.event_id}"


class RemsSubmission(models.Model):
    """The Spravato REMS patient monitoring form marked submitted (due within 7 days of the session)."""

    session = models.OneToOneField(DosingSession, on_delete=models.PROTECT, related_name="rems_submission")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    reference = models.CharField(max_length=80, blank=True)

    def __str__(self) -> str:
        return f"REMS form of session {self.session_id}"


class RemsEnrollment(models.Model):
    """The patient's Spravato REMS enrollment (FDA REMS page), checked before the first esketamine dose."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="rems_enrollments")
    enrolled_on = models.DateField()
    reference = models.CharField("REMS patient enrollment reference", max_length=60)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"REMS enrollment of patient {self.patient_id}"

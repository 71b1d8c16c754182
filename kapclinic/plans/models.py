"""The treatment plan (stage 3): the prescriber's signed order for a course of dosing sessions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.clinical import dosing as dose_rules
from kapclinic.dosing.models import EsketamineIndication, Route
from kapclinic.signing import SignedRecord


class TitrationKind(models.TextChoices):
    NONE = "none", "No titration: same dose every session"
    STEP = "step", "Step up when the prescriber escalates, to a ceiling"


class TreatmentPlan(SignedRecord):
    """A course of treatment. A draft until the prescriber signs; after that, changes are a new plan."""

    SIGNED_FIELDS = (
        "patient",
        "supersedes",
        "indication_code",
        "indication_text",
        "route",
        "starting_dose_mg_per_kg",
        "starting_dose_mg",
        "titration",
        "titration_step",
        "titration_ceiling",
        "session_count",
        "interval_days",
        "first_session_on",
        "session_time",
        "session_minutes",
        "therapist",
        "goals",
        "measures",
        "notes",
        "dosing_policy_version",
    )
    # Asked from 2026-12: plans signed before keep the digest they were signed with.
    SIGNED_WHEN_SET = ("esketamine_indication",)

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="treatment_plans")
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    indication_code = models.CharField("indication (ICD-10-CM)", max_length=10)
    indication_text = models.CharField("indication", max_length=200)
    route = models.CharField(max_length=12, choices=Route.choices)
    # Intranasal esketamine only. Blank on plans written before it was asked (2026-12): their first esketamine
    # order asks for it instead.
    esketamine_indication = models.CharField(
        "esketamine indication", max_length=4, choices=EsketamineIndication.choices, blank=True, default=""
    )
    # mg/kg for the weight-based routes (IV, IM); fixed mg for the others (kapclinic/clinical/dosing.py).
    starting_dose_mg_per_kg = models.DecimalField(max_digits=5, decimal_places=3, null=True, blank=True)
    starting_dose_mg = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    titration = models.CharField(max_length=6, choices=TitrationKind.choices, default=TitrationKind.NONE)
    titration_step = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    titration_ceiling = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    session_count = models.PositiveSmallIntegerField()
    interval_days = models.PositiveSmallIntegerField(help_text="Days between sessions (3-4 = twice weekly).")
    first_session_on = models.DateField()
    session_time = models.TimeField()
    session_minutes = models.PositiveSmallIntegerField(default=180)
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The patient's goals, in their own words: ["Sleep through the night", ...].
    goals = models.JSONField(default=list)
    # Instruments due before each dosing session, e.g. ["phq9", "gad7"]; follow-ups come from the schedule.
    measures = models.JSONField(default=list)
    notes = models.TextField(max_length=4000, blank=True)
    dosing_policy_version = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="plan_route_known", condition=Q(route__in=Route.values)),
            models.CheckConstraint(
                name="plan_dose_fits_route",
                condition=(
                    Q(
                        route__in=list(dose_rules.WEIGHT_BASED_ROUTES),
                        starting_dose_mg_per_kg__isnull=False,
                        starting_dose_mg__isnull=True,
                    )
                    | Q(
                        route__in=list(dose_rules.FIXED_DOSE_ROUTES),
                        starting_dose_mg__isnull=False,
                        starting_dose_mg_per_kg__isnull=True,
                    )
                ),
            ),
            models.CheckConstraint(name="plan_has_sessions", condition=Q(session_count__gte=1)),
        ]

    def __str__(self) -> str:
        return f"plan {self.pk} for patient {self.patient_id} ({self.get_route_display()})"

    @property
    def starting_dose_label(self) -> str:
        if self.starting_dose_mg_per_kg is not None:
            return f"{self.starting_dose_mg_per_kg.normalize():f} mg/kg"
        return f"{self.starting_dose_mg.normalize():f} mg" if self.starting_dose_mg is not None else ""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.clinical.registry import age_on, birth_date_problem, phone_digits, phone_problem, search_fold

# What the search columns are made from; a save that changes one of these refreshes them.
SEARCH_SOURCES = {
    "given_name": "search_given",
    "family_name": "search_family",
    "preferred_name": "search_preferred",
    "phone_digits": "phone_digits_reversed",
}


class SexAtBirth(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    INTERSEX = "intersex", "Intersex"
    UNKNOWN = "unknown", "Unknown / not recorded"


class Patient(models.Model):
    """A person in the registry; the chart hangs off this row."""

    mrn = models.CharField("MRN", max_length=12, unique=True, editable=False)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    birth_date = models.DateField("date of birth")
    sex_at_birth = models.CharField(max_length=10, choices=SexAtBirth.choices, default=SexAtBirth.UNKNOWN)
    gender_identity = models.CharField(max_length=60, blank=True)
    pronouns = models.CharField(max_length=40, blank=True)
    phone = models.CharField(max_length=25, blank=True)
    # Digits of `phone` only, kept by the service so search by phone is one indexed lookup.
    phone_digits = models.CharField(max_length=20, blank=True, db_index=True, editable=False)
    # The names as search compares them (registry.search_fold) and the phone digits back to front, kept by save():
    # a name prefix and the last digits of a phone number are then a range on an index (issue 15, item 3).
    search_given = models.CharField(max_length=100, blank=True, default="", editable=False)
    search_family = models.CharField(max_length=100, blank=True, default="", editable=False)
    search_preferred = models.CharField(max_length=100, blank=True, default="", editable=False)
    phone_digits_reversed = models.CharField(max_length=20, blank=True, default="", editable=False)
    email = models.EmailField(max_length=254, blank=True)
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state", max_length=50, blank=True)
    postal_code = models.CharField("ZIP code", max_length=12, blank=True)
    country = models.CharField(max_length=60, blank=True, default="United States")
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_relationship = models.CharField(max_length=60, blank=True)
    emergency_contact_phone = models.CharField(max_length=25, blank=True)
    preferred_language = models.CharField(max_length=60, default="English")
    insurance_payer = models.CharField(max_length=120, blank=True)
    insurance_member_id = models.CharField(max_length=60, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="patient_record",
        help_text="The portal login of this patient, if any.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # Incremented on every edit: a form saved over someone else's newer change is refused.
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        indexes = [
            # The list's sort order: a page of 25 is read off the index, not sorted from the whole table.
            models.Index(fields=["family_name", "given_name", "id"], name="patient_name_order"),
            models.Index(fields=["birth_date"], name="patient_birth_date"),
            # Search (issue 15, item 3): a prefix of a folded name or of the reversed phone digits is a range on
            # these; the family one also gives the search's order, so a page is read off it. On PostgreSQL the
            # columns compare in the "C" collation (migration 0002), so LIKE 'x%' uses them whatever the
            # database's own collation, and the order is by code point as on SQLite.
            models.Index(fields=["search_family", "search_given", "id"], name="patient_search_family"),
            models.Index(fields=["search_given"], name="patient_search_given"),
            models.Index(fields=["search_preferred"], name="patient_search_preferred"),
            models.Index(fields=["phone_digits_reversed"], name="patient_phone_reversed"),
        ]
        constraints = [
            models.CheckConstraint(name="patient_given_name_present", condition=~Q(given_name="")),
            models.CheckConstraint(name="patient_family_name_present", condition=~Q(family_name="")),
            models.CheckConstraint(name="patient_sex_at_birth_known", condition=Q(sex_at_birth__in=SexAtBirth.values)),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, with the search columns made from the names and phone digits being saved."""
        self.search_columns_fill()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {
                *update_fields,
                *(SEARCH_SOURCES[name] for name in update_fields if name in SEARCH_SOURCES),
            }
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """Check what field types cannot: plausible birth date, usable phone numbers."""
        errors: dict[str, str] = {}
        for name in ("given_name", "family_name", "preferred_name"):
            setattr(self, name, " ".join(str(getattr(self, name) or "").split()))
        if self.birth_date:
            problem = birth_date_problem(self.birth_date, timezone.localdate())
            if problem:
                errors["birth_date"] = problem
        for name in ("phone", "emergency_contact_phone"):
            value = str(getattr(self, name) or "").strip()
            setattr(self, name, value)
            problem = phone_problem(value)
            if problem:
                errors[name] = problem
        self.phone_digits = phone_digits(self.phone) if self.phone else ""
        if errors:
            raise ValidationError(errors)

    def search_columns_fill(self) -> None:
        """Set the search columns from the names and phone digits (save does it; bulk_create must call it)."""
        self.search_given = search_fold(self.given_name)
        self.search_family = search_fold(self.family_name)
        self.search_preferred = search_fold(self.preferred_name)
        self.phone_digits_reversed = self.phone_digits[::-1]

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def age(self) -> int:
        return age_on(self.birth_date, timezone.localdate())


class CareTeamRole(models.TextChoices):
    PRESCRIBER = "prescriber", "Prescriber"
    NURSE = "nurse", "Nurse"
    THERAPIST = "therapist", "Therapist"


class CareTeamMember(models.Model):
    """A clinician assigned to a patient; therapists and nurses see only their team's patients."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="care_team")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="care_teams")
    role = models.CharField(max_length=12, choices=CareTeamRole.choices)
    assigned_at = models.DateTimeField(default=timezone.now)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["role", "assigned_at"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "role"], name="care_team_one_per_role"),
            models.CheckConstraint(name="care_team_role_known", condition=Q(role__in=CareTeamRole.values)),
        ]
        indexes = [models.Index(fields=["user", "patient"], name="care_team_user_patient")]

    def __str__(self) -> str:
        return f"{self.role} {self.user_id} for patient {self.patient_id}"


class DuplicateFlag(models.Model):
    """A possible duplicate noticed on registration and registered anyway, kept for review."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="duplicate_flags")
    other = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    reasons = models.CharField(max_length=200)
    flagged_at = models.DateTimeField(default=timezone.now)
    flagged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-flagged_at"]
        constraints = [models.UniqueConstraint(fields=["patient", "other"], name="duplicate_flag_once")]

    def __str__(self) -> str:
        return f"patient {self.patient_id} may duplicate {self.other_id}: {self.reasons}"

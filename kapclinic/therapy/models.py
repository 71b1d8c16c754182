"""Therapy notes (preparation, in-session, integration, other sessions, process notes), their addenda,
co-signatures and shares; the patient's reflections; progress on the plan's goals.

A note is a draft until its author signs it; after that the database refuses any change to it
(`frozen_once_signed`) and corrections are addenda. Addenda, co-signatures, shares and goal progress
are append-only rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from kapclinic.signing import Signed, SignedRecord
from kapclinic.therapy.kinds import (
    KIND_LABELS,
    MINUTES_MAX,
    PROGRESS_LABELS,
    PROMPT_TEXT,
    Modality,
    NoteKind,
    ProgressLevel,
    ReflectionKind,
)

KIND_CHOICES = [(k.value, KIND_LABELS[k]) for k in NoteKind]
MODALITY_CHOICES = [(m.value, m.label) for m in Modality]
REFLECTION_KIND_CHOICES = [(k.value, k.label) for k in ReflectionKind]
PROGRESS_CHOICES = [(p.value, PROGRESS_LABELS[p]) for p in ProgressLevel]


class TherapyNote(SignedRecord):
    """One therapist's note of one session. Process notes are private to their author and whom they share with."""

    SIGNED_FIELDS = (
        "patient",
        "author",
        "kind",
        "occurred_at",
        "modality",
        "minutes",
        "dosing_session",
        "sections",
        "body",
        "cosigner",
    )

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="therapy_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="therapy_notes")
    kind = models.CharField(max_length=12, choices=KIND_CHOICES)
    # When the session took place (clinic time shown); `created_at` is when the note was started.
    occurred_at = models.DateTimeField()
    modality = models.CharField(max_length=10, choices=MODALITY_CHOICES, default=Modality.IN_PERSON.value)
    minutes = models.PositiveSmallIntegerField("duration (minutes)", null=True, blank=True)
    # An in-session note belongs to its dosing session; an integration note may say which one it follows.
    dosing_session = models.ForeignKey(
        "dosing.DosingSession", null=True, blank=True, on_delete=models.PROTECT, related_name="therapy_notes"
    )
    # The kind's template fields by key (kinds.SECTIONS), e.g. {"intentions": "...", "safety_plan": "..."}.
    sections = models.JSONField(default=dict, blank=True)
    body = models.TextField("free text", blank=True)
    # The sections and free text in one column, for search (full text on PostgreSQL).
    search_text = models.TextField(blank=True, editable=False)
    # A trainee names the supervisor who co-signs; the named supervisor may then read the note.
    cosigner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Bumped on every save of the draft: a stale tab's autosave is refused instead of overwriting newer text.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-occurred_at"], name="therapynote_patient_time"),
            models.Index(fields=["author", "signed_at", "created_at"], name="therapynote_author_unsigned"),
            models.Index(fields=["signed_at", "created_at"], name="therapynote_unsigned"),
        ]
        constraints = [
            models.CheckConstraint(name="therapynote_kind_known", condition=Q(kind__in=[k.value for k in NoteKind])),
            models.CheckConstraint(
                name="therapynote_modality_known", condition=Q(modality__in=[m.value for m in Modality])
            ),
            models.CheckConstraint(
                name="therapynote_minutes_range",
                condition=Q(minutes__isnull=True) | Q(minutes__gte=1, minutes__lte=MINUTES_MAX),
            ),
            # Only the author signs their note.
            models.CheckConstraint(
                name="therapynote_signed_by_author",
                condition=Q(signed_at__isnull=True) | Q(signed_by=F("author")),
            ),
            models.CheckConstraint(
                name="therapynote_cosigner_not_author", condition=Q(cosigner__isnull=True) | ~Q(cosigner=F("author"))
            ),
        ]

    def __str__(self) -> str:
        state = "signed" if self.is_signed else "draft"
        return f"{self.kind} note {self.pk} for patient {self.patient_id} ({state})"

    @property
    def kind_enum(self) -> NoteKind:
        return NoteKind(self.kind)

    @property
    def is_process(self) -> bool:
        return self.kind == NoteKind.PROCESS

    @property
    def modality_label(self) -> str:
        return Modality(self.modality).label


class NoteAddendum(Signed):
    """Text added to a signed note by its author: who, when and why. Append-only."""

    SIGNED_FIELDS = ("note", "author", "written_at", "reason", "body")
    SIGNED_AS = {"written_at": "at"}
    SIGNER_FIELD = "author"
    SIGNED_AT_FIELD = "written_at"
    DIGEST_FIELD = "digest"

    note = models.ForeignKey(TherapyNote, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField()
    body = models.TextField()
    # The digest of the addendum's own text, so the list beneath a note can show it is unchanged.
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["written_at", "id"]
        constraints = [
            models.CheckConstraint(name="addendum_reason_given", condition=~Q(reason="")),
            models.CheckConstraint(name="addendum_body_given", condition=~Q(body="")),
        ]

    def __str__(self) -> str:
        return f"addendum {self.pk} to note {self.note_id}"


class NoteCosignature(models.Model):
    """A supervisor's co-signature of a trainee's signed note, over the digest they saw. Append-only."""

    note = models.ForeignKey(TherapyNote, on_delete=models.PROTECT, related_name="cosignatures")
    cosigner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    cosigned_at = models.DateTimeField(default=timezone.now)
    note_digest = models.CharField(max_length=64)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["cosigned_at", "id"]
        constraints = [models.UniqueConstraint(fields=["note", "cosigner"], name="cosignature_once")]

    def __str__(self) -> str:
        return f"co-signature of note {self.note_id} by {self.cosigner_id}"


class NoteShare(models.Model):
    """The author lets a colleague read a process note; stopping is a second row pointing back. Append-only."""

    note = models.ForeignKey(TherapyNote, on_delete=models.PROTECT, related_name="shares")
    shared_with = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    # Set on a revocation row: the grant it ends.
    revokes = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="revocation")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["note", "shared_with"], name="noteshare_note_user")]

    def __str__(self) -> str:
        verb = "stopped sharing" if self.revokes_id else "shared"
        return f"note {self.note_id} {verb} with {self.shared_with_id}"


class Reflection(models.Model):
    """The patient's own journal entry or post-session reflection; shared with the care team only if they choose."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="reflections")
    kind = models.CharField(max_length=12, choices=REFLECTION_KIND_CHOICES, default=ReflectionKind.JOURNAL.value)
    prompt = models.CharField(max_length=20, blank=True)
    body = models.TextField()
    dosing_session = models.ForeignKey(
        "dosing.DosingSession", null=True, blank=True, on_delete=models.PROTECT, related_name="reflections"
    )
    written_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # When the patient shared it with their therapist; None while private.
    shared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-written_at", "-id"]
        indexes = [models.Index(fields=["patient", "shared_at", "-written_at"], name="reflection_patient_shared")]
        constraints = [
            models.CheckConstraint(
                name="reflection_kind_known", condition=Q(kind__in=[k.value for k in ReflectionKind])
            ),
            models.CheckConstraint(name="reflection_body_given", condition=~Q(body="")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} of patient {self.patient_id}"

    @property
    def is_shared(self) -> bool:
        return self.shared_at is not None

    @property
    def kind_label(self) -> str:
        return ReflectionKind(self.kind).label

    @property
    def prompt_text(self) -> str:
        return PROMPT_TEXT.get(self.prompt, "")


class GoalProgress(models.Model):
    """Progress on one goal of the signed treatment plan, recorded at an integration session. Append-only."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="goal_progress")
    plan = models.ForeignKey("plans.TreatmentPlan", on_delete=models.PROTECT, related_name="goal_progress")
    goal_index = models.PositiveSmallIntegerField()
    # The goal as the plan words it, copied: the row still reads right next to a later plan.
    goal_text = models.CharField(max_length=300)
    level = models.CharField(max_length=10, choices=PROGRESS_CHOICES)
    comment = models.TextField(blank=True)
    note = models.ForeignKey(TherapyNote, null=True, blank=True, on_delete=models.PROTECT, related_name="goal_progress")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "id"]
        indexes = [models.Index(fields=["patient", "plan", "goal_index"], name="goalprogress_patient_goal")]
        constraints = [
            models.CheckConstraint(
                name="goalprogress_level_known", condition=Q(level__in=[p.value for p in ProgressLevel])
            ),
        ]

    def __str__(self) -> str:
        return f"goal {self.goal_index} of plan {self.plan_id}: {self.level}"

    @property
    def level_label(self) -> str:
        return ProgressLevel(self.level).label

"""Prompts on the record (issue 19, item 2): a rule fired for a patient's course, and the clinician's answer.

A prompt stays open until a clinician of the care team records an action; the action is append-only (who, when,
what and why) and clears the prompt. One open prompt per patient, course, rule and instrument (unique, so two
evaluations at once cannot raise it twice), and never twice for the same evidence.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.signing import Signed


class PromptRule(models.TextChoices):
    EARLY_NON_RESPONSE = "early_non_response", "Early non-response"
    WORSENING = "worsening", "Worsening"
    RELAPSE = "relapse", "Relapse"
    LOSS_AT_FOLLOW_UP = "loss_at_follow_up", "Loss of response at follow-up"


class PromptChoice(models.TextChoices):
    """What the clinician decides (issue 19 item 2; outcomes.md section 1: scores change the plan)."""

    CONTINUE = "continue", "Continue the plan as it is"
    ADJUST_PLAN = "adjust_plan", "Adjust the plan (dose, route, frequency)"
    ADD_INTEGRATION = "add_integration", "Add integration sessions"
    BOOSTER = "booster", "Booster session"
    REFER = "refer", "Refer elsewhere"
    STOP = "stop", "Stop the course"


class OutcomePrompt(models.Model):
    """A rule that fired for a patient's course, with the evidence it fired on."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="outcome_prompts")
    # The course: the signed plan in force when the rule fired.
    plan = models.ForeignKey("plans.TreatmentPlan", on_delete=models.PROTECT, related_name="outcome_prompts")
    rule = models.CharField(max_length=24, choices=PromptRule.choices)
    instrument = models.CharField(max_length=30)
    reason = models.TextField()
    source = models.TextField()
    # [{"at": ISO datetime, "total": int}, ...]: the scores the rule read, oldest first.
    evidence = models.JSONField(default=list)
    # The newest score of the evidence: the same evidence never raises the prompt again once answered.
    evidence_until = models.DateTimeField()
    raised_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["cleared_at", "patient"], name="outcome_prompt_open")]
        constraints = [
            models.CheckConstraint(name="outcome_prompt_rule_known", condition=Q(rule__in=PromptRule.values)),
            models.UniqueConstraint(
                fields=["patient", "plan", "rule", "instrument"],
                condition=Q(cleared_at__isnull=True),
                name="outcome_prompt_one_open",
            ),
            models.UniqueConstraint(
                fields=["patient", "plan", "rule", "instrument", "evidence_until"],
                name="outcome_prompt_once_per_evidence",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} on {self.instrument} for patient {self.patient_id}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None

    @property
    def evidence_points(self) -> list[tuple[datetime, int]]:
        """The evidence as (when, total), for the pages."""
        return [(datetime.fromisoformat(point["at"]), int(point["total"])) for point in self.evidence]


class PromptAction(models.Model):
    """The clinician's answer to a prompt: one per prompt, append-only (trigger); it clears the prompt."""

    prompt = models.OneToOneField(OutcomePrompt, on_delete=models.PROTECT, related_name="action")
    choice = models.CharField(max_length=16, choices=PromptChoice.choices)
    reason = models.TextField(max_length=2000)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(name="prompt_action_choice_known", condition=Q(choice__in=PromptChoice.values)),
            models.CheckConstraint(name="prompt_action_has_reason", condition=~Q(reason="")),
        ]

    def __str__(self) -> str:
        return f"{self.choice} on prompt {self.prompt_id}"


class ReferrerReport(Signed):
    """A one-page progress report for the clinician who referred the patient (issue 19 item 5), signed by the
    prescriber: what it says is kept as signed (`content`, a snapshot of the course, doses, scores, outcome and
    adverse events), with who signed, when, and the digest of it all. Append-only (trigger): a later report is a
    new row; the PDF is always drawn from the row, so it reads the same whenever it is printed."""

    SIGNED_FIELDS = ("patient", "plan", "addressed_to", "plan_ahead", "content", "signed_by")
    DIGEST_FIELD = "content_hash"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="referrer_reports")
    plan = models.ForeignKey("plans.TreatmentPlan", on_delete=models.PROTECT, related_name="referrer_reports")
    addressed_to = models.CharField(max_length=200)
    plan_ahead = models.TextField(max_length=2000)
    content = models.JSONField(default=dict)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)
    content_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-signed_at", "-id"]
        indexes = [models.Index(fields=["patient", "signed_at"], name="referrer_report_patient")]

    def __str__(self) -> str:
        return f"Referrer report {self.pk} for patient {self.patient_id}"


class StoredCourseSummary(models.Model):
    """One course summarised for one instrument, as `course_summaries` computes it (issue 19 item 8): the cohort
    figures read these rows instead of every score. Derived data: database triggers mark a patient's courses stale
    when a score, session, dose or plan of theirs changes (`StaleCourses`), and the figures summarise the marked
    patients again before they read (kapclinic/outcomes/course_summaries.py); `manage.py course_summaries --all`
    summarises every course again after a change of the rules."""

    plan = models.ForeignKey("plans.TreatmentPlan", on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    instrument = models.CharField(max_length=30)
    route = models.CharField(max_length=12)
    indication = models.CharField(max_length=10)
    prescriber_id = models.BigIntegerField(null=True)  # the plan's signer
    therapist_id = models.BigIntegerField()
    first_dose = models.DateTimeField()
    last_dose = models.DateTimeField()
    sessions_to_come = models.IntegerField()
    baseline_at = models.DateTimeField(null=True)
    baseline_total = models.IntegerField(null=True)
    end_at = models.DateTimeField(null=True)
    end_total = models.IntegerField(null=True)
    # One score per rules.DURABILITY_WINDOWS, in its order (1, 3 and 6 months after the course).
    follow_up1_at = models.DateTimeField(null=True)
    follow_up1_total = models.IntegerField(null=True)
    follow_up2_at = models.DateTimeField(null=True)
    follow_up2_total = models.IntegerField(null=True)
    follow_up3_at = models.DateTimeField(null=True)
    follow_up3_total = models.IntegerField(null=True)
    first_response = models.DateTimeField(null=True)
    relapsed = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instrument", "plan"], name="course_summary_one_per_instrument"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} summary of plan {self.plan_id}"


class StaleCourses(models.Model):
    """A patient (or, for a dose, the session it was given in) whose course summaries no longer match the records:
    written by database triggers on scores, dosing sessions, doses and plans (kapclinic/dbtriggers.py
    STALE_MARKING), read and cleared by `course_summaries_refresh`. `claimed` is set while a refresh works on the
    mark: a change committed meanwhile marks afresh. Every trigger names this table: on SQLite a migration that
    rebuilds it must drop them first and make them again after (`stale_marking`)."""

    # A dose names its session, not its patient: a trigger that looked the patient up would name the sessions'
    # table, and a later rebuild of that table on SQLite would fail on it (kapclinic/dbtriggers.py).
    patient = models.OneToOneField("patients.Patient", null=True, on_delete=models.CASCADE, related_name="+")
    session = models.OneToOneField("dosing.DosingSession", null=True, on_delete=models.CASCADE, related_name="+")
    claimed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="stale_courses_whose",
                condition=Q(patient__isnull=False) | Q(session__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        whose = f"patient {self.patient_id}" if self.patient_id else f"the patient of session {self.session_id}"
        return f"Courses of {whose} to summarise again"

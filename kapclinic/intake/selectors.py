"""Reads of the evaluation and the eligibility decision: the engine's snapshot, the findings (audited) and the
decision in force that scheduling and dosing check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.clinical.eligibility import (
    EvaluationSnapshot,
    Finding,
    TreatmentTrial,
    evaluate,
)
from kapclinic.clinical.registry import age_on
from kapclinic.intake.evaluation_fields import LIST_FIELDS, RECORDED_FIELDS, stored_value_problems
from kapclinic.intake.models import EligibilityDecision, EligibilityDecisionKind, Evaluation
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.policy import eligibility_policy
from kapclinic.roles import Action


def snapshot_for(patient: Patient, data: Mapping[str, Any]) -> EvaluationSnapshot:
    """Return the engine's snapshot: recorded evaluation data plus age, sex and the latest baseline scores."""
    scores: dict[str, int] = {}
    for instrument, total in (
        QuestionnaireResponse.objects.filter(patient=patient, total__isnull=False)
        .order_by("instrument", "-submitted_at")
        .values_list("instrument", "total")
    ):
        if total is not None:
            scores.setdefault(instrument, total)
    unreadable = stored_value_problems(data)
    values: dict[str, Any] = {name: None if name in unreadable else data.get(name) for name in RECORDED_FIELDS}
    for name in LIST_FIELDS:
        if values[name] is not None:
            values[name] = tuple(values[name])
    if values["prior_trials"] is not None:
        values["prior_trials"] = tuple(TreatmentTrial(**trial) for trial in values["prior_trials"])
    sex = patient.sex_at_birth if patient.sex_at_birth in ("female", "male", "intersex") else None
    return EvaluationSnapshot(
        age=age_on(patient.birth_date, timezone.localdate()),
        sex_at_birth=sex,  # type: ignore[arg-type]
        baseline_scores=scores or None,
        **values,
    )


def eligibility_for_patient(*, ctx: AuditContext, patient_id: int) -> tuple[list[Finding], EligibilityDecision | None]:
    """Return the findings for the patient's current evaluation and their latest decision (audited read)."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.ELIGIBILITY_VIEW)
    evaluation = Evaluation.objects.filter(patient_id=patient_id).first()
    findings = evaluate(snapshot_for(access.patient, evaluation.data if evaluation else {}), eligibility_policy())
    latest = EligibilityDecision.objects.filter(patient_id=patient_id).order_by("-decided_at", "-id").first()
    return findings, latest


ELIGIBLE = (EligibilityDecisionKind.ELIGIBLE, EligibilityDecisionKind.ELIGIBLE_WITH_PRECAUTIONS)


def eligibility_in_force(patient_id: int) -> tuple[EligibilityDecision | None, str]:
    """The latest decision if it lets the patient be dosed, else None with the reason.

    A decision holds only for the evaluation it was made on: an evaluation changed afterwards (say a new
    contraindication recorded) needs the prescriber to decide again before anything is scheduled or given.
    """
    decision = EligibilityDecision.objects.filter(patient_id=patient_id).order_by("-decided_at", "-id").first()
    if decision is None:
        return None, "There is no eligibility decision yet."
    if decision.decision not in ELIGIBLE:
        return None, "The latest eligibility decision is not eligible."
    data = Evaluation.objects.filter(patient_id=patient_id).values_list("data", flat=True).first() or {}
    if data != decision.evaluation_data:
        return None, "The evaluation changed after the eligibility decision: the prescriber must decide again."
    return decision, ""

"""The evaluation as stored data, turned into the eligibility engine's snapshot; the prescriber's decision.

The rules themselves are in kapclinic/clinical/eligibility/ (pure). Here: validating what the prescriber
records (field by field, from the snapshot's own type hints, so the field list is written once), reading the
findings, and recording a decision that the rules allow.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.eligibility import (
    PLAUSIBLE_RANGES,
    RULE_SET_VERSION,
    EvaluationSnapshot,
    Finding,
    TreatmentTrial,
    TrialResponse,
    decision_allowed,
    evaluate,
)
from kapclinic.clinical.icd10 import is_icd10_cm
from kapclinic.clinical.instruments import PHQ9, Item
from kapclinic.clinical.registry import age_on
from kapclinic.intake.models import EligibilityDecision, EligibilityDecisionKind, Evaluation
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.policy import eligibility_policy
from kapclinic.roles import Action

# Taken from the patient record and the questionnaires, not typed into the evaluation.
DERIVED = {"age", "sex_at_birth", "baseline_scores"}
_HINTS = typing.get_type_hints(EvaluationSnapshot)
_TRIAL_FIELDS = {f.name for f in dataclasses.fields(TreatmentTrial)}
RECORDED_FIELDS = tuple(f.name for f in dataclasses.fields(EvaluationSnapshot) if f.name not in DERIVED)
LIST_FIELDS = ("diagnoses", "medications", "allergies")
# Fields that record one instrument item's answer: the answer's value, with the instrument's own answer texts.
# PHQ-9 item 9 is 0-3 (instruments.md PHQ-9), never yes/no: a "No" was once stored as the text "False".
ANSWER_ITEMS: dict[str, Item] = {"phq9_item9": PHQ9.item("9")}


_RESPONSES = typing.get_args(TrialResponse)


def _trial(trial: Mapping[str, Any]) -> dict[str, Any]:
    """One prior trial with each field of the type the rules read; a wrong one is a clear error, not a crash later."""
    drug = trial.get("drug")
    if not isinstance(drug, str) or not drug.strip():
        raise ValueError("Each prior trial needs the drug's name.")
    clean: dict[str, Any] = {"drug": drug.strip()[:100]}
    dose = trial.get("dose")
    if dose is not None and not isinstance(dose, str):
        raise ValueError(f'Trial of {drug}: the dose is text, e.g. "200 mg/day".')
    clean["dose"] = dose.strip()[:60] if isinstance(dose, str) and dose.strip() else None
    weeks = trial.get("duration_weeks")
    if weeks is not None and (isinstance(weeks, bool) or not isinstance(weeks, int | float) or not 0 <= weeks <= 520):
        raise ValueError(f"Trial of {drug}: the duration is a number of weeks from 0 to 520.")
    clean["duration_weeks"] = weeks
    response = trial.get("response")
    if response is not None and response not in _RESPONSES:
        raise ValueError(f"Trial of {drug}: the response is one of {', '.join(_RESPONSES)}.")
    clean["response"] = response
    for flag in ("adequate_dose", "current_episode", "antidepressant"):
        value = trial.get(flag)
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"Trial of {drug}: {flag.replace('_', ' ')} is true, false or null.")
        if flag in trial:
            clean[flag] = value
    return clean


def _allowed_literals(name: str) -> tuple[object, ...] | None:
    for arg in typing.get_args(_HINTS[name]):
        if typing.get_origin(arg) is typing.Literal:
            return typing.get_args(arg)
    return None


def _check(name: str, value: Any) -> Any:
    """Return the value as the snapshot wants it, or raise ValueError with a clear message."""
    if value is None:
        return None
    if name == "diagnoses":
        if not isinstance(value, list | tuple) or not all(isinstance(code, str) for code in value):
            raise ValueError("A list of ICD-10-CM codes (an empty list: none).")
        codes = [str(code).strip().upper() for code in value if str(code).strip()]
        unknown = [code for code in codes if not is_icd10_cm(code)]
        if unknown:
            raise ValueError(f"Not an ICD-10-CM code: {', '.join(unknown)}.")
        return codes
    if name == "prior_trials":
        trials = []
        for trial in value:
            if not isinstance(trial, Mapping) or not trial.get("drug"):
                raise ValueError("Each prior trial needs at least the drug.")
            extra = set(trial) - _TRIAL_FIELDS
            if extra:
                raise ValueError(f"Unknown trial fields: {', '.join(sorted(extra))}.")
            trials.append(_trial(trial))
        return trials
    if name in ("medications", "allergies"):
        if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
            raise ValueError("A list of names, one per entry (an empty list: none known).")
        return [item.strip()[:200] for item in value if item.strip()]
    if name in ANSWER_ITEMS:
        item = ANSWER_ITEMS[name]
        if isinstance(value, bool) or not isinstance(value, int) or value not in item.allowed:
            answers = ", ".join(f"{o.value} ({o.text.lower()})" for o in item.options)
            raise ValueError(f"Answer with one of {answers}.")
        return value
    if name in PLAUSIBLE_RANGES:
        low, high, unit = PLAUSIBLE_RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"Enter a number in {unit}.")
        number = float(value)
        if not low <= number <= high:
            raise ValueError(f"{number:g} {unit} is outside {low:g} to {high:g} {unit}; check the value.")
        return number
    literals = _allowed_literals(name)
    if literals is not None:
        if value not in literals:
            raise ValueError(f"Choose one of: {', '.join(str(v) for v in literals)}.")
        return value
    if "bool" in str(_HINTS[name]):
        if not isinstance(value, bool):
            raise ValueError("Answer yes (true), no (false) or leave it unknown (null).")
        return value
    if not isinstance(value, str):
        raise ValueError("Enter text.")
    return value[:200]


def stored_value_problems(data: Mapping[str, Any]) -> dict[str, str]:
    """Return the stored evaluation fields that cannot be read, each with why (none for a sound evaluation).

    A value written by an older version, a script or an import must never make a page fail: it is read as
    "not recorded", so the rules that need it ask for it, and the form says it could not be read.
    """
    problems: dict[str, str] = {}
    for name in RECORDED_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        try:
            if name == "diagnoses":
                # The code list was checked when saved; a read only checks the shape (no 3 s code-list load).
                if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
                    raise ValueError("not a list of codes")
            else:
                _check(name, value)
        except (ValueError, TypeError) as exc:
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            problems[name] = f"The stored value {shown} could not be read ({exc}): enter it again."
    return problems


def evaluation_validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return the cleaned evaluation data; every bad field is reported at once."""
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name not in RECORDED_FIELDS:
            errors[name] = "This is not part of the evaluation."
            continue
        try:
            cleaned[name] = _check(name, value)
        except (ValueError, TypeError) as exc:
            errors[name] = str(exc) if isinstance(exc, ValueError) else "This value has the wrong form."
    if errors:
        raise ValidationError(errors)
    return cleaned


def evaluation_save(*, ctx: AuditContext, patient_id: int, values: Mapping[str, Any]) -> Evaluation:
    """Record or update the evaluation (prescriber); only the fields sent change."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.EVALUATION_RECORD, record_allowed=False)
    try:
        cleaned = evaluation_validate(values)
    except ValidationError as exc:
        access_event_record(
            ctx=ctx,
            action=Action.EVALUATION_RECORD,
            patient_id=patient_id,
            outcome=Outcome.INVALID,
            detail={"fields": sorted(exc.message_dict)},
        )
        raise
    with transaction.atomic():
        evaluation = Evaluation.objects.select_for_update().filter(patient_id=patient_id).first()
        if evaluation is None:
            evaluation = Evaluation(patient_id=patient_id, recorded_by=ctx.user, data={}, version=0)
        evaluation.data = {**evaluation.data, **cleaned}
        evaluation.recorded_by = ctx.user
        evaluation.updated_at = timezone.now()
        evaluation.version += 1
        evaluation.save()
        access_event_record(
            ctx=ctx, action=Action.EVALUATION_RECORD, patient_id=patient_id, detail={"changed": sorted(cleaned)}
        )
    return evaluation


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


def eligibility_decide(*, ctx: AuditContext, patient_id: int, decision: str, reason: str = "") -> EligibilityDecision:
    """Record the prescriber's decision; refused (and the refusal audited) when the rules do not allow it.

    "eligible" despite an absolute contraindication is refused; despite a relative one it needs a reason.
    The decision keeps the findings, the rule set version and the policy version in force.
    """
    access = patient_get_for_user(
        ctx=ctx, patient_id=patient_id, action=Action.ELIGIBILITY_DECIDE, record_allowed=False
    )
    if decision not in EligibilityDecisionKind.values:
        raise ValidationError({"decision": "Choose eligible, eligible_with_precautions or not_eligible."})
    evaluation = Evaluation.objects.filter(patient_id=patient_id).first()
    data = evaluation.data if evaluation else {}
    policy = eligibility_policy()
    findings = evaluate(snapshot_for(access.patient, data), policy)
    allowed, why = decision_allowed(findings, decision, reason)
    if not allowed:
        # A refused override of a contraindication is a safety event: kept in the audit log.
        access_event_record(
            ctx=ctx,
            action=Action.ELIGIBILITY_DECIDE,
            patient_id=patient_id,
            outcome=Outcome.DENIED,
            detail={"decision": decision, "why": why},
        )
        raise ValidationError({"decision": why})
    with transaction.atomic():
        saved = EligibilityDecision(
            patient_id=patient_id,
            decision=decision,
            reason=reason.strip(),
            rule_set_version=RULE_SET_VERSION,
            policy_version=policy.version,
            findings=[f.as_dict() for f in findings],
            evaluation_data=data,
        )
        saved.signature_stamp(ctx.user.pk)
        saved.save(force_insert=True)
        access_event_record(
            ctx=ctx,
            action=Action.ELIGIBILITY_DECIDE,
            patient_id=patient_id,
            detail={"decision": decision, "findings": [f.code for f in findings if f.severity != "missing"]},
        )
    return saved


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

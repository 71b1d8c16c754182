"""Submitting questionnaire responses and acknowledging the safety flags they raise."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.instruments import (
    SAFETY_FLAGS_BY_URGENCY,
    Instrument,
    ScoreResult,
    band_for,
    get_instrument,
    score,
)
from kapclinic.clinical.schedule import counts_for, standard_schedule
from kapclinic.errors import Conflict, NotFound
from kapclinic.measures.models import (
    QuestionnaireResponse,
    ResponseDraft,
    ResponseItem,
    ResponseSource,
    SafetyFlag,
    ScheduledMeasure,
)
from kapclinic.measures.signals import response_scored
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.roles import Action, Role


def instrument_or_error(code: str, version: str | None = None) -> Instrument:
    """Return the shipped instrument; a code or version that does not exist is a validation error."""
    try:
        return get_instrument(code[:30], version[:20] if version is not None else None)
    except ValueError as exc:
        raise ValidationError({"instrument": str(exc)}) from None


def response_submit(
    *,
    ctx: AuditContext,
    patient_id: int,
    instrument_code: str,
    answers: Sequence[object] | Mapping[str, object],
    version: str | None = None,
    client_token: uuid.UUID | None = None,
    corrects_id: int | None = None,
    correction_reason: str = "",
) -> tuple[QuestionnaireResponse, bool]:
    """Score and store a response with its items and safety flags; return (response, created).

    A patient answers only their own, completely; staff enter paper forms or clinician ratings
    for patients they may reach, where a skipped item is kept as skipped (and a skipped risk
    item raises a flag). The same `client_token` twice returns the first response, unchanged.
    """
    is_patient = ctx.user.role == Role.PATIENT
    action = Action.MEASURE_ANSWER if is_patient else Action.MEASURE_ENTER
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=action, record_allowed=False)
    try:
        instrument = instrument_or_error(instrument_code, version)
        if is_patient and instrument.respondent != "self":
            raise ValidationError({"instrument": f"{instrument.name} is completed by a clinician."})
        try:
            result = score(instrument, answers)
        except ValueError as exc:
            raise ValidationError({"answers": str(exc)}) from None
        if is_patient and result.missing:
            raise ValidationError({"answers": f"Answer every question; still to answer: {', '.join(result.missing)}."})
        if corrects_id is not None and not correction_reason.strip():
            raise ValidationError({"correction_reason": "Say why the earlier response is being corrected."})
        with transaction.atomic():
            return _store(ctx, patient_id, instrument, answers, result, client_token, corrects_id, correction_reason)
    except ValidationError as exc:
        access_event_record(
            ctx=ctx,
            action=action,
            patient_id=patient_id,
            outcome=Outcome.INVALID,
            detail={"instrument": instrument_code[:30], "errors": exc.messages[:3]},
        )
        raise


def _store(
    ctx: AuditContext,
    patient_id: int,
    instrument: Instrument,
    answers: Sequence[object] | Mapping[str, object],
    result: ScoreResult,
    client_token: uuid.UUID | None,
    corrects_id: int | None,
    correction_reason: str,
) -> tuple[QuestionnaireResponse, bool]:
    # Lock the patient: two tabs submitting the same form are handled one after the other.
    Patient.objects.select_for_update().filter(pk=patient_id).first()
    if client_token is not None:
        existing = QuestionnaireResponse.objects.filter(client_token=client_token).first()
        if existing is not None:
            if existing.patient_id != patient_id:
                raise ValidationError({"client_token": "This form token was already used."})
            return existing, False
    corrected = None
    if corrects_id is not None:
        corrected = QuestionnaireResponse.objects.filter(
            pk=corrects_id, patient_id=patient_id, instrument=instrument.code
        ).first()
        if corrected is None:
            raise ValidationError(
                {"corrects": "No earlier response of this questionnaire for this patient has that id."}
            )
    values = _by_item(instrument, answers)
    response = QuestionnaireResponse.objects.create(
        patient_id=patient_id,
        instrument=instrument.code,
        version=instrument.version,
        total=result.total,
        severity=result.severity or "",
        flags=list(result.flags),
        complete=result.complete,
        prorated=result.prorated,
        source=_source(ctx, instrument),
        entered_by=ctx.user,
        client_token=client_token,
        corrects=corrected,
        correction_reason=correction_reason.strip(),
    )
    ResponseItem.objects.bulk_create(ResponseItem(response=response, item=k, value=v) for k, v in values.items())
    ResponseDraft.objects.filter(patient_id=patient_id, instrument=instrument.code).delete()
    if corrected is None:
        schedule_fulfil(patient_id, instrument.code, response)
    most_urgent = next((code for code in SAFETY_FLAGS_BY_URGENCY if code in result.flags), None)
    if most_urgent is not None:
        SafetyFlag.objects.create(patient_id=patient_id, response=response, code=most_urgent)
    access_event_record(
        ctx=ctx,
        action="measure.submit",
        patient_id=patient_id,
        detail={"response": response.pk, "instrument": instrument.code, "flags": list(result.flags)},
    )
    if response.total is not None:
        response_scored.send(
            sender=QuestionnaireResponse, patient_id=patient_id, instrument=instrument.code, response_id=response.pk
        )
    return response, True


def _source(ctx: AuditContext, instrument: Instrument) -> str:
    if ctx.user.role == Role.PATIENT:
        return ResponseSource.PORTAL
    return ResponseSource.PAPER if instrument.respondent == "self" else ResponseSource.CLINICIAN


def _by_item(instrument: Instrument, answers: Sequence[object] | Mapping[str, object]) -> dict[str, int | None]:
    if isinstance(answers, Mapping):
        return {item.id: _int_or_none(answers.get(item.id)) for item in instrument.items}
    padded = list(answers) + [None] * (len(instrument.items) - len(answers))
    return {item.id: _int_or_none(value) for item, value in zip(instrument.items, padded, strict=False)}


def _int_or_none(value: object) -> int | None:
    return None if value is None or value == "" else int(str(value))


SAFETY_REASON_MAX = 2_000


def safety_flag_raise(
    *, ctx: AuditContext, patient_id: int, code: str, reason: str, origin: dict[str, object]
) -> SafetyFlag:
    """A clinician raises a safety flag by hand, saying why (who and when are recorded); `origin` names what
    prompted it (e.g. {"message": 12}) for the audit row.

    The caller checks the user's right to the patient and the origin (kapclinic/messaging/services.py) and
    calls this inside its own transaction, so the flag and the origin's link to it are written together.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why this needs a safety flag (what in it worries you)."})
    if len(reason) > SAFETY_REASON_MAX:
        raise ValidationError({"reason": f"Keep the reason under {SAFETY_REASON_MAX:,} characters."})
    with transaction.atomic():
        flag = SafetyFlag.objects.create(
            patient_id=patient_id, code=code, raised_by=ctx.user, raised_at=timezone.now(), reason=reason
        )
        access_event_record(
            ctx=ctx, action="safety.raise", patient_id=patient_id, detail={"flag": flag.pk, "code": code, **origin}
        )
    return flag


def safety_flag_acknowledge(*, ctx: AuditContext, flag_id: int, action_taken: str) -> SafetyFlag:
    """Close a safety flag with the action the clinician took (who and when are recorded)."""
    flag = SafetyFlag.objects.filter(pk=flag_id).first()
    if flag is None:
        raise NotFound("No such safety flag.")
    access = patient_get_for_user(
        ctx=ctx, patient_id=flag.patient_id, action=Action.SAFETY_ACKNOWLEDGE, record_allowed=False
    )
    if not action_taken.strip():
        raise ValidationError(
            {"action_taken": "Record the action taken (e.g. safety plan reviewed, called the patient)."}
        )
    with transaction.atomic():
        flag = SafetyFlag.objects.select_for_update().get(pk=flag_id)
        if flag.acknowledged_at is not None:
            raise Conflict("This safety flag was already acknowledged.")
        flag.acknowledged_by = ctx.user
        flag.acknowledged_at = timezone.now()
        flag.action_taken = action_taken.strip()[:4000]
        flag.save(update_fields=["acknowledged_by", "acknowledged_at", "action_taken"])
        access_event_record(
            ctx=ctx,
            action=Action.SAFETY_ACKNOWLEDGE,
            patient_id=flag.patient_id,
            detail={"flag": flag.pk, "code": flag.code},
            emergency=access.emergency,
        )
    return flag


def response_draft_save(*, ctx: AuditContext, patient_id: int, instrument_code: str, answers: dict[str, str]) -> None:
    """Keep the answers given so far (only valid item ids and whole numbers), to resume later."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MEASURE_ANSWER, record_allowed=False)
    instrument = instrument_or_error(instrument_code)
    kept = {
        item.id: int(answers[item.id])
        for item in instrument.items
        if answers.get(item.id, "").lstrip("-").isdigit() and len(answers[item.id]) < 6
    }
    ResponseDraft.objects.update_or_create(
        patient_id=patient_id,
        instrument=instrument.code,
        defaults={"answers": kept, "updated_at": timezone.now()},
    )


def measure_schedule_apply(
    *,
    ctx: AuditContext,
    patient_id: int,
    instruments: Sequence[str],
    baseline_on: date,
    course_end_on: date,
) -> list[ScheduledMeasure]:
    """Schedule the standard measures (baseline, end of course, 1, 3 and 6 months after); skip ones already there."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MEASURE_ENTER, record_allowed=False)
    if not instruments:
        raise ValidationError({"instruments": "Choose at least one questionnaire."})
    codes = [instrument_or_error(code).code for code in instruments]
    try:
        milestones = standard_schedule(baseline_on=baseline_on, course_end_on=course_end_on)
    except ValueError as exc:
        raise ValidationError({"course_end_on": str(exc)}) from None
    with transaction.atomic():
        existing = set(ScheduledMeasure.objects.filter(patient_id=patient_id).values_list("instrument", "due_on"))
        created = ScheduledMeasure.objects.bulk_create(
            ScheduledMeasure(
                patient_id=patient_id, instrument=code, label=m.label, due_on=m.due_on, created_by=ctx.user
            )
            for m in milestones
            for code in codes
            if (code, m.due_on) not in existing
        )
        access_event_record(
            ctx=ctx,
            action="measure.schedule",
            patient_id=patient_id,
            detail={"instruments": codes, "added": len(created)},
        )
    return created


def schedule_fulfil(patient_id: int, instrument: str, response: QuestionnaireResponse) -> None:
    """Mark every open scheduled measure of this questionnaire that the response counts for as done (one answer
    serves two schedules asking for it in the same days)."""
    answered_on = timezone.localdate(response.submitted_at)
    for scheduled in (
        ScheduledMeasure.objects.select_for_update()
        .filter(patient_id=patient_id, instrument=instrument, response__isnull=True)
        .order_by("due_on")
    ):
        if counts_for(scheduled.due_on, answered_on):
            scheduled.response = response
            scheduled.save(update_fields=["response"])


def response_from_referral(
    *, ctx: AuditContext, patient_id: int, instrument_code: str, total: int, taken_at: datetime
) -> QuestionnaireResponse:
    """Keep a total another provider recorded (a referral's FHIR Bundle, issue 17 item 4), dated when it was taken.

    Only the total: no item answers, so no safety flag is raised from it and no scheduled questionnaire is
    fulfilled by it. The caller (kapclinic/fhir/imports.py) runs it inside its transaction and audits the import.
    """
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MEASURE_ENTER, record_allowed=False)
    instrument = instrument_or_error(instrument_code)
    high = instrument.max_total
    if instrument.scoring != "sum" or high is None or not instrument.min_total <= total <= high:
        raise ValidationError({"total": f"{total} is not a {instrument.name} total."})
    if taken_at > timezone.now():
        raise ValidationError({"taken_at": "The score is dated in the future."})
    band = band_for(instrument, total)
    response = QuestionnaireResponse.objects.create(
        patient_id=patient_id,
        instrument=instrument.code,
        version=instrument.version,
        total=total,
        severity=band.label if band is not None else "",
        flags=[],
        complete=True,
        source=ResponseSource.REFERRAL,
        entered_by=ctx.user,
        submitted_at=taken_at,
    )
    access_event_record(
        ctx=ctx,
        action="measure.referral",
        patient_id=patient_id,
        detail={"response": response.pk, "instrument": instrument.code},
    )
    return response

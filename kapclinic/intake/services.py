"""The intake stage's writes: inquiries received (public form, phone, referral), moved through their statuses
and converted to a patient; the evaluation recorded; the prescriber's eligibility decision."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.clinical import billing as billing_rules
from kapclinic.clinical.eligibility import (
    RULE_SET_VERSION,
    decision_allowed,
    evaluate,
)
from kapclinic.clinical.registry import birth_date_problem, phone_problem
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.intake.evaluation_fields import evaluation_validate
from kapclinic.intake.models import (
    EligibilityDecision,
    EligibilityDecisionKind,
    Evaluation,
    Inquiry,
    InquirySource,
    InquiryStatus,
)
from kapclinic.intake.selectors import snapshot_for
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.patients.services import patient_register
from kapclinic.policy import eligibility_policy
from kapclinic.roles import Action, may

INQUIRY_FIELDS = (
    "given_name",
    "family_name",
    "birth_date",
    "phone",
    "email",
    "reason",
    "referral_source",
    "insurance_payer",
    "consent_to_contact",
)


class TooManyInquiries(Exception):
    """The public form was used too often from one address (spam protection)."""


def _clean(inquiry: Inquiry) -> None:
    errors: dict[str, str] = {}
    for name in ("given_name", "family_name", "reason", "phone", "email", "referral_source", "insurance_payer"):
        setattr(
            inquiry,
            name,
            " ".join(str(getattr(inquiry, name) or "").split())
            if name != "reason"
            else str(getattr(inquiry, name) or "").strip(),
        )
    if not inquiry.phone and not inquiry.email:
        errors["phone"] = "Give a phone number or an email address, so the clinic can reach them."
    problem = phone_problem(inquiry.phone)
    if problem:
        errors["phone"] = problem
    if inquiry.birth_date is not None:
        problem = birth_date_problem(inquiry.birth_date, timezone.localdate())
        if problem:
            errors["birth_date"] = problem
    try:
        inquiry.full_clean(exclude=["created_by", "patient"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, messages[0])
    if errors:
        raise ValidationError(errors)


def inquiry_receive_public(*, values: Mapping[str, Any], client_address: str | None) -> Inquiry:
    """Store an inquiry from the public web form (no login); rate-limited per address."""
    window = timezone.now() - timedelta(hours=1)
    if client_address and (
        Inquiry.objects.filter(client_address=client_address, created_at__gte=window).count()
        >= settings.KAPCLINIC_PUBLIC_INQUIRIES_PER_HOUR
    ):
        raise TooManyInquiries
    inquiry = Inquiry(source=InquirySource.WEB, client_address=client_address)
    for name in INQUIRY_FIELDS:
        setattr(inquiry, name, values.get(name) if name != "consent_to_contact" else bool(values.get(name)))
    _clean(inquiry)
    inquiry.save()
    return inquiry


def inquiry_record(*, ctx: AuditContext, values: Mapping[str, Any], source: str) -> Inquiry:
    """Staff enter a phone or referral inquiry."""
    if not may(ctx.user.role, Action.INQUIRY_MANAGE):
        access_event_record(ctx=ctx, action=Action.INQUIRY_MANAGE, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not take inquiries.")
    if source not in InquirySource.values:
        raise ValidationError({"source": "Choose web, phone or referral."})
    unknown = sorted(set(values) - set(INQUIRY_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be set here."))
    inquiry = Inquiry(source=source, created_by=ctx.user)
    for name in INQUIRY_FIELDS:
        value = values.get(name)
        setattr(inquiry, name, bool(value) if name == "consent_to_contact" else value)
    _clean(inquiry)
    with transaction.atomic():
        inquiry.save()
        access_event_record(ctx=ctx, action="inquiry.create", detail={"inquiry": inquiry.pk, "source": source})
    return inquiry


def inquiry_set_status(*, ctx: AuditContext, inquiry_id: int, status: str, closed_reason: str = "") -> Inquiry:
    """Move an inquiry along: contacted, consultation booked, or closed (with a reason)."""
    if not may(ctx.user.role, Action.INQUIRY_MANAGE):
        raise AccessDenied("Your role does not work inquiries.")
    if status not in (InquiryStatus.CONTACTED, InquiryStatus.CONSULTATION_BOOKED, InquiryStatus.CLOSED):
        raise ValidationError({"status": "Choose contacted, consultation booked or closed."})
    if status == InquiryStatus.CLOSED and not closed_reason.strip():
        raise ValidationError({"closed_reason": "Say why the inquiry is closed (e.g. referred elsewhere, declined)."})
    with transaction.atomic():
        inquiry = Inquiry.objects.select_for_update().filter(pk=inquiry_id).first()
        if inquiry is None:
            raise NotFound("No such inquiry.")
        if inquiry.status == InquiryStatus.CONVERTED:
            raise Conflict("This inquiry was already converted to a patient.")
        inquiry.status = status
        inquiry.closed_reason = closed_reason.strip()[:200]
        inquiry.updated_at = timezone.now()
        inquiry.save(update_fields=["status", "closed_reason", "updated_at"])
        access_event_record(ctx=ctx, action="inquiry.status", detail={"inquiry": inquiry.pk, "status": status})
    return inquiry


def inquiry_convert(
    *,
    ctx: AuditContext,
    inquiry_id: int,
    birth_date: Any = None,
    sex_at_birth: str = "",
    allow_duplicate: bool = False,
) -> Patient:
    """Register the inquirer as a patient from what the inquiry already holds; nothing is typed twice."""
    if not may(ctx.user.role, Action.INQUIRY_MANAGE):
        raise AccessDenied("Your role does not convert inquiries.")
    inquiry = Inquiry.objects.filter(pk=inquiry_id).first()
    if inquiry is None:
        raise NotFound("No such inquiry.")
    if inquiry.status == InquiryStatus.CONVERTED:
        raise Conflict("This inquiry was already converted to a patient.")
    dob = birth_date or inquiry.birth_date
    if dob is None:
        raise ValidationError({"birth_date": "Enter the date of birth to register the patient."})
    values = {
        "given_name": inquiry.given_name,
        "family_name": inquiry.family_name,
        "birth_date": dob,
        "phone": inquiry.phone,
        "email": inquiry.email,
        "insurance_payer": inquiry.insurance_payer,
        **({"sex_at_birth": sex_at_birth} if sex_at_birth else {}),
    }
    with transaction.atomic():
        patient = patient_register(ctx=ctx, values=values, allow_duplicate=allow_duplicate)
        inquiry.patient = patient
        inquiry.status = InquiryStatus.CONVERTED
        inquiry.updated_at = timezone.now()
        inquiry.save(update_fields=["patient", "status", "updated_at"])
        # The consultation booked for the inquirer is now the patient's: it shows on their chart.
        # Through the reverse relation: appointments sit above intake in the house and import it, not the other way.
        inquiry.appointments.filter(patient__isnull=True).update(patient=patient)
        access_event_record(ctx=ctx, action="inquiry.convert", patient_id=patient.pk, detail={"inquiry": inquiry.pk})
    return patient


def inquiries_visible(*, user: User) -> bool:
    return may(user.role, Action.INQUIRY_VIEW)


def inquiries_search(*, status: str = "", query: str = "") -> QuerySet[Inquiry]:
    """Inquiries with a status (any when blank) whose name, email or phone starts with / holds `query`."""
    inquiries = Inquiry.objects.select_related("patient")
    if status in InquiryStatus.values:
        inquiries = inquiries.filter(status=status)
    query = query.strip()[:100]
    if query:
        inquiries = inquiries.filter(
            Q(family_name__istartswith=query)
            | Q(given_name__istartswith=query)
            | Q(email__istartswith=query)
            | Q(phone__contains=query)
        )
    return inquiries


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


def _em_errors(em_code: str, em_basis: str, em_minutes: int | None) -> dict[str, str]:
    """The E/M level chosen with the decision (optional): checked by the pure rule before anything is signed."""
    if not em_code:
        if em_basis or em_minutes is not None:
            return {"em_code": "Choose the E/M level (or leave the level, its basis and its minutes all blank)."}
        return {}
    return billing_rules.em_choice_errors(code=em_code, basis=em_basis, minutes=em_minutes, day=timezone.localdate())


def eligibility_decide(
    *,
    ctx: AuditContext,
    patient_id: int,
    decision: str,
    reason: str = "",
    em_code: str = "",
    em_basis: str = "",
    em_minutes: int | None = None,
) -> EligibilityDecision:
    """Record the prescriber's decision; refused (and the refusal audited) when the rules do not allow it.

    "eligible" despite an absolute contraindication is refused; despite a relative one it needs a reason.
    The decision keeps the findings, the rule set version and the policy version in force. The prescriber may
    record the evaluation's E/M level with it (the code, by MDM or total time, the minutes): it is signed with the
    decision, so it is chosen now or never (billing proposes the visit line from it).
    """
    access = patient_get_for_user(
        ctx=ctx, patient_id=patient_id, action=Action.ELIGIBILITY_DECIDE, record_allowed=False
    )
    em_code = em_code.strip().upper()
    if decision not in EligibilityDecisionKind.values:
        raise ValidationError({"decision": "Choose eligible, eligible_with_precautions or not_eligible."})
    em_errors = _em_errors(em_code, em_basis, em_minutes)
    if em_errors:
        access_event_record(
            ctx=ctx,
            action=Action.ELIGIBILITY_DECIDE,
            patient_id=patient_id,
            outcome=Outcome.INVALID,
            detail={"fields": sorted(em_errors)},
        )
        raise ValidationError(em_errors)
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
            em_code=em_code,
            em_basis=em_basis if em_code else "",
            em_minutes=em_minutes if em_code else None,
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

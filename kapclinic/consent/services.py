"""Consent writes: publish a text version, sign, witness, withdraw. Each one transaction with its audit event.

Refusals are audited outside the transaction, so they stay in the log when the change is rolled back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.consent.models import (
    ConsentSignature,
    ConsentVersion,
    ConsentWithdrawal,
    ConsentWitness,
    SigningChannel,
)
from kapclinic.consent.selectors import consent_document, consent_signature_for_user, consent_status_of
from kapclinic.consent.signals import consent_withdrawn
from kapclinic.errors import AccessDenied, Conflict
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.roles import Action, Role, may
from kapclinic.signing import content_digest

RISK_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
NAME_MISMATCH = "The typed name must be the patient's full legal name (given and family name, as registered)."


def _normal_name(value: str) -> str:
    return " ".join(str(value).split()).casefold()


def _audit_invalid(
    ctx: AuditContext, action: Action, patient_id: int | None, exc: ValidationError, **detail: Any
) -> None:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    access_event_record(
        ctx=ctx,
        action=action,
        patient_id=patient_id,
        outcome=Outcome.INVALID,
        detail={**detail, "fields": sorted(errors), "errors": {k: v[:1] for k, v in errors.items()}},
    )


# --- Publishing a version of a consent text --------------------------------------------------------


def _clean_risks(risks: Any) -> tuple[list[dict[str, str]], str | None]:
    if not isinstance(risks, Sequence) or isinstance(risks, str | bytes):
        return [], "Give the key risks as a list of {code, text}."
    cleaned: list[dict[str, str]] = []
    for number, risk in enumerate(risks, start=1):
        if not isinstance(risk, Mapping) or set(risk) - {"code", "text"}:
            return [], f"Risk {number}: give exactly a code and a text."
        code = str(risk.get("code") or "").strip().lower()
        text = " ".join(str(risk.get("text") or "").split())
        if not RISK_CODE.match(code):
            return [], f"Risk {number}: the code must be 1-40 lowercase letters, digits or hyphens (e.g. “nausea”)."
        if not text:
            return [], f"Risk {number} ({code}): write the risk as the patient will read it."
        if len(text) > 600:
            return [], f"Risk {number} ({code}): keep it under 600 characters."
        if any(r["code"] == code for r in cleaned):
            return [], f"Risk {number}: the code “{code}” is used twice."
        cleaned.append({"code": code, "text": text})
    if not cleaned:
        return [], "List at least one key risk: the patient ticks each one to sign."
    return cleaned, None


def consent_version_publish(
    *,
    ctx: AuditContext,
    title: str,
    body: str,
    risks: Sequence[Mapping[str, str]],
    change_summary: str = "",
    document: str | None = None,
) -> ConsentVersion:
    """Publish the next version of a consent text (director). Earlier versions and their signatures never change."""
    if not may(ctx.user.role, Action.CONSENT_PUBLISH):
        access_event_record(ctx=ctx, action=Action.CONSENT_PUBLISH, outcome=Outcome.DENIED)
        raise AccessDenied("Only the clinic director publishes consent texts.")
    document = (document or consent_document()).strip()
    title = " ".join(str(title or "").split())
    body = str(body or "").replace("\r\n", "\n").strip()
    change_summary = " ".join(str(change_summary or "").split())
    cleaned_risks, risk_problem = _clean_risks(risks)
    previous = ConsentVersion.objects.filter(document=document).order_by("-number").first()
    errors: dict[str, str] = {}
    try:
        validate_slug(document)
        if len(document) > 60:
            raise ValidationError("too long")
    except ValidationError:
        errors["document"] = "The document name must be 1-60 letters, digits, hyphens or underscores."
    if not title:
        errors["title"] = "Give the consent a title."
    elif len(title) > 200:
        errors["title"] = "Keep the title under 200 characters."
    if not body:
        errors["body"] = "Write the text the patient reads."
    elif len(body) > 50_000:
        errors["body"] = "The text is too long (at most 50,000 characters)."
    if risk_problem:
        errors["risks"] = risk_problem
    if len(change_summary) > 300:
        errors["change_summary"] = "Keep the summary of changes under 300 characters."
    elif previous is not None and not change_summary:
        errors["change_summary"] = f"Say what changed since version {previous.number}."
    if (
        previous is not None
        and not errors
        and (previous.title, previous.body, previous.risks) == (title, body, cleaned_risks)
    ):
        errors["body"] = f"This is the same as version {previous.number}: change the text or the risks to publish."
    if errors:
        exc = ValidationError(errors)
        _audit_invalid(ctx, Action.CONSENT_PUBLISH, None, exc, document=document[:60])
        raise exc
    try:
        with transaction.atomic():
            # Two directors publishing at once: the unique (document, number) constraint refuses the second.
            latest = ConsentVersion.objects.filter(document=document).order_by("-number").first()
            version = ConsentVersion(
                document=document,
                title=title,
                number=(latest.number if latest else 0) + 1,
                body=body,
                risks=cleaned_risks,
                change_summary=change_summary,
                published_by=ctx.user,
                published_at=timezone.now(),
            )
            version.body_digest = content_digest(version.text_content())
            version.save(force_insert=True)
            access_event_record(
                ctx=ctx,
                action=Action.CONSENT_PUBLISH,
                detail={"version": version.pk, "document": document, "number": version.number},
            )
    except IntegrityError as exc:
        raise Conflict("Another version of this consent was published at the same moment; reload, try again.") from exc
    return version


# --- Signing -------------------------------------------------------------------------------------


def _signing_channel(ctx: AuditContext, channel: str | None, patient_id: int) -> str:
    is_patient = ctx.user.role == Role.PATIENT
    chosen = channel or (SigningChannel.PORTAL if is_patient else SigningChannel.CLINIC)
    if chosen not in SigningChannel.values:
        raise ValidationError({"channel": "Choose portal or clinic."})
    if chosen == SigningChannel.PORTAL and not may(ctx.user.role, Action.CONSENT_SIGN):
        access_event_record(ctx=ctx, action=Action.CONSENT_SIGN, patient_id=patient_id, outcome=Outcome.DENIED)
        raise AccessDenied(
            "Only the patient signs their consent in the portal; at the clinic, hand them the tablet "
            "(“sign at the clinic”) and you are recorded as the witness."
        )
    if chosen == SigningChannel.CLINIC and is_patient:
        access_event_record(ctx=ctx, action=Action.CONSENT_SIGN, patient_id=patient_id, outcome=Outcome.DENIED)
        raise AccessDenied("At the clinic, a staff member records your signature on the clinic's tablet.")
    return chosen


def _signature_problems(
    patient: Patient, version: ConsentVersion, latest: ConsentVersion, typed_name: str, ticks: list[str]
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if latest.pk != version.pk:
        errors["version_id"] = (
            f"Version {version.number} of this consent has been replaced by version {latest.number}: "
            "please read and sign the current version."
        )
    if not typed_name:
        errors["typed_name"] = "Type the patient's full legal name to sign."
    elif _normal_name(typed_name) != _normal_name(f"{patient.given_name} {patient.family_name}"):
        errors["typed_name"] = NAME_MISMATCH
    codes = version.risk_codes
    unknown = [t for t in ticks if t not in codes]
    missing = [c for c in codes if c not in ticks]
    if unknown:
        errors["risks_acknowledged"] = f"Not a risk of this consent: {', '.join(unknown)}."
    elif missing:
        errors["risks_acknowledged"] = (
            f"Tick every key risk to show it was read and understood ({len(missing)} of {len(codes)} not ticked)."
        )
    return errors


def consent_sign(
    *,
    ctx: AuditContext,
    patient_id: int,
    version_id: int,
    typed_name: str,
    risks_acknowledged: Sequence[str],
    user_agent: str = "",
    channel: str | None = None,
) -> ConsentSignature:
    """Record the patient's signature on the current version: typed full legal name and every key risk ticked.

    In the portal (channel "portal", the default for a patient user) only the patient's own login signs. At
    the clinic (the default for staff) a staff member who may witness for this patient hands over the tablet:
    they are recorded as `recorded_by` and as a witness, in the same transaction.
    """
    chosen = _signing_channel(ctx, channel, patient_id)
    action = Action.CONSENT_SIGN if chosen == SigningChannel.PORTAL else Action.CONSENT_WITNESS
    patient = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=action, record_allowed=False).patient
    ticks = [str(t).strip() for t in risks_acknowledged]
    typed = " ".join(str(typed_name or "").split())
    try:
        version = ConsentVersion.objects.filter(pk=version_id).first()
        if version is None:
            raise ValidationError({"version_id": "There is no such consent version."})
        with transaction.atomic():
            # Serialise this patient's consent changes (a double tap on "Sign" must not sign twice).
            Patient.objects.select_for_update().filter(pk=patient.pk).first()
            latest = ConsentVersion.objects.filter(document=version.document).order_by("-number").first()
            assert latest is not None
            errors = _signature_problems(patient, version, latest, typed, ticks)
            if errors:
                raise ValidationError(errors)
            status = consent_status_of(
                ConsentSignature.objects.filter(patient_id=patient.pk, version__document=version.document)
                .select_related("version", "withdrawal")
                .order_by("-signed_at", "-id")[:1],
                document=version.document,
            )
            if status.current is not None and status.current.version_id == version.pk:
                raise Conflict(
                    f"This version was already signed on {timezone.localtime(status.current.signed_at):%b %d, %Y} "
                    "and is still in force."
                )
            signature = ConsentSignature(
                patient=patient,
                version=version,
                typed_name=typed[:200],
                risks_acknowledged=[c for c in version.risk_codes if c in ticks],
                client_address=ctx.client_address,
                user_agent=str(user_agent or "")[:300],
                channel=chosen,
            )
            signature.signature_stamp(ctx.user.pk)
            signature.save(force_insert=True)
            if chosen == SigningChannel.CLINIC:
                ConsentWitness.objects.create(
                    signature=signature,
                    witness=ctx.user,
                    witnessed_at=signature.signed_at,
                    note="Present when the patient signed on the clinic's tablet.",
                )
            access_event_record(
                ctx=ctx,
                action=Action.CONSENT_SIGN,
                patient_id=patient.pk,
                detail={"signature": signature.pk, "version": version.pk, "channel": chosen},
            )
    except ValidationError as exc:
        # A signature that is not the patient's, or not informed, is a safety refusal: it stays in the log.
        _audit_invalid(ctx, Action.CONSENT_SIGN, patient.pk, exc, version=version_id, channel=chosen)
        raise
    return signature


# --- Witnessing and withdrawing --------------------------------------------------------------------


def consent_witness(*, ctx: AuditContext, signature_id: int, note: str = "") -> ConsentWitness:
    """Record that a staff member witnessed a signature (e.g. confirmed a portal signature with the patient)."""
    if ctx.user.role == Role.PATIENT:
        access_event_record(
            ctx=ctx, action=Action.CONSENT_WITNESS, outcome=Outcome.DENIED, detail={"signature": signature_id}
        )
        raise AccessDenied("A patient cannot witness a consent.")
    signature, _ = consent_signature_for_user(
        ctx=ctx, signature_id=signature_id, action=Action.CONSENT_WITNESS, record_allowed=False
    )
    note = " ".join(str(note or "").split())
    if len(note) > 300:
        exc = ValidationError({"note": "Keep the note under 300 characters."})
        _audit_invalid(ctx, Action.CONSENT_WITNESS, signature.patient_id, exc, signature=signature.pk)
        raise exc
    with transaction.atomic():
        # Lock the signature so a withdrawal and a witness cannot cross (FOR UPDATE fires no UPDATE trigger).
        ConsentSignature.objects.select_for_update().filter(pk=signature.pk).first()
        if ConsentWithdrawal.objects.filter(signature_id=signature.pk).exists():
            raise Conflict("This consent was withdrawn; there is nothing left to witness.")
        if ConsentWitness.objects.filter(signature_id=signature.pk, witness_id=ctx.user.pk).exists():
            raise Conflict("You have already witnessed this signature; a second witness must be someone else.")
        witness = ConsentWitness.objects.create(
            signature=signature, witness=ctx.user, witnessed_at=timezone.now(), note=note
        )
        access_event_record(
            ctx=ctx,
            action=Action.CONSENT_WITNESS,
            patient_id=signature.patient_id,
            detail={"signature": signature.pk, "witness": witness.pk},
        )
    return witness


def consent_withdraw(*, ctx: AuditContext, signature_id: int, reason: str = "") -> ConsentWithdrawal:
    """Record that the patient withdrew the consent in force; their dosing sessions not yet started are cancelled.

    The patient withdraws in the portal (a reason is optional); a member of the care team records a
    withdrawal the patient asked for, with the reason.
    """
    signature, _ = consent_signature_for_user(
        ctx=ctx, signature_id=signature_id, action=Action.CONSENT_WITHDRAW, record_allowed=False
    )
    is_patient = ctx.user.role == Role.PATIENT
    reason = str(reason or "").strip()
    errors: dict[str, str] = {}
    if not is_patient and not reason:
        errors["reason"] = "Say how the patient asked to withdraw and why (e.g. “by phone: wants to stop treatment”)."
    elif len(reason) > 2000:
        errors["reason"] = "Keep the reason under 2,000 characters."
    if errors:
        exc = ValidationError(errors)
        _audit_invalid(ctx, Action.CONSENT_WITHDRAW, signature.patient_id, exc, signature=signature.pk)
        raise exc
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=signature.patient_id).first()
        if ConsentWithdrawal.objects.filter(signature_id=signature.pk).exists():
            raise Conflict("This consent was already withdrawn.")
        newer = (
            ConsentSignature.objects.filter(
                patient_id=signature.patient_id, version__document=signature.version.document
            )
            .order_by("-signed_at", "-id")
            .values_list("pk", flat=True)
            .first()
        )
        if newer != signature.pk:
            raise Conflict("A later signature replaced this one: withdraw the consent in force instead.")
        withdrawal = ConsentWithdrawal.objects.create(
            signature=signature,
            withdrawn_at=timezone.now(),
            recorded_by=ctx.user,
            reason=reason,
            channel=SigningChannel.PORTAL if is_patient else SigningChannel.CLINIC,
        )
        # Withdrawal stops scheduling: every session not yet started is cancelled with it.
        answers = consent_withdrawn.send(
            sender=ConsentWithdrawal,
            ctx=ctx,
            patient_id=signature.patient_id,
            reason=f"Consent withdrawn: {reason or 'by the patient in the portal'}"[:2000],
        )
        cancelled: list[int] = []
        for _, ids in answers:
            cancelled += cast(list[int], ids)  # each receiver answers with the session ids it cancelled
        access_event_record(
            ctx=ctx,
            action=Action.CONSENT_WITHDRAW,
            patient_id=signature.patient_id,
            detail={"signature": signature.pk, "withdrawal": withdrawal.pk, "cancelled_sessions": cancelled},
        )
    return withdrawal

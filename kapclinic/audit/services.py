"""Writing the audit trail: every read or write of patient data, allowed or refused."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kapclinic.audit.chain import chain_append
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent, EmergencyAccess, Outcome
from kapclinic.audit.page_reads import reads_deferred
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.roles import Action, may


def _event(
    ctx: AuditContext,
    action: str,
    patient_id: int | None,
    outcome: str,
    detail: dict[str, Any] | None,
    emergency: EmergencyAccess | None,
) -> AccessEvent:
    user = ctx.user if ctx.user.is_authenticated else None
    return AccessEvent(
        occurred_at=timezone.now(),
        user=user,
        username=ctx.user.get_username() if user else "",
        role=getattr(user, "role", "") or "",
        patient_id=patient_id,
        action=str(action),
        outcome=outcome,
        channel=ctx.channel,
        method=ctx.method,
        path=ctx.path,
        client_address=ctx.client_address,
        emergency=emergency is not None,
        reason=emergency.reason if emergency else "",
        detail=detail or {},
    )


def _patient_exists(patient_id: int) -> bool:
    # The model behind the foreign key: the audit app sits beneath the patients app and imports nothing of it.
    patients = AccessEvent._meta.get_field("patient").related_model
    assert isinstance(patients, type)
    return bool(patients._default_manager.filter(pk=patient_id).exists())


def access_event_record(
    *,
    ctx: AuditContext,
    action: str,
    patient_id: int | None = None,
    outcome: str = Outcome.ALLOWED,
    detail: dict[str, Any] | None = None,
    emergency: EmergencyAccess | None = None,
) -> AccessEvent:
    """Record one access event; inside the caller's transaction when there is one.

    A refusal may be about an id that names no patient: it keeps the id in `detail`, never as the foreign key,
    which would fail at commit and lose the refusal with a 500 (issue 12, fault 8).
    """
    if patient_id is not None and outcome != Outcome.ALLOWED and not _patient_exists(patient_id):
        detail, patient_id = {**(detail or {}), "patient_id": patient_id}, None
    event = _event(ctx, action, patient_id, outcome, detail, emergency)
    if not reads_deferred([event]):
        chain_append([event])
    return event


def invalid_value_record(
    *, ctx: AuditContext, action: str, patient_id: int, exc: ValidationError, detail: dict[str, Any] | None = None
) -> ValidationError:
    """Record that a value about the patient was refused (nothing written) with the errors, and return the error
    for the service to raise. Outside the service's transaction, so that the refusal's row stays."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
    access_event_record(
        ctx=ctx,
        action=action,
        patient_id=patient_id,
        outcome=Outcome.INVALID,
        detail={**(detail or {}), "errors": errors},
    )
    return exc


def access_event_new(
    *, ctx: AuditContext, action: str, patient_id: int | None = None, detail: dict[str, Any] | None = None
) -> AccessEvent:
    """Return an allowed access event, not yet written: for chain_append_after, which writes it with what it
    records (one round trip fewer)."""
    return _event(ctx, action, patient_id, Outcome.ALLOWED, detail, None)


def access_events_record_many(
    *, ctx: AuditContext, action: str, patient_ids: Iterable[int], detail: dict[str, Any] | None = None
) -> None:
    """Record that a list showed these patients: one row each, in one INSERT (and one chain lock)."""
    events = [_event(ctx, action, pid, Outcome.ALLOWED, detail, None) for pid in patient_ids]
    if not reads_deferred(events):
        chain_append(events)


def access_events_record_each(*, ctx: AuditContext, action: str, details: Mapping[int, dict[str, Any]]) -> None:
    """Record one allowed event per patient, each with its own detail, in one INSERT (and one chain lock): a write
    about many patients at once (billing's proposal run), instead of one chain lock per patient."""
    events = [_event(ctx, action, pid, Outcome.ALLOWED, detail, None) for pid, detail in details.items()]
    if events and not reads_deferred(events):
        chain_append(events)


def emergency_access_active(*, user_id: int, patient_id: int) -> EmergencyAccess | None:
    """Return the user's unexpired emergency grant for this patient, if any."""
    return (
        EmergencyAccess.objects.filter(user_id=user_id, patient_id=patient_id, expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )


def emergency_access_review(*, ctx: AuditContext, grant_id: int, note: str) -> EmergencyAccess:
    """Mark an emergency access as reviewed by the director."""
    if not may(ctx.user.role, Action.EMERGENCY_REVIEW):
        access_event_record(ctx=ctx, action=Action.EMERGENCY_REVIEW, outcome=Outcome.DENIED, detail={"grant": grant_id})
        raise AccessDenied("Only the clinic director reviews emergency access.")
    with transaction.atomic():
        return _review(ctx, grant_id, note)


def _review(ctx: AuditContext, grant_id: int, note: str) -> EmergencyAccess:
    grant = EmergencyAccess.objects.select_for_update().filter(pk=grant_id).first()
    if grant is None:
        raise NotFound("No such emergency access.")
    if grant.reviewed_at is not None:
        raise Conflict("This emergency access was already reviewed.")
    grant.reviewed_by = ctx.user
    grant.reviewed_at = timezone.now()
    grant.review_note = note.strip()[:2000]
    grant.save(update_fields=["reviewed_by", "reviewed_at", "review_note"])
    access_event_record(
        ctx=ctx, action=Action.EMERGENCY_REVIEW, patient_id=grant.patient_id, detail={"grant": grant.pk}
    )
    return grant

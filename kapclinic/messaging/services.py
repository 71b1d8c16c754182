"""Secure-message writes: start a thread, send a message, mark a thread read, mark it as needing a clinical
response, turn a message into a safety flag.

Each write is one transaction with its audit row. A refusal (an empty or over-long message, a patient not on
the user's care team, a staff-only thread asked for by the patient) changes nothing and is audited outside
the transaction, so the refusal row stays. Words in a message raise nothing by themselves: a clinician reads
it and decides (`message_safety_flag_raise`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record, invalid_value_record
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.measures.models import SafetyFlag, SafetyFlagCode
from kapclinic.measures.services import safety_flag_raise
from kapclinic.messaging.models import (
    BODY_MAX,
    SUBJECT_MAX,
    Message,
    MessageRead,
    MessageSafetyFlag,
    MessageThread,
)
from kapclinic.patients.access import PatientAccess, patient_get_for_user
from kapclinic.roles import Action, Scope


def _refused(ctx: AuditContext, action: Action, patient_id: int, exc: ValidationError, **detail: Any) -> Exception:
    """Audit a refused value (nothing written) and return the error to raise."""
    return invalid_value_record(ctx=ctx, action=action, patient_id=patient_id, exc=exc, detail=detail)


def clean_body(body: str) -> str:
    """Return the message without surrounding blank space; refuse an empty or over-long one."""
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write a message before sending."})
    if len(body) > BODY_MAX:
        raise ValidationError(
            {"body": f"A message holds at most {BODY_MAX:,} characters; this one has {len(body):,}. Shorten it."}
        )
    return body


def clean_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    if not subject:
        raise ValidationError({"subject": "Give the conversation a subject."})
    if len(subject) > SUBJECT_MAX:
        raise ValidationError({"subject": f"Keep the subject under {SUBJECT_MAX} characters."})
    return subject


def thread_for_access(*, ctx: AuditContext, access: PatientAccess, thread_id: int, action: Action) -> MessageThread:
    """Return the patient's thread `thread_id`; NotFound for another patient's thread, and for a staff-only one
    asked for by the patient (who must not learn that it exists). Refusals are audited."""
    thread = MessageThread.objects.filter(pk=thread_id, patient_id=access.patient.pk).first()
    if thread is None or (thread.staff_only and access.scope is Scope.OWN):
        access_event_record(
            ctx=ctx,
            action=action,
            patient_id=access.patient.pk,
            outcome=Outcome.NOT_FOUND,
            detail={"thread": thread_id},
        )
        raise NotFound("No such conversation.")
    return thread


def thread_start(
    *, ctx: AuditContext, patient_id: int, subject: str, body: str, staff_only: bool = False
) -> MessageThread:
    """Start a conversation about the patient with its first message: with the patient, or (staff-only) among
    their care team. A patient's own conversations are always with their team."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MESSAGE_SEND, record_allowed=False)
    staff_only = staff_only and access.scope is not Scope.OWN
    try:
        errors: dict[str, list[str]] = {}
        for field, clean, value in (("subject", clean_subject, subject), ("body", clean_body, body)):
            try:
                clean(value)
            except ValidationError as exc:
                errors.update({field: exc.message_dict[field]})
        if errors:
            raise ValidationError(errors)
    except ValidationError as exc:
        raise _refused(ctx, Action.MESSAGE_SEND, patient_id, exc) from None
    now = timezone.now()
    with transaction.atomic():
        thread = MessageThread.objects.create(
            patient_id=patient_id,
            subject=clean_subject(subject),
            staff_only=staff_only,
            started_by=ctx.user,
            started_at=now,
            last_message_at=now,
        )
        message = Message.objects.create(thread=thread, author=ctx.user, body=clean_body(body), sent_at=now)
        # The author has read what they wrote.
        MessageRead.objects.create(message=message, reader=ctx.user, read_at=now)
        access_event_record(
            ctx=ctx,
            action=Action.MESSAGE_SEND,
            patient_id=patient_id,
            detail={"thread": thread.pk, "message": message.pk, "staff_only": staff_only, "new_thread": True},
            emergency=access.emergency,
        )
    return thread


def inbox_thread_start(
    *, ctx: AuditContext, patient_id: int, subject: str, body: str, staff_only: bool = False
) -> MessageThread:
    """`thread_start` for a form where the patient is chosen: a patient the user may not write about (not on
    their care team, no such record) is a refusal of that field, already audited by the access door."""
    try:
        patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MESSAGE_SEND, record_allowed=False)
    except (AccessDenied, NotFound):
        raise ValidationError({"patient": "You can only write about patients on your care team."}) from None
    return thread_start(ctx=ctx, patient_id=patient_id, subject=subject, body=body, staff_only=staff_only)


def message_send(*, ctx: AuditContext, patient_id: int, thread_id: int, body: str) -> Message:
    """Answer in a conversation. A care-team member's answer clears "needs a clinical response"."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MESSAGE_SEND, record_allowed=False)
    thread = thread_for_access(ctx=ctx, access=access, thread_id=thread_id, action=Action.MESSAGE_SEND)
    try:
        body = clean_body(body)
    except ValidationError as exc:
        raise _refused(ctx, Action.MESSAGE_SEND, patient_id, exc, thread=thread_id) from None
    now = timezone.now()
    answered = access.scope is not Scope.OWN and thread.needs_response
    with transaction.atomic():
        message = Message.objects.create(thread=thread, author=ctx.user, body=body, sent_at=now)
        MessageRead.objects.create(message=message, reader=ctx.user, read_at=now)
        thread.last_message_at = now
        fields = ["last_message_at"]
        if answered:
            thread.needs_response_at, thread.needs_response_by = None, None
            fields += ["needs_response_at", "needs_response_by"]
        thread.save(update_fields=fields)
        access_event_record(
            ctx=ctx,
            action=Action.MESSAGE_SEND,
            patient_id=patient_id,
            detail={"thread": thread.pk, "message": message.pk, "answered": answered},
            emergency=access.emergency,
        )
    return message


def thread_read_mark(*, ctx: AuditContext, patient_id: int, thread_id: int) -> int:
    """Mark every message of the conversation as read by the user (their own read state, a row each); return
    how many were new to them."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MESSAGE_VIEW, record_allowed=False)
    thread = thread_for_access(ctx=ctx, access=access, thread_id=thread_id, action=Action.MESSAGE_VIEW)
    now = timezone.now()
    with transaction.atomic():
        unread = list(
            Message.objects.filter(thread=thread).exclude(reads__reader=ctx.user).values_list("pk", flat=True)
        )
        # Two tabs marking at once: the unique (message, reader) keeps one row; the other insert is skipped.
        MessageRead.objects.bulk_create(
            [MessageRead(message_id=pk, reader=ctx.user, read_at=now) for pk in unread], ignore_conflicts=True
        )
        access_event_record(
            ctx=ctx,
            action="message.read_mark",
            patient_id=patient_id,
            detail={"thread": thread.pk, "marked": len(unread)},
            emergency=access.emergency,
        )
    return len(unread)


def thread_needs_response_set(*, ctx: AuditContext, patient_id: int, thread_id: int, needed: bool) -> MessageThread:
    """A clinician marks the conversation as needing a clinical response (or clears the mark)."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MESSAGE_TRIAGE, record_allowed=False)
    thread = thread_for_access(ctx=ctx, access=access, thread_id=thread_id, action=Action.MESSAGE_TRIAGE)
    with transaction.atomic():
        # Two clinicians at once: the row lock makes the second see the first's mark (the last one wins).
        thread = MessageThread.objects.select_for_update().get(pk=thread.pk)
        if needed and thread.needs_response_at is None:
            thread.needs_response_at, thread.needs_response_by = timezone.now(), ctx.user
        elif not needed:
            thread.needs_response_at, thread.needs_response_by = None, None
        thread.save(update_fields=["needs_response_at", "needs_response_by"])
        access_event_record(
            ctx=ctx,
            action=Action.MESSAGE_TRIAGE,
            patient_id=patient_id,
            detail={"thread": thread.pk, "needs_response": needed},
            emergency=access.emergency,
        )
    return thread


def message_safety_flag_raise(
    *, ctx: AuditContext, patient_id: int, thread_id: int, message_id: int, reason: str
) -> SafetyFlag:
    """A clinician turns a worrying message into a safety flag, saying why; it shows on the chart banner and the
    team's home pages until acknowledged, like a flag from a questionnaire. One flag per message."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MESSAGE_TRIAGE, record_allowed=False)
    message = Message.objects.filter(pk=message_id, thread_id=thread_id, thread__patient_id=patient_id).first()
    if message is None:
        access_event_record(
            ctx=ctx,
            action=Action.MESSAGE_TRIAGE,
            patient_id=patient_id,
            outcome=Outcome.NOT_FOUND,
            detail={"message": message_id, "thread": thread_id},
        )
        raise NotFound("No such message.")
    try:
        with transaction.atomic():
            # Two clinicians raising a flag from the same message at once: the thread's row lock (messages are
            # append-only, the application may not lock their rows) makes the second see the first's flag.
            MessageThread.objects.select_for_update().filter(pk=message.thread_id).get()
            if MessageSafetyFlag.objects.filter(message=message).exists():
                raise Conflict("A safety flag was already raised from this message.")
            flag = safety_flag_raise(
                ctx=ctx,
                patient_id=patient_id,
                code=SafetyFlagCode.MESSAGE_CONCERN,
                reason=reason,
                origin={"message": message.pk, "thread": message.thread_id},
            )
            MessageSafetyFlag.objects.create(message=message, flag=flag)
    except ValidationError as exc:
        # Raised before anything was written (the reason is checked first).
        raise _refused(ctx, Action.MESSAGE_TRIAGE, patient_id, exc, message=message_id) from None
    return flag

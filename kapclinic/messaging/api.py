"""Secure messages over JSON: the same services and selectors as the pages, so the same rules (only the patient
and their care team; a staff-only conversation never reaches the patient; every read audited). Text lengths
are checked by the services, not the schemas, so that a refused message is audited too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId
from kapclinic.messaging import selectors, services
from kapclinic.messaging.models import Message, MessageThread

router = Router(tags=["messages"])

MAX_PAGE = 100


class ThreadListParams(Schema):
    limit: int = Field(default=20, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class ThreadOut(Schema):
    id: int
    subject: str
    staff_only: bool
    started_at: datetime
    last_message_at: datetime
    message_count: int
    unread_count: int = Field(description="messages the caller has not read")
    needs_response: bool = Field(description="a clinician marked it as needing a clinical response")


class ThreadListOut(Schema):
    count: int
    items: list[ThreadOut]


class MessageOut(Schema):
    id: int
    thread: int
    author: str
    body: str
    sent_at: datetime
    safety_flag: int | None = Field(default=None, description="the safety flag raised from it, if any")


class ThreadDetailOut(ThreadOut):
    messages: list[MessageOut]


class MessageIn(Schema):
    """A reply (`thread` given) or a new conversation (`subject` given, no `thread`)."""

    model_config = ConfigDict(extra="forbid")

    thread: DbId | None = None
    subject: str = ""
    body: str
    staff_only: bool = Field(default=False, description="among the care team, never shown to the patient")


class NeedsResponseIn(Schema):
    model_config = ConfigDict(extra="forbid")

    needed: bool = True


class SafetyFlagIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str


class SafetyFlagOut(Schema):
    id: int
    code: str
    raised_at: datetime
    raised_by: str
    reason: str
    message: int


class ReadOut(Schema):
    marked: int = Field(description="messages newly marked as read by the caller")


def _thread_out(t: MessageThread, *, message_count: int | None = None, unread: int | None = None) -> dict[str, Any]:
    return {
        "id": t.pk,
        "subject": t.subject,
        "staff_only": t.staff_only,
        "started_at": t.started_at,
        "last_message_at": t.last_message_at,
        "message_count": getattr(t, "message_count", message_count or 0),
        "unread_count": getattr(t, "unread_count", unread or 0),
        "needs_response": t.needs_response,
    }


def _message_out(m: Message) -> dict[str, Any]:
    return {
        "id": m.pk,
        "thread": m.thread_id,
        "author": m.author.display_name,
        "body": m.body,
        "sent_at": m.sent_at,
        "safety_flag": m.safety_flag_id,
    }


@router.get("/patients/{patient_id}/messages", response={200: ThreadListOut, **ERROR_ANSWERS})
def thread_list(request: HttpRequest, patient_id: DbId, params: Query[ThreadListParams]) -> dict[str, Any]:
    """The patient's conversations the caller may read, newest activity first (a patient: never staff-only ones)."""
    found = selectors.threads_for_patient(ctx=api_context(request), patient_id=patient_id)
    page = list(found.threads[params.offset : params.offset + params.limit])
    return {"count": found.threads.count(), "items": [_thread_out(t) for t in page]}


@router.post("/patients/{patient_id}/messages", response={201: MessageOut, **ERROR_ANSWERS})
def message_create(request: HttpRequest, patient_id: DbId, payload: MessageIn) -> Status[dict[str, Any]]:
    """Send a message: a reply in `thread`, or the first message of a new conversation titled `subject`."""
    ctx = api_context(request)
    if payload.thread is None:
        thread = services.thread_start(
            ctx=ctx, patient_id=patient_id, subject=payload.subject, body=payload.body, staff_only=payload.staff_only
        )
        message = thread.messages.select_related("author").get()
    else:
        message = services.message_send(ctx=ctx, patient_id=patient_id, thread_id=payload.thread, body=payload.body)
    return Status(201, _message_out(message))


@router.get("/patients/{patient_id}/messages/{thread_id}", response={200: ThreadDetailOut, **ERROR_ANSWERS})
def thread_read(request: HttpRequest, patient_id: DbId, thread_id: DbId) -> dict[str, Any]:
    """One conversation with its messages, oldest first. Reading does not mark it read: POST .../read does."""
    view = selectors.thread_for_user(ctx=api_context(request), patient_id=patient_id, thread_id=thread_id)
    return {
        **_thread_out(view.thread, message_count=len(view.messages), unread=len(view.unread_ids)),
        "messages": [_message_out(m) for m in view.messages],
    }


@router.post("/patients/{patient_id}/messages/{thread_id}/read", response={200: ReadOut, **ERROR_ANSWERS})
def thread_mark_read(request: HttpRequest, patient_id: DbId, thread_id: DbId) -> dict[str, int]:
    """Mark every message of the conversation as read by the caller (each reader has their own read state)."""
    marked = services.thread_read_mark(ctx=api_context(request), patient_id=patient_id, thread_id=thread_id)
    return {"marked": marked}


@router.post("/patients/{patient_id}/messages/{thread_id}/needs-response", response={200: ThreadOut, **ERROR_ANSWERS})
def thread_needs_response(
    request: HttpRequest, patient_id: DbId, thread_id: DbId, payload: NeedsResponseIn
) -> dict[str, Any]:
    """A clinician marks the conversation as needing a clinical response (`needed: false` clears it)."""
    thread = services.thread_needs_response_set(
        ctx=api_context(request), patient_id=patient_id, thread_id=thread_id, needed=payload.needed
    )
    return _thread_out(thread)


@router.post(
    "/patients/{patient_id}/messages/{thread_id}/{message_id}/safety-flag",
    response={201: SafetyFlagOut, **ERROR_ANSWERS},
)
def message_safety_flag(
    request: HttpRequest, patient_id: DbId, thread_id: DbId, message_id: DbId, payload: SafetyFlagIn
) -> Status[dict[str, Any]]:
    """A clinician turns a message into a safety flag, saying why (never raised automatically)."""
    flag = services.message_safety_flag_raise(
        ctx=api_context(request),
        patient_id=patient_id,
        message_id=message_id,
        thread_id=thread_id,
        reason=payload.reason,
    )
    return Status(
        201,
        {
            "id": flag.pk,
            "code": flag.code,
            "raised_at": flag.raised_at,
            "raised_by": api_context(request).user.display_name,
            "reason": flag.reason,
            "message": message_id,
        },
    )

"""The inbox over the API: the same derived sections as the page."""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Router, Schema

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS
from kapclinic.errors import AccessDenied
from kapclinic.home.inbox import inbox_count, inbox_for, unread_messages_count
from kapclinic.roles import Role

router = Router(tags=["inbox"])


class InboxItemOut(Schema):
    text: str
    url: str
    patient_name: str
    when: datetime | date | None
    urgent: bool


class InboxSectionOut(Schema):
    key: str
    title: str
    count: int
    items: list[InboxItemOut]


class InboxOut(Schema):
    total: int  # the items of every section: what the header shows beside "Inbox"
    unread_messages: int  # of the caller's care team, at most 51: what the header shows beside "Messages"
    sections: list[InboxSectionOut]


@router.get("/inbox", response={200: InboxOut, **ERROR_ANSWERS})
def inbox(request: HttpRequest) -> dict[str, object]:
    """What needs the caller: safety flags, open alerts, sessions waiting for an order, notes to sign or co-sign,
    integration sessions due, new inquiries, and the director's reviews and deadlines, with the header's counts
    (`total`, and `unread_messages` counted up to 51). Staff only."""
    ctx = api_context(request)
    if ctx.user.role == Role.PATIENT:
        raise AccessDenied("The inbox is for staff; patients have the portal.")
    sections = inbox_for(ctx)
    unread = unread_messages_count(ctx.user)
    return {"total": inbox_count(sections), "unread_messages": unread, "sections": sections}

"""The inbox over the API: the same derived sections as the page."""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Router, Schema

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS
from kapclinic.errors import AccessDenied
from kapclinic.home.inbox import inbox_count, inbox_for
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
    total: int
    sections: list[InboxSectionOut]


@router.get("/inbox", response={200: InboxOut, **ERROR_ANSWERS})
def inbox(request: HttpRequest) -> dict[str, object]:
    """What needs the caller: safety flags, open alerts, sessions waiting for an order, notes to sign or co-sign,
    integration sessions due, new inquiries, and the director's reviews and deadlines. Staff only."""
    ctx = api_context(request)
    if ctx.user.role == Role.PATIENT:
        raise AccessDenied("The inbox is for staff; patients have the portal.")
    sections = inbox_for(ctx)
    return {"total": inbox_count(sections), "sections": sections}

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from kapclinic.accounts.web import api_user
from kapclinic.apitypes import ERROR_ANSWERS, DbId, Offset
from kapclinic.audit.context import AuditContext
from kapclinic.oversight.selectors import AuditFilter, access_events_for, audit_patient_id, require_audit_browse

router = Router(tags=["audit"])


class AccessEventOut(Schema):
    id: int
    occurred_at: datetime
    username: str
    role: str
    patient_id: int | None
    action: str
    outcome: str
    channel: str
    method: str
    path: str
    client_address: str | None
    emergency: bool
    reason: str
    detail: dict[str, Any]


class AccessEventListOut(Schema):
    items: list[AccessEventOut]
    count: int


class AuditParams(Schema):
    patient: DbId | None = None
    user: str = Field(default="", max_length=150)
    date_from: date | None = Field(default=None, alias="from")
    date_to: date | None = Field(default=None, alias="to")
    emergency: bool = False
    limit: int = Field(default=50, ge=1, le=500)
    offset: Offset = 0


@router.get("", response={200: AccessEventListOut, **ERROR_ANSWERS})
def audit_events(request: HttpRequest, params: Query[AuditParams]) -> dict[str, object]:
    """The audit trail, newest first (director and auditor)."""
    ctx = AuditContext.from_request(request, user=api_user(request), channel="api")
    require_audit_browse(ctx)
    filters = AuditFilter(
        patient_id=audit_patient_id(str(params.patient)) if params.patient is not None else None,
        username=params.user,
        date_from=params.date_from,
        date_to=params.date_to,
        emergency_only=params.emergency,
    )
    events = access_events_for(ctx=ctx, filters=filters)
    items = list(events[params.offset : params.offset + params.limit])
    return {"items": items, "count": events.count()}

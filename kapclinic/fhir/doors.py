"""The access door and audit every FHIR type bound to a patient shares (issue 17, item 2): a read opens the
patient's door with the Action the pages use for that data (kapclinic/patients/access.py); a search names its
patient (or `_id`) unless the role sees every patient, checks each patient it shows through the same door, and
records them in one bulk insert (access_events_record_many)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Model, QuerySet

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import EmergencyAccess, Outcome
from kapclinic.audit.services import access_event_record, access_events_record_many
from kapclinic.errors import AccessDenied
from kapclinic.fhir.reads import Page
from kapclinic.fhir.search import Search, SearchError
from kapclinic.patients.access import patient_get_for_user
from kapclinic.roles import Action, Scope, scope_for

T = TypeVar("T", bound=Model)


def record_pk(raw: str) -> int | None:
    """A row id from a FHIR id, or None when it cannot be one (not digits, or beyond a 64-bit key)."""
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def read_door(*, ctx: AuditContext, patient_id: int, action: Action) -> None:
    """One resource read: an audited read of its patient under `action` (NotFound / AccessDenied otherwise)."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=action)


@dataclass(frozen=True)
class _Door:
    scope: Scope
    named: dict[int, EmergencyAccess | None] | None  # the patients the search names; None: not named


def _open(ctx: AuditContext, search: Search, action: Action) -> _Door:
    scope = scope_for(ctx.user.role, action)
    if scope is Scope.NONE:
        access_event_record(ctx=ctx, action=action, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not see these records.")
    patients = search.references.get("patient")
    if not patients:
        if scope is not Scope.ALL and "_id" not in search.tokens:
            raise SearchError(f"Search {search.resource_type} by patient (US Core): e.g. ?patient=123.")
        return _Door(scope, None)
    named: dict[int, EmergencyAccess | None] = {}
    for raw in patients:
        if record_pk(raw) is None:
            raise SearchError(f"patient must be a Patient id: {raw!r}.")
        door = patient_get_for_user(ctx=ctx, patient_id=int(raw), action=action, record_allowed=False)
        named[door.patient.pk] = door.emergency
    return _Door(scope, named)


def patient_bound_search(
    *,
    ctx: AuditContext,
    search: Search,
    action: Action,
    rows: QuerySet[T],
    patient_field: str,
    patient_of: Callable[[T], int],
    order: tuple[str, ...],
) -> Page[T]:
    """A page of `rows` (already filtered by the type's own parameters) for the patients the caller may see with
    `action`: those named by `patient`, or, found by `_id` or by a role that sees everyone, each patient shown
    checked through the door. Every patient read is recorded in one insert (an emergency read on its own, with
    its grant)."""
    door = _open(ctx, search, action)
    if door.named is not None:
        rows = rows.filter(**{f"{patient_field}__in": list(door.named)})
    size = search.count
    found = list(rows.order_by(*order)[search.offset : search.offset + size + 1])
    page = Page(found[:size], len(found) > size)
    grants = door.named
    if grants is None:
        grants = {}
        for pid in sorted({patient_of(item) for item in page.items}):
            if door.scope is Scope.ALL:
                grants[pid] = None
            else:
                grants[pid] = patient_get_for_user(
                    ctx=ctx, patient_id=pid, action=action, record_allowed=False
                ).emergency
    detail = {"fhir": f"{search.resource_type} search"}
    access_events_record_many(
        ctx=ctx, action=action, patient_ids=[pid for pid, grant in grants.items() if grant is None], detail=detail
    )
    for pid, grant in grants.items():
        if grant is not None:
            access_event_record(ctx=ctx, action=action, patient_id=pid, detail=detail, emergency=grant)
    return page

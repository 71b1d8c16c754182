"""The access door and audit every FHIR type bound to a patient shares (issue 17, item 2): a read opens the
patient's door with the Action the pages use for that data (kapclinic/patients/access.py); a search names its
patient (or `_id`) unless the role sees every patient, checks each patient it shows through the same door, and
records them in one bulk insert (access_events_record_many)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Model, Q, QuerySet

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import EmergencyAccess, Outcome
from kapclinic.audit.services import access_event_record, access_events_record_many
from kapclinic.errors import AccessDenied
from kapclinic.fhir.reads import Page, patient_context
from kapclinic.fhir.search import Search, SearchError, Token
from kapclinic.patients.access import patient_get_for_user
from kapclinic.roles import Action, Scope, scope_for

T = TypeVar("T", bound=Model)


def record_pk(raw: str) -> int | None:
    """A row id from a FHIR id, or None when it cannot be one (not digits, or beyond a 64-bit key)."""
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def token_pks(tokens: list[Token]) -> list[int]:
    """The row ids the `_id` tokens name (those that can be one)."""
    return [pk for tk in tokens if (pk := record_pk(tk.code)) is not None]


def token_q(tokens: list[Token] | None, table: dict[str, Q]) -> Q | None:
    """The rows any of the tokens' codes picks by `table` (code → condition); a code not in it picks none; None
    when the parameter was not given."""
    if tokens is None:
        return None
    either = Q(pk__in=[])
    for token in tokens:
        if token.code in table:
            either |= table[token.code]
    return either


def read_door(*, ctx: AuditContext, patient_id: int, action: Action) -> None:
    """One resource read: an audited read of its patient under `action` (NotFound / AccessDenied otherwise)."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=action)


@dataclass(frozen=True)
class Door:
    """A search's access: the role's scope, and the patients the search names (None: not named)."""

    action: Action
    scope: Scope
    named: dict[int, EmergencyAccess | None] | None


def search_door(*, ctx: AuditContext, search: Search, action: Action) -> Door:
    """Open the door for a search: a role that sees nobody's such records is refused (audited); a search must name
    its patient (or `_id`) unless the role sees every patient; each patient named goes through the door."""
    scope = scope_for(ctx.user.role, action)
    if scope is Scope.NONE:
        access_event_record(ctx=ctx, action=action, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not see these records.")
    patient_context(ctx, search)
    patients = search.references.get("patient")
    if not patients:
        if scope is not Scope.ALL and "_id" not in search.tokens:
            raise SearchError(f"Search {search.resource_type} by patient (US Core): e.g. ?patient=123.")
        return Door(action, scope, None)
    named: dict[int, EmergencyAccess | None] = {}
    for raw in patients:
        pk = record_pk(raw)
        if pk is None:
            raise SearchError(f"patient must be a Patient id: {raw!r}.")
        door = patient_get_for_user(ctx=ctx, patient_id=pk, action=action, record_allowed=False)
        named[door.patient.pk] = door.emergency
    return Door(action, scope, named)


def search_record(*, ctx: AuditContext, door: Door, search: Search, shown: Iterable[int]) -> None:
    """Record the search's patient reads: the patients named, or else each patient `shown` (checked through the
    door first unless the role sees everyone), in one insert; an emergency read on its own, with its grant."""
    grants = door.named
    if grants is None:
        grants = {}
        for pid in sorted(set(shown)):
            if door.scope is Scope.ALL:
                grants[pid] = None
            else:
                grants[pid] = patient_get_for_user(
                    ctx=ctx, patient_id=pid, action=door.action, record_allowed=False
                ).emergency
    detail = {"fhir": f"{search.resource_type} search"}
    plain = [pid for pid, grant in grants.items() if grant is None]
    access_events_record_many(ctx=ctx, action=door.action, patient_ids=plain, detail=detail)
    for pid, grant in grants.items():
        if grant is not None:
            access_event_record(ctx=ctx, action=door.action, patient_id=pid, detail=detail, emergency=grant)


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
    `action` (search_door), every patient read recorded (search_record)."""
    door = search_door(ctx=ctx, search=search, action=action)
    if door.named is not None:
        rows = rows.filter(**{f"{patient_field}__in": list(door.named)})
    size = search.count
    found = list(rows.order_by(*order)[search.offset : search.offset + size + 1])
    page = Page(found[:size], len(found) > size)
    search_record(ctx=ctx, door=door, search=search, shown=(patient_of(item) for item in page.items))
    return page

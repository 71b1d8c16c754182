"""The audit trail as FHIR AuditEvents (issue 17, item 1): read-only, for the roles that read the audit log
(AUDIT_BROWSE: the director and the auditor; anyone else a 403, the refusal recorded, as the audit pages). Each
row of the audit app (AccessEvent) is one AuditEvent: who, what action on which patient, when, from where, the
outcome; an emergency ("break the glass") access carries its reason. Reading the trail is itself recorded."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent, Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.fhir.doors import record_pk, token_pks
from kapclinic.fhir.reads import _date_q
from kapclinic.fhir.resources import Resource, instant
from kapclinic.fhir.search import Search, SearchError
from kapclinic.patients.models import Patient
from kapclinic.roles import Action, Role, may

DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACTION_CODES = "urn:kapclinic:audit-action"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
# R4 AuditEvent.action (audit-event-action) by HTTP method; a sign-in or system act is E (execute).
ACTIONS = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}
# R4 AuditEvent.outcome (audit-event-outcome): 0 success; a refused or invalid request is a minor failure (4).
OUTCOMES = {Outcome.ALLOWED: "0", Outcome.DENIED: "4", Outcome.NOT_FOUND: "4", Outcome.INVALID: "4"}


def require_audit_reader(ctx: AuditContext) -> None:
    """Refuse (and record the refusal) unless the user may read the audit log (roles.py AUDIT_BROWSE)."""
    if not may(ctx.user.role, Action.AUDIT_BROWSE):
        access_event_record(ctx=ctx, action=Action.AUDIT_BROWSE, outcome=Outcome.DENIED, detail={"fhir": "AuditEvent"})
        raise AccessDenied("Only the clinic director and auditor read the audit trail.")


def audit_event_resource(event: AccessEvent, patient_users: dict[int, int]) -> Resource:
    """One audit row. `patient_users`: the patient record of each patient account among the agents (a patient
    agent is their Patient; staff are Practitioners)."""
    agent: dict[str, Any] = {"requestor": True}
    if event.user_id is not None:
        if event.role == Role.PATIENT and event.user_id in patient_users:
            agent["who"] = {"reference": f"Patient/{patient_users[event.user_id]}"}
        elif event.role != Role.PATIENT:
            agent["who"] = {"reference": f"Practitioner/{event.user_id}"}
    if event.username:
        agent["altId"] = event.username
    if event.role:
        agent["role"] = [{"text": event.role}]
    if event.client_address:
        agent["network"] = {"address": event.client_address, "type": "2"}  # 2: IP address
    resource: Resource = {
        "resourceType": "AuditEvent",
        "id": str(event.pk),
        "type": {"system": DCM, "code": "110110", "display": "Patient Record"}
        if event.patient_id is not None
        else {"system": DCM, "code": "110100", "display": "Application Activity"},
        "subtype": [{"system": ACTION_CODES, "code": event.action}],
        "action": ACTIONS.get(event.method.upper(), "E"),
        "recorded": instant(event.occurred_at),
        "outcome": OUTCOMES.get(Outcome(event.outcome), "4") if event.outcome in Outcome.values else "4",
        "agent": [agent],
        "source": {"site": event.channel, "observer": {"display": settings.KAPCLINIC_CLINIC_NAME}},
    }
    if event.outcome != Outcome.ALLOWED:
        resource["outcomeDesc"] = Outcome(event.outcome).label if event.outcome in Outcome.values else event.outcome
    entities: list[dict[str, Any]] = []
    if event.patient_id is not None:
        entities.append(
            {
                "what": {"reference": f"Patient/{event.patient_id}"},
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        )
    if event.path:
        entities.append(
            {
                "what": {"display": event.path},
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "description": f"{event.method} {event.path}".strip(),
            }
        )
    if entities:
        resource["entity"] = entities
    if event.emergency:
        resource["purposeOfEvent"] = [
            {"coding": [{"system": ACT_REASON, "code": "ETREAT", "display": "Emergency Treatment"}]}
        ]
        if event.reason:
            resource["purposeOfEvent"][0]["text"] = event.reason
    return resource


def _patient_users(events: list[AccessEvent]) -> dict[int, int]:
    users = {e.user_id for e in events if e.user_id is not None and e.role == Role.PATIENT}
    if not users:
        return {}
    return {
        user_id: pk
        for pk, user_id in Patient.objects.filter(user_id__in=users).values_list("pk", "user_id")
        if user_id is not None
    }


def audit_event_read(*, ctx: AuditContext, audit_event_id: str) -> Resource:
    require_audit_reader(ctx)
    pk = record_pk(audit_event_id)
    event = AccessEvent.objects.filter(pk=pk).first() if pk is not None else None
    if event is None:
        raise NotFound("No audit event with that id.")
    access_event_record(
        ctx=ctx,
        action=Action.AUDIT_BROWSE,
        patient_id=event.patient_id,
        detail={"fhir": "AuditEvent read", "id": event.pk},
    )
    return audit_event_resource(event, _patient_users([event]))


def _reference_ids(values: list[str], kind: str, name: str) -> list[int]:
    ids = []
    for value in values:
        raw = value.removeprefix(f"{kind}/")
        if record_pk(raw) is None:
            raise SearchError(f"{name} must be a {kind} reference, e.g. {kind}/12: {value!r}.")
        ids.append(int(raw))
    return ids


def audit_event_search(*, ctx: AuditContext, search: Search) -> tuple[list[Resource], bool]:
    """The trail, newest first: by date (with prefixes), agent (Practitioner/<id>, or Patient/<id> for a patient's
    own account), entity or patient (Patient/<id>); the search itself recorded."""
    require_audit_reader(ctx)
    rows: QuerySet[AccessEvent] = AccessEvent.objects.all()
    if (ids := search.tokens.get("_id")) is not None:
        rows = rows.filter(pk__in=token_pks(ids))
    for bound in search.dates.get("date", []):
        rows = rows.filter(_date_q("occurred_at", bound))
    about: set[int] = set()
    for name in ("patient", "entity"):
        if (values := search.references.get(name)) is not None:
            named = _reference_ids(values, "Patient", name)
            rows = rows.filter(patient_id__in=named)
            about.update(named)
    if (agents := search.references.get("agent")) is not None:
        either = Q(pk__in=[])
        staff = [v for v in agents if not v.startswith("Patient/")]
        patients = [v for v in agents if v.startswith("Patient/")]
        if staff:
            either |= Q(user_id__in=_reference_ids(staff, "Practitioner", "agent"))
        if patients:
            accounts = User.objects.filter(
                patient_record__pk__in=_reference_ids(patients, "Patient", "agent")
            ).values_list("pk", flat=True)
            either |= Q(user_id__in=list(accounts), role=Role.PATIENT)
        rows = rows.filter(either)
    found = list(rows.order_by("-occurred_at", "-id")[search.offset : search.offset + search.count + 1])
    page = found[: search.count]
    # Browsing one patient's trail is recorded against that patient, as the audit log page does (oversight).
    one = next(iter(about)) if len(about) == 1 and Patient.objects.filter(pk=next(iter(about))).exists() else None
    access_event_record(
        ctx=ctx,
        action=Action.AUDIT_BROWSE,
        patient_id=one,
        detail={"fhir": "AuditEvent search", "query": dict(search.references), "shown": len(page)},
    )
    users = _patient_users(page)
    return [audit_event_resource(e, users) for e in page], len(found) > search.count

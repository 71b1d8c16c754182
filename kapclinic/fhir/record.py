"""A patient's own record as one FHIR R4 (4.0.1) Bundle, for the portal's download (issue 17, item 5).

What is in it: what the FHIR face shows that patient with their own token (patient/*.rs), built by the same
per-type streams as the Bulk Data export (registry.BULK_TYPES, each the FHIR face's own resource builders), plus the
Practitioners those resources name (any signed-in caller may read a Practitioner). Psychotherapy process notes
never leave through FHIR: no type carries a therapy note's text (tests/test_fhir_demo.py), and the audit trail
(AuditEvent, the director's and auditor's) is no part of a patient's own record.

The Bundle is of type `collection` (R4 Bundle.type: "a set of resources collected into a single package for ease
of distribution"): not a `document`, which needs a Composition attested by an author, nor a `searchset`, which is
the answer to a search. Each entry's fullUrl is the resource's address on this server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
from django.conf import settings
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.fhir.resources import Resource, instant, practitioner_resource
from kapclinic.patients.access import patient_get_for_user
from kapclinic.roles import Action

AUDIT_ACTION = "patient.fhir_export"
# Types bound to a patient that the FHIR face shows staff only (none are streams yet; the audit trail will be).
NOT_THE_PATIENTS = frozenset({"AuditEvent"})
PRACTITIONER = "Practitioner/"


def patient_types() -> list[str]:
    """The streamed types a patient reads of their own record through the FHIR face, in the export's order."""
    return [kind for kind in BULK_TYPES if kind not in NOT_THE_PATIENTS]


def _practitioner_ids(value: Any, found: set[int]) -> None:
    """Every Practitioner a resource refers to (performer, recorder, author, ...), wherever the reference is."""
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str) and reference.startswith(PRACTITIONER) and reference[13:].isdigit():
            found.add(int(reference[13:]))
        for item in value.values():
            if isinstance(item, dict | list):
                _practitioner_ids(item, found)
    elif isinstance(value, list):
        for item in value:
            _practitioner_ids(item, found)


def _resources(patient_id: int) -> Iterator[Resource]:
    named: set[int] = set()
    for kind in patient_types():
        for resource in BULK_TYPES[kind]([patient_id], None):
            _practitioner_ids(resource, named)
            yield resource
    system = settings.KAPCLINIC_FHIR_STAFF_SYSTEM
    for user in User.objects.filter(pk__in=named).order_by("pk"):
        yield practitioner_resource(user, staff_system=system)


def record_bundle(*, ctx: AuditContext, patient_id: int, base: str) -> Resource:
    """The patient's record as a collection Bundle, to whoever may read it whole (the patient their own; staff
    as the clinical record's rules say); the export is audited. `base`: the FHIR face's address (…/fhir)."""
    access = patient_get_for_user(
        ctx=ctx, patient_id=patient_id, action=Action.PATIENT_VIEW_CLINICAL, record_allowed=False
    )
    entries = [
        {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r} for r in _resources(access.patient.pk)
    ]
    access_event_record(
        ctx=ctx,
        action=AUDIT_ACTION,
        patient_id=access.patient.pk,
        emergency=access.emergency,
        detail={"resources": len(entries)},
    )
    return {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": uuid.uuid4().urn},
        "type": "collection",
        "timestamp": instant(timezone.now()),  # no `total`: a search's or history's only (R4 bdl-1)
        "entry": entries,
    }


def bundle_bytes(bundle: Resource) -> bytes:
    """The Bundle as JSON for a download (orjson, as the export files: the streams' resources are written by it)."""
    return orjson.dumps(bundle, option=orjson.OPT_INDENT_2)

"""Reading the audit trail (director and auditor)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent, EmergencyAccess
from kapclinic.audit.services import access_event_record
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.patients.models import Patient
from kapclinic.replica import replica_reads_alias
from kapclinic.roles import Action, may


@dataclass(frozen=True)
class AuditFilter:
    patient_id: int | None = None
    username: str = ""
    date_from: date | None = None
    date_to: date | None = None
    emergency_only: bool = False

    def as_detail(self) -> dict[str, object]:
        return {
            "patient": self.patient_id,
            "user": self.username or None,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "emergency_only": self.emergency_only,
        }


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def require_audit_browse(ctx: AuditContext) -> None:
    """Refuse (and record the refusal) unless the user may read the audit log."""
    if not may(ctx.user.role, Action.AUDIT_BROWSE):
        access_event_record(ctx=ctx, action=Action.AUDIT_BROWSE, outcome="denied")
        raise AccessDenied("Only the clinic director and auditor read the audit log.")


def audit_patient_id(reference: str) -> int | None:
    """Return the id of the patient named by an MRN or a numeric id; NotFound if there is none."""
    reference = reference.strip()
    if re.fullmatch(r"\d{1,18}", reference):
        found = Patient.objects.filter(pk=int(reference)).values_list("pk", flat=True).first()
    else:
        found = Patient.objects.filter(mrn=reference.upper()[:12]).values_list("pk", flat=True).first()
    if found is None:
        raise NotFound(f"No patient with MRN or id {reference[:20]}.")
    return found


def access_events_for(*, ctx: AuditContext, filters: AuditFilter, export: bool = False) -> QuerySet[AccessEvent]:
    """Return the events matching `filters`, newest first; browsing the log is itself recorded."""
    require_audit_browse(ctx)
    events = AccessEvent.objects.select_related("patient")
    if export and (replica := replica_reads_alias()):
        # Streamed after the view returns: bound now to the replica when there is one (kapclinic/replica.py).
        events = events.using(replica)
    if filters.patient_id is not None:
        events = events.filter(patient_id=filters.patient_id)
    if filters.username:
        events = events.filter(username=filters.username)
    if filters.date_from:
        events = events.filter(occurred_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        events = events.filter(occurred_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    if filters.emergency_only:
        events = events.filter(emergency=True)
    access_event_record(
        ctx=ctx,
        action="audit.export" if export else Action.AUDIT_BROWSE,
        patient_id=filters.patient_id,
        detail=filters.as_detail(),
    )
    return events.order_by("-occurred_at", "-id")


def emergency_accesses_to_review() -> QuerySet[EmergencyAccess]:
    return EmergencyAccess.objects.filter(reviewed_at__isnull=True).select_related("user", "patient")

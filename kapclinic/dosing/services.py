"""Dosing-session writes: each a transaction with its audit event."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.dosing.models import NOT_STARTED, DosingSession, SessionState, SessionTransition


def sessions_cancel_not_started(*, ctx: AuditContext, patient_id: int, reason: str) -> list[int]:
    """Cancel the patient's proposed and scheduled sessions (consent withdrawn, plan replaced); return their ids.

    Runs inside the caller's transaction when there is one, so the cancellation and its cause land together.
    """
    now = timezone.now()
    with transaction.atomic():
        sessions = list(DosingSession.objects.select_for_update().filter(patient_id=patient_id, state__in=NOT_STARTED))
        for session in sessions:
            SessionTransition.objects.create(
                session=session, from_state=session.state, to_state=SessionState.CANCELLED, by=ctx.user, reason=reason
            )
            session.state = SessionState.CANCELLED
            session.updated_at = now
            session.version += 1
            session.save(update_fields=["state", "updated_at", "version"])
        if sessions:
            access_event_record(
                ctx=ctx,
                action="dosing.cancel",
                patient_id=patient_id,
                detail={"sessions": [s.pk for s in sessions], "reason": reason[:200]},
            )
    return [s.pk for s in sessions]

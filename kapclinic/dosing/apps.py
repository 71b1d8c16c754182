from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig

if TYPE_CHECKING:
    from kapclinic.appointments.models import Appointment
    from kapclinic.audit.context import AuditContext


class DosingConfig(AppConfig):
    name = "kapclinic.dosing"
    label = "dosing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kapclinic.appointments.signals import booking_changed
        from kapclinic.consent.signals import consent_withdrawn

        consent_withdrawn.connect(_cancel_sessions_on_withdrawal, dispatch_uid="dosing.cancel_on_withdrawal")
        booking_changed.connect(_follow_booking_change, dispatch_uid="dosing.follow_booking")


def _cancel_sessions_on_withdrawal(
    sender: object, *, ctx: AuditContext, patient_id: int, reason: str, **kwargs: Any
) -> list[int]:
    """Withdrawal stops scheduling: every session not yet started is cancelled with it (consent.md)."""
    from kapclinic.dosing.services import sessions_cancel_not_started

    return sessions_cancel_not_started(ctx=ctx, patient_id=patient_id, reason=reason)


def _follow_booking_change(
    sender: object, *, ctx: AuditContext, appointment: Appointment, change: str, reason: str, **kwargs: Any
) -> None:
    """A dosing booking moved, cancelled or not attended on the calendar: the session follows (or refuses)."""
    from kapclinic.dosing.services import session_follow_booking_change

    session_follow_booking_change(ctx=ctx, appointment=appointment, change=change, reason=reason)

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig

if TYPE_CHECKING:
    from kapclinic.audit.context import AuditContext
    from kapclinic.dosing.models import DosingSession


class BillingConfig(AppConfig):
    name = "kapclinic.billing"
    label = "billing"
    verbose_name = "Billing: coverage, fees and charges"

    def ready(self) -> None:
        from kapclinic.dosing.signals import scheduled_despite_warnings, scheduling_warnings_asked

        scheduling_warnings_asked.connect(_authorisation_warnings, dispatch_uid="billing.authorisation_warnings")
        scheduled_despite_warnings.connect(_went_on, dispatch_uid="billing.authorisation_went_on")


def _authorisation_warnings(
    sender: object, *, patient_id: int, route: str, day: date, session_id: int, **kwargs: Any
) -> list[object]:
    """A session about to be scheduled: warn when the patient's prior authorisation is used up or out of its days."""
    from kapclinic.billing.authorisations import scheduling_warnings_for

    return list(scheduling_warnings_for(patient_id=patient_id, route=route, day=day, session_id=session_id))


def _went_on(
    sender: object, *, ctx: AuditContext, session: DosingSession, warnings: list[object], reason: str, **kwargs: Any
) -> None:
    from kapclinic.billing.authorisations import went_on_record

    went_on_record(ctx=ctx, session=session, warnings=warnings, reason=reason)

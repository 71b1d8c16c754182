"""Reading scores and open safety flags, for the chart, the portal, the home pages and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from kapclinic.accounts.roles import Action, Scope, scope_for
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many
from kapclinic.measures.models import QuestionnaireResponse, SafetyFlag
from kapclinic.patients.access import patient_get_for_user


def responses_for_patient(*, ctx: AuditContext, patient_id: int) -> QuerySet[QuestionnaireResponse]:
    """Return the patient's responses, newest first, with their items; audited as a read of scores."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MEASURE_VIEW)
    return (
        QuestionnaireResponse.objects.filter(patient_id=patient_id)
        .select_related("entered_by")
        .prefetch_related("items")
        .order_by("-submitted_at", "-id")
    )


def open_safety_flags_for_user(*, ctx: AuditContext, limit: int = 50) -> list[SafetyFlag]:
    """Return unacknowledged safety flags of the patients this clinician may act on; each shown is audited."""
    scope = scope_for(ctx.user.role, Action.SAFETY_ACKNOWLEDGE)
    if scope is Scope.NONE:
        return []
    flags = SafetyFlag.objects.filter(acknowledged_at__isnull=True).select_related("patient", "response")
    if scope is Scope.TEAM:
        flags = flags.filter(patient__care_team__user_id=ctx.user.pk)
    shown = list(flags.order_by("-raised_at")[:limit])
    access_events_record_many(ctx=ctx, action="safety.list", patient_ids=[f.patient_id for f in shown])
    return shown


def open_safety_flags_for_patient(*, patient_id: int) -> list[SafetyFlag]:
    """For the chart banner (the chart read itself is already audited)."""
    return list(
        SafetyFlag.objects.filter(patient_id=patient_id, acknowledged_at__isnull=True)
        .select_related("response")
        .order_by("-raised_at")
    )


def recent_responses(*, patient_id: int, limit: int = 20) -> list[QuestionnaireResponse]:
    """For the chart's outcomes section (the chart read itself is already audited)."""
    return list(QuestionnaireResponse.objects.filter(patient_id=patient_id).order_by("-submitted_at", "-id")[:limit])

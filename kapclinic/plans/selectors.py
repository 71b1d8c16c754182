"""Reads of treatment plans, each through the access check (and so audited)."""

from __future__ import annotations

from django.db.models import QuerySet

from kapclinic.audit.context import AuditContext
from kapclinic.errors import NotFound
from kapclinic.patients.access import PatientAccess, patient_get_for_user
from kapclinic.plans.models import TreatmentPlan
from kapclinic.prepared import prepared_rows
from kapclinic.roles import Action, Role


def plans_for_patient(*, ctx: AuditContext, patient_id: int) -> tuple[PatientAccess, list[TreatmentPlan]]:
    """The patient's plans, newest first (drafts included for staff; a patient sees only signed plans)."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PLAN_VIEW)
    plans = TreatmentPlan.objects.filter(patient_id=patient_id)
    if ctx.user.role == Role.PATIENT:
        plans = plans.filter(signed_at__isnull=False)
    return access, list(plans.select_related("therapist", "signed_by", "created_by").order_by("-created_at", "-id"))


def plan_get(*, ctx: AuditContext, plan_id: int) -> TreatmentPlan:
    """One plan with its sessions, after checking the reader may see its patient."""
    plan = TreatmentPlan.objects.select_related("therapist", "signed_by", "created_by", "patient").filter(pk=plan_id)
    found = plan.first()
    if found is None:
        raise NotFound("No such treatment plan.")
    patient_get_for_user(ctx=ctx, patient_id=found.patient_id, action=Action.PLAN_VIEW)
    if ctx.user.role == Role.PATIENT and not found.is_signed:
        # A draft is the prescriber's work in progress: the patient sees the plan once it is signed (page and API).
        raise NotFound("No such treatment plan.")
    return found


def current_plan(patient_id: int) -> TreatmentPlan | None:
    """The newest signed plan (the one in force). Callers have already checked access."""
    # Prepared (kapclinic/prepared.py): the chart asks whenever it is drawn.
    found = prepared_rows(
        "plans.current_plan",
        lambda pid: (
            TreatmentPlan.objects.filter(patient_id=pid, signed_at__isnull=False)
            .select_related("therapist", "signed_by")  # the chart names both
            .order_by("-signed_at", "-id")[:1]
        ),
        patient_id,
    )
    return found[0] if found else None


def signed_plans() -> QuerySet[TreatmentPlan]:
    """Every signed plan, unread: the outcome cohorts count courses from them (they check access and audit)."""
    return TreatmentPlan.objects.filter(signed_at__isnull=False)

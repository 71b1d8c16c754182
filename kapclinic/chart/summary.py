"""The one-page chart summary (issue 16, item 8): what a clinician needs on paper about a patient today.

Identity and allergies (the print banner), the plan in force, consent, the latest scores, and what is coming up.
No notes: therapy notes print one by one under their own rules, and process notes never go into a summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from django.utils import timezone

from kapclinic.appointments.models import Appointment, AppointmentStatus
from kapclinic.audit.context import AuditContext
from kapclinic.consent.selectors import ConsentStatus, consent_status
from kapclinic.dosing.models import DosingSession, SessionState
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.measures.selectors import recent_responses
from kapclinic.patients.access import PatientAccess, patient_get_for_user
from kapclinic.patients.models import CareTeamMember
from kapclinic.patients.selectors import chart_header
from kapclinic.plans.models import TreatmentPlan
from kapclinic.plans.selectors import current_plan
from kapclinic.roles import Action, may

SCORES_SHOWN = 8
UPCOMING_SHOWN = 8
# A session that has begun or ended is history, not "upcoming".
_UPCOMING_STATES = (SessionState.PROPOSED, SessionState.SCHEDULED)


@dataclass(frozen=True)
class ChartSummary:
    access: PatientAccess
    care_team: list[CareTeamMember]
    plan: TreatmentPlan | None
    consent: ConsentStatus
    scores: list[QuestionnaireResponse] | None  # None: this role does not see scores
    sessions: list[DosingSession]
    appointments: list[Appointment]


def chart_summary(*, ctx: AuditContext, patient_id: int) -> ChartSummary:
    """Return the summary after the clinical-record access check (audited, as the record export's)."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PATIENT_VIEW_CLINICAL)
    patient = access.patient
    start_of_today = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    return ChartSummary(
        access=access,
        care_team=chart_header(patient=patient).care_team,
        plan=current_plan(patient.pk),
        consent=consent_status(patient.pk),
        scores=recent_responses(patient_id=patient.pk, limit=SCORES_SHOWN)
        if may(ctx.user.role, Action.MEASURE_VIEW)
        else None,
        sessions=list(
            DosingSession.objects.filter(
                patient=patient, scheduled_for__gte=start_of_today, state__in=[s.value for s in _UPCOMING_STATES]
            )
            .select_related("nurse")
            .order_by("scheduled_for", "id")[:UPCOMING_SHOWN]
        ),
        appointments=list(
            Appointment.objects.filter(patient=patient, starts_at__gte=timezone.now(), status=AppointmentStatus.BOOKED)
            .select_related("with_user")
            .order_by("starts_at", "id")[:UPCOMING_SHOWN]
        ),
    )

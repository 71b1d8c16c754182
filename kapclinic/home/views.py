from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.accounts.web import current_user
from kapclinic.appointments.selectors import appointments_upcoming_for, consultations_coming
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many
from kapclinic.billing.authorisations import authorisations_needing_attention
from kapclinic.dosing.selectors import (
    adverse_events_to_review,
    rems_forms_due,
    sessions_on,
    sessions_waiting_for_prescriber,
)
from kapclinic.home.health import readiness_check
from kapclinic.home.inbox import inbox_count, inbox_for
from kapclinic.intake.models import Inquiry, InquiryStatus
from kapclinic.ledger.selectors import ledger_clocks, lots_expiring, open_investigations
from kapclinic.measures.selectors import open_safety_flags_for_user, overdue_measures
from kapclinic.oversight.selectors import emergency_accesses_to_review
from kapclinic.patients.models import Patient
from kapclinic.patients.selectors import patient_search_for_user
from kapclinic.prepared import prepared_rows
from kapclinic.replica import replica_reads
from kapclinic.roles import Role
from kapclinic.therapy.selectors import integration_sessions_due

_TEMPLATES = {
    Role.COORDINATOR: "home/coordinator.html",
    Role.PRESCRIBER: "home/prescriber.html",
    Role.NURSE: "home/nurse.html",
    Role.THERAPIST: "home/therapist.html",
    Role.DIRECTOR: "home/director.html",
    Role.AUDITOR: "home/auditor.html",
    Role.BILLER: "billing/home.html",  # the billing app's start page (issue 18)
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role's own start page: what that role does first."""
    user = current_user(request)
    role = user.clinic_role
    if role is Role.PATIENT:
        return redirect("portal:home")
    context: dict[str, object] = {}
    ctx = AuditContext.from_request(request)
    context["safety_flags"] = open_safety_flags_for_user(ctx=ctx)
    context["can_acknowledge"] = True
    context["show_patient"] = True
    if role in (Role.PRESCRIBER, Role.NURSE, Role.THERAPIST):
        context["caseload"] = patient_search_for_user(
            ctx=AuditContext.from_request(request), own_caseload=True, limit=10
        )
    if role in (Role.COORDINATOR, Role.PRESCRIBER, Role.THERAPIST):
        # The roles that hold appointments (appointments.services.WHO_HOLDS) see their own coming ones.
        context["my_appointments"] = appointments_upcoming_for(ctx=ctx)
    if role in (Role.PRESCRIBER, Role.NURSE):
        context["todays_sessions"] = sessions_on(timezone.localdate(), ctx=ctx)
        context["poll_seconds"] = settings.KAPCLINIC_ALERT_POLL_SECONDS
    if role is Role.THERAPIST:
        context["integration_due"] = integration_sessions_due(ctx=ctx)
    if role is Role.PRESCRIBER:
        context["waiting"] = sessions_waiting_for_prescriber(user)
    if role is Role.COORDINATOR:
        context["overdue"] = overdue_measures(ctx=ctx)
        # Prepared (kapclinic/prepared.py), as the home's other lists: built and compiled once per process.
        context["new_inquiries"] = prepared_rows("home.new_inquiries", _new_inquiries)
        context["consultations"] = consultations_coming(days=2)
        context["authorisations"] = authorisations_needing_attention(ctx=ctx, limit=10)
    if role in (Role.DIRECTOR, Role.AUDITOR):
        context.update(_oversight_dashboard(request, ctx))
    if role is Role.DIRECTOR:
        with replica_reads():
            context["ledger_clocks"] = ledger_clocks(ctx=ctx)
    return render(request, _TEMPLATES[role], context)


def _new_inquiries() -> QuerySet[Inquiry]:
    return Inquiry.objects.filter(status=InquiryStatus.NEW).order_by("created_at")[:10]


# The director's and auditor's dashboard: from the replica when there is one (kapclinic/replica.py); its audit
# inserts go to the primary. A review just made (a POST) pins the next page to the primary.
@replica_reads()
def _oversight_dashboard(request: HttpRequest, ctx: AuditContext) -> dict[str, object]:
    context: dict[str, object] = {}
    to_review = list(emergency_accesses_to_review()[:20])
    # The list names patients: each one shown is an audited read.
    access_events_record_many(
        ctx=AuditContext.from_request(request),
        action="emergency.review_list",
        patient_ids=[g.patient_id for g in to_review],
    )
    context["to_review"] = to_review
    context["investigations"] = list(open_investigations()[:20])
    context["expiring"] = list(lots_expiring())
    adverse = adverse_events_to_review()
    rems_due = rems_forms_due(timezone.localdate())
    access_events_record_many(
        ctx=ctx,
        action="adverse_event.review_list",
        patient_ids=[e.patient_id for e in adverse] + [r.session.patient_id for r in rems_due],
    )
    context["adverse_events"] = adverse
    context["rems_due"] = rems_due
    context["today"] = timezone.localdate()
    context["patient_count"] = Patient.objects.count()
    context["staff_count"] = User.objects.filter(is_active=True).exclude(role=Role.PATIENT).count()
    return context


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """What needs the signed-in member of staff, each item linking to where it is done (issue 16, item 5)."""
    user = current_user(request)
    if user.role == Role.PATIENT:
        return redirect("portal:home")
    sections = inbox_for(AuditContext.from_request(request))
    return render(request, "home/inbox.html", {"sections": sections, "total": inbox_count(sections)})


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No database, so a database outage does not get the servers restarted."""
    return HttpResponse("ok", content_type="text/plain")


def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 when the database answers and the task queue is moving, else 503 with the reason."""
    readiness = readiness_check()
    return HttpResponse(readiness.text(), content_type="text/plain", status=200 if readiness.ready else 503)

"""The patient's chart and the record download: pages that read the whole record, every stage of the pathway.

The chart app sits at the top of the house: it may import the stage apps (intake, consent, plans, dosing,
measures, therapy, appointments) and the patients app; none of them imports it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string

from kapclinic.accounts.models import User
from kapclinic.accounts.web import current_user
from kapclinic.appointments.models import Appointment
from kapclinic.audit.context import AuditContext
from kapclinic.chart.export import record_export
from kapclinic.chart.sections import chart_sections
from kapclinic.chart.summary import chart_summary
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.consent.selectors import consent_status
from kapclinic.dosing.models import DosingSession, SessionState
from kapclinic.measures.selectors import open_safety_flags_for_patient, recent_responses, schedule_for_patient
from kapclinic.measures.trajectories import trajectories_for_patient
from kapclinic.patients.access import PatientAccess, patient_get_for_user
from kapclinic.patients.fragments import cached_part, facts_of, fragment_key
from kapclinic.patients.models import CareTeamRole, Patient
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.printing import printed_pdf_response
from kapclinic.patients.selectors import STAFF_NAME_FIELDS, chart_header
from kapclinic.plans.selectors import current_plan
from kapclinic.prepared import prepared_rows
from kapclinic.roles import Action, Role, may
from kapclinic.therapy.selectors import notes_for_chart


@login_required
@refusals_as_pages
def patient_chart(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = current_user(request)
    if user.role == Role.PATIENT:
        return redirect("portal:home")
    access = patient_get_for_user(ctx=AuditContext.from_request(request), patient_id=patient_id)
    patient = access.patient

    drawn: dict[str, object] = {}

    def draw(csrf_token: str) -> str:
        drawn.update(_chart_context(user, access, facts_of(request, patient.pk).evaluation))
        return render_to_string("chart/_body.html", {**drawn, "csrf_token": csrf_token}, request=request)

    # What the chart shows differs by user (therapy notes by care team and authorship), so the part is the user's;
    # the read is audited above on every request, from the cache or not.
    body = cached_part(request, fragment_key("chart", request, patient, user.pk, user.role), draw)
    # Drawn anew, the chart has read what the banner shows: the banner, if drawn anew too, reads it no second time.
    shared: dict[str, object] = {k: drawn[k] for k in ("header", "safety_flags", "banner_evaluation") if k in drawn}
    return render(request, "chart/patient.html", {**shared, "patient": patient, "access": access, "chart_body": body})


def _chart_context(user: User, access: PatientAccess, evaluation: tuple[dict[str, Any] | None]) -> dict[str, object]:
    """`evaluation`: the evaluation's data as read with the record version (patients/fragments.py), for the banner."""
    patient = access.patient
    header = chart_header(patient=patient)
    show_clinical = may(user.role, Action.PATIENT_VIEW_CLINICAL)
    can_assign = may(user.role, Action.CARE_TEAM_ASSIGN)
    clinicians: list[User] = []
    if can_assign:
        # Every read of the chart is prepared (kapclinic/prepared.py): built and compiled once per process, where
        # compiling its queries cost about as much as running them (issue 15, item 3).
        clinicians = prepared_rows("chart.clinicians", _clinicians)
    team_by_role = {m.role: m for m in header.care_team}
    can_view_scores = may(user.role, Action.MEASURE_VIEW)
    can_edit_full = may(user.role, Action.PATIENT_EDIT)
    # The inquiry (the intake section, always shown) and the portal login in one query, where the page read each
    # by itself as it rendered (issue 15, item 3).
    joined = ["inquiry"] + (["user"] if can_edit_full and patient.user_id else [])
    fields = {"inquiry": ("id", "created_at", "status"), "user": ("username", "must_change_password")}
    (extras,) = prepared_rows(
        ("chart.extras", *joined),
        lambda pk: (
            Patient.objects.filter(pk=pk)
            .select_related(*joined)
            .only("pk", *(["user"] if "user" in joined else []), *(f"{j}__{f}" for j in joined for f in fields[j]))
        ),
        patient.pk,
    )
    return {
        "inquiry": getattr(extras, "inquiry", None),
        "portal_user": extras.user if "user" in joined else None,
        "banner_evaluation": evaluation if show_clinical else None,
        "safety_flags": open_safety_flags_for_patient(patient_id=patient.pk) if can_view_scores else [],
        "can_acknowledge": may(user.role, Action.SAFETY_ACKNOWLEDGE),
        "responses": recent_responses(patient_id=patient.pk) if can_view_scores else [],
        "trajectories": trajectories_for_patient(patient_id=patient.pk) if can_view_scores else [],
        "schedule": schedule_for_patient(patient_id=patient.pk),
        "can_view_scores": can_view_scores,
        "plan": current_plan(patient.pk) if show_clinical else None,
        "consent": consent_status(patient.pk) if show_clinical else None,
        "therapy_notes": notes_for_chart(
            user=user, patient_id=patient.pk, limit=10, care_team={m.user_id for m in header.care_team}
        )
        if show_clinical
        else [],
        "dosing_sessions": prepared_rows("chart.dosing_sessions", _dosing_sessions, patient.pk)
        if show_clinical
        else [],
        "entry_instruments": list(INSTRUMENTS.values()) if may(user.role, Action.MEASURE_ENTER) else [],
        "patient": patient,
        "access": access,
        "header": header,
        "sections": chart_sections(show_clinical=show_clinical),
        "show_clinical": show_clinical,
        "can_edit": may(user.role, Action.PATIENT_EDIT) or may(user.role, Action.PATIENT_EDIT_CONTACT),
        "can_assign": can_assign,
        "can_edit_full": can_edit_full,
        "can_book": may(user.role, Action.APPOINTMENT_BOOK),
        "can_write_process_notes": may(user.role, Action.PROCESS_NOTE_WRITE),
        "appointments": prepared_rows("chart.appointments", _appointments, patient.pk),
        "can_read_audit": may(user.role, Action.AUDIT_BROWSE),
        "can_message": may(user.role, Action.MESSAGE_VIEW),
        "team_rows": [
            (role, label, team_by_role.get(role), [c for c in clinicians if c.role == role])
            for role, label in CareTeamRole.choices
        ],
    }


def _clinicians() -> QuerySet[User]:
    return (
        User.objects.filter(role__in=CareTeamRole.values, is_active=True)
        .only(*STAFF_NAME_FIELDS)  # the choices show names only: not whole rows (password hash and all)
        .order_by("last_name", "first_name")
    )


def _dosing_sessions(patient_id: int) -> QuerySet[DosingSession]:
    return (
        DosingSession.objects.filter(patient_id=patient_id)
        .exclude(state=SessionState.CANCELLED)
        .select_related("checklist")
        .order_by("scheduled_for")[:12]
    )


def _appointments(patient_id: int) -> QuerySet[Appointment]:
    return Appointment.objects.filter(patient_id=patient_id).select_related("with_user").order_by("-starts_at")[:10]


@login_required
@refusals_as_pages
def patient_record_download(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The record export as a JSON download (process notes only when their author, exporting, ticks it)."""
    record = record_export(
        ctx=AuditContext.from_request(request),
        patient_id=patient_id,
        include_own_process_notes=request.GET.get("process_notes") == "mine",
    )
    response = JsonResponse(record, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="record-{record["patient"]["mrn"]}.json"'
    return response


@login_required
@refusals_as_pages
def patient_summary_pdf(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The one-page chart summary as a PDF (the clinical record's access check; audited)."""
    if current_user(request).role == Role.PATIENT:
        return redirect("portal:home")  # as the chart: a patient's record is the portal
    ctx = AuditContext.from_request(request)
    summary = chart_summary(ctx=ctx, patient_id=patient_id)
    patient = summary.access.patient
    return printed_pdf_response(
        request,
        ctx=ctx,
        patient=patient,
        what="chart_summary",
        record_id=patient.pk,
        title="Chart summary",
        template="chart/summary_print.html",
        context={"summary": summary},
        emergency=summary.access.emergency,
    )

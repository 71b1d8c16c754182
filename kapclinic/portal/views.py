from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import current_user, forbidden, not_found, refused_status
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.chart.export import record_export
from kapclinic.clinical.instruments import INSTRUMENTS, SUICIDE_RISK
from kapclinic.clinical.schedule import FREQUENCIES
from kapclinic.days import day_start
from kapclinic.dosing.models import FINISHED, NOT_STARTED, DosingSession, Route, SessionState
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.fhir.record import bundle_bytes, record_bundle
from kapclinic.measures import services
from kapclinic.measures.forms import QuestionnaireForm, question_fields
from kapclinic.measures.models import QuestionnaireResponse, ResponseDraft
from kapclinic.measures.selectors import DueMeasure, responses_for_patient, schedule_for_patient
from kapclinic.patients.access import patient_get_for_user, portal_patient_id
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.plans.models import TreatmentPlan
from kapclinic.plans.selectors import current_plan
from kapclinic.roles import Action, Role

# What a patient answers themselves (clinician- and observer-rated scales are entered by staff).
SELF_REPORT = [i for i in INSTRUMENTS.values() if i.respondent == "self"]


@dataclass(frozen=True)
class DueQuestionnaire:
    """One questionnaire to answer now, however many schedules ask for it: one answer fulfils them all."""

    code: str
    name: str
    reasons: list[str]
    due_on: date
    overdue: bool


def due_questionnaires(schedule: list[DueMeasure]) -> list[DueQuestionnaire]:
    """Return the questionnaires due or overdue, one per questionnaire, earliest first."""
    by_code: dict[str, list[DueMeasure]] = {}
    for d in schedule:
        if d.status in ("due", "overdue"):
            by_code.setdefault(d.scheduled.instrument, []).append(d)
    return [
        DueQuestionnaire(
            code=code,
            name=wanted[0].name,
            reasons=[d.scheduled.label for d in wanted],
            due_on=min(d.due_on for d in wanted),
            overdue=any(d.status == "overdue" for d in wanted),
        )
        for code, wanted in sorted(by_code.items(), key=lambda kv: min(d.due_on for d in kv[1]))
    ]


def _sessions_to_show(patient_id: int) -> tuple[list[DosingSession], list[DosingSession]]:
    """Return today's sessions under way or over, and the ones not started yet (booked or planned), today on."""
    today = timezone.localdate()
    sessions = (
        DosingSession.objects.filter(patient_id=patient_id, scheduled_for__gte=day_start(today))
        .exclude(state=SessionState.CANCELLED)
        .select_related("checklist")
        .order_by("scheduled_for")
    )
    on_today, ahead = [], []
    for s in sessions[:12]:
        if s.state in NOT_STARTED:
            ahead.append(s)
        elif timezone.localdate(s.scheduled_for) == today:
            on_today.append(s)
    return on_today, ahead[:6]


@login_required
@refusals_as_pages
def portal_home(request: HttpRequest) -> HttpResponse:
    """The patient's own start page: questionnaires to answer, their scores, their details."""
    if current_user(request).role != Role.PATIENT:
        return redirect("home:home")
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return forbidden(request, "Your login is not linked to a patient record yet. Please call the clinic.")
    ctx = AuditContext.from_request(request)
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PORTAL_USE)
    responses = list(responses_for_patient(ctx=ctx, patient_id=patient_id)[:20])
    drafts = set(ResponseDraft.objects.filter(patient_id=patient_id).values_list("instrument", flat=True))
    schedule = schedule_for_patient(patient_id=patient_id)
    due = due_questionnaires(schedule)
    due_codes = {d.code for d in due}
    on_today, sessions = _sessions_to_show(patient_id)
    return render(
        request,
        "portal/home.html",
        {
            "patient": access.patient,
            "instruments": [i for i in SELF_REPORT if i.code not in due_codes],
            "responses": responses,
            "drafts": drafts,
            "due": due,
            "upcoming": [d for d in schedule if d.status == "upcoming"][:5],
            "today_sessions": on_today,
            "sessions": sessions,
            "finished": FINISHED,
            "states": SessionState,
            "plan": current_plan(patient_id),
        },
    )


# The route in the patient's words (plans.models.Route holds the staff's).
ROUTE_IN_PLAIN_WORDS = {
    Route.IV: "Ketamine given slowly through a drip into a vein (an infusion).",
    Route.IM: "Ketamine given as an injection into a muscle of the arm.",
    Route.INTRANASAL: "Esketamine (Spravato), a nasal spray you give yourself while a nurse watches.",
    Route.SUBLINGUAL: "A ketamine lozenge that dissolves under your tongue.",
}


@login_required
@refusals_as_pages
def my_plan(request: HttpRequest) -> HttpResponse:
    """The patient's own treatment plan in plain words: what, how often, when, with whom, and towards what."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    ctx = AuditContext.from_request(request)
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PLAN_VIEW)
    plan: TreatmentPlan | None = current_plan(patient_id)
    sessions: list[DosingSession] = []
    if plan is not None:
        sessions = list(plan.sessions.exclude(state=SessionState.CANCELLED).order_by("number"))
    frequency = FREQUENCIES.get(plan.interval_days) if plan else None
    return render(
        request,
        "portal/plan.html",
        {
            "patient": access.patient,
            "plan": plan,
            "route_words": ROUTE_IN_PLAIN_WORDS.get(Route(plan.route)) if plan else "",
            "frequency": frequency.label if frequency else (f"Every {plan.interval_days} days" if plan else ""),
            "hours": round(plan.session_minutes / 60, 1) if plan else 0,
            "sessions": sessions,
            "finished": FINISHED,
            "measures": [INSTRUMENTS[c].name for c in (plan.measures if plan else []) if c in INSTRUMENTS],
        },
    )


@login_required
@refusals_as_pages
def questionnaire(request: HttpRequest, code: str) -> HttpResponse:
    """Answer a questionnaire: resumable (answers autosave), one item per screen on a phone."""
    patient_id = portal_patient_id(current_user(request))
    instrument = INSTRUMENTS.get(code)
    if patient_id is None:
        return redirect("home:home")
    if instrument is None or instrument.respondent != "self":
        return not_found(request, "There is no such questionnaire.")
    ctx = AuditContext.from_request(request)
    form = QuestionnaireForm(request.POST or None, instrument=instrument)
    status = 200
    if request.method == "POST":
        stored = form.submit(ctx, patient_id)
        if stored is not None:
            response, _created = stored
            return redirect("portal:response_done", response_id=response.pk)
        status = refused_status(form)
        values = form.answers()
    else:
        draft = ResponseDraft.objects.filter(patient_id=patient_id, instrument=instrument.code).first()
        values = dict(draft.answers) if draft else {}
    return render(
        request,
        "portal/questionnaire.html",
        {
            "instrument": instrument,
            "questions": question_fields(instrument, values),
            "errors": form.problems() if form.is_bound else [],
            "client_token": request.POST.get("client_token") or uuid.uuid4(),
            "draft_url": f"/portal/questionnaires/{instrument.code}/draft/",
        },
        status=status,
    )


@login_required
@require_POST
def questionnaire_draft(request: HttpRequest, code: str) -> HttpResponse:
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None or code not in INSTRUMENTS:
        return HttpResponse(status=404)
    answers = {key: str(value) for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
    try:
        services.response_draft_save(
            ctx=AuditContext.from_request(request), patient_id=patient_id, instrument_code=code, answers=answers
        )
    except (ValidationError, AccessDenied, NotFound):
        # The page's autosave reads only the status: no page to show, and nothing said about whose record it is.
        return HttpResponse(status=400)
    return HttpResponse(status=204)


@login_required
def response_done(request: HttpRequest, response_id: int) -> HttpResponse:
    """After submitting: thanks, the score in plain words, and crisis resources at once when needed."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    response = QuestionnaireResponse.objects.filter(pk=response_id, patient_id=patient_id).first()
    if response is None:
        return not_found(request, "There is no such response.")
    access_event_record(
        ctx=AuditContext.from_request(request),
        action="portal.response",
        patient_id=patient_id,
        detail={"response": response.pk},
    )
    return render(
        request,
        "portal/response_done.html",
        {
            "response": response,
            "instrument": INSTRUMENTS.get(response.instrument),
            "crisis": SUICIDE_RISK in response.flags,
            "crisis_text": settings.KAPCLINIC_CRISIS_TEXT,
        },
    )


# --- The patient's own copy of their record (issue 17, item 5) ----------------------------------------------------


@login_required
@refusals_as_pages
def my_record(request: HttpRequest) -> HttpResponse:
    """Take your record with you: as FHIR (for another clinic, a doctor or a health app) or as the clinic's JSON."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    ctx = AuditContext.from_request(request)
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PORTAL_USE)
    return render(request, "portal/record.html", {"patient": access.patient})


def _download(response: HttpResponse, file_name: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    response["Cache-Control"] = "no-store"  # a copy of a health record stays in no shared cache
    return response


@login_required
@refusals_as_pages
def my_record_fhir(request: HttpRequest) -> HttpResponse:
    """The record as a FHIR R4 collection Bundle (fhir/record.py; audited there)."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    base = request.build_absolute_uri("/fhir").rstrip("/")
    bundle = record_bundle(ctx=AuditContext.from_request(request), patient_id=patient_id, base=base)
    body = HttpResponse(bundle_bytes(bundle), content_type="application/fhir+json; charset=utf-8")
    return _download(body, f"my-record-{timezone.localdate().isoformat()}.fhir.json")


@login_required
@refusals_as_pages
def my_record_json(request: HttpRequest) -> HttpResponse:
    """The record as the clinic's own JSON (chart/export.py, the export staff make; audited there)."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    record = record_export(ctx=AuditContext.from_request(request), patient_id=patient_id)
    body = JsonResponse(record, json_dumps_params={"indent": 2, "ensure_ascii": False})
    return _download(body, f"my-record-{timezone.localdate().isoformat()}.json")

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.roles import Action, Role
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.clinical.instruments import INSTRUMENTS, SUICIDE_RISK
from kapclinic.dosing.models import DosingSession, SessionState
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.measures import services
from kapclinic.measures.forms import question_fields, submit_form
from kapclinic.measures.models import QuestionnaireResponse, ResponseDraft
from kapclinic.measures.selectors import responses_for_patient, schedule_for_patient
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.plans.selectors import current_plan
from kapclinic.web import current_user, forbidden, not_found

# What a patient answers themselves (clinician- and observer-rated scales are entered by staff).
SELF_REPORT = [i for i in INSTRUMENTS.values() if i.respondent == "self"]


def _own_patient_id(request: HttpRequest) -> int | None:
    user = current_user(request)
    if user.role != Role.PATIENT:
        return None
    return Patient.objects.filter(user=user).values_list("pk", flat=True).first()


@login_required
def portal_home(request: HttpRequest) -> HttpResponse:
    """The patient's own start page: questionnaires to answer, their scores, their details."""
    if current_user(request).role != Role.PATIENT:
        return redirect("home:home")
    patient_id = _own_patient_id(request)
    if patient_id is None:
        return forbidden(request, "Your login is not linked to a patient record yet. Please call the clinic.")
    ctx = AuditContext.from_request(request)
    try:
        access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PORTAL_USE)
        responses = list(responses_for_patient(ctx=ctx, patient_id=patient_id)[:20])
    except (AccessDenied, NotFound) as exc:
        return forbidden(request, exc.message)
    drafts = set(ResponseDraft.objects.filter(patient_id=patient_id).values_list("instrument", flat=True))
    schedule = schedule_for_patient(patient_id=patient_id)
    return render(
        request,
        "portal/home.html",
        {
            "patient": access.patient,
            "instruments": SELF_REPORT,
            "responses": responses,
            "drafts": drafts,
            "due": [d for d in schedule if d.status in ("due", "overdue")],
            "upcoming": [d for d in schedule if d.status == "upcoming"][:5],
            "sessions": list(
                DosingSession.objects.filter(
                    patient_id=patient_id, state=SessionState.SCHEDULED, scheduled_for__gte=timezone.now()
                )
                .select_related("checklist")
                .order_by("scheduled_for")[:6]
            ),
            "plan": current_plan(patient_id),
        },
    )


@login_required
def questionnaire(request: HttpRequest, code: str) -> HttpResponse:
    """Answer a questionnaire: resumable (answers autosave), one item per screen on a phone."""
    patient_id = _own_patient_id(request)
    instrument = INSTRUMENTS.get(code)
    if patient_id is None:
        return redirect("home:home")
    if instrument is None or instrument.respondent != "self":
        return not_found(request, "There is no such questionnaire.")
    ctx = AuditContext.from_request(request)
    errors: list[str] = []
    values: dict[str, object] = {}
    if request.method == "POST":
        try:
            submitted = submit_form(ctx=ctx, patient_id=patient_id, instrument=instrument, data=request.POST)
        except (AccessDenied, NotFound) as exc:
            return forbidden(request, exc.message)
        if submitted.response is not None:
            return redirect("portal:response_done", response_id=submitted.response.pk)
        errors, values = submitted.errors, submitted.values
    else:
        draft = ResponseDraft.objects.filter(patient_id=patient_id, instrument=instrument.code).first()
        values = dict(draft.answers) if draft else {}
    return render(
        request,
        "portal/questionnaire.html",
        {
            "instrument": instrument,
            "questions": question_fields(instrument, values),
            "errors": errors,
            "client_token": request.POST.get("client_token") or uuid.uuid4(),
            "draft_url": f"/portal/questionnaires/{instrument.code}/draft/",
        },
        status=422 if errors else 200,
    )


@login_required
@require_POST
def questionnaire_draft(request: HttpRequest, code: str) -> HttpResponse:
    patient_id = _own_patient_id(request)
    if patient_id is None or code not in INSTRUMENTS:
        return HttpResponse(status=404)
    answers = {key: str(value) for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
    try:
        services.response_draft_save(
            ctx=AuditContext.from_request(request), patient_id=patient_id, instrument_code=code, answers=answers
        )
    except (ValidationError, AccessDenied, NotFound):
        return HttpResponse(status=400)
    return HttpResponse(status=204)


@login_required
def response_done(request: HttpRequest, response_id: int) -> HttpResponse:
    """After submitting: thanks, the score in plain words, and crisis resources at once when needed."""
    patient_id = _own_patient_id(request)
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

"""Treatment-plan pages: the patient's plans, the plan form, the plan with its proposed sessions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapclinic.accounts.models import User
from kapclinic.accounts.web import current_user, not_found, refused_status, submitted
from kapclinic.appointments.models import Place
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.availability import place_needed
from kapclinic.dosing.forms import SCHEDULE_REFUSED
from kapclinic.dosing.models import SessionState
from kapclinic.dosing.selectors import dosing_blockers
from kapclinic.errors import Conflict
from kapclinic.intake.icd10 import icd10_description
from kapclinic.intake.models import Evaluation
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.printing import printed_pdf_response
from kapclinic.plans import services
from kapclinic.plans.forms import INTERVAL_CHOICES, PlanForm, PlanSignForm
from kapclinic.plans.models import TreatmentPlan
from kapclinic.plans.selectors import plan_get, plans_for_patient
from kapclinic.roles import Action, Role, may


@login_required
@refusals_as_pages
def patient_plans(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = current_user(request)
    access, plans = plans_for_patient(ctx=AuditContext.from_request(request), patient_id=patient_id)
    if user.role == Role.PATIENT:
        plans = [p for p in plans if p.is_signed]
    return render(
        request,
        "plans/list.html",
        {"patient": access.patient, "plans": plans, "can_write": may(user.role, Action.PLAN_WRITE)},
    )


def _plan_form_page(request: HttpRequest, patient_id: int, plan: TreatmentPlan | None) -> HttpResponse:
    ctx = AuditContext.from_request(request)
    access = patient_get_for_user(
        ctx=ctx, patient_id=patient_id, action=Action.PLAN_WRITE, record_allowed=request.method != "POST"
    )
    form = PlanForm(instance=plan) if plan else PlanForm(initial=_plan_defaults(patient_id))
    status = 200
    if request.method == "POST":
        form = PlanForm(request.POST, instance=plan)
        # Not `submitted`: the service parses the plan with this same form and audits every refused plan (a
        # dose above the policy maximum is a safety refusal), so it is called even when the form is invalid.
        try:
            if plan is None:
                saved = services.plan_draft_create(
                    ctx=ctx,
                    patient_id=patient_id,
                    raw=request.POST.dict() | {"measures": request.POST.getlist("measures")},
                )
            else:
                saved = services.plan_draft_update(
                    ctx=ctx,
                    plan_id=plan.pk,
                    raw=request.POST.dict() | {"measures": request.POST.getlist("measures")},
                    version=int(request.POST["version"]) if request.POST.get("version", "").isdigit() else None,
                )
        except ValidationError as exc:
            # The service validated with the same form: its field errors are already on the bound form;
            # add only the clinical ones (ICD-10 code, dose limits, goals), each once.
            form.is_valid()
            for field, errors in exc.message_dict.items():
                key = field if field in form.fields else None
                if key is None or not form.errors.get(key):
                    form.add_error(key, errors)
            status = 422
        except Conflict as exc:
            form.add_error(None, exc.message)
            status = 409
        else:
            messages.success(request, "The draft plan was saved. Check it, then sign it to propose the sessions.")
            return redirect("plans:detail", plan_id=saved.pk)
    return render(request, "plans/form.html", {"patient": access.patient, "form": form, "plan": plan}, status=status)


def _plan_defaults(patient_id: int) -> dict[str, object]:
    """A new plan starts from the evaluation's first diagnosis (not a fixed code someone might sign unread)."""
    evaluation = Evaluation.objects.filter(patient_id=patient_id).first()
    diagnoses = (evaluation.data.get("diagnoses") if evaluation else None) or []
    initial: dict[str, object] = {"session_count": 6}
    if diagnoses:
        initial["indication_code"] = diagnoses[0]
        initial["indication_text"] = icd10_description(diagnoses[0])
    return initial


@login_required
@refusals_as_pages
def plan_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _plan_form_page(request, patient_id, None)


@login_required
@refusals_as_pages
def plan_edit(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = TreatmentPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        return not_found(request, "No such treatment plan.")
    if plan.is_signed:
        messages.error(request, "A signed plan cannot be changed; write a new plan to replace it.")
        return redirect("plans:detail", plan_id=plan_id)
    return _plan_form_page(request, plan.patient_id, plan)


@login_required
@refusals_as_pages
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    user = current_user(request)
    plan = plan_get(ctx=AuditContext.from_request(request), plan_id=plan_id)
    if user.role == Role.PATIENT:
        # A patient's own plan is the portal's plain-language page (issue 13, defect 8), never the staff page;
        # plan_get has already refused another patient's plan and a draft (404, audited).
        return redirect("portal:plan")
    context = _detail_context(user, plan, PlanSignForm())
    _schedule_refused_keep(request, context["sessions"])
    return render(request, "plans/detail.html", context)


def _schedule_refused_keep(request: HttpRequest, sessions: object) -> None:
    """Put back what was typed into a session's schedule form that was refused, with each field's error, on that
    session's row (dosing.views.session_schedule keeps them in the session for one showing)."""
    kept = request.session.pop(SCHEDULE_REFUSED, None)
    if not isinstance(kept, dict) or not isinstance(sessions, list):
        return
    for session in sessions:
        if session.pk == kept.get("session"):
            session.schedule_kept = {"values": kept.get("values", {}), "errors": kept.get("errors", {})}


@login_required
@refusals_as_pages
def plan_pdf(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The plan as a PDF: the same read as the plan page (audited); a draft prints marked as a draft."""
    ctx = AuditContext.from_request(request)
    plan = plan_get(ctx=ctx, plan_id=plan_id)
    if ctx.user.role == Role.PATIENT:
        return redirect("portal:plan")  # as the plan page: the patient's plan is the portal's page
    sessions = list(plan.sessions.select_related("nurse").order_by("number")) if plan.is_signed else []
    return printed_pdf_response(
        request,
        ctx=ctx,
        patient=plan.patient,
        what="treatment_plan",
        record_id=plan.pk,
        title="Treatment plan" if plan.is_signed else "Treatment plan (DRAFT, not signed)",
        template="plans/plan_print.html",
        context={
            "plan": plan,
            "sessions": sessions,
            "frequency": dict(INTERVAL_CHOICES).get(plan.interval_days, f"every {plan.interval_days} days"),
        },
    )


def _detail_context(user: User, plan: TreatmentPlan, sign_form: PlanSignForm) -> dict[str, object]:
    sessions = list(plan.sessions.select_related("checklist", "nurse").order_by("number"))
    blockers = dosing_blockers(patient_id=plan.patient_id, plan=plan) if plan.is_signed else []
    can_schedule = may(user.role, Action.DOSING_SCHEDULE)
    return {
        "sign_form": sign_form,
        "plan": plan,
        "patient": plan.patient,
        "sessions": sessions,
        "blockers": blockers,
        "can_write": may(user.role, Action.PLAN_WRITE),
        "can_schedule": can_schedule and not blockers,
        "proposed": SessionState.PROPOSED,
        "nurses": User.objects.filter(role=Role.NURSE, is_active=True).order_by("last_name") if can_schedule else [],
        # The chairs (IV) or rooms a session of this plan's route takes (clinical.availability.place_needed).
        "places": (
            Place.objects.filter(kind=place_needed("dosing", route=plan.route), active=True).order_by("name")
            if can_schedule
            else []
        ),
        "proposed_dates": services.proposed_dates(plan) if not plan.is_signed else [],
        "frequency": dict(INTERVAL_CHOICES).get(plan.interval_days, f"every {plan.interval_days} days"),
    }


@login_required
@require_POST
@refusals_as_pages
def plan_sign(request: HttpRequest, plan_id: int) -> HttpResponse:
    ctx = AuditContext.from_request(request)
    plan = TreatmentPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        return not_found(request, "No such treatment plan.")
    # Who may sign is checked before the tick: a refused role never sees the page again (the service checks too).
    patient_get_for_user(ctx=ctx, patient_id=plan.patient_id, action=Action.PLAN_WRITE, record_allowed=False)
    form = PlanSignForm(request.POST)
    if submitted(form, lambda: services.plan_sign(ctx=ctx, plan_id=plan_id)) is not None:
        messages.success(request, "The plan is signed; its dosing sessions are proposed on the calendar.")
        return redirect("plans:detail", plan_id=plan_id)
    # The plan page again with the reason beside the confirmation: a read, so through plan_get (audited).
    plan = plan_get(ctx=ctx, plan_id=plan_id)
    return render(
        request, "plans/detail.html", _detail_context(current_user(request), plan, form), status=refused_status(form)
    )

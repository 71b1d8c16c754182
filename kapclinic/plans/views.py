"""Treatment-plan pages: the patient's plans, the plan form, the plan with its proposed sessions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from kapclinic.accounts.models import User
from kapclinic.accounts.web import current_user, forbidden, not_found
from kapclinic.audit.context import AuditContext
from kapclinic.dosing.models import SessionState
from kapclinic.dosing.selectors import dosing_blockers
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.intake.icd10 import icd10_description
from kapclinic.intake.models import Evaluation
from kapclinic.patients.access import patient_get_for_user
from kapclinic.plans import services
from kapclinic.plans.forms import INTERVAL_CHOICES, PlanForm
from kapclinic.plans.models import TreatmentPlan
from kapclinic.plans.selectors import plan_get, plans_for_patient
from kapclinic.roles import Action, Role, may


@login_required
def patient_plans(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = current_user(request)
    try:
        access, plans = plans_for_patient(ctx=AuditContext.from_request(request), patient_id=patient_id)
    except NotFound as exc:
        return not_found(request, exc.message)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    if user.role == Role.PATIENT:
        plans = [p for p in plans if p.is_signed]
    return render(
        request,
        "plans/list.html",
        {"patient": access.patient, "plans": plans, "can_write": may(user.role, Action.PLAN_WRITE)},
    )


def _plan_form_page(request: HttpRequest, patient_id: int, plan: TreatmentPlan | None) -> HttpResponse:
    ctx = AuditContext.from_request(request)
    try:
        access = patient_get_for_user(
            ctx=ctx, patient_id=patient_id, action=Action.PLAN_WRITE, record_allowed=request.method != "POST"
        )
    except NotFound as exc:
        return not_found(request, exc.message)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    form = PlanForm(instance=plan) if plan else PlanForm(initial=_plan_defaults(patient_id))
    status = 200
    if request.method == "POST":
        form = PlanForm(request.POST, instance=plan)
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
            messages.error(request, exc.message)
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
def plan_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _plan_form_page(request, patient_id, None)


@login_required
def plan_edit(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = TreatmentPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        return not_found(request, "No such treatment plan.")
    if plan.is_signed:
        messages.error(request, "A signed plan cannot be changed; write a new plan to replace it.")
        return redirect("plans:detail", plan_id=plan_id)
    return _plan_form_page(request, plan.patient_id, plan)


@login_required
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    user = current_user(request)
    try:
        plan = plan_get(ctx=AuditContext.from_request(request), plan_id=plan_id)
    except NotFound as exc:
        return not_found(request, exc.message)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    if user.role == Role.PATIENT:
        # A patient's own plan is the portal's plain-language page (issue 13, defect 8), never the staff page;
        # plan_get has already refused another patient's plan and a draft (404, audited).
        return redirect("portal:plan")
    sessions = list(plan.sessions.select_related("checklist", "nurse").order_by("number"))
    blockers = dosing_blockers(patient_id=plan.patient_id, plan=plan) if plan.is_signed else []
    can_schedule = may(user.role, Action.DOSING_SCHEDULE)
    return render(
        request,
        "plans/detail.html",
        {
            "plan": plan,
            "patient": plan.patient,
            "sessions": sessions,
            "blockers": blockers,
            "can_write": may(user.role, Action.PLAN_WRITE),
            "can_schedule": can_schedule and not blockers,
            "proposed": SessionState.PROPOSED,
            "nurses": User.objects.filter(role=Role.NURSE, is_active=True).order_by("last_name")
            if can_schedule
            else [],
            "proposed_dates": services.proposed_dates(plan) if not plan.is_signed else [],
            "frequency": dict(INTERVAL_CHOICES).get(plan.interval_days, f"every {plan.interval_days} days"),
        },
    )


@login_required
@require_POST
def plan_sign(request: HttpRequest, plan_id: int) -> HttpResponse:
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the confirmation to sign the plan.")
        return redirect("plans:detail", plan_id=plan_id)
    try:
        services.plan_sign(ctx=AuditContext.from_request(request), plan_id=plan_id)
    except NotFound as exc:
        return not_found(request, exc.message)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    except (ValidationError, Conflict) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, "The plan is signed; its dosing sessions are proposed on the calendar.")
    return redirect("plans:detail", plan_id=plan_id)

"""Billing pages: the charge queue (propose from signed records, review), one line, payers and fees, and a
patient's coverage. Thin: every rule is in services.py, selectors.py and kapclinic/clinical/billing.py."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import (
    current_user,
    querystring_without_page,
    refusals_as_plain_pages,
    refused_status,
    submitted,
)
from kapclinic.audit.context import AuditContext
from kapclinic.billing import selectors, services
from kapclinic.billing.forms import (
    ApproveForm,
    CorrectForm,
    CoverageEndForm,
    CoverageForm,
    FeeForm,
    PayerForm,
    RejectForm,
)
from kapclinic.billing.models import ChargeLine
from kapclinic.billing.selectors import LineStatus, status_of
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.selectors import chart_header
from kapclinic.roles import Action, may

LINES_PER_PAGE = 50


def _status_param(request: HttpRequest) -> LineStatus | None:
    given = request.GET.get("status", "")
    return LineStatus(given) if given in set(LineStatus) else None


@login_required
@refusals_as_plain_pages
def charges(request: HttpRequest) -> HttpResponse:
    """The charge lines the user may see (a clinician: their own records'), by status, paginated."""
    user = current_user(request)
    ctx = AuditContext.from_request(request)
    status = _status_param(request)
    lines = selectors.charge_lines(ctx=ctx, status=status)
    page = Paginator(lines, LINES_PER_PAGE).get_page(request.GET.get("page"))
    shown: list[ChargeLine] = list(page.object_list)
    selectors.charge_lines_shown(ctx=ctx, lines=shown)
    return render(
        request,
        "billing/charges.html",
        {
            "page": page,
            "rows": [(line, status_of(line)) for line in shown],
            "status": status,
            "statuses": list(LineStatus),
            "querystring": querystring_without_page(request),
            "can_review": may(user.role, Action.CHARGE_REVIEW),
            "can_setup": may(user.role, Action.BILLING_SETUP),
        },
    )


@login_required
@require_POST
@refusals_as_plain_pages
def propose(request: HttpRequest) -> HttpResponse:
    """Propose lines for the signed records that have none yet, then back to the queue."""
    run = services.charges_propose(ctx=AuditContext.from_request(request))
    flash.success(
        request,
        f"Read {run.records} signed record{'s' if run.records != 1 else ''} not yet proposed; "
        f"proposed {len(run.lines)} line{'s' if len(run.lines) != 1 else ''}.",
    )
    for why in run.not_proposed[:20]:
        flash.info(request, f"Not proposed: {why}")
    return redirect(f"{reverse('billing:charges')}?status=proposed")


@login_required
@refusals_as_plain_pages
def charge(request: HttpRequest, line_id: int) -> HttpResponse:
    """One line with the fact behind it; the biller approves, rejects (with a reason) or corrects it."""
    user = current_user(request)
    ctx = AuditContext.from_request(request)
    op = request.POST.get("op", "") if request.method == "POST" else ""
    if request.method == "POST":
        services.review_check(ctx)
    approve_form = ApproveForm(request.POST if op == "approve" else None)
    reject_form = RejectForm(request.POST if op == "reject" else None, prefix="reject")
    correct_form = CorrectForm(request.POST if op == "correct" else None, prefix="correct")
    status = 200
    if op:
        done: object = None
        if op == "approve":
            form: Any = approve_form
            done = submitted(form, lambda: services.charge_approve(ctx=ctx, line_id=line_id))
        elif op == "reject":
            form = reject_form
            done = submitted(
                form, lambda: services.charge_reject(ctx=ctx, line_id=line_id, reason=form.cleaned_data["reason"])
            )
        else:
            form = correct_form
            done = submitted(form, lambda: services.charge_correct(ctx=ctx, line_id=line_id, fix=_fix(form)))
        if done is not None:
            if isinstance(done, ChargeLine):
                flash.success(request, "Correction proposed: review it.")
                return redirect("billing:charge", line_id=done.pk)
            flash.success(request, "Review recorded.")
            return redirect("billing:charge", line_id=line_id)
        status = refused_status(form)
    line = selectors.charge_line(ctx=ctx, line_id=line_id)
    if not correct_form.is_bound:  # a correction starts from what the line says
        correct_form.initial = {
            "code": line.code,
            "units": line.units,
            "modifiers": " ".join(line.modifiers),
            "place_of_service": line.place_of_service,
            "diagnoses": " ".join(line.diagnoses),
        }
    return render(
        request,
        "billing/charge.html",
        {
            "line": line,
            "line_status": status_of(line),
            "header": chart_header(patient=line.patient),
            "can_review": may(user.role, Action.CHARGE_REVIEW),
            "can_see_money": may(user.role, Action.MONEY_VIEW),
            "approve_form": approve_form,
            "reject_form": reject_form,
            "correct_form": correct_form,
        },
        status=status,
    )


def _fix(form: CorrectForm) -> services.Correction:
    data = form.cleaned_data
    return services.Correction(
        code=data["code"],
        units=data["units"],
        modifiers=tuple(data["modifiers"].upper().split()),
        place_of_service=data["place_of_service"],
        diagnoses=tuple(data["diagnoses"].upper().split()),
        reason=data["reason"],
    )


@login_required
@refusals_as_plain_pages
def setup(request: HttpRequest) -> HttpResponse:
    """Payers and the fee schedule: the director lists and adds them."""
    ctx = AuditContext.from_request(request)
    fee_rows = selectors.fees(ctx=ctx)  # refuses (audited) a role that does not set up billing
    op = request.POST.get("op", "") if request.method == "POST" else ""
    payer_form = PayerForm(request.POST if op == "payer" else None, prefix="payer")
    fee_form = FeeForm(request.POST if op == "fee" else None, prefix="fee")
    status = 200
    if op == "payer":
        if submitted(payer_form, lambda: services.payer_create(ctx=ctx, **payer_form.cleaned_data)) is not None:
            flash.success(request, "Payer added.")
            return redirect("billing:setup")
        status = refused_status(payer_form)
    elif op == "fee":
        if (
            submitted(
                fee_form,
                lambda: services.fee_set(
                    ctx=ctx,
                    code=fee_form.cleaned_data["code"],
                    price_cents=fee_form.price_cents(),
                    effective_from=fee_form.cleaned_data["effective_from"],
                ),
                fallback_field="price",
            )
            is not None
        ):
            flash.success(request, "Price recorded.")
            return redirect("billing:setup")
        status = refused_status(fee_form)
    payers = list(selectors.payers(ctx=ctx))
    fees = Paginator(fee_rows, LINES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "billing/setup.html",
        {
            "payers": payers,
            "fees": fees,
            "page": fees,
            "querystring": querystring_without_page(request),
            "payer_form": payer_form,
            "fee_form": fee_form,
        },
        status=status,
    )


@login_required
@refusals_as_pages
def coverages(request: HttpRequest, patient_id: int) -> HttpResponse:
    """A patient's coverages (primary, secondary, self-pay) with their dates; the front desk adds and ends them."""
    user = current_user(request)
    ctx = AuditContext.from_request(request)
    op = request.POST.get("op", "") if request.method == "POST" else ""
    if request.method == "POST":
        services.coverage_edit_check(ctx, patient_id)
    form = CoverageForm(request.POST if op == "add" else None)
    end_form = CoverageEndForm(request.POST if op == "end" else None, prefix="end")
    status = 200
    if op == "add":
        if submitted(form, lambda: services.coverage_add(ctx=ctx, patient_id=patient_id, given=_coverage(form))):
            flash.success(request, "Coverage added.")
            return redirect("billing:coverages", patient_id=patient_id)
        status = refused_status(form)
    elif op == "end":
        ended = submitted(
            end_form,
            lambda: services.coverage_end(
                ctx=ctx,
                patient_id=patient_id,
                coverage_id=end_form.cleaned_data["coverage"],
                last_day=end_form.cleaned_data["last_day"],
            ),
            fallback_field="last_day",
        )
        if ended is not None:
            flash.success(request, "Coverage ended.")
            return redirect("billing:coverages", patient_id=patient_id)
        status = refused_status(end_form)
    found = selectors.coverages_for_patient(ctx=ctx, patient_id=patient_id)
    return render(
        request,
        "billing/coverages.html",
        {
            "patient": found.access.patient,
            "access": found.access,
            "header": chart_header(patient=found.access.patient),
            "safety_flags": [],
            "coverages": found.coverages,
            "form": form,
            "end_form": end_form,
            "can_edit": may(user.role, Action.COVERAGE_EDIT),
        },
        status=status,
    )


def _coverage(form: CoverageForm) -> services.CoverageInput:
    data = form.cleaned_data
    payer = data.get("payer")
    return services.CoverageInput(
        rank=data["rank"],
        self_pay=data["self_pay"],
        payer_id=payer.pk if payer is not None else None,
        member_id=data["member_id"],
        group_number=data["group_number"],
        subscriber_name=data["subscriber_name"],
        subscriber_birth_date=data["subscriber_birth_date"],
        relationship=data["relationship"],
        effective_from=data["effective_from"],
        effective_to=data["effective_to"],
    )

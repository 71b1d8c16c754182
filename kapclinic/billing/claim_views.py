"""Claim and remittance pages for the biller: the claims list (by state and payer), a new claim from chosen approved
lines, one claim (its lines, events and 837P file; marking it submitted or denied, resubmitting it, each confirmed),
and the remittance upload. Thin: every rule is in claims.py, remittances.py and kapclinic/clinical/claims.py."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from kapclinic.accounts.web import (
    current_user,
    querystring_without_page,
    refusals_as_plain_pages,
    refused_status,
    submitted,
)
from kapclinic.audit.context import AuditContext
from kapclinic.billing import claims as service
from kapclinic.billing import remittances, selectors
from kapclinic.billing.claim_forms import ClaimNewForm, DeniedForm, RemittanceForm, ResubmitForm, SubmittedForm
from kapclinic.billing.models import ChargeLine, Claim, Payer
from kapclinic.clinical.claims import ClaimState
from kapclinic.roles import Action, may

PER_PAGE = 50


def _payer_param(request: HttpRequest) -> int | None:
    given = request.GET.get("payer", "")
    return int(given) if given.isdigit() and len(given) < 12 else None


@login_required
@refusals_as_plain_pages
def claims(request: HttpRequest) -> HttpResponse:
    """Claims, newest first, filtered by state and payer, paginated; every patient shown is audited."""
    user = current_user(request)
    ctx = AuditContext.from_request(request)
    state = request.GET.get("state", "")
    state = state if state in set(ClaimState) else ""
    payer = _payer_param(request)
    found = service.claims(ctx=ctx, state=state, payer_id=payer)
    page = Paginator(found, PER_PAGE).get_page(request.GET.get("page"))
    shown: list[Claim] = list(page.object_list)
    service.claims_shown(ctx=ctx, shown=shown)
    return render(
        request,
        "billing/claims.html",
        {
            "page": page,
            "claims": shown,
            "state": state,
            "states": list(ClaimState),
            "payer": payer,
            "payers": list(Payer.objects.order_by("name")),
            "querystring": querystring_without_page(request),
            "can_manage": may(user.role, Action.CLAIM_MANAGE),
            "can_setup": may(user.role, Action.BILLING_SETUP),
        },
    )


@login_required
@refusals_as_plain_pages
def claim_new(request: HttpRequest) -> HttpResponse:
    """The approved lines on no open claim, by patient; the biller ticks one patient's lines and makes the claim."""
    ctx = AuditContext.from_request(request)
    service.manage_check(ctx)
    lines = service.claimable_lines(ctx=ctx)
    page = Paginator(lines, PER_PAGE).get_page(request.GET.get("page"))
    shown: list[ChargeLine] = list(page.object_list)
    form = ClaimNewForm(
        request.POST if request.method == "POST" else None,
        line_ids=[line.pk for line in shown] if request.method == "GET" else None,
    )
    status = 200
    if request.method == "POST":
        field = form.fields["lines"]
        # The choices are whatever ids were posted: the service checks each line (approved, one patient, unclaimed).
        posted = [int(v) for v in request.POST.getlist("lines") if v.isdigit() and len(v) < 19]
        field.choices = [(i, str(i)) for i in posted]  # type: ignore[attr-defined]
        made = submitted(form, lambda: service.claim_create(ctx=ctx, line_ids=form.cleaned_data["lines"]))
        if made is not None:
            flash.success(
                request, f"Claim {made.number} made as a draft: check it, download its 837P, then mark it submitted."
            )
            return redirect("billing:claim", claim_id=made.pk)
        status = refused_status(form)
    selectors.charge_lines_shown(ctx=ctx, lines=shown)
    chosen = {int(v) for v in request.POST.getlist("lines") if v.isdigit() and len(v) < 19}
    return render(
        request,
        "billing/claim_new.html",
        {
            "page": page,
            "lines": shown,
            "chosen": chosen,
            "form": form,
            "querystring": querystring_without_page(request),
        },
        status=status,
    )


@login_required
@refusals_as_plain_pages
def claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    """One claim: its lines with their pointers, its events (who, when, why), the 837P file; marking it submitted or
    denied and resubmitting it, each confirmed."""
    user = current_user(request)
    ctx = AuditContext.from_request(request)
    op = request.POST.get("op", "") if request.method == "POST" else ""
    if request.method == "POST":
        service.manage_check(ctx)
    submitted_form = SubmittedForm(request.POST if op == "submitted" else None, prefix="submitted")
    denied_form = DeniedForm(request.POST if op == "denied" else None, prefix="denied")
    resubmit_form = ResubmitForm(request.POST if op == "resubmit" else None, prefix="resubmit")
    status = 200
    if op:
        done: object = None
        form: Any
        if op == "submitted":
            form = submitted_form
            done = submitted(form, lambda: service.claim_mark(ctx=ctx, claim_id=claim_id, state="submitted"))
        elif op == "denied":
            form = denied_form
            done = submitted(
                form,
                lambda: service.claim_mark(
                    ctx=ctx, claim_id=claim_id, state="denied", reason=form.cleaned_data["reason"]
                ),
            )
        else:
            form = resubmit_form
            done = submitted(
                form, lambda: service.claim_resubmit(ctx=ctx, claim_id=claim_id, reason=form.cleaned_data["reason"])
            )
        if isinstance(done, Claim):
            if done.pk != claim_id:
                flash.success(request, f"Claim {done.number} replaces this one: check it and send its 837P.")
            else:
                flash.success(request, "Claim marked.")
            return redirect("billing:claim", claim_id=done.pk)
        status = refused_status(form)
    found = service.claim_read(ctx=ctx, claim_id=claim_id)
    state = ClaimState(found.state)
    return render(
        request,
        "billing/claim.html",
        {
            "claim": found,
            "state": state,
            "lines": service.claim_lines(found),
            "events": service.claim_events(found),
            "replacement": Claim.objects.filter(replaces=found).first(),
            "can_manage": may(user.role, Action.CLAIM_MANAGE),
            "may_submit": state is ClaimState.DRAFT,
            "may_deny": state in (ClaimState.SUBMITTED, ClaimState.PARTLY_PAID),
            "may_resubmit": state in (ClaimState.SUBMITTED, ClaimState.DENIED, ClaimState.PARTLY_PAID),
            "submitted_form": submitted_form,
            "denied_form": denied_form,
            "resubmit_form": resubmit_form,
        },
        status=status,
    )


@login_required
@refusals_as_plain_pages
def claim_file(request: HttpRequest, claim_id: int) -> HttpResponse:
    """The claim's 837P file, to send to the clearinghouse (audited as a read of the claim)."""
    from kapclinic.errors import Conflict

    ctx = AuditContext.from_request(request)
    try:
        text = service.claim_file_for(ctx=ctx, claim_ids=[claim_id])
    except Conflict as exc:
        flash.error(request, exc.message)
        return redirect("billing:claim", claim_id=claim_id)
    response = HttpResponse(text, content_type="application/edi-x12; charset=ascii")
    response["Content-Disposition"] = f'attachment; filename="claim-KC{claim_id}.837"'
    return response


@login_required
@refusals_as_plain_pages
def remittance_upload(request: HttpRequest) -> HttpResponse:
    """Upload an 835: posted whole or refused whole with the reason; the remittances posted so far, paginated."""
    ctx = AuditContext.from_request(request)
    posted_list = remittances.remittances(ctx=ctx)  # refuses (audited) a role that does not see claims
    form = RemittanceForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        service.manage_check(ctx)

        def post() -> remittances.Posting:
            upload = form.cleaned_data["file"]
            if upload.size > remittances.FILE_MAX_CHARS:
                raise ValidationError({"file": "The file is too large for one remittance."})
            try:
                text = upload.read().decode("ascii")
            except UnicodeDecodeError:
                raise ValidationError({"file": "An 835 file is plain ASCII text: is this the right file?"}) from None
            return remittances.remittance_post(ctx=ctx, text=text)

        posting = submitted(form, post, fallback_field="file")
        if posting is not None:
            if posting.already_posted:
                flash.info(request, "This remittance was posted before: nothing was posted again.")
            else:
                said = "; ".join(f"{p.claim.number} {ClaimState(p.state).label.lower()}" for p in posting.claims)
                flash.success(request, f"Remittance posted: {said} ({posting.entries} ledger entries).")
            return redirect("billing:remittances")
        status = refused_status(form)
    page = Paginator(posted_list, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "billing/remittances.html",
        {
            "form": form,
            "page": page,
            "remittances": list(page.object_list),
            "querystring": querystring_without_page(request),
            "can_manage": may(current_user(request).role, Action.CLAIM_MANAGE),
        },
        status=status,
    )

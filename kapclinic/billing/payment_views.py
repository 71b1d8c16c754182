"""Money pages: a patient's account (balance, lines, entries, packages; selling a package), recording a payment,
refund or write-off, the statement and superbill PDFs, the self-pay packages the clinic offers, and the patient's
own balance and superbill in the portal. Thin: the rules are in payments.py, balances.py, superbills.py and
kapclinic/clinical/money.py."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from kapclinic.accounts.web import current_user, querystring_without_page, refused_status, submitted
from kapclinic.audit.context import AuditContext
from kapclinic.billing import balances, payments, superbills
from kapclinic.billing.models import MoneyEntry, PackagePurchase, SelfPayPackage
from kapclinic.billing.payment_forms import CorrectEntryForm, MoneyForm, PackageForm, PeriodForm, SellForm
from kapclinic.clinical.money import cents_text
from kapclinic.patients.access import portal_patient_id
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.printing import printed_pdf_response
from kapclinic.patients.selectors import chart_header
from kapclinic.roles import Action, Role, may

ENTRIES_PER_PAGE = 25


def _targets(patient_id: int) -> list[tuple[str, str]]:
    """What a payment may be applied to: the approved lines and the package purchases, with what each owes."""
    owed = balances.line_balances(patient_id)
    lines = balances.billed_lines(patient_id).order_by("-date_of_service", "-id")
    found = [
        (
            f"line:{line.pk}",
            f"{line.date_of_service.isoformat()} {line.code} — owes {cents_text(owed[line.pk].balance_cents)}",
        )
        for line in lines
    ]
    for p in PackagePurchase.objects.filter(patient_id=patient_id).select_related("package"):
        left = balances.purchase_balance(p).balance_cents
        found.append(
            (f"purchase:{p.pk}", f"Package: {p.package.name} ({p.bought_on.isoformat()}) — owes {cents_text(left)}")
        )
    return found


def _correctable(patient_id: int) -> list[tuple[str, str]]:
    """The entries that still count (a corrected one is corrected through its correction)."""
    return [
        (str(e.pk), f"{e.received_on.isoformat()} {e.get_kind_display()} {cents_text(e.amount_cents)}")
        for e in balances.counted_entries(patient_id).order_by("-received_on", "-id")[:100]
    ]


def _packages_offered() -> list[tuple[str, str]]:
    today = timezone.localdate()
    return [
        (str(p.pk), f"{p.name} — {p.sessions} sessions, {cents_text(p.price_cents)}")
        for p in SelfPayPackage.objects.all()
        if p.offered(today)
    ]


@login_required
@refusals_as_pages
def account(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's account: balance, approved lines with what each owes, entries (paginated), packages with the
    sessions left; the biller sells a package here."""
    user = current_user(request)
    if user.role == Role.PATIENT:
        return redirect("billing_portal:home")  # a patient's bills are in the portal
    ctx = AuditContext.from_request(request)
    op = request.POST.get("op", "sell") if request.method == "POST" else ""
    sell_form = SellForm(request.POST if op == "sell" else None, packages=_packages_offered())
    correct_form = CorrectEntryForm(
        request.POST if op == "correct" else None, prefix="correct", entries=_correctable(patient_id)
    )
    status = 200
    if op == "correct":
        payments.money_record_check(ctx, patient_id)
        fixed = submitted(
            correct_form,
            lambda: payments.money_entry_correct(
                ctx=ctx,
                patient_id=patient_id,
                entry_id=int(correct_form.cleaned_data["entry"]),
                amount_cents=correct_form.cleaned_data["amount"],
                reason=correct_form.cleaned_data["reason"],
            ),
            fallback_field="amount",
        )
        if fixed is not None:
            flash.success(request, "Correction recorded: the entry it corrects no longer counts.")
            return redirect("billing:account", patient_id=patient_id)
        status = refused_status(correct_form)
    elif op:
        payments.money_record_check(ctx, patient_id)
        sold = submitted(
            sell_form,
            lambda: payments.package_sell(
                ctx=ctx,
                patient_id=patient_id,
                package_id=int(sell_form.cleaned_data["package"]),
                bought_on=sell_form.cleaned_data["bought_on"],
            ),
        )
        if sold is not None:
            flash.success(request, f"Package recorded: {cents_text(sold.price_cents)} added to the balance.")
            return redirect("billing:account", patient_id=patient_id)
        status = refused_status(sell_form)
    found = balances.patient_account(ctx=ctx, patient_id=patient_id)
    entries = Paginator(found.entries[::-1], ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    return render(
        request,
        "billing/account.html",
        {
            "patient": found.access.patient,
            "access": found.access,
            "header": chart_header(patient=found.access.patient),
            "safety_flags": [],
            "account": found,
            "rows": [(line, found.line_balances[line.pk]) for line in found.lines],
            "entries": entries,
            "page": entries,
            "querystring": querystring_without_page(request),
            "sell_form": sell_form,
            "correct_form": correct_form,
            "can_record": may(user.role, Action.MONEY_RECORD),
            "period_from": (today - timedelta(days=30)).isoformat(),
            "period_to": today.isoformat(),
        },
        status=status,
    )


@login_required
@refusals_as_pages
def record(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Record a payment, a refund or a write-off (the two last confirmed); errors next to their fields."""
    ctx = AuditContext.from_request(request)
    payments.money_record_check(ctx, patient_id)
    form = MoneyForm(request.POST or None, targets=_targets(patient_id))
    status = 200
    if request.method == "POST":
        done = submitted(form, lambda: _record_on_page(ctx, patient_id, form))
        if done is not None:
            flash.success(request, f"{done.get_kind_display()} of {cents_text(done.amount_cents)} recorded.")
            return redirect("billing:account", patient_id=patient_id)
        status = refused_status(form)
    found = balances.patient_account(ctx=ctx, patient_id=patient_id)
    return render(
        request,
        "billing/record.html",
        {
            "patient": found.access.patient,
            "access": found.access,
            "header": chart_header(patient=found.access.patient),
            "safety_flags": [],
            "balance": found.balance,
            "form": form,
        },
        status=status,
    )


# The service names the line or purchase an entry is applied to; the page has one "Apply to" field for both.
_FIELD_ON_THE_PAGE = {"line": "apply_to", "purchase": "apply_to", "corrects": "apply_to"}


def _record_on_page(ctx: AuditContext, patient_id: int, form: MoneyForm) -> MoneyEntry:
    try:
        return payments.money_entry_record(ctx=ctx, given=_entry(patient_id, form))
    except ValidationError as exc:
        raise ValidationError(
            {_FIELD_ON_THE_PAGE.get(name, name): errors for name, errors in exc.message_dict.items()}
        ) from None


def _entry(patient_id: int, form: MoneyForm) -> payments.MoneyEntryInput:
    data = form.cleaned_data
    line_id, purchase_id = form.target()
    payer = data.get("payer")
    return payments.MoneyEntryInput(
        patient_id=patient_id,
        kind=data["kind"],
        amount_cents=data["amount"],
        method=data["method"],
        reference=data["reference"],
        payer_id=payer.pk if payer is not None else None,
        reason=data["reason"],
        line_id=line_id,
        purchase_id=purchase_id,
        received_on=data["received_on"],
        keep_as_credit=data["keep_as_credit"],
    )


@login_required
@refusals_as_pages
def statement(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's statement as a PDF: every charge, package, payment, adjustment and the balance."""
    ctx = AuditContext.from_request(request)
    found = balances.patient_account(ctx=ctx, patient_id=patient_id)
    return printed_pdf_response(
        request,
        ctx=ctx,
        patient=found.access.patient,
        what="statement",
        record_id=found.access.patient.pk,
        title="Statement of account",
        template="billing/statement_print.html",
        context={
            "account": found,
            "rows": [(line, found.line_balances[line.pk]) for line in found.lines],
            "practice": superbills.practice(),
            "today": timezone.localdate(),
        },
        emergency=found.access.emergency,
    )


def _superbill_pdf(request: HttpRequest, ctx: AuditContext, patient_id: int) -> HttpResponse:
    today = timezone.localdate()
    period = PeriodForm.from_query(request.GET, today - timedelta(days=30), today)
    first: date | None = None
    last: date | None = None
    if period.is_valid():
        first, last = period.cleaned_data["first"], period.cleaned_data["last"]
    try:
        bill = superbills.superbill(ctx=ctx, patient_id=patient_id, first=first, last=last)
    except ValidationError as exc:
        for name, errors in exc.message_dict.items():
            period.add_error("first" if name == "from" else "last", errors)
        return render(request, "billing/superbill_period.html", {"period": period}, status=422)
    return superbill_pdf_response(request, ctx, bill, {"today": today})


def superbill_pdf_response(
    request: HttpRequest, ctx: AuditContext, bill: superbills.Superbill, extra: dict[str, Any] | None = None
) -> HttpResponse:
    """The superbill as a PDF, audited as a print: the page and its API twin (payments_api.superbill_get)."""
    return printed_pdf_response(
        request,
        ctx=ctx,
        patient=bill.patient,
        what="superbill",
        record_id=int(bill.first.strftime("%Y%m%d")),
        title=f"Superbill {bill.first.isoformat()} to {bill.last.isoformat()}",
        template="billing/superbill_print.html",
        context={"bill": bill, **(extra or {})},
        emergency=bill.access.emergency,
    )


@login_required
@refusals_as_pages
def superbill(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The superbill of a visit (from = to) or a period (?from=&to=, the last 30 days by default) as a PDF."""
    return _superbill_pdf(request, AuditContext.from_request(request), patient_id)


@login_required
@refusals_as_pages
def packages(request: HttpRequest) -> HttpResponse:
    """The self-pay packages the clinic offers; the director or a biller adds one (a new price is a new package)."""
    ctx = AuditContext.from_request(request)
    payments.package_define_check(ctx)
    form = PackageForm(request.POST or None)
    status = 200
    if request.method == "POST":
        made = submitted(form, lambda: payments.package_define(ctx=ctx, given=_package(form)))
        if made is not None:
            flash.success(request, f"Package “{made.name}” offered.")
            return redirect("billing:packages")
        status = refused_status(form)
    offered = Paginator(SelfPayPackage.objects.all(), ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "billing/packages.html",
        {"offered": offered, "page": offered, "querystring": querystring_without_page(request), "form": form},
        status=status,
    )


def _package(form: PackageForm) -> payments.PackageInput:
    data = form.cleaned_data
    return payments.PackageInput(
        name=data["name"],
        description=data["description"],
        sessions=data["sessions"],
        price_cents=data["price"],
        effective_from=data["effective_from"],
        effective_to=data["effective_to"],
    )


# --- the portal: the patient's own ------------------------------------------------------------------------------


@login_required
@refusals_as_pages
def my_billing(request: HttpRequest) -> HttpResponse:
    """The patient's balance, what they were charged and paid, their packages, and their superbill to download."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    ctx = AuditContext.from_request(request)
    found = balances.patient_account(ctx=ctx, patient_id=patient_id)
    entries: list[MoneyEntry] = found.entries[::-1][:ENTRIES_PER_PAGE]
    first_day = found.lines[0].date_of_service if found.lines else timezone.localdate()
    return render(
        request,
        "billing/portal_billing.html",
        {
            "patient": found.access.patient,
            "account": found,
            "rows": [(line, found.line_balances[line.pk]) for line in found.lines],
            "entries": entries,
            "period_from": first_day.isoformat(),
            "period_to": timezone.localdate().isoformat(),
        },
    )


@login_required
@refusals_as_pages
def my_superbill(request: HttpRequest) -> HttpResponse:
    """The patient's own superbill (?from=&to=) as a PDF, audited."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    return _superbill_pdf(request, AuditContext.from_request(request), patient_id)

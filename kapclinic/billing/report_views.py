"""The billing report as a page, a CSV download and a printable PDF (director and biller). Thin over reports.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from kapclinic.accounts.web import refusals_as_plain_pages
from kapclinic.audit.context import AuditContext
from kapclinic.billing import reports
from kapclinic.csvsafe import csv_lines
from kapclinic.pdf import pdf_response

DEFAULT_DAYS = 90  # [DAR] days in A/R is commonly taken over the last 90 days
OUTPUTS = ("page", "csv", "pdf")


class ReportFilters(forms.Form):
    first = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label="Through", widget=forms.DateInput(attrs={"type": "date"}))
    by = forms.ChoiceField(label="By", choices=[(g.value, label) for g, label in reports.GROUP_LABELS.items()])

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        first, last = data.get("first"), data.get("last")
        if first is not None and last is not None:
            if last < first:
                self.add_error("last", "The last day cannot be before the first.")
            elif (last - first).days > reports.PERIOD_DAYS_MAX:
                self.add_error("last", "Choose a period of two years at most.")
        return data


def _cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


CSV_COLUMNS = [
    "section", "group", "lines", "charged", "paid_net", "adjusted", "written_off", "outstanding", "payments", "refunds",
    "received_net",
]  # fmt: skip


def _csv_rows(report: reports.BillingReport) -> Iterator[list[object]]:
    for r in [*report.charges, report.totals]:
        yield ["charges", r.key, r.lines, _cents(r.charged_cents), _cents(r.paid_cents), _cents(r.adjusted_cents),
               _cents(r.written_off_cents), _cents(r.outstanding_cents), "", "", ""]  # fmt: skip
    for m in [*report.received, report.received_total]:
        yield ["received", m.key, "", "", "", "", "", "", _cents(m.payments_cents), _cents(m.refunds_cents),
               _cents(m.net_cents)]  # fmt: skip
    yield ["receivable", "A/R today", "", "", "", "", "", _cents(report.receivable_cents), "", "", ""]
    yield [
        "days_in_ar",
        "",
        "",
        "",
        "",
        "",
        "",
        "" if report.days_in_ar is None else str(report.days_in_ar),
        "",
        "",
        "",
    ]


@login_required
@refusals_as_plain_pages
def billing_reports(request: HttpRequest) -> HttpResponseBase:
    """Charges, money received and outstanding by day, payer or provider; A/R and days in A/R. ?output=csv|pdf."""
    ctx = AuditContext.from_request(request)
    reports.require_billing_report(ctx)
    today = timezone.localdate()
    given = request.GET if "first" in request.GET else None
    filters = ReportFilters(
        given, initial={"first": today - timedelta(days=DEFAULT_DAYS - 1), "last": today, "by": "day"}
    )
    output = request.GET.get("output", "page")
    if output not in OUTPUTS:
        output = "page"
    if given is None:
        first, last, by = today - timedelta(days=DEFAULT_DAYS - 1), today, reports.GroupBy.DAY
    elif filters.is_valid():
        first, last = filters.cleaned_data["first"], filters.cleaned_data["last"]
        by = reports.GroupBy(filters.cleaned_data["by"])
    else:
        if output != "page":
            errors = [str(m) for ms in filters.errors.values() for m in ms]
            return HttpResponse("\n".join(errors), status=400, content_type="text/plain; charset=utf-8")
        return render(request, "billing/reports.html", {"filters": filters, "report": None}, status=400)
    report = reports.billing_report(ctx=ctx, first=first, last=last, group_by=by)
    stem = f"billing-{by.value}-{first.isoformat()}-{last.isoformat()}"
    if output == "csv":
        response = StreamingHttpResponse(
            csv_lines(CSV_COLUMNS, _csv_rows(report)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
        return response
    context = {"filters": filters, "report": report, "query": f"first={first}&last={last}&by={by.value}"}
    if output == "pdf":
        return pdf_response(request, "billing/reports_print.html", context, filename=f"{stem}.pdf")
    return render(request, "billing/reports.html", context)

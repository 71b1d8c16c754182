"""The controlled-substance reports as pages, CSV downloads and printable PDFs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from kapclinic.accounts.web import current_user, forbidden, refusals_as_plain_pages, submitted
from kapclinic.audit.context import AuditContext
from kapclinic.csvsafe import csv_lines
from kapclinic.ledger import reports
from kapclinic.ledger.forms import DispensingLogFilters, InventoryFilters
from kapclinic.ledger.models import BusinessTime
from kapclinic.ledger.selectors import require_ledger_report
from kapclinic.pdf import pdf_response
from kapclinic.roles import Action, may

LOG_PAGE_SIZE = 200
OUTPUTS = ("page", "csv", "pdf")


def _refused(
    request: HttpRequest, output: str, template: str, filters: BaseForm, context: dict[str, object]
) -> HttpResponse:
    """Answer a request with bad filters: the page with its errors, or plain text for a download."""
    errors = [str(message) for messages in filters.errors.values() for message in messages]
    if output != "page":
        return HttpResponse("\n".join(errors), status=400, content_type="text/plain; charset=utf-8")
    return render(request, template, {"errors": errors, "params": request.GET, **context}, status=400)


def _csv(filename: str, lines: Iterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _download(
    request: HttpRequest,
    output: str,
    stem: str,
    columns: Iterable[str],
    rows: Iterable[Iterable[object]],
    printed: str,
    context: dict[str, object],
) -> HttpResponseBase | None:
    """The report as a file named `stem`: a CSV of `columns` and `rows`, or the PDF of the `printed` template;
    None when the output is the page."""
    if output == "csv":
        return _csv(f"{stem}.csv", csv_lines(columns, rows))
    if output == "pdf":
        return pdf_response(request, printed, context, filename=f"{stem}.pdf")
    return None


@login_required
def index(request: HttpRequest) -> HttpResponse:
    if not may(current_user(request).role, Action.LEDGER_VIEW):
        return forbidden(request, "Your role does not see the controlled-substance ledger.")
    return render(request, "ledger/reports/index.html", {"time_zone": reports.clinic_time_zone()})


# --- Dispensing log -------------------------------------------------------------------------------

LOG_COLUMNS = [
    "entry_id",
    "occurred_at",
    "recorded_at",
    "kind",
    "location",
    "drug",
    "form",
    "ndc",
    "strength",
    "container",
    "lot_number",
    "lot_expires_on",
    "quantity_mg",
    "units",
    "unit",
    "balance_after_mg",
    "patient_name",
    "patient_mrn",
    "patient_address",
    "administered_or_recorded_by",
    "witness",
    "supplier",
    "reference",
    "reason",
    "link",
]


def _log_csv_rows(log: reports.DispensingLog) -> Iterator[list[object]]:
    for r in log.rows:
        yield [
            r.entry_id,
            r.occurred_at.isoformat(),
            r.recorded_at.isoformat(),
            r.kind.value,
            r.location,
            r.drug,
            r.form,
            r.ndc,
            r.strength,
            r.container,
            r.lot_number,
            r.expires_on.isoformat(),
            r.quantity_mg,
            r.units,
            r.unit,
            r.balance_after_mg,
            r.patient_name,
            r.patient_mrn,
            r.patient_address,
            r.by,
            r.witness,
            r.supplier,
            r.reference,
            r.reason,
            r.link,
        ]


@login_required
@refusals_as_plain_pages
def dispensing_log(request: HttpRequest, output: str = "page") -> HttpResponseBase:
    """The dispensing and administration log for a range of days (21 CFR 1304.22(c))."""
    assert output in OUTPUTS
    ctx = AuditContext.from_request(request)
    template = "ledger/reports/dispensing_log.html"
    require_ledger_report(ctx, "report.dispensing_log")  # refuse before saying what is wrong with the filters
    filters = DispensingLogFilters(request.GET)
    log = submitted(
        filters,
        lambda: reports.dispensing_log(
            ctx=ctx,
            date_from=filters.cleaned_data["from"],
            date_to=filters.cleaned_data["to"],
            output=output,
            max_rows=reports.PDF_MAX_ROWS if output == "pdf" else None,
        ),
    )
    if log is None:
        return _refused(request, output, template, filters, {})
    stem = f"kapclinic-dispensing-log-{log.date_from:%Y%m%d}-{log.date_to:%Y%m%d}"
    printed = "ledger/reports/dispensing_log_print.html"
    download = _download(request, output, stem, LOG_COLUMNS, _log_csv_rows(log), printed, {"log": log})
    if download is not None:
        return download
    page = Paginator(log.rows, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        template,
        {
            "log": log,
            "page": page,
            "params": {"from": log.date_from.isoformat(), "to": log.date_to.isoformat()},
            "querystring": query.urlencode(),
        },
    )


# --- Inventory ------------------------------------------------------------------------------------

INVENTORY_COLUMNS = [
    "as_of",
    "taken_at",
    "registrant",
    "dea_number",
    "location",
    "drug",
    "form",
    "strength",
    "ndc",
    "units_per_container",
    "unit",
    "lot_number",
    "lot_expires_on",
    "on_hand_mg",
    "on_hand_units",
    "full_containers",
    "opened_container_units",
]


def _inventory_csv_rows(report: reports.InventoryReport) -> Iterator[list[object]]:
    registrant = report.registration
    for ln in report.lines:
        yield [
            report.as_of.isoformat(),
            report.timing_label,
            registrant.registrant_name if registrant else "",
            registrant.dea_number if registrant else "",
            ln.location.name,
            ln.product.name,
            ln.product.form,
            reports.strength(ln.product),
            ln.product.ndc,
            ln.product.units_per_container,
            ln.product.unit,
            ln.lot.lot_number,
            ln.lot.expires_on.isoformat(),
            ln.mg,
            ln.units,
            ln.full_containers,
            ln.opened_units,
        ]


@login_required
@refusals_as_plain_pages
def inventory(request: HttpRequest, output: str = "page") -> HttpResponseBase:
    """What was on hand at a moment, per product, lot and location (21 CFR 1304.11)."""
    assert output in OUTPUTS
    ctx = AuditContext.from_request(request)
    template = "ledger/reports/inventory.html"
    context: dict[str, object] = {"timings": [(t.value, t.label) for t in reports.INVENTORY_TIMINGS]}
    require_ledger_report(ctx, "report.inventory")  # refuse before saying what is wrong with the filters
    filters = InventoryFilters(request.GET)
    day, at = request.GET.get("date", "").strip(), request.GET.get("time", "").strip()
    report = submitted(
        filters,
        lambda: reports.inventory_report(
            ctx=ctx,
            as_of=reports.parse_as_of(f"{day}T{at}" if at else day),
            timing=request.GET.get("timing", BusinessTime.CLOSE),
            output=output,
        ),
    )
    if report is None:
        return _refused(request, output, template, filters, context)
    stem = f"kapclinic-inventory-{report.as_of:%Y%m%d-%H%M}-{report.timing.value}"
    rows, printed = _inventory_csv_rows(report), "ledger/reports/inventory_print.html"
    download = _download(request, output, stem, INVENTORY_COLUMNS, rows, printed, {"report": report})
    if download is not None:
        return download
    params = {"date": day, "time": at, "timing": report.timing.value}
    # The downloads are pinned to the moment shown here, not to a later "now".
    pinned = params if day else {**params, "date": f"{report.as_of:%Y-%m-%d}", "time": f"{report.as_of:%H:%M:%S}"}
    return render(
        request,
        template,
        {
            "report": report,
            "params": params,
            "querystring": urlencode({k: v for k, v in pinned.items() if v}),
            **context,
        },
    )


# --- Reconciliation -------------------------------------------------------------------------------


def _reconciliation_columns() -> list[str]:
    return [
        "scope",
        "drug",
        "strength",
        "lot_number",
        "lot_expires_on",
        "location",
        *(f"{kind.value}_mg" for kind in reports.RECONCILIATION_KINDS),
        "sum_of_entries_mg",
        "recorded_balance_mg",
        "entries",
        "state",
        "problems",
        "expiry_warning",
    ]


def _reconciliation_csv_rows(report: reports.ReconciliationReport) -> Iterator[list[object]]:
    warnings = {(w.lot.pk, w.location.pk): w for w in report.expiry}
    for scope, lines in (("lot and location", report.lines), ("lot", report.lots)):
        for ln in lines:
            warning = warnings.get((ln.lot.pk, ln.location.pk)) if ln.location else None
            expiry = ""
            if warning is not None:
                expiry = "expired" if warning.expired else f"expires in {warning.expires_in_days} days"
            yield [
                scope,
                ln.lot.product.name,
                reports.strength(ln.lot.product),
                ln.lot.lot_number,
                ln.lot.expires_on.isoformat(),
                ln.location.name if ln.location else "all locations",
                *(ln.by_kind.get(kind) for kind in reports.RECONCILIATION_KINDS),
                ln.expected_mg,
                ln.recorded_mg,
                ln.entries,
                "balances" if ln.balanced else "MISMATCH",
                " | ".join(ln.problems),
                expiry,
            ]


@login_required
@refusals_as_plain_pages
def reconciliation(request: HttpRequest, output: str = "page") -> HttpResponseBase:
    """received - administered - wasted - destroyed - lost - returned +/- transfers = on hand, with expiry warnings."""
    assert output in OUTPUTS
    report = reports.reconciliation_report(ctx=AuditContext.from_request(request), output=output)
    stem = f"kapclinic-reconciliation-{report.generated_at:%Y%m%d-%H%M}"
    rows = _reconciliation_csv_rows(report)
    printed = "ledger/reports/reconciliation_print.html"
    download = _download(request, output, stem, _reconciliation_columns(), rows, printed, {"report": report})
    if download is not None:
        return download
    return render(request, "ledger/reports/reconciliation.html", {"report": report})

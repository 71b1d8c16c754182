"""Outcome pages: a clinician's open prompts, one prompt with its answer, a patient's outcome."""

from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe

from kapclinic.accounts.models import User
from kapclinic.accounts.web import current_user, querystring_without_page, refused_status, submitted
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.benchmarks import BENCHMARKS
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.csvsafe import csv_lines
from kapclinic.errors import AccessDenied, Conflict
from kapclinic.outcomes import reports, research, services
from kapclinic.outcomes.charts import cohort_rates_svg
from kapclinic.outcomes.cohorts import (
    FOLLOW_UP_MONTHS,
    CohortFigures,
    CohortFilter,
    Rate,
    cohorts_by,
    course_rows,
    figures,
)
from kapclinic.outcomes.completeness import POINTS, completeness, overdue_patients_page
from kapclinic.outcomes.courses import PRIMARY
from kapclinic.outcomes.forms import (
    GROUPINGS,
    CohortFilterForm,
    OverdueFilterForm,
    PromptActionForm,
    ReferrerReportForm,
)
from kapclinic.outcomes.selectors import open_prompts_page, patient_outcome, prompt_get
from kapclinic.patients.access import is_on_care_team
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.printing import printed_pdf_response
from kapclinic.roles import Action, Role, Scope, may, scope_for


@login_required
@refusals_as_pages
def prompts(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not may(user.role, Action.OUTCOME_VIEW):
        raise AccessDenied("Your role does not see outcome prompts.")
    page = open_prompts_page(ctx=AuditContext.from_request(request), page=request.GET.get("page"))
    return render(request, "outcomes/prompts.html", {"page": page, "querystring": querystring_without_page(request)})


@login_required
@refusals_as_pages
def prompt(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """The prompt with its evidence; the care team answers it here (POST)."""
    ctx = AuditContext.from_request(request)
    form = PromptActionForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        call = lambda: services.prompt_act(  # noqa: E731 - the service call the form runs when valid
            ctx=ctx, prompt_id=prompt_id, choice=form.cleaned_data["choice"], reason=form.cleaned_data["reason"]
        )
        if submitted(form, call) is not None:
            messages.success(request, "Your answer is on the record; the prompt is cleared.")
            return redirect("outcomes:prompt", prompt_id=prompt_id)
        status = refused_status(form)
    found = prompt_get(ctx=ctx, prompt_id=prompt_id)
    user = current_user(request)
    scope = scope_for(user.role, Action.OUTCOME_PROMPT_ACT)
    can_act = found.is_open and (
        scope is Scope.ALL or (scope is Scope.TEAM and is_on_care_team(user_id=user.pk, patient_id=found.patient_id))
    )
    return render(
        request,
        "outcomes/prompt.html",
        {"prompt": found, "patient": found.patient, "form": form, "can_act": can_act},
        status=status,
    )


@login_required
@refusals_as_pages
def patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    status = patient_outcome(ctx=AuditContext.from_request(request), patient_id=patient_id)
    return render(request, "outcomes/patient.html", {"status": status, "patient": status.patient})


def _clinicians() -> list[tuple[int, str]]:
    return [
        (user.pk, user.display_name)
        for user in User.objects.filter(role__in=[Role.PRESCRIBER, Role.THERAPIST], is_active=True).order_by(
            "last_name", "first_name", "pk"
        )
    ]


def _filter_form(request: HttpRequest) -> CohortFilterForm:
    return CohortFilterForm(request.GET or None, clinicians=_clinicians())


def _cohorts(request: HttpRequest) -> tuple[CohortFilterForm, CohortFigures | None, list[CohortFigures], str]:
    """The filter form and, when it is valid, the overall figures and the cohorts (audited in course_rows)."""
    user = current_user(request)
    if not may(user.role, Action.OUTCOME_COHORTS):
        course_rows(ctx=AuditContext.from_request(request), where=CohortFilter())  # refuses and audits
    form = _filter_form(request)
    if request.GET and not form.is_valid():
        return form, None, [], "month"
    data = form.cleaned_data if request.GET else {}
    group = data.get("group") or "month"
    where = CohortFilter(
        start_from=data.get("start_from"),
        start_to=data.get("start_to"),
        route=data.get("route") or "",
        indication=(data.get("indication") or "").strip().upper(),
        clinician=data.get("clinician"),
        instrument=data.get("instrument") or PRIMARY,
    )
    rows = course_rows(ctx=AuditContext.from_request(request), where=where)
    groups = cohorts_by(rows, group)
    if group == "prescriber":
        names = dict(form.fields["clinician"].choices)  # type: ignore[attr-defined]
        groups = [
            replace(g, label=str(names.get(int(g.label), "not signed")) if g.label else "not signed") for g in groups
        ]
    return form, figures("Every course", rows), groups, group


@login_required
@refusals_as_pages
def dashboard(request: HttpRequest) -> HttpResponse:
    """The clinic's outcomes by cohort beside the published benchmarks (director; a prescriber: own patients)."""
    form, overall, groups, group = _cohorts(request)
    instrument_name = INSTRUMENTS[(request.GET and overall and form.cleaned_data.get("instrument")) or PRIMARY].name
    return render(
        request,
        "outcomes/dashboard.html",
        {
            "form": form,
            "overall": overall,
            "groups": groups,
            "group_label": dict(GROUPINGS)[group],
            "instrument_name": INSTRUMENTS[
                (request.GET and overall and form.cleaned_data.get("instrument")) or PRIMARY
            ].name,
            "benchmarks": BENCHMARKS,
            "querystring": request.GET.urlencode(),
            "can_export": may(current_user(request).role, Action.OUTCOME_RESEARCH_EXPORT),
            "chart": mark_safe(cohort_rates_svg(groups, instrument_name)),  # noqa: S308 - our own SVG, escaped
        },
        status=200 if overall is not None else 422,
    )


CSV_COLUMNS = (
    "cohort",
    "started",
    "with_baseline",
    "with_end_of_course",
    "completers",
    "not_evaluable",
    *(
        f"{what}_{population}_{part}"
        for population in ("all_started", "completers")
        for what in ("response", "remission", "worsened")
        for part in ("count", "percent", "ci95_low", "ci95_high")
    ),
    "median_days_to_response",
    *(f"still_responding_{months}m_{part}" for months in FOLLOW_UP_MONTHS for part in ("count", "of")),
    "relapsed_count",
    "relapsed_of_responders",
)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _rate_cells(rate: Rate) -> list[object]:
    interval = rate.interval
    return [
        rate.count,
        _percent(rate.share),
        _percent(interval[0] if interval else None),
        _percent(interval[1] if interval else None),
    ]


def _csv_row(found: CohortFigures) -> list[object]:
    return [
        found.label,
        found.started,
        found.with_baseline,
        found.with_end,
        found.completers,
        found.not_evaluable,
        *_rate_cells(found.response_all),
        *_rate_cells(found.remission_all),
        *_rate_cells(found.worsened_all),
        *_rate_cells(found.response_completers),
        *_rate_cells(found.remission_completers),
        *_rate_cells(found.worsened_completers),
        "" if found.median_days_to_response is None else found.median_days_to_response,
        *(
            cell
            for months in FOLLOW_UP_MONTHS
            for cell in (found.durability[months].count, found.durability[months].of)
        ),
        found.relapsed.count,
        found.relapsed.of,
    ]


@login_required
@refusals_as_pages
def dashboard_csv(request: HttpRequest) -> HttpResponse:
    """The dashboard's figures as CSV: the overall row, then one per cohort (PHQ-9; percentages to one decimal)."""
    form, overall, groups, _ = _cohorts(request)
    if overall is None:
        return HttpResponse(
            " ".join(str(m) for errors in form.errors.values() for m in errors), status=422, content_type="text/plain"
        )
    body = "".join(csv_lines(CSV_COLUMNS, (_csv_row(found) for found in [overall, *groups])))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="outcome-cohorts.csv"'
    return response


@login_required
@refusals_as_pages
def completeness_page(request: HttpRequest) -> HttpResponse:
    """The share of scheduled measures answered on time, by schedule point and by clinician (issue 19 item 4)."""
    report = completeness(ctx=AuditContext.from_request(request))
    return render(request, "outcomes/completeness.html", {"report": report})


@login_required
@refusals_as_pages
def overdue(request: HttpRequest) -> HttpResponse:
    """The patients whose measures are overdue, a click from the completeness figures; each links to the chart."""
    ctx = AuditContext.from_request(request)
    form = OverdueFilterForm(request.GET or None, clinicians=_clinicians(), points=[*POINTS, "Other"])
    if request.GET and not form.is_valid():
        completeness(ctx=ctx)  # refuses a role that sees no figures (audited) before saying what is wrong
        return render(request, "outcomes/overdue.html", {"form": form, "page": None}, status=422)
    data = form.cleaned_data if request.GET else {}
    page = overdue_patients_page(
        ctx=ctx, clinician=data.get("clinician"), point=data.get("point") or "", page=request.GET.get("page")
    )
    return render(
        request, "outcomes/overdue.html", {"form": form, "page": page, "querystring": querystring_without_page(request)}
    )


@login_required
@refusals_as_pages
def report(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The referrer's report as it reads now, the prescriber's form to sign it (POST), and the reports signed."""
    ctx = AuditContext.from_request(request)
    form = ReferrerReportForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        call = lambda: reports.referrer_report_sign(  # noqa: E731 - the service call the form runs when valid
            ctx=ctx,
            patient_id=patient_id,
            addressed_to=form.cleaned_data["addressed_to"],
            plan_ahead=form.cleaned_data["plan_ahead"],
        )
        signed = submitted(form, call)
        if signed is not None:
            messages.success(request, "The report is signed and kept; download it below.")
            return redirect("outcomes:report", patient_id=patient_id)
        status = refused_status(form)
    try:
        patient, content = reports.report_preview(ctx=ctx, patient_id=patient_id)
    except Conflict as exc:
        return render(request, "print/not_printable.html", {"message": exc.message}, status=409)
    user = current_user(request)
    return render(
        request,
        "outcomes/report.html",
        {
            "patient": patient,
            "content": content,
            "instruments": reports.report_instruments(content, tz=timezone.get_current_timezone()),
            "form": form,
            "can_sign": scope_for(user.role, Action.OUTCOME_REPORT_SIGN) is not Scope.NONE
            and is_on_care_team(user_id=user.pk, patient_id=patient_id),
            "signed": reports.reports_of(patient_id),
        },
        status=status,
    )


@login_required
@refusals_as_pages
def report_pdf(request: HttpRequest, report_id: int) -> HttpResponse:
    """A signed report as a one-page PDF, drawn from the kept row (audited as a print)."""
    ctx = AuditContext.from_request(request)
    found = reports.referrer_report_get(ctx=ctx, report_id=report_id)
    return printed_pdf_response(
        request,
        ctx=ctx,
        patient=found.patient,
        what="progress_report",
        record_id=found.pk,
        title="Progress report for the referring clinician",
        template="outcomes/report_print.html",
        context={
            "report": found,
            "instruments": reports.report_instruments(found.content, tz=timezone.get_current_timezone()),
        },
    )


@login_required
@refusals_as_pages
def research_csv(request: HttpRequest) -> HttpResponse:
    """The de-identified research export (director only; audited): the method in its header lines, then the rows."""
    rows = list(research.research_rows(ctx=AuditContext.from_request(request)))
    body = "".join(f"# {line}\n" for line in research.HEADER) + "".join(csv_lines(research.COLUMNS, rows))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="outcomes-deidentified.csv"'
    response["Cache-Control"] = "no-store"
    return response

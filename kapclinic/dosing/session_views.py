"""The dosing-session screen (nurse, prescriber, therapist), its steps, today's board and live alerts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import current_user, forbidden, not_found
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many
from kapclinic.clinical.monitoring import next_reading_due
from kapclinic.dosing import session_services as steps
from kapclinic.dosing.charts import ChartThreshold, VitalPoint, vitals_summary, vitals_svg
from kapclinic.dosing.courses import order_indication
from kapclinic.dosing.models import (
    SIDE_EFFECTS,
    Administration,
    DosingSession,
    EsketamineIndication,
    PregnancyTest,
    RemsEnrollment,
    Route,
    SessionEventKind,
    SessionState,
)
from kapclinic.dosing.selectors import SessionRecord, open_alerts_for, rems_form_context, session_get, sessions_on
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.inventory.models import LedgerEntry, Lot, Product, StorageLocation
from kapclinic.inventory.services import WitnessCredentials
from kapclinic.patients.access import patient_get_for_user
from kapclinic.pdf import pdf_response
from kapclinic.policy import monitoring_policy
from kapclinic.roles import Action, Role, may


def _thresholds(*, before_dose: bool) -> list[ChartThreshold]:
    """The lines the readings are judged by (monitoring.md section 3): before the dose the pre-dose column's hold
    and do-not-dose limits, so a held session's chart shows why it was held; after it the intra/post-dose alerts."""
    policy = monitoring_policy()
    if before_dose:
        hold = "pre-dose hold line"
        return [
            ChartThreshold(
                f"Hold ≥ {policy.predose_systolic_hold}", float(policy.predose_systolic_hold), "bp", None, hold
            ),
            ChartThreshold(
                f"Do not dose ≥ {policy.predose_systolic_do_not_dose}",
                float(policy.predose_systolic_do_not_dose),
                "bp",
                None,
                "do-not-dose line",
            ),
            ChartThreshold(
                f"Diastolic hold ≥ {policy.predose_diastolic_hold}",
                float(policy.predose_diastolic_hold),
                "diastolic",
                None,
                hold,
            ),
            ChartThreshold(
                f"SpO₂ review < {policy.predose_spo2_low}", float(policy.predose_spo2_low), "spo2", None, "review line"
            ),
        ]
    return [
        ChartThreshold(f"Systolic alert > {policy.alert_systolic}", float(policy.alert_systolic), "bp"),
        ChartThreshold(f"Diastolic alert > {policy.alert_diastolic}", float(policy.alert_diastolic), "diastolic"),
        ChartThreshold(f"SpO₂ alert < {policy.alert_spo2_low}", float(policy.alert_spo2_low), "spo2"),
    ]


def _chart(record: SessionRecord) -> tuple[str, str]:
    points = [VitalPoint(v.measured_at, v.systolic, v.diastolic, v.heart_rate, v.spo2) for v in record.vitals]
    dose_at = record.administration.started_at if record.administration else None
    tz = timezone.get_current_timezone()
    thresholds = _thresholds(before_dose=record.administration is None)
    svg = vitals_svg(points, thresholds, dose_at=dose_at, tz=tz, id_prefix=f"s{record.session.pk}")
    return svg, vitals_summary(points, thresholds, tz=tz, dose_at=dose_at)


def _next_reading_due(record: SessionRecord) -> datetime | None:
    if record.administration is None or record.session.state not in (
        SessionState.DOSING,
        SessionState.MONITORING,
        SessionState.RECOVERY,
    ):
        return None
    start = record.administration.started_at
    taken = [v.measured_at for v in record.vitals if not v.predose]
    last = max(taken) if taken else start
    after = int((last - start).total_seconds() // 60)
    return start + timedelta(minutes=next_reading_due(record.session.plan.route, after, policy=monitoring_policy()))


def _fasting_minutes(route: str) -> dict[str, str]:
    """The route's fasting limits in words for the check-in hints ("2 hours", "30 minutes")."""
    policy = monitoring_policy()
    kind = "intranasal" if route == Route.INTRANASAL else "ketamine"

    def words(minutes: int) -> str:
        if minutes % 60:
            return f"{minutes} minutes"
        return "1 hour" if minutes == 60 else f"{minutes // 60} hours"

    return {
        "fasting_food_minutes": words(getattr(policy, f"fasting_food_minutes_{kind}")),
        "fasting_liquid_minutes": words(getattr(policy, f"fasting_liquid_minutes_{kind}")),
    }


@login_required
def session_page(
    request: HttpRequest,
    session_id: int,
    *,
    refused: tuple[str, dict[str, list[str]]] | None = None,
) -> HttpResponse:
    """The session screen; `refused` (the step and its errors by form field) shows a refused step's form again with
    each error next to its field and what was typed kept (issue 13, bad input)."""
    user = current_user(request)
    try:
        record = session_get(ctx=AuditContext.from_request(request), session_id=session_id)
    except NotFound as exc:
        return not_found(request, exc.message)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    session = record.session
    svg, summary = _chart(record)
    order = record.order
    products = list(Product.objects.filter(active=True).order_by("name")) if may(user.role, Action.DOSE_ORDER) else []
    lots = (
        list(
            Lot.objects.filter(product_id=order.product_id, expires_on__gte=timezone.localdate()).order_by("expires_on")
        )
        if order
        else []
    )
    lot_default, location_default = _administration_defaults(session, order.product_id, lots) if order else (None, None)
    next_due = _next_reading_due(record)
    preview = None
    # The dose order form comes with the dose it signs: worked out from the product chosen with Calculate, or from
    # the one posted when the order was refused (so the form is shown again with what was typed).
    order_choice = request.POST if refused and refused[0] == "order" else request.GET
    product_id = order_choice.get("product")
    # Esketamine plans written before the indication was asked: the first order asks for it.
    indication_known = order_indication(session.plan) if session.plan.route == Route.INTRANASAL else ""
    indication = indication_known or order_choice.get("indication", "")
    if session.state == SessionState.CLEARED and product_id and product_id.isdigit():
        product = Product.objects.filter(pk=int(product_id)).first()
        if product is not None:
            try:
                preview = steps.dose_calculate(
                    session, product, escalate=order_choice.get("escalate") == "1", indication=indication
                )
            except ValueError as exc:
                if not refused:  # a refused order has said it already, next to the dose
                    messages.error(request, str(exc))
    return render(
        request,
        "dosing/session.html",
        {
            "record": record,
            "session": session,
            "patient": session.patient,
            "plan": session.plan,
            "chart_svg": svg,
            "chart_summary": summary,
            "can_run": may(user.role, Action.SESSION_RUN),
            "can_order": may(user.role, Action.DOSE_ORDER),
            "can_ack": may(user.role, Action.ALERT_ACKNOWLEDGE),
            "pregnancy_applies": steps.pregnancy_test_applies(session),
            "pregnancy_choices": PregnancyTest.choices,
            "products": products,
            "lots": lots,
            "locations": StorageLocation.objects.filter(active=True).order_by("name"),
            "lot_default": lot_default,
            "location_default": location_default,
            "preview": preview,
            "order_choice": order_choice,
            "side_effects": SIDE_EFFECTS,
            "event_kinds": SessionEventKind.choices,
            "next_due": next_due,
            # Overdue is said in words and marked with an icon, not by colour alone.
            "next_due_late_minutes": int((timezone.now() - next_due).total_seconds() // 60)
            if next_due is not None and next_due < timezone.now()
            else None,
            "refused_step": refused[0] if refused else "",
            "posted": request.POST if refused else {},
            "field_errors": refused[1] if refused else {},
            "is_iv": session.plan.route == Route.IV,
            "is_spravato": session.plan.route == Route.INTRANASAL,
            **_fasting_minutes(session.plan.route),
            "asks_indication": session.plan.route == Route.INTRANASAL and not indication_known,
            "indication": indication,
            "indication_choices": EsketamineIndication.choices,
            "states": SessionState,
            "poll_seconds": settings.KAPCLINIC_ALERT_POLL_SECONDS,
            "can_write_notes": may(user.role, Action.NOTE_WRITE),
            "can_report_adverse": may(user.role, Action.ADVERSE_EVENT_RECORD),
            "rems_enrollment": RemsEnrollment.objects.filter(patient_id=session.patient_id).first()
            if session.plan.route == Route.INTRANASAL
            else None,
        },
        status=422 if refused else 200,
    )


@login_required
def session_alerts(request: HttpRequest, session_id: int) -> HttpResponse:
    """The session's alert panel (htmx polls it, so a device's reading shows without a reload)."""
    user = current_user(request)
    try:
        record = session_get(ctx=AuditContext.from_request(request), session_id=session_id)
    except (NotFound, AccessDenied):
        return HttpResponse(status=404)
    return render(
        request,
        "dosing/_session_alerts.html",
        {
            "record": record,
            "session": record.session,
            "can_ack": may(user.role, Action.ALERT_ACKNOWLEDGE),
            "poll_seconds": settings.KAPCLINIC_ALERT_POLL_SECONDS,
        },
    )


@login_required
def my_alerts(request: HttpRequest) -> HttpResponse:
    """Open alerts of the user's patients, for the prescriber's and nurse's home page (polled)."""
    user = current_user(request)
    alerts = open_alerts_for(user)
    # The list names patients: each one shown is an audited read (also when the page polls it).
    access_events_record_many(
        ctx=AuditContext.from_request(request),
        action="dosing.alerts.view",
        patient_ids=sorted({a.session.patient_id for a in alerts}),
    )
    return render(
        request, "dosing/_open_alerts.html", {"alerts": alerts, "poll_seconds": settings.KAPCLINIC_ALERT_POLL_SECONDS}
    )


@login_required
def board(request: HttpRequest) -> HttpResponse:
    """Today's board: every session of the day, its state, open alerts and room (nurses and prescribers)."""
    user = current_user(request)
    if user.role == Role.PATIENT or not may(user.role, Action.SESSION_VIEW):
        return forbidden(request, "Your role does not see the dosing board.")
    try:
        day = parse_date(request.GET.get("date", "")) or timezone.localdate()
    except ValueError:  # a well-formed but impossible date, e.g. 2024-13-45
        day = timezone.localdate()
    rows = sessions_on(day, ctx=AuditContext.from_request(request))
    template = "dosing/_board_rows.html" if request.htmx else "dosing/board.html"  # type: ignore[attr-defined]
    return render(
        request, template, {"sessions": rows, "day": day, "poll_seconds": settings.KAPCLINIC_ALERT_POLL_SECONDS}
    )


def _dec(value: str | None, field: str) -> Decimal:
    try:
        number = Decimal((value or "").strip())
    except InvalidOperation:
        raise ValidationError({field: "Enter a number."}) from None
    if not number.is_finite():
        raise ValidationError({field: "Enter a number."})
    return number


def _int_or_none(value: str | None, field: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError({field: "Enter a whole number."}) from None


def _when(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({field: "Enter a date and time."})
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def _yes_no(value: str | None) -> bool | None:
    """A yes/no question's answer; anything else is not answered."""
    return {"yes": True, "no": False}.get(value or "")


def _version(request: HttpRequest) -> int | None:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None


STEP_DONE = {
    "check-in": "Checked in. Enter the pre-dose vitals.",
    "vitals": "Reading saved.",
    "override": "Hold overridden; the session is cleared to dose.",
    "order": "Dose order signed.",
    "administer": "Administration recorded; the ledger entries are written.",
    "advance": "Session moved on.",
    "event": "Recorded.",
    "acknowledge": "Alert acknowledged.",
    "discharge": "Patient discharged.",
    "stop": "Session stopped.",
    "sign": "Session record signed.",
    "rems": "REMS form marked submitted.",
    "adverse-event": "Adverse event recorded; the director will see it on the dashboard.",
    "rems-enrollment": "REMS enrollment recorded.",
}


def _step(request: HttpRequest, session_id: int, name: str) -> Any:
    ctx = AuditContext.from_request(request)
    post = request.POST
    version = _version(request)
    calls: dict[str, Callable[[], Any]] = {
        "check-in": lambda: steps.session_check_in(
            ctx=ctx,
            session_id=session_id,
            identity_confirmed=post.get("identity_confirmed") == "on",
            checklist_confirmed=post.get("checklist_confirmed") == "on",
            checklist_note=post.get("checklist_note", ""),
            pregnancy_test=post.get("pregnancy_test", ""),
            weight_kg=_dec(post.get("weight_kg"), "weight_kg"),
            last_food_at=_when(post.get("last_food_at"), "last_food_at"),
            last_liquid_at=_when(post.get("last_liquid_at"), "last_liquid_at"),
            escort_confirmed=_yes_no(post.get("escort_confirmed")),
            substances_today=_yes_no(post.get("substances_today")),
            substances_note=post.get("substances_note", ""),
            version=version,
        ),
        "vitals": lambda: steps.vital_record(
            ctx=ctx,
            session_id=session_id,
            values={k: _int_or_none(post.get(k), k) for k in steps.READING_FIELDS if post.get(k, "").strip()},
            measured_at=_when(post.get("measured_at"), "measured_at"),
            version=version,
        ),
        "override": lambda: steps.clearance_override(
            ctx=ctx, session_id=session_id, reason=post.get("reason", ""), version=version
        ),
        "order": lambda: steps.dose_order_sign(
            ctx=ctx,
            session_id=session_id,
            product_id=_int_or_none(post.get("product"), "product") or 0,
            escalate=post.get("escalate") == "1",
            override_reason=post.get("override_reason", ""),
            indication=post.get("indication", ""),
            infusion_minutes=_int_or_none(post.get("infusion_minutes"), "infusion_minutes"),
            version=version,
        ),
        "administer": lambda: steps.administration_record(
            ctx=ctx,
            session_id=session_id,
            lot_id=_int_or_none(post.get("lot"), "lot") or 0,
            location_id=_int_or_none(post.get("location"), "location") or 0,
            started_at=_when(post.get("started_at"), "started_at") or timezone.now(),
            ended_at=_when(post.get("ended_at"), "ended_at"),
            infusion_rate_ml_per_h=_dec(post.get("infusion_rate"), "infusion_rate")
            if post.get("infusion_rate")
            else None,
            short_infusion_reason=post.get("short_infusion_reason", ""),
            drawn=_dec(post.get("drawn"), "drawn"),
            given=_dec(post.get("given"), "given"),
            witness=WitnessCredentials(post.get("witness_username", ""), post.get("witness_password", ""))
            if post.get("witness_username")
            else None,
            version=version,
        ),
        "advance": lambda: steps.session_advance(
            ctx=ctx,
            session_id=session_id,
            to=post.get("to", ""),
            at=_when(post.get("at"), "at"),
            reason=post.get("reason", ""),
            version=version,
        ),
        "event": lambda: steps.event_record(
            ctx=ctx,
            session_id=session_id,
            kind=post.get("kind", ""),
            code=post.get("code", ""),
            severity=post.get("severity", ""),
            value=post.get("value", ""),
            note=post.get("note", ""),
            occurred_at=_when(post.get("occurred_at"), "occurred_at"),
        ),
        "acknowledge": lambda: steps.alert_acknowledge(
            ctx=ctx, alert_id=_int_or_none(post.get("alert"), "alert") or 0, action_taken=post.get("action_taken", "")
        ),
        "discharge": lambda: steps.session_discharge(
            ctx=ctx,
            session_id=session_id,
            answers={
                "moaas": _int_or_none(post.get("moaas"), "moaas"),
                **{k: post.get(k) == "on" for k in DISCHARGE_ANSWERS},
                "new_suicidal_ideation": _yes_no(post.get("new_suicidal_ideation")),
            },
            driver_name=post.get("driver_name", ""),
            override_reason=post.get("override_reason", ""),
            version=version,
        ),
        "stop": lambda: steps.session_stop(
            ctx=ctx,
            session_id=session_id,
            outcome=post.get("outcome", ""),
            reason=post.get("reason", ""),
            version=version,
        ),
        "sign": lambda: steps.session_sign(ctx=ctx, session_id=session_id, version=version),
        "rems": lambda: steps.rems_submit(ctx=ctx, session_id=session_id, reference=post.get("reference", "")),
        "adverse-event": lambda: steps.adverse_event_record(
            ctx=ctx,
            patient_id=_session_patient(session_id),
            session_id=session_id,
            what=post.get("what", ""),
            severity=post.get("severity", ""),
            serious=post.get("serious") == "on",
            action=post.get("action", ""),
            outcome=post.get("outcome", ""),
            occurred_at=_when(post.get("occurred_at"), "occurred_at") or timezone.now(),
        ),
        "rems-enrollment": lambda: steps.rems_enrollment_record(
            ctx=ctx,
            patient_id=_session_patient(session_id),
            enrolled_on=_date(post.get("enrolled_on", "")),
            reference=post.get("reference", ""),
        ),
    }
    return calls[name]()


def _session_patient(session_id: int) -> int:
    patient_id = DosingSession.objects.filter(pk=session_id).values_list("patient_id", flat=True).first()
    if patient_id is None:
        raise NotFound("No such dosing session.")
    return patient_id


def _date(value: str) -> date:
    try:
        day = parse_date(value)
    except ValueError:
        day = None
    if day is None:
        raise ValidationError({"enrolled_on": "Enter the enrollment date."})
    return day


DISCHARGE_ANSWERS = ("oriented", "walks_steadily", "nausea_controlled", "escort_present")


# The steps whose form is shown again, with what was typed, when a value is refused, each with the action it needs
# on the patient (checked first); and the form field of each service field whose name differs.
SHOWN_AGAIN = {
    "check-in": Action.SESSION_RUN,
    "order": Action.DOSE_ORDER,
    "administer": Action.SESSION_RUN,
    "vitals": Action.SESSION_RUN,
    "discharge": Action.SESSION_RUN,
}
_FORM_FIELD = {"infusion_rate_ml_per_h": "infusion_rate", "witness": "witness_username"}


def _form_fields(exc: ValidationError) -> dict[str, list[str]]:
    """The refusal's messages by form field; empty when it names no field (a state refusal: the page says it)."""
    if not hasattr(exc, "error_dict"):
        return {}
    fields = {_FORM_FIELD.get(name, name): list(messages) for name, messages in exc.message_dict.items()}
    return {} if set(fields) <= {"session", NON_FIELD_ERRORS} else fields


def _administration_defaults(session: DosingSession, product_id: int, lots: list[Lot]) -> tuple[int | None, int | None]:
    """The lot and location the administration form starts with: where this room drew the product last, else
    where most of it is in stock (never the first name on the list, e.g. the crash cart); the earliest-expiring lot
    with stock there."""
    stock: dict[int, dict[int, Decimal]] = {}
    for row in (
        LedgerEntry.objects.filter(lot__in=lots, location__active=True)
        .values("lot_id", "location_id")
        .annotate(mg=Sum("quantity_mg"))
    ):
        if row["mg"] and row["mg"] > 0:
            stock.setdefault(row["location_id"], {})[row["lot_id"]] = row["mg"]
    if not stock:
        return (lots[0].pk if lots else None), None
    room_used = (
        Administration.objects.filter(session__room=session.room, lot__product_id=product_id)
        .exclude(session=session)
        .order_by("-at")
        .values_list("location_id", flat=True)
        .first()
        if session.room
        else None
    )
    location = room_used if room_used in stock else max(stock, key=lambda pk: sum(stock[pk].values()))
    lot = next(lot.pk for lot in lots if lot.pk in stock[location])  # lots come earliest-expiring first
    return lot, location


@login_required
@require_POST
def session_step(request: HttpRequest, session_id: int, step: str) -> HttpResponse:
    if step not in STEP_DONE:
        return not_found(request, "No such step.")
    try:
        if step in SHOWN_AGAIN:
            # A refused value shows the form again: only to someone who may run this step on this patient, so
            # the access check comes before the values are read (and a refusal is audited as such).
            patient_get_for_user(
                ctx=AuditContext.from_request(request),
                patient_id=_session_patient(session_id),
                action=SHOWN_AGAIN[step],
                record_allowed=False,
            )
        result = _step(request, session_id, step)
    except NotFound as exc:
        return not_found(request, exc.message)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        fields = _form_fields(exc)
        if step in SHOWN_AGAIN and fields:
            return session_page(request, session_id, refused=(step, fields))
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        text = STEP_DONE[step]
        if step == "vitals":
            _vital, alerts, clearance = result
            if alerts:
                text = "Reading saved. ALERT: " + " ".join(a.message for a in alerts)
            elif clearance is not None:
                text = f"Reading saved. Clearance: {clearance.status.replace('_', ' ')}."
        (messages.warning if step == "vitals" and "ALERT" in text else messages.success)(request, text)
    if request.htmx and step == "acknowledge":  # type: ignore[attr-defined]
        return session_alerts(request, session_id)
    return redirect(f"/dosing/sessions/{session_id}/#{request.POST.get('anchor', 'top')}")


@login_required
def rems_pdf(request: HttpRequest, session_id: int) -> HttpResponse:
    """The Spravato REMS patient monitoring form, filled from the session record (nobody re-types it)."""
    try:
        record = session_get(ctx=AuditContext.from_request(request), session_id=session_id)
    except NotFound as exc:
        return not_found(request, exc.message)
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    if record.session.plan.route != Route.INTRANASAL:
        return not_found(request, "Only esketamine sessions have a REMS monitoring form.")
    return pdf_response(
        request,
        "dosing/rems_print.html",
        rems_form_context(record),
        filename=f"rems-monitoring-{record.session.patient.mrn}-{record.session.number}.pdf",
    )


@login_required
@require_POST
def adverse_review(request: HttpRequest, event_id: int) -> HttpResponse:
    """The director marks an adverse event reviewed (it then leaves the dashboard)."""
    try:
        steps.adverse_event_review(
            ctx=AuditContext.from_request(request), event_id=event_id, note=request.POST.get("note", "")
        )
    except AccessDenied as exc:
        return forbidden(request, exc.message)
    except NotFound as exc:
        return not_found(request, exc.message)
    except (ValidationError, Conflict) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, "The adverse event is marked reviewed.")
    return redirect("home:home")

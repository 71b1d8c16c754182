"""The dosing-session screen (nurse, prescriber, therapist), its steps, today's board and live alerts."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from kapclinic.accounts.middleware import POLL_HEADER
from kapclinic.accounts.models import User
from kapclinic.accounts.routes import SESSION_STEPS
from kapclinic.accounts.web import current_user, forbidden, not_found, refused_status, submitted
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many
from kapclinic.clinical.infusion import STANDARD_MINUTES
from kapclinic.clinical.monitoring import next_reading_due
from kapclinic.clinical.session_states import AFTER_DOSE, BEFORE_DOSE, Step, refusal
from kapclinic.dosing import session_services as steps
from kapclinic.dosing.charts import ChartThreshold, VitalPoint, vitals_summary, vitals_svg
from kapclinic.dosing.courses import order_indication
from kapclinic.dosing.forms import (
    AcknowledgeForm,
    AdministrationForm,
    AdvanceForm,
    AdverseEventForm,
    AdverseReviewForm,
    CheckInForm,
    DischargeForm,
    DoseOrderForm,
    EventForm,
    OverrideForm,
    RemsEnrollmentForm,
    RemsSubmissionForm,
    SignForm,
    StepForm,
    StopForm,
    VitalsForm,
)
from kapclinic.dosing.models import (
    SIDE_EFFECTS,
    Administration,
    DoseOrder,
    DosingSession,
    EsketamineIndication,
    MonitoringAlert,
    PregnancyTest,
    RemsEnrollment,
    Route,
    SessionEventKind,
    SessionState,
)
from kapclinic.dosing.selectors import (
    SessionRecord,
    open_alerts_for,
    open_alerts_newest,
    rems_form_context,
    session_alerts_shown,
    session_get,
    session_head,
    sessions_of_day,
)
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.ledger.models import LedgerEntry, Lot, Product, StorageLocation
from kapclinic.ledger.services import WitnessCredentials
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.fragments import cached_part_with, fragment_key
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.printing import printed_pdf_response
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
    if record.administration is None or record.session.state not in AFTER_DOSE:
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


# Where the body kept in the cache has the "next vitals due" line, drawn anew on every request: how long overdue
# the reading is changes with the clock, not with the record.
NEXT_DUE_STAND_IN = SafeString("<!--kapclinic:next-due-->")


@login_required
@refusals_as_pages
def session_page(request: HttpRequest, session_id: int, *, refused: tuple[str, StepForm] | None = None) -> HttpResponse:
    """The session screen; `refused` (the step and its bound form) shows a refused step's form again with each
    error next to its field and what was typed kept (issue 13, bad input; issue 14, one write-view pattern).

    The body is drawn once per version of the patient's record for each user and kept (patients/fragments.py, as
    the chart: every table it shows moves the version, chart/record_version.py), so a new reading, alert or step is
    on the next page; the read is checked and audited on every request, and the due line is drawn anew each time.
    Never kept: a refused step's form as posted; the dose section (shown while CLEARED: its products, lots and stock
    change with the ledger, which moves no patient's version); anything under emergency access."""
    user = current_user(request)
    ctx = AuditContext.from_request(request)
    head = session_head(session_id)
    access = patient_get_for_user(ctx=ctx, patient_id=head.patient_id, action=Action.SESSION_VIEW)

    def draw(csrf_token: str | None) -> tuple[str, datetime | None]:
        record = session_get(ctx=ctx, session_id=session_id, access=access)
        # With the access, the banner says so under emergency access (chart/templatetags/patient_tags.py).
        context = {**_session_context(request, user, record, refused), "access": access}
        if csrf_token is not None:
            context["csrf_token"] = csrf_token
        return render_to_string("dosing/_session_body.html", context, request=request), _next_reading_due(record)

    if refused is not None or head.state == SessionState.CLEARED or access.emergency is not None:
        body, next_due = draw(None)
    else:
        # What the page shows differs by user (the therapy notes on the session), so the part is the user's.
        key = fragment_key("session", request, access.patient, user.pk, user.role)
        body, next_due = cached_part_with(request, key, draw)
    return render(
        request,
        "dosing/session.html",
        {
            "session": head,
            "patient": access.patient,
            "session_body": SafeString(body.replace(NEXT_DUE_STAND_IN, _next_due_line(next_due))),
        },
        status=refused_status(refused[1]) if refused else 200,
    )


def _next_due_line(next_due: datetime | None) -> str:
    """The "next vitals due" line as of now: overdue is said in words and marked with an icon, not by colour alone."""
    if next_due is None:
        return ""
    now = timezone.now()
    late = int((now - next_due).total_seconds() // 60) if next_due < now else None
    return render_to_string("dosing/_next_due.html", {"next_due": next_due, "next_due_late_minutes": late})


def _session_context(
    request: HttpRequest, user: User, record: SessionRecord, refused: tuple[str, StepForm] | None
) -> dict[str, Any]:
    """What the session body shows, read for the record as it is now."""
    session = record.session
    svg, summary = _chart(record)
    order = record.order
    # The dose section, with the product list (before the order) and the administration form with its lots and
    # defaults (after it), shows only while the state allows the order: not read for a session past it.
    dose_section = refusal(session.state, Step.ORDER_DOSE) is None
    products = (
        list(Product.objects.filter(active=True).order_by("name"))
        if dose_section and order is None and may(user.role, Action.DOSE_ORDER)
        else []
    )
    administer_form = dose_section and order is not None and may(user.role, Action.SESSION_RUN)
    lots = (
        list(
            Lot.objects.filter(product_id=order.product_id, expires_on__gte=timezone.localdate()).order_by("expires_on")
        )
        if order and administer_form
        else []
    )
    lot_default, location_default = (
        _administration_defaults(session, order.product_id, lots) if order and administer_form else (None, None)
    )
    preview = None
    # The dose order form comes with the dose it signs: worked out from the product chosen with Calculate, or from
    # the one posted when the order was refused (so the form is shown again with what was typed).
    order_choice = refused[1].data if refused and refused[0] == "order" else request.GET
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
    return {
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
        "next_due_line": NEXT_DUE_STAND_IN,
        "refused_form": refused[1] if refused else None,
        "step_forms": _step_forms(session, order, refused, lot_default, location_default),
        "ack_form": refused[1] if refused and refused[0] == "acknowledge" else None,
        "is_iv": session.plan.route == Route.IV,
        "is_spravato": session.plan.route == Route.INTRANASAL,
        **_fasting_minutes(session.plan.route),
        "asks_indication": session.plan.route == Route.INTRANASAL and not indication_known,
        "indication": indication,
        "indication_choices": EsketamineIndication.choices,
        "states": SessionState,
        # Which steps the session's state allows now (the table in kapclinic/clinical/session_states.py).
        "may_now": {step.name.lower(): refusal(session.state, step) is None for step in Step},
        "before_dose": session.state in BEFORE_DOSE,
        "after_dose": session.state in AFTER_DOSE,
        "poll_seconds": settings.KAPCLINIC_ALERT_POLL_SECONDS,
        "can_write_notes": may(user.role, Action.NOTE_WRITE),
        "can_report_adverse": may(user.role, Action.ADVERSE_EVENT_RECORD),
        "rems_enrollment": RemsEnrollment.objects.filter(patient_id=session.patient_id).first()
        if session.plan.route == Route.INTRANASAL
        else None,
    }


def _step_forms(
    session: DosingSession,
    order: DoseOrder | None,
    refused: tuple[str, StepForm] | None,
    lot: int | None,
    location: int | None,
) -> StepForms:
    """Each step's form for the page (keyed for the template: check_in, adverse_event, ...): the refused one as it
    was posted, the others with what the page starts with."""
    checklist = getattr(session, "checklist", None)
    fasting = checklist.fasting_since if checklist is not None else None
    given = (order.volume_ml or order.units) if order is not None else None
    initial: dict[str, dict[str, object]] = {
        "check-in": {
            "pregnancy_test": "" if steps.pregnancy_test_applies(session) else PregnancyTest.NOT_APPLICABLE,
            "last_food_at": timezone.localtime(fasting).strftime("%Y-%m-%dT%H:%M") if fasting else "",
            "escort_confirmed": "yes" if checklist is not None and checklist.ride_name else "",
        },
        "order": {"infusion_minutes": STANDARD_MINUTES},
        "administer": {"lot": lot, "location": location, "given": given.normalize() if given is not None else None},
    }
    made = {refused[0].replace("-", "_"): refused[1]} if refused else {}
    builders = {name.replace("-", "_"): (step.form, initial.get(name)) for name, step in STEPS.items()}
    return StepForms(builders, made)


class StepForms(Mapping[str, StepForm]):
    """The step forms by template key, each built when the page first shows it: a session's state shows a few of
    the steps, and building a form copies all its fields."""

    def __init__(
        self,
        builders: dict[str, tuple[type[StepForm], dict[str, object] | None]],
        made: dict[str, StepForm],
    ) -> None:
        self._builders = builders
        self._made = made

    def __getitem__(self, key: str) -> StepForm:
        if key not in self._made:
            form_class, initial = self._builders[key]
            self._made[key] = form_class(initial=initial)
        return self._made[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)


@login_required
def session_alerts(request: HttpRequest, session_id: int, *, refused: StepForm | None = None) -> HttpResponse:
    """The session's alert panel (htmx polls it, so a device's reading shows without a reload); `refused` is an
    acknowledgement refused, shown next to its alert (htmx swaps only a 200, so the panel answers with one).

    A poll showing what the panel already shows answers 204 and writes nothing (see _poll_unchanged)."""
    user = current_user(request)
    ctx = AuditContext.from_request(request)
    try:
        if refused is None and _is_poll(request):
            # A poll first compares the alerts alone (nothing written), read with the session's patient in one
            # query, and answers only after the access check: the whole session record is read, and the read
            # recorded, only when there is something new to show.
            patient_id, shown = session_alerts_shown(session_id)
            patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.SESSION_VIEW, record_allowed=False)
            if _poll_unchanged(request, _digest(shown)):
                return HttpResponse(status=204)
        record = session_get(ctx=ctx, session_id=session_id)
    except (NotFound, AccessDenied):  # a poll gets no page, only the refusal
        return HttpResponse(status=404)
    seen = _digest((a.pk, _acknowledgement_id(a)) for a in record.alerts)
    return render(
        request,
        "dosing/_session_alerts.html",
        {
            "record": record,
            "session": record.session,
            "can_ack": may(user.role, Action.ALERT_ACKNOWLEDGE),
            "poll_seconds": settings.KAPCLINIC_ALERT_POLL_SECONDS,
            "ack_form": refused,
            "seen": seen,
        },
    )


def _is_poll(request: HttpRequest) -> bool:
    return request.headers.get(POLL_HEADER) == "1"


def _digest(parts: Iterable[object]) -> str:
    """A short fingerprint of what a polled panel shows, sent back by the page with its next poll ("seen")."""
    return hashlib.blake2b(repr(list(parts)).encode(), digest_size=10).hexdigest()


def _acknowledgement_id(alert: MonitoringAlert) -> int | None:
    try:
        return alert.acknowledgement.pk
    except ObjectDoesNotExist:
        return None


def _poll_unchanged(request: HttpRequest, seen: str) -> bool:
    """A poll (POLL_HEADER) from a panel that already shows this: it answers 204, which htmx leaves in place, and
    writes nothing, not even audit rows (its content was recorded when first shown; issue 15, item 3)."""
    return _is_poll(request) and request.GET.get("seen") == seen


@login_required
def my_alerts(request: HttpRequest) -> HttpResponse:
    """Open alerts of the user's patients, for the prescriber's and nurse's home page (polled)."""
    user = current_user(request)
    # A poll compares the alerts' ids and their sessions' versions alone (one narrow query, nothing written): the
    # alerts are read whole, with their sessions and patients, only when there is something new to show.
    shown = open_alerts_newest(user).values_list("pk", "session__version")
    if _is_poll(request) and _poll_unchanged(request, _digest(shown)):
        return HttpResponse(status=204)
    alerts = open_alerts_for(user)
    seen = _digest((a.pk, a.session.version) for a in alerts)
    if _poll_unchanged(request, seen):
        return HttpResponse(status=204)
    # The list names patients: each one shown is an audited read (also when a poll shows something new).
    access_events_record_many(
        ctx=AuditContext.from_request(request),
        action="dosing.alerts.view",
        patient_ids=sorted({a.session.patient_id for a in alerts}),
    )
    return render(
        request,
        "dosing/_open_alerts.html",
        {"alerts": alerts, "poll_seconds": settings.KAPCLINIC_ALERT_POLL_SECONDS, "seen": seen},
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
    rows = sessions_of_day(day, user=user)
    seen = _digest((s.pk, s.version, s.open_alerts, s.patient.version) for s in rows)  # type: ignore[attr-defined]
    if _poll_unchanged(request, seen):
        return HttpResponse(status=204)
    # Each patient shown is an audited read, one row each in one INSERT (a poll: only when the board changed).
    access_events_record_many(
        ctx=AuditContext.from_request(request),
        action="dosing.board.view",
        patient_ids=sorted({s.patient_id for s in rows}),
    )
    template = "dosing/_board_rows.html" if request.htmx else "dosing/board.html"  # type: ignore[attr-defined]
    context = {"sessions": rows, "day": day, "poll_seconds": settings.KAPCLINIC_ALERT_POLL_SECONDS, "seen": seen}
    return render(request, template, context)


@dataclass(frozen=True)
class ScreenStep:
    """A step of the session screen: the form that parses it, the service call that writes it (typed), what the
    page says once it is done, and the form field of each service field whose name differs."""

    form: type[StepForm]
    write: Callable[[AuditContext, int, dict[str, Any]], object]
    done: str
    form_fields: dict[str, str] = field(default_factory=dict)


def _session_patient(session_id: int) -> int:
    patient_id = DosingSession.objects.filter(pk=session_id).values_list("patient_id", flat=True).first()
    if patient_id is None:
        raise NotFound("No such dosing session.")
    return patient_id


DISCHARGE_ANSWERS = ("oriented", "walks_steadily", "nausea_controlled", "escort_present")


def _witness(v: dict[str, Any]) -> WitnessCredentials | None:
    return WitnessCredentials(v["witness_username"], v["witness_password"]) if v["witness_username"] else None


STEPS: dict[str, ScreenStep] = {
    "check-in": ScreenStep(
        CheckInForm,
        lambda ctx, session_id, v: steps.session_check_in(
            ctx=ctx,
            session_id=session_id,
            identity_confirmed=v["identity_confirmed"],
            checklist_confirmed=v["checklist_confirmed"],
            checklist_note=v["checklist_note"],
            pregnancy_test=v["pregnancy_test"],
            weight_kg=v["weight_kg"],
            last_food_at=v["last_food_at"],
            last_liquid_at=v["last_liquid_at"],
            escort_confirmed=v["escort_confirmed"],
            substances_today=v["substances_today"],
            substances_note=v["substances_note"],
            version=v["version"],
        ),
        "Checked in. Enter the pre-dose vitals.",
    ),
    "vitals": ScreenStep(
        VitalsForm,
        lambda ctx, session_id, v: steps.vital_record(
            ctx=ctx,
            session_id=session_id,
            values={k: v[k] for k in steps.READING_FIELDS if v[k] is not None},
            measured_at=v["measured_at"],
            version=v["version"],
        ),
        "Reading saved.",
    ),
    "override": ScreenStep(
        OverrideForm,
        lambda ctx, session_id, v: steps.clearance_override(
            ctx=ctx, session_id=session_id, reason=v["reason"], version=v["version"]
        ),
        "Hold overridden; the session is cleared to dose.",
    ),
    "order": ScreenStep(
        DoseOrderForm,
        lambda ctx, session_id, v: steps.dose_order_sign(
            ctx=ctx,
            session_id=session_id,
            product_id=v["product"] or 0,
            escalate=v["escalate"],
            override_reason=v["override_reason"],
            indication=v["indication"],
            infusion_minutes=v["infusion_minutes"],
            version=v["version"],
        ),
        "Dose order signed.",
    ),
    "administer": ScreenStep(
        AdministrationForm,
        lambda ctx, session_id, v: steps.administration_record(
            ctx=ctx,
            session_id=session_id,
            lot_id=v["lot"] or 0,
            location_id=v["location"] or 0,
            started_at=v["started_at"] or timezone.now(),
            ended_at=v["ended_at"],
            infusion_rate_ml_per_h=v["infusion_rate"],
            short_infusion_reason=v["short_infusion_reason"],
            drawn=v["drawn"],
            given=v["given"],
            witness=_witness(v),
            version=v["version"],
        ),
        "Administration recorded; the ledger entries are written.",
        {"infusion_rate_ml_per_h": "infusion_rate", "witness": "witness_username"},
    ),
    "advance": ScreenStep(
        AdvanceForm,
        lambda ctx, session_id, v: steps.session_advance(
            ctx=ctx, session_id=session_id, to=v["to"], at=v["at"], reason=v["reason"], version=v["version"]
        ),
        "Session moved on.",
        {"short_infusion_reason": "reason"},
    ),
    "event": ScreenStep(
        EventForm,
        lambda ctx, session_id, v: steps.event_record(
            ctx=ctx,
            session_id=session_id,
            kind=v["kind"],
            code=v["code"],
            severity=v["severity"],
            value=v["value"],
            note=v["note"],
            occurred_at=v["occurred_at"],
        ),
        "Recorded.",
    ),
    "acknowledge": ScreenStep(
        AcknowledgeForm,
        lambda ctx, session_id, v: steps.alert_acknowledge(
            ctx=ctx, alert_id=v["alert"] or 0, action_taken=v["action_taken"]
        ),
        "Alert acknowledged.",
    ),
    "discharge": ScreenStep(
        DischargeForm,
        lambda ctx, session_id, v: steps.session_discharge(
            ctx=ctx,
            session_id=session_id,
            answers={
                "moaas": v["moaas"],
                **{k: v[k] for k in DISCHARGE_ANSWERS},
                "new_suicidal_ideation": v["new_suicidal_ideation"],
            },
            driver_name=v["driver_name"],
            override_reason=v["override_reason"],
            version=v["version"],
        ),
        "Patient discharged.",
    ),
    "stop": ScreenStep(
        StopForm,
        lambda ctx, session_id, v: steps.session_stop(
            ctx=ctx, session_id=session_id, outcome=v["outcome"], reason=v["reason"], version=v["version"]
        ),
        "Session stopped.",
    ),
    "sign": ScreenStep(
        SignForm,
        lambda ctx, session_id, v: steps.session_sign(ctx=ctx, session_id=session_id, version=v["version"]),
        "Session record signed.",
    ),
    "rems": ScreenStep(
        RemsSubmissionForm,
        lambda ctx, session_id, v: steps.rems_submit(ctx=ctx, session_id=session_id, reference=v["reference"]),
        "REMS form marked submitted.",
    ),
    "adverse-event": ScreenStep(
        AdverseEventForm,
        lambda ctx, session_id, v: steps.adverse_event_record(
            ctx=ctx,
            patient_id=_session_patient(session_id),
            session_id=session_id,
            what=v["what"],
            severity=v["severity"],
            serious=v["serious"],
            action=v["action"],
            outcome=v["outcome"],
            occurred_at=v["occurred_at"] or timezone.now(),
        ),
        "Adverse event recorded; the director will see it on the dashboard.",
    ),
    "rems-enrollment": ScreenStep(
        RemsEnrollmentForm,
        lambda ctx, session_id, v: steps.rems_enrollment_record(
            ctx=ctx,
            patient_id=_session_patient(session_id),
            enrolled_on=v["enrolled_on"],
            reference=v["reference"],
        ),
        "REMS enrollment recorded.",
    ),
}
STEP_DONE = {name: step.done for name, step in STEPS.items()}


def _in_form_terms(step: ScreenStep, write: Callable[[], object]) -> object:
    """Run the step's write; a refusal naming a service field the form calls otherwise names the form's field."""
    try:
        return write()
    except ValidationError as exc:
        if not hasattr(exc, "error_dict") or not step.form_fields:
            raise
        raise ValidationError(
            {step.form_fields.get(name, name): errors for name, errors in exc.error_dict.items()}
        ) from None


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
@refusals_as_pages
def session_step(request: HttpRequest, session_id: int, step: str) -> HttpResponse:
    """One step of the session (issue 14, one write-view pattern): the step's form parses the post and its service
    writes; a refused value or a state that moved on shows the screen again with the form as typed (422, 409)."""
    if step not in STEPS:
        return not_found(request, "No such step.")
    ctx = AuditContext.from_request(request)
    # The form comes back with the values only to someone who may do this step on this patient: the access
    # check comes before the values are read (and a refusal is audited as such).
    action = SESSION_STEPS[step].action
    assert action is not None  # every step needs a row of the role matrix (tests/test_route_access.py)
    patient_get_for_user(ctx=ctx, patient_id=_session_patient(session_id), action=action, record_allowed=False)
    chosen = STEPS[step]
    form = chosen.form(request.POST)
    result = submitted(form, lambda: _in_form_terms(chosen, lambda: chosen.write(ctx, session_id, form.cleaned_data)))
    if request.htmx and step == "acknowledge":  # type: ignore[attr-defined]
        return session_alerts(request, session_id, refused=form if result is None else None)
    if result is None:
        return session_page(request, session_id, refused=(step, form))
    text = chosen.done
    if step == "vitals":
        assert isinstance(result, tuple)
        _vital, alerts, clearance = result
        if alerts:
            text = "Reading saved. ALERT: " + " ".join(a.message for a in alerts)
        elif clearance is not None:
            text = f"Reading saved. Clearance: {clearance.status.replace('_', ' ')}."
    (messages.warning if "ALERT" in text else messages.success)(request, text)
    return redirect(f"/dosing/sessions/{session_id}/#{request.POST.get('anchor', 'top')}")


@login_required
@refusals_as_pages
def rems_pdf(request: HttpRequest, session_id: int) -> HttpResponse:
    """The Spravato REMS patient monitoring form, filled from the session record (nobody re-types it)."""
    record = session_get(ctx=AuditContext.from_request(request), session_id=session_id)
    if record.session.plan.route != Route.INTRANASAL:
        return not_found(request, "Only esketamine sessions have a REMS monitoring form.")
    return pdf_response(
        request,
        "dosing/rems_print.html",
        rems_form_context(record),
        filename=f"rems-monitoring-{record.session.patient.mrn}-{record.session.number}.pdf",
    )


@login_required
@refusals_as_pages
def session_pdf(request: HttpRequest, session_id: int) -> HttpResponse:
    """The session record as a PDF: the same read as the session screen (audited), in any state; an unsigned
    record says so at its top."""
    ctx = AuditContext.from_request(request)
    record = session_get(ctx=ctx, session_id=session_id)
    session = record.session
    return printed_pdf_response(
        request,
        ctx=ctx,
        patient=session.patient,
        what="dosing_session",
        record_id=session.pk,
        title=f"Dosing session {session.number} record",
        template="dosing/session_print.html",
        context={"record": record, "session": session, "plan": session.plan},
    )


@login_required
@require_POST
@refusals_as_pages
def adverse_review(request: HttpRequest, event_id: int) -> HttpResponse:
    """The director marks an adverse event reviewed (it then leaves the dashboard, where a refusal is said)."""
    form = AdverseReviewForm(request.POST)
    reviewed = submitted(
        form,
        lambda: steps.adverse_event_review(
            ctx=AuditContext.from_request(request), event_id=event_id, note=form.cleaned_data["note"]
        ),
    )
    if reviewed is None:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    else:
        messages.success(request, "The adverse event is marked reviewed.")
    return redirect("home:home")

"""Reads of dosing sessions shared by pages and the API; what still blocks dosing a patient."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many
from kapclinic.clinical.session_states import AFTER_DOSE, FINISHED, RECORDED_IN, Step
from kapclinic.consent.selectors import consent_status
from kapclinic.days import day_range
from kapclinic.dosing.models import (
    Administration,
    AdverseEvent,
    AlertAcknowledgement,
    CheckIn,
    Clearance,
    Discharge,
    DoseOrder,
    DosingSession,
    MonitoringAlert,
    SessionEvent,
    SessionState,
    SessionTransition,
    VitalSign,
)
from kapclinic.errors import NotFound
from kapclinic.intake.selectors import eligibility_in_force
from kapclinic.patients.access import PatientAccess, on_care_team_of, patient_get_for_user
from kapclinic.patients.selectors import STAFF_NAME_FIELDS
from kapclinic.prepared import prepared_rows
from kapclinic.roles import Action, Scope, scope_for

if TYPE_CHECKING:
    from kapclinic.plans.models import TreatmentPlan  # the plan a session belongs to; plans sit above dosing


def dosing_blockers(*, patient_id: int, plan: TreatmentPlan, on: date | None = None) -> list[str]:
    """Why this patient may not be scheduled for (or given) a dose under this plan; empty when nothing blocks.

    Pathway stages 2-3 (../shared/design/pathway.md) and monitoring.md section 1: current signed consent, an
    eligible decision that is still the latest, and a signed plan that has not been replaced.
    """
    reasons = []
    consent = consent_status(patient_id, on=on)
    if not consent.current:
        reasons.append(f"No current signed consent: {consent.message}")
    decision, why = eligibility_in_force(patient_id)
    if decision is None:
        reasons.append(why)
    if not plan.is_signed:
        reasons.append("The treatment plan is not signed.")
    elif type(plan).objects.filter(supersedes=plan, signed_at__isnull=False).exists():  # plans sit above dosing
        reasons.append("The treatment plan has been replaced by a newer one.")
    return reasons


# Pages show a session's staff by name only: their other columns (password hash, licence, dates...) are left
# unread, a third of the session record's 180-column join (issue 15, item 3). Read on use, should anything need them.
_STAFF_UNSHOWN = tuple(f.name for f in User._meta.concrete_fields if f.name not in ("id", *STAFF_NAME_FIELDS))


def _names_only(*staff: str) -> list[str]:
    """defer() arguments leaving every column of these related users unread but their names."""
    return [f"{relation}__{name}" for relation in staff for name in _STAFF_UNSHOWN]


@dataclass(frozen=True)
class CourseDoses:
    """A plan's doses given (their start times, in order) and how many of its sessions are still to come."""

    dose_times: tuple[datetime, ...]
    sessions_to_come: int


def course_doses(plan_ids: Collection[int] | QuerySet[TreatmentPlan]) -> dict[int, CourseDoses]:
    """Each plan's doses and sessions still to come (two queries, whatever the number of plans): the outcome rules
    judge a course from its first and last dose (kapclinic/clinical/outcomes.py). `plan_ids` may be a query of the
    plans (read as a subquery: tens of thousands of ids never travel as parameters). Callers have checked access."""
    if isinstance(plan_ids, QuerySet):
        plans: Any = plan_ids.order_by().values("pk")
        wanted: Collection[int] | None = None
    else:
        plans, wanted = plan_ids, plan_ids
    times: dict[int, list[datetime]] = {}
    for plan_id, started in (
        Administration.objects.filter(session__plan_id__in=plans)
        .order_by()
        .values_list("session__plan_id", "started_at")
        .iterator(chunk_size=10_000)
    ):
        times.setdefault(plan_id, []).append(started)
    to_come = dict(sessions_to_come(plans))
    keys = wanted if wanted is not None else times.keys() | to_come.keys()
    return {plan_id: CourseDoses(tuple(sorted(times.get(plan_id, []))), to_come.get(plan_id, 0)) for plan_id in keys}


def sessions_to_come(plans: Any) -> QuerySet[DosingSession, tuple[int, int]]:
    """(plan id, sessions not finished) of the plans with any, `plans` ids or a query of them (a subquery)."""
    return (
        DosingSession.objects.filter(plan_id__in=plans)
        .exclude(state__in=[state.value for state in FINISHED])
        .values("plan_id")
        .annotate(n=Count("id"))
        .values_list("plan_id", "n")
    )


def patients_of_sessions(sessions: Any) -> QuerySet[DosingSession, Any]:
    """The patients of `sessions` (ids or a query of them), as a subquery: a dose changed marks its session, and
    the course summaries look its patient up here (kapclinic/outcomes/course_summaries.py)."""
    return DosingSession.objects.filter(pk__in=sessions).values("patient_id")


def dose_spans(plans: Any) -> QuerySet[Administration, tuple[int, datetime, datetime]]:
    """(plan id, first dose, last dose) of the plans with a dose given, `plans` a query of their ids (a subquery):
    the cohort figures summarise each course in the database from these (kapclinic/outcomes/course_summaries.py)."""
    return (
        Administration.objects.filter(session__plan_id__in=plans)
        .order_by()
        .values("session__plan_id")
        .annotate(first=Min("started_at"), last=Max("started_at"))
        .values_list("session__plan_id", "first", "last")
    )


def sessions_between(start: date, end: date) -> QuerySet[DosingSession]:
    """Sessions on the calendar from `start` to `end` inclusive, with what the schedule shows, in time order.

    The days are a range of instants in the clinic's time zone, which the index on `scheduled_for` answers.
    """
    first, after = day_range(start, end)
    return _sessions_from(first, after)


def _sessions_from(first: datetime, after: datetime) -> QuerySet[DosingSession]:
    return (
        DosingSession.objects.filter(scheduled_for__gte=first, scheduled_for__lt=after)
        .select_related("patient", "plan", "therapist", "nurse", "checklist")
        .defer(*_names_only("therapist", "nurse"))
        .order_by("scheduled_for", "id")
    )


@dataclass
class SessionRecord:
    """Everything the session screen shows, read in a fixed number of queries however long the session runs."""

    session: DosingSession
    check_in: CheckIn | None
    vitals: list[VitalSign]
    alerts: list[MonitoringAlert]
    clearances: list[Clearance]
    orders: list[DoseOrder]
    administration: Administration | None
    events: list[SessionEvent]
    transitions: list[SessionTransition]
    discharge: Discharge | None

    @property
    def open_alerts(self) -> list[MonitoringAlert]:
        return [a for a in self.alerts if not _acknowledged(a)]

    @property
    def latest_clearance(self) -> Clearance | None:
        return self.clearances[-1] if self.clearances else None

    @property
    def order(self) -> DoseOrder | None:
        return self.orders[-1] if self.orders else None


def _acknowledged(alert: MonitoringAlert) -> bool:
    try:
        return alert.acknowledgement is not None
    except AlertAcknowledgement.DoesNotExist:
        return False


@dataclass(frozen=True)
class SessionHead:
    """What the session screen reads before the record: whose session it is, its state and number (one query)."""

    pk: int
    patient_id: int
    state: str
    number: int


def session_head(session_id: int) -> SessionHead:
    """The session's patient, state and number, with no access check: the caller checks access to the patient
    (and audits it) before showing anything of the session (built once per process: kapclinic/prepared.py)."""
    rows = prepared_rows("dosing.session_head", _session_head, session_id)
    if not rows:
        raise NotFound("No such dosing session.")
    return SessionHead(*rows[0])


def _session_head(session_id: int) -> QuerySet[DosingSession, tuple[int, int, str, int]]:
    return DosingSession.objects.filter(pk=session_id).values_list("pk", "patient_id", "state", "number")


def session_get(
    *,
    ctx: AuditContext,
    session_id: int,
    action: Action = Action.SESSION_VIEW,
    record_allowed: bool = True,
    access: PatientAccess | None = None,
) -> SessionRecord:
    """The session with its whole record, after the access check (audited; `record_allowed=False` leaves the
    allowed read to the caller, as patient_get_for_user: a poll records it only when what it shows changed).
    `access`: the caller has checked (and audited) access to the session's patient already, for `action`."""
    # Every read of the record is prepared (kapclinic/prepared.py): built and compiled once per process, where
    # compiling the session page's eight queries cost about as much as running them (issue 15, item 3).
    found = prepared_rows("dosing.session_get", _session_whole, session_id)
    if not found:
        raise NotFound("No such dosing session.")
    session = found[0]
    if access is None:
        access = patient_get_for_user(
            ctx=ctx, patient_id=session.patient_id, action=action, record_allowed=record_allowed
        )
    elif access.patient.pk != session.patient_id:
        raise NotFound("No such dosing session.")  # a check of another patient is no check of this one
    session.patient = access.patient  # the door has read the patient: not a second time in the join above
    check_in = session.check_in if _has(session, "check_in") else None
    if check_in is None:
        vitals = prepared_rows("dosing.session_get.vitals", lambda sid: session_vitals_of(sid, None), session.pk)
    else:
        vitals = prepared_rows(
            "dosing.session_get.vitals_since", session_vitals_of, session.pk, check_in.at - VITALS_BEFORE_CHECK_IN
        )
    return SessionRecord(
        session=session,
        check_in=check_in,
        vitals=vitals,
        alerts=prepared_rows("dosing.session_get.alerts", _session_alerts, session.pk),
        clearances=prepared_rows("dosing.session_get.clearances", _session_clearances, session.pk),
        orders=prepared_rows("dosing.session_get.orders", _session_orders, session.pk),
        administration=session.administration if _has(session, "administration") else None,
        events=prepared_rows("dosing.session_get.events", _session_events, session.pk),
        transitions=prepared_rows("dosing.session_get.transitions", _session_transitions, session.pk),
        discharge=session.discharge if _has(session, "discharge") else None,
    )


def _session_whole(session_id: int) -> QuerySet[DosingSession]:
    return (
        DosingSession.objects.select_related(
            "plan",
            "nurse",
            "therapist",
            "checklist",
            "check_in__by",
            "discharge__by",
            "administration__lot",
            "administration__by",
        )
        .defer(*_names_only("nurse", "therapist", "check_in__by", "discharge__by", "administration__by"))
        .filter(pk=session_id)[:1]
    )


def _session_alerts(session_id: int) -> QuerySet[MonitoringAlert]:
    return (
        MonitoringAlert.objects.filter(session_id=session_id)
        .select_related("acknowledgement__by", "vital")
        .defer(*_names_only("acknowledgement__by"))
        .order_by("raised_at", "id")
    )


def _session_clearances(session_id: int) -> QuerySet[Clearance]:
    return (
        Clearance.objects.filter(session_id=session_id)
        .select_related("override_by")
        .defer(*_names_only("override_by"))
        .order_by("at", "id")
    )


def _session_orders(session_id: int) -> QuerySet[DoseOrder]:
    return (
        DoseOrder.objects.filter(session_id=session_id)
        .select_related("signed_by", "product")
        .defer(*_names_only("signed_by"))
        .order_by("signed_at", "id")
    )


def _session_events(session_id: int) -> QuerySet[SessionEvent]:
    return (
        SessionEvent.objects.filter(session_id=session_id)
        .select_related("by")
        .defer(*_names_only("by"))
        .order_by("occurred_at", "id")
    )


def _session_transitions(session_id: int) -> QuerySet[SessionTransition]:
    return (
        SessionTransition.objects.filter(session_id=session_id)
        .select_related("by")
        .defer(*_names_only("by"))
        .order_by("at", "id")
    )


# No reading is timed more than 30 minutes before its session's check-in (session_services._measured_at refuses
# it), and vitals are recorded only once checked in; a day's margin costs nothing, as PostgreSQL partitions the
# vitals by month of measured_at (VitalSign's docstring): the months before the check-in's are not read.
VITALS_BEFORE_CHECK_IN = timedelta(days=1)


def session_vitals(session: DosingSession, check_in: CheckIn | None) -> QuerySet[VitalSign]:
    """A session's vital signs as measured, in order; given its check-in, only the months from it on are read."""
    return session_vitals_of(session.pk, None if check_in is None else check_in.at - VITALS_BEFORE_CHECK_IN)


def session_vitals_of(session_id: int, since: datetime | None) -> QuerySet[VitalSign]:
    """session_vitals by the session's id and the earliest time a reading may have (None: any)."""
    vitals = VitalSign.objects.filter(session_id=session_id)
    if since is not None:
        vitals = vitals.filter(measured_at__gte=since)
    return vitals.order_by("measured_at", "id")


def _has(session: DosingSession, name: str) -> bool:
    try:
        return getattr(session, name) is not None
    except ObjectDoesNotExist:
        return False


def sessions_on(day: date, *, ctx: AuditContext) -> list[DosingSession]:
    """A day's sessions the user may see, with their open-alert counts (board, home pages, API).

    The list names patients: each one shown is an audited read, one row each in one INSERT.
    """
    sessions = sessions_of_day(day, user=ctx.user)
    access_events_record_many(ctx=ctx, action="dosing.board.view", patient_ids=sorted({s.patient_id for s in sessions}))
    return sessions


def sessions_of_day(day: date, *, user: User) -> list[DosingSession]:
    """sessions_on without the audit rows: the caller records them (the board's poll, only when they changed).

    Built and compiled once per process and scope (kapclinic/prepared.py): the select_related rows and the
    open-alert subquery took longer to build than to run, on every board, home page and poll."""
    scope = scope_for(user.role, Action.SESSION_VIEW)
    if scope is Scope.NONE:
        return []
    first, after = day_range(day)
    if scope is Scope.TEAM:
        return prepared_rows("dosing.sessions_of_day.team", _sessions_of_day_team, first, after, user.pk)
    return prepared_rows("dosing.sessions_of_day", _sessions_of_day, first, after)


def _sessions_of_day(first: datetime, after: datetime) -> QuerySet[DosingSession]:
    # Counted in a correlated subquery, not by joining the alerts and grouping by every column of the six joined
    # tables: PostgreSQL took 1.2-1.7 ms to plan that for 0.2 ms of work, on every board, home page and poll.
    open_alerts = (
        MonitoringAlert.objects.filter(session=OuterRef("pk"), acknowledgement__isnull=True)
        .order_by()
        .values("session")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        _sessions_from(first, after)
        .exclude(state__in=[SessionState.CANCELLED, SessionState.PROPOSED])
        .annotate(open_alerts=Coalesce(Subquery(open_alerts), 0))
    )


def _sessions_of_day_team(first: datetime, after: datetime, user_id: int) -> QuerySet[DosingSession]:
    return _sessions_of_day(first, after).filter(on_care_team_of(user_id, patient_field="patient_id"))


def alerts_open(user: User) -> QuerySet[MonitoringAlert]:
    """Unacknowledged alerts on sessions the user may act on (their team's), unread: the list below and the
    inbox's count (home/inbox.py) are this one filter."""
    scope = scope_for(user.role, Action.ALERT_ACKNOWLEDGE)
    if scope is Scope.NONE:
        return MonitoringAlert.objects.none()
    # A reading raises an alert someone must act on only after the dose (the state table's AFTER_DOSE).
    alerts = MonitoringAlert.objects.filter(acknowledgement__isnull=True, session__state__in=AFTER_DOSE)
    if scope is Scope.TEAM:
        alerts = alerts.filter(session__patient__care_team__user=user)
    return alerts


def open_alerts_for(user: User) -> list[MonitoringAlert]:
    """Unacknowledged alerts on sessions the user may act on (their team's), newest first."""
    return list(open_alerts_newest(user).select_related("session__patient", "vital"))


def open_alerts_newest(user: User) -> QuerySet[MonitoringAlert]:
    """The alerts open_alerts_for lists, in its order, unread: a poll asks it for the few values it compares before
    anything is read whole."""
    return alerts_open(user).order_by("-raised_at", "-id")[:50]


def rems_form_context(record: SessionRecord) -> dict[str, object]:
    """What the Spravato REMS patient monitoring form asks, taken from the session record (monitoring.md s1, s6):
    concomitant medications, dose, lot, vitals before, about 40 minutes after and at discharge, sedation,
    dissociation, respiratory depression, serious adverse events, and when the patient was ready to leave."""
    administration = record.administration
    dose_at = administration.started_at if administration else None
    before = next((v for v in reversed(record.vitals) if v.predose), None)
    after = [v for v in record.vitals if not v.predose]
    near_40 = None
    if dose_at is not None and after:
        near_40 = min(after, key=lambda v: abs((v.measured_at - dose_at).total_seconds() - 40 * 60))
    at_discharge = after[-1] if after else None
    evaluation = getattr(record.session.patient, "evaluation", None)
    events = record.events
    return {
        "record": record,
        "session": record.session,
        "patient": record.session.patient,
        "medications": (evaluation.data.get("medications") if evaluation else None) or [],
        "administration": administration,
        "vitals_before": before,
        "vitals_40": near_40,
        "vitals_discharge": at_discharge,
        "sedation": [e for e in events if e.code in ("moaas", "sedation", "rass")],
        "dissociation": [e for e in events if e.code in ("cadss6", "dissociation_distress")],
        "respiratory": [e for e in events if e.code == "respiratory_depression"]
        + [a for a in record.alerts if a.code.startswith(("spo2", "rr"))],
        "serious_events": list(record.session.adverse_events.filter(serious=True)),
        "ready_at": record.discharge.at if record.discharge else None,
    }


def sessions_waiting(user: User) -> QuerySet[DosingSession]:
    """The sessions of the prescriber's team that wait for them, unread (the list below and the inbox's count):
    held (override or not) or cleared without an order yet."""
    if scope_for(user.role, Action.DOSE_ORDER) is Scope.NONE:
        return DosingSession.objects.none()
    return _sessions_waiting(user.pk)


def _sessions_waiting(user_id: int) -> QuerySet[DosingSession]:
    # The few sessions in these two states, found on the state index as a subquery: asked directly, SQLite walks
    # the time index for its order through every session ever held, the LIMIT in mind (it cannot know these
    # states are rare), which grew with the clinic's history (bench/day_pages.py, issue 15, item 3).
    waiting_states = DosingSession.objects.filter(state__in=[SessionState.HELD, SessionState.CLEARED]).values("pk")
    # EXISTS rather than joins with DISTINCT: one row per session without de-duplicating wide rows (planning the
    # DISTINCT over the joined columns took PostgreSQL 2-4 ms, for 0.1 ms of work).
    ordered = DoseOrder.objects.filter(session=OuterRef("pk"))
    return DosingSession.objects.filter(
        Q(state=SessionState.HELD) | Q(state=SessionState.CLEARED) & ~Exists(ordered),
        on_care_team_of(user_id, patient_field="patient_id"),
        pk__in=waiting_states,
    )


def sessions_waiting_for_prescriber(user: User) -> list[DosingSession]:
    """Today's sessions of the prescriber's team that wait for them (sessions_waiting), soonest first.

    Built and compiled once per process (kapclinic/prepared.py): the prescriber's home page asks on every load."""
    if scope_for(user.role, Action.DOSE_ORDER) is Scope.NONE:
        return []
    return prepared_rows("dosing.sessions_waiting_for_prescriber", _sessions_waiting_listed, user.pk)


def _sessions_waiting_listed(user_id: int) -> QuerySet[DosingSession]:
    return _sessions_waiting(user_id).select_related("patient", "plan").order_by("scheduled_for")[:20]


def session_alerts_shown(session_id: int) -> tuple[int, list[tuple[int, int | None]]]:
    """The session's patient, and its alerts as the panel shows them: (alert id, acknowledgement id or None) in the
    panel's order. Unread and unaudited: the alert panel's poll compares them with what it shows, after the access
    check (one query, built once per process: kapclinic/prepared.py). Raises NotFound for an unknown session."""
    found = prepared_rows("dosing.session_alerts_shown", _session_alerts_shown, session_id)
    if not found:
        raise NotFound("No such dosing session.")
    return found[0][0], [(alert, ack) for _, alert, ack in found if alert is not None]


def _session_alerts_shown(session_id: int) -> QuerySet[DosingSession, tuple[int, int | None, int | None]]:
    # A session without alerts is one row with None for both (the LEFT JOIN).
    return (
        DosingSession.objects.filter(pk=session_id)
        .order_by("alerts__raised_at", "alerts__id")
        .values_list("patient_id", "alerts__id", "alerts__acknowledgement__id")
    )


def adverse_events_unreviewed() -> QuerySet[AdverseEvent]:
    return AdverseEvent.objects.filter(review__isnull=True)


def adverse_events_to_review() -> list[AdverseEvent]:
    """Adverse events the director has not reviewed yet, serious first (monitoring.md section 4)."""
    return list(
        adverse_events_unreviewed().select_related("patient", "session", "by").order_by("-serious", "-occurred_at")[:50]
    )


@dataclass(frozen=True)
class RemsDue:
    session: DosingSession
    due_on: date
    overdue: bool


# The REMS patient monitoring form is submitted within 7 days of the session [unverified timing; monitoring.md s6].
REMS_SUBMIT_DAYS = 7


def rems_unsubmitted() -> QuerySet[DosingSession]:
    """Finished esketamine sessions whose REMS monitoring form is not marked submitted, unread."""
    return DosingSession.objects.filter(
        plan__route="intranasal",
        state__in=RECORDED_IN[Step.SUBMIT_REMS],  # the states the form may be submitted in
        rems_submission__isnull=True,
    )


def rems_forms_due(today: date) -> list[RemsDue]:
    """Finished esketamine sessions whose REMS monitoring form is not marked submitted, with their 7-day clock."""
    sessions = rems_unsubmitted().select_related("patient").order_by("scheduled_for")[:50]
    due = []
    for session in sessions:
        day = timezone.localtime(session.ended_at or session.scheduled_for).date()
        due_on = day + timedelta(days=REMS_SUBMIT_DAYS)
        due.append(RemsDue(session, due_on, today > due_on))
    return due


@dataclass(frozen=True)
class GivenDose:
    """A dose as a report to another clinician states it (issue 19 item 5)."""

    session_number: int
    given_at: datetime
    route: str
    given_mg: Decimal | None


def doses_by_session(plan_id: int) -> list[GivenDose]:
    """The plan's doses, one per session given, in order (one query). Callers have checked access."""
    return [
        GivenDose(number, at, route, given)
        for number, at, route, given in Administration.objects.filter(session__plan_id=plan_id)
        .order_by("started_at", "id")
        .values_list("session__number", "started_at", "route", "given_mg")
    ]


def adverse_events_of(patient_id: int) -> list[AdverseEvent]:
    """The patient's adverse events, oldest first (one query). Callers have checked access."""
    return list(AdverseEvent.objects.filter(patient_id=patient_id).order_by("occurred_at", "id"))

"""Reading scores and open safety flags, for the chart, the portal, the home pages and the API."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.clinical.schedule import (
    EARLY_WINDOW_DAYS,
    OVERDUE_AFTER_DAYS,
    follow_up_due_on,
    status_on,
    timeliness,
)
from kapclinic.dosing.models import DosingSession, SessionState
from kapclinic.measures.models import QuestionnaireResponse, SafetyFlag, ScheduledMeasure
from kapclinic.patients.access import patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.prepared import prepared_rows
from kapclinic.roles import Action, Scope, scope_for


def responses_for_patient(*, ctx: AuditContext, patient_id: int) -> QuerySet[QuestionnaireResponse]:
    """Return the patient's responses, newest first, with their items; audited as a read of scores."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MEASURE_VIEW)
    return (
        QuestionnaireResponse.objects.filter(patient_id=patient_id)
        .select_related("entered_by")
        .prefetch_related("items")
        .order_by("-submitted_at", "-id")
    )


def open_safety_flags(user: User) -> QuerySet[SafetyFlag]:
    """The unacknowledged safety flags of the patients `user` may act on, unread: the list below shows them, the
    header counts them (a role that acknowledges none gets none)."""
    return _open_flags(scope_for(user.role, Action.SAFETY_ACKNOWLEDGE), user.pk)


def _open_flags(scope: Scope, user_id: int) -> QuerySet[SafetyFlag]:
    if scope is Scope.NONE:
        return SafetyFlag.objects.none()
    flags = SafetyFlag.objects.filter(acknowledged_at__isnull=True)
    if scope is Scope.TEAM:
        flags = flags.filter(patient__care_team__user_id=user_id)
    return flags


def _flags_listed(scope: Scope, limit: int) -> Callable[..., QuerySet[SafetyFlag]]:
    """The list's query for `scope`, taking the user's id when the scope is the care team."""

    def listed(user_id: int = 0) -> QuerySet[SafetyFlag]:
        flags = _open_flags(scope, user_id).select_related("patient", "response", "raised_by")
        return flags.order_by("-raised_at")[:limit]

    return listed


def open_safety_flags_for_user(*, ctx: AuditContext, limit: int = 50) -> list[SafetyFlag]:
    """Return unacknowledged safety flags of the patients this clinician may act on; each shown is audited."""
    user = ctx.user
    scope = scope_for(user.role, Action.SAFETY_ACKNOWLEDGE)
    # Built and compiled once per process, scope and limit (kapclinic/prepared.py): every clinical home page asks.
    if scope is Scope.TEAM:
        shown = prepared_rows(("measures.open_safety_flags.team", limit), _flags_listed(scope, limit), user.pk)
    else:
        shown = prepared_rows(("measures.open_safety_flags", scope, limit), _flags_listed(scope, limit))
    access_events_record_many(ctx=ctx, action="safety.list", patient_ids=[f.patient_id for f in shown])
    return shown


def open_safety_flags_for_patient(*, patient_id: int) -> list[SafetyFlag]:
    """For the chart banner (the chart read itself is already audited)."""
    # Prepared (kapclinic/prepared.py), as every read of the chart: compiling the chart's queries cost about as
    # much as running them (issue 15, item 3).
    return prepared_rows("measures.open_safety_flags_for_patient", _patient_flags_open, patient_id)


def _patient_flags_open(patient_id: int) -> QuerySet[SafetyFlag]:
    return (
        SafetyFlag.objects.filter(patient_id=patient_id, acknowledged_at__isnull=True)
        .select_related("response", "raised_by")
        # What the banner shows: a whole response row (its answers) costs more to build than to read.
        .only(
            "patient",
            "response",
            "code",
            "raised_at",
            "acknowledged_at",
            "response__instrument",
            "response__total",
            "reason",
            "raised_by__first_name",
            "raised_by__last_name",
            "raised_by__username",
        )
        .order_by("-raised_at")
    )


def recent_responses(*, patient_id: int, limit: int = 20) -> list[QuestionnaireResponse]:
    """For the chart's outcomes section (the chart read itself is already audited)."""
    return prepared_rows(
        ("measures.recent_responses", limit),
        lambda pid: QuestionnaireResponse.objects.filter(patient_id=pid).order_by("-submitted_at", "-id")[:limit],
        patient_id,
    )


def scores_by_patient(
    patient_ids: Collection[int] | QuerySet[Any], instruments: Collection[str]
) -> dict[tuple[int, str], list[tuple[datetime, int]]]:
    """Each patient's scored totals by instrument, oldest first, in one query: a corrected response counts by its
    correction only. For the outcome rules and cohorts (kapclinic/outcomes); callers have checked access.
    `patient_ids` may be a query of patient ids (a subquery: the cohorts' tens of thousands never travel as
    parameters)."""
    rows = (
        scored_responses(patient_ids, instruments)
        .order_by("submitted_at", "id")
        .values_list("patient_id", "instrument", "submitted_at", "total")
    )
    scores: dict[tuple[int, str], list[tuple[datetime, int]]] = {}
    for patient_id, instrument, at, total in rows.iterator(chunk_size=20_000):
        if total is not None:  # filtered above; the column allows it
            scores.setdefault((patient_id, instrument), []).append((at, total))
    return scores


def scored_responses(
    patient_ids: Collection[int] | QuerySet[Any], instruments: Collection[str]
) -> QuerySet[QuestionnaireResponse]:
    """The scored responses of `patient_ids` on `instruments`, a corrected one by its correction only, unordered:
    what every outcome reads (`scores_by_patient`; the cohort figures use it as a subquery). Callers have checked
    access."""
    # NOT IN the (few) corrected ids, not NOT EXISTS per row: both databases read the corrected ids once and probe
    # them in memory, where a correlated check costs an index search per score (a million for the cohort figures).
    corrected = QuestionnaireResponse.objects.filter(corrects__isnull=False).values("corrects_id")
    return (
        QuestionnaireResponse.objects.filter(
            patient_id__in=patient_ids, instrument__in=instruments, total__isnull=False
        )
        .exclude(pk__in=corrected)
        .order_by()
    )


@dataclass(frozen=True)
class DueMeasure:
    scheduled: ScheduledMeasure
    status: str  # done, upcoming, due, overdue
    due_on: date  # the follow-ups count from the course's real end (clinical.schedule.follow_up_due_on)

    @property
    def name(self) -> str:
        instrument = INSTRUMENTS.get(self.scheduled.instrument)
        return instrument.name if instrument else self.scheduled.instrument


def schedule_for_patient(*, patient_id: int, today: date | None = None) -> list[DueMeasure]:
    """Every scheduled measure of the patient with its status today (one query)."""
    today = today or timezone.localdate()
    rows = prepared_rows(
        "measures.schedule_for_patient",
        lambda pid: ScheduledMeasure.objects.filter(patient_id=pid).order_by("due_on", "instrument"),
        patient_id,
    )
    days = _session_days_of(patient_id) if rows else {}
    due = [_due_measure(s, today, days.get(patient_id, [])) for s in rows]
    return sorted(due, key=lambda d: (d.due_on, d.scheduled.instrument))


def _session_days(patient_ids: list[int]) -> dict[int, list[date]]:
    """The days of each patient's dosing sessions that are not cancelled (one query)."""
    days: dict[int, list[date]] = {}
    for patient_id, when in (
        DosingSession.objects.filter(patient_id__in=patient_ids)
        .exclude(state=SessionState.CANCELLED)
        .values_list("patient_id", "scheduled_for")
    ):
        days.setdefault(patient_id, []).append(timezone.localdate(when))
    return days


def _session_days_of(patient_id: int) -> dict[int, list[date]]:
    """_session_days of one patient, the query prepared (the chart asks on every drawing)."""
    days: dict[int, list[date]] = {}
    for when in prepared_rows(
        "measures.session_days_of",
        lambda pid: (
            DosingSession.objects.filter(patient_id=pid)
            .exclude(state=SessionState.CANCELLED)
            .values_list("scheduled_for", flat=True)
        ),
        patient_id,
    ):
        days.setdefault(patient_id, []).append(timezone.localdate(when))
    return days


def _due_measure(scheduled: ScheduledMeasure, today: date, session_days: list[date]) -> DueMeasure:
    due_on = follow_up_due_on(label=scheduled.label, due_on=scheduled.due_on, session_days=session_days)
    return DueMeasure(scheduled, status_on(due_on, today, completed=scheduled.response_id is not None), due_on)


def overdue_measures(*, ctx: AuditContext, today: date | None = None, limit: int = 50) -> list[DueMeasure]:
    """Overdue measures across the clinic for the coordinator's list; each patient shown is audited."""
    today = today or timezone.localdate()
    cutoff = today - timedelta(days=OVERDUE_AFTER_DAYS)
    # Prepared (kapclinic/prepared.py): the coordinator's home asks on every load.
    rows = prepared_rows(
        ("measures.overdue_measures", limit),
        lambda before: (
            ScheduledMeasure.objects.filter(response__isnull=True, due_on__lt=before)
            .select_related("patient")
            .order_by("due_on")[:limit]
        ),
        cutoff,
    )
    days = _session_days(sorted({s.patient_id for s in rows}))
    overdue = [d for s in rows if (d := _due_measure(s, today, days.get(s.patient_id, []))).status == "overdue"]
    access_events_record_many(
        ctx=ctx, action="measure.overdue_list", patient_ids=[d.scheduled.patient_id for d in overdue]
    )
    return overdue


def measures_to_remind(*, today: date | None = None) -> list[DueMeasure]:
    """Open measures due or overdue today of the patients with an email address, by patient, for the reminder job.

    Due by the same date as the portal and the chart (`_due_measure`): a follow-up waits for the course's real end,
    so no patient is emailed about "1 month after the course" in the middle of it. Two queries; nobody reads the
    data, so nothing is audited (the email holds no clinical content).
    """
    today = today or timezone.localdate()
    # follow_up_due_on never moves a date earlier, so the stored date finds every measure due by the later one.
    rows = list(
        ScheduledMeasure.objects.filter(response__isnull=True, due_on__lte=today + timedelta(days=EARLY_WINDOW_DAYS))
        .exclude(patient__email="")
        .select_related("patient")
        .order_by("patient_id", "due_on", "id")
    )
    days = _session_days(sorted({s.patient_id for s in rows}))
    due = (_due_measure(s, today, days.get(s.patient_id, [])) for s in rows)
    return [d for d in due if d.status in ("due", "overdue")]


@dataclass(frozen=True)
class MeasureTimeliness:
    """A scheduled measure judged for completeness (clinical.schedule.timeliness) on its real due date."""

    patient_id: int
    instrument: str
    label: str
    due_on: date
    answered_on: date | None
    status: str  # on_time, late, overdue, open


def measures_timeliness(
    *, patients: QuerySet[Patient] | None = None, today: date | None = None
) -> list[MeasureTimeliness]:
    """Every scheduled measure of `patients` (all when None) with whether it was answered on time: two queries,
    whatever the number of patients (the measures with their answers' times; the session days that move a
    follow-up's date). For the outcomes completeness figures; callers have checked access."""
    today = today or timezone.localdate()
    scheduled = ScheduledMeasure.objects.all()
    sessions = DosingSession.objects.exclude(state=SessionState.CANCELLED)
    if patients is not None:
        scheduled = scheduled.filter(patient__in=patients.values("pk"))
        sessions = sessions.filter(patient__in=patients.values("pk"))
    days: dict[int, list[date]] = {}
    for patient_id, when in sessions.values_list("patient_id", "scheduled_for"):
        days.setdefault(patient_id, []).append(timezone.localdate(when))
    found = []
    for patient_id, instrument, label, stored_due, answered_at in scheduled.values_list(
        "patient_id", "instrument", "label", "due_on", "response__submitted_at"
    ):
        due_on = follow_up_due_on(label=label, due_on=stored_due, session_days=days.get(patient_id, []))
        answered_on = timezone.localdate(answered_at) if answered_at is not None else None
        found.append(
            MeasureTimeliness(
                patient_id, instrument, label, due_on, answered_on, timeliness(due_on, answered_on, today)
            )
        )
    return found

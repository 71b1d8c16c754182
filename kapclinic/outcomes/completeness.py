"""Measurement completeness (issue 19 item 4): the share of scheduled measures answered on time, by clinician and
by schedule point, "the number that makes every other number trustworthy", with the overdue patients a click away.

A measure counts once it is due and either answered or overdue (clinical.schedule.timeliness); one not yet overdue
and unanswered counts for nothing yet. The same scope as the cohort figures: the director sees the clinic, a
prescriber their care team's patients. Three queries, whatever the number of patients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record, access_events_record_many
from kapclinic.clinical.schedule import FOLLOW_UP_MONTHS, follow_up_label
from kapclinic.measures.selectors import MeasureTimeliness, measures_timeliness
from kapclinic.outcomes.cohorts import Rate, figures_scope
from kapclinic.patients.access import on_care_team_of
from kapclinic.patients.models import CareTeamMember, Patient
from kapclinic.roles import Action, Scope

# The schedule's points in the order a course meets them (measures.services.measure_schedule_apply).
POINTS = ("Baseline", "End of course", *(follow_up_label(months) for months in FOLLOW_UP_MONTHS))
CLINICIAN_ROLES = ("prescriber", "therapist")


@dataclass(frozen=True)
class Completeness:
    label: str
    on_time: int
    late: int
    overdue: int

    @property
    def counted(self) -> int:
        return self.on_time + self.late + self.overdue

    @property
    def on_time_rate(self) -> Rate:
        return Rate(self.on_time, self.counted)


@dataclass(frozen=True)
class ClinicianCompleteness:
    clinician: User
    role: str
    figures: Completeness


@dataclass(frozen=True)
class CompletenessReport:
    overall: Completeness
    by_point: list[Completeness]
    by_clinician: list[ClinicianCompleteness]


def _count(label: str, rows: list[MeasureTimeliness]) -> Completeness:
    statuses = [row.status for row in rows]
    return Completeness(label, statuses.count("on_time"), statuses.count("late"), statuses.count("overdue"))


def _visible(ctx: AuditContext) -> tuple[Scope, QuerySet[Patient]]:
    scope = figures_scope(ctx)
    patients = Patient.objects.all()
    if scope is Scope.TEAM:
        patients = patients.filter(on_care_team_of(ctx.user.pk))
    return scope, patients


def completeness(*, ctx: AuditContext, today: date | None = None) -> CompletenessReport:
    """The reader's completeness figures (audited as a read of the clinic's figures, no patient named)."""
    scope, patients = _visible(ctx)
    rows = measures_timeliness(patients=patients if scope is Scope.TEAM else None, today=today)
    by_point = [_count(point, [r for r in rows if r.label == point]) for point in POINTS]
    other = _count("Other", [r for r in rows if r.label not in POINTS])
    if other.counted:
        by_point.append(other)
    members: dict[tuple[int, str], set[int]] = {}
    team = CareTeamMember.objects.filter(role__in=CLINICIAN_ROLES, patient_id__in={r.patient_id for r in rows})
    users: dict[int, User] = {}
    for member in team.select_related("user"):
        members.setdefault((member.user_id, member.role), set()).add(member.patient_id)
        users[member.user_id] = member.user
    by_clinician = [
        ClinicianCompleteness(
            users[user_id], role, _count(users[user_id].display_name, [r for r in rows if r.patient_id in patient_ids])
        )
        for (user_id, role), patient_ids in members.items()
    ]
    by_clinician.sort(key=lambda c: (c.role, c.clinician.last_name, c.clinician.first_name, c.clinician.pk))
    access_event_record(
        ctx=ctx,
        action=Action.OUTCOME_COHORTS,
        detail={"view": "completeness", "scope": scope.value, "measures": len(rows)},
    )
    return CompletenessReport(_count("Every scheduled measure", rows), by_point, by_clinician)


@dataclass(frozen=True)
class OverduePatient:
    patient: Patient
    measures: list[MeasureTimeliness]


def overdue_patients_page(
    *,
    ctx: AuditContext,
    clinician: int | None,
    point: str,
    page: str | int | None,
    today: date | None = None,
    per_page: int = 25,
) -> Page[OverduePatient]:
    """The patients with an overdue measure (of one clinician's patients, at one point, when given), oldest due
    first, a page at a time; each patient shown is audited."""
    _, patients = _visible(ctx)
    if clinician is not None:
        patients = patients.filter(on_care_team_of(clinician))
    rows = [
        r
        for r in measures_timeliness(patients=patients, today=today or timezone.localdate())
        if r.status == "overdue" and (not point or r.label == point or (point == "Other" and r.label not in POINTS))
    ]
    by_patient: dict[int, list[MeasureTimeliness]] = {}
    for row in sorted(rows, key=lambda r: (r.due_on, r.patient_id)):
        by_patient.setdefault(row.patient_id, []).append(row)
    shown = Paginator(list(by_patient.items()), per_page).get_page(page)
    found = Patient.objects.in_bulk([patient_id for patient_id, _ in shown.object_list])
    listed = [OverduePatient(found[patient_id], measures) for patient_id, measures in shown.object_list]
    access_events_record_many(ctx=ctx, action="outcome.overdue_list", patient_ids=[p.patient.pk for p in listed])
    return Page(listed, shown.number, shown.paginator)  # type: ignore[arg-type]

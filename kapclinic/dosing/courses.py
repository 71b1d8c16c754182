"""An esketamine course on the record: which plans it spans, its first dose, doses given, the benefit review.

The label's schedule (Spravato US PI 2.1-2.2, in kapclinic/clinical/dosing.py) counts weeks from the course's
first dose, not from the plan's: a maintenance plan that replaces the induction plan continues the same course.
A course is the plan and the esketamine plans it replaces, one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.utils import timezone

from kapclinic.clinical import dosing as dose_rules
from kapclinic.dosing.models import Administration, DoseOrder, Route

if TYPE_CHECKING:
    from kapclinic.plans.models import TreatmentPlan  # the plan a session belongs to; plans sit above dosing

BENEFIT_REVIEW = "intranasal_benefit_review_due"


@dataclass(frozen=True)
class EsketamineCourse:
    plan_ids: tuple[int, ...]
    first_dose_on: date | None
    doses_given: int
    benefit_reviewed: bool
    ordered_indication: str  # the indication of the course's latest order ("" when none)


def course_plan_ids(plan: TreatmentPlan) -> tuple[int, ...]:
    """Return the plan and the esketamine plans it replaces, newest first."""
    ids: list[int] = []
    current: TreatmentPlan | None = plan
    while current is not None and current.route == Route.INTRANASAL and current.pk not in ids:
        ids.append(current.pk)
        current = current.supersedes
    return tuple(ids)


def esketamine_course(plan: TreatmentPlan, *, excluding_session_id: int | None = None) -> EsketamineCourse:
    """Return the course `plan` belongs to, as given so far (leaving out one session, e.g. today's)."""
    ids = course_plan_ids(plan)
    given = Administration.objects.filter(session__plan_id__in=ids, route=Route.INTRANASAL)
    if excluding_session_id is not None:
        given = given.exclude(session_id=excluding_session_id)
    starts = sorted(timezone.localtime(at).date() for at in given.values_list("started_at", flat=True))
    orders = list(
        DoseOrder.objects.filter(session__plan_id__in=ids, route=Route.INTRANASAL)
        .order_by("signed_at", "id")
        .values_list("hard_stops", "esketamine_indication")
    )
    # The review is the prescriber's written reason on the order that met the end-of-induction stop.
    reviewed = any(stop.get("code") == BENEFIT_REVIEW for stops, _ in orders for stop in stops or [])
    ordered = next((indication for _, indication in reversed(orders) if indication), "")
    return EsketamineCourse(ids, starts[0] if starts else None, len(starts), reviewed, ordered)


def spravato_course(
    plan: TreatmentPlan, indication: str, *, excluding_session_id: int | None = None, today: date | None = None
) -> dose_rules.SpravatoCourse:
    """Return the pure rules' view of the course for today's esketamine dose."""
    course = esketamine_course(plan, excluding_session_id=excluding_session_id)
    return dose_rules.SpravatoCourse(
        indication or None,
        doses_before=course.doses_given,
        course_week=dose_rules.course_week(course.first_dose_on, today or timezone.localdate()),
        benefit_reviewed=course.benefit_reviewed,
    )


def order_indication(plan: TreatmentPlan, given: str = "") -> str:
    """Return the esketamine indication today's order is for: the plan's, else the course's last order's, else the
    one the prescriber gives now (plans written before the question); "" when none is known yet."""
    if plan.route != Route.INTRANASAL:
        return ""
    given = given.strip().lower()
    if given and given not in dose_rules.SPRAVATO_INDICATIONS:
        raise ValueError("Choose the indication: TRD or MDSI.")
    known = plan.esketamine_indication or esketamine_course(plan).ordered_indication
    if known and given and given != known:
        raise ValueError(f"This esketamine course is for {known.upper()}; a change of indication needs a new plan.")
    return known or given

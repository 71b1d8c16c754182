"""`{% measures_before_session session as measures %}`: the questionnaires a plan asks before one dosing session;
`{% instruments_for_use "follow_up" as instruments %}`: the instruments asked for a use (clinical/instruments).

A tag, not a view's context: the session screen belongs to the dosing app, which sits beneath measures in the
house (measures time their follow-ups from the dosing course), so the screen's template asks measures itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import template

from kapclinic.clinical.instruments import Instrument, Use, instruments_for
from kapclinic.measures.models import ScheduledMeasure

if TYPE_CHECKING:
    from kapclinic.dosing.models import DosingSession  # the screen that asks; dosing sits above measures

register = template.Library()


@register.simple_tag
def measures_before_session(session: DosingSession) -> list[ScheduledMeasure]:
    """Return the measures scheduled before `session`, with their answers, by instrument."""
    return list(
        ScheduledMeasure.objects.filter(patient_id=session.patient_id, label=f"Before dosing session {session.number}")
        .select_related("response")
        .order_by("instrument")
    )


@register.simple_tag
def instruments_for_use(use: str, by_default: bool = False) -> tuple[Instrument, ...]:
    """Return the instruments asked for `use` (a `Use` value; only those chosen by default, with `by_default`)."""
    return instruments_for(Use(use), by_default=by_default)

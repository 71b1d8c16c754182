"""`{% chart_outcome_prompts %}` on the chart and `{% my_outcome_prompts %}` on the prescriber's and therapist's home:
the open outcome prompts, drawn by the outcomes app. The chart and home apps include one template of ours each."""

from __future__ import annotations

from typing import Any

from django import template

from kapclinic.audit.context import AuditContext
from kapclinic.outcomes.selectors import open_prompts_newest, open_prompts_on_chart

register = template.Library()

HOME_SHOWN = 5


@register.inclusion_tag("outcomes/_prompt_list.html", takes_context=True)
def chart_outcome_prompts(context: template.Context) -> dict[str, Any]:
    """The patient's open prompts, if the reader may see them (the chart's read is already audited)."""
    request = context["request"]
    patient = context["patient"]
    prompts = open_prompts_on_chart(user=request.user, patient_id=patient.pk)
    return {
        "prompts": prompts,
        "patient": patient,
        "show_patient": False,
        "heading": "Outcome prompts",
        "shown_when_empty": False,
    }


@register.inclusion_tag("outcomes/_prompt_list.html", takes_context=True)
def my_outcome_prompts(context: template.Context) -> dict[str, Any]:
    """The newest open prompts of the clinician's patients (each shown audited), with the whole list one click away.
    One query: one more than shown says whether there are more."""
    request = context["request"]
    prompts = open_prompts_newest(ctx=AuditContext.from_request(request), limit=HOME_SHOWN)
    return {
        "prompts": prompts[:HOME_SHOWN],
        "more": len(prompts) > HOME_SHOWN,
        "show_patient": True,
        "heading": "Outcome prompts",
        "shown_when_empty": True,
    }

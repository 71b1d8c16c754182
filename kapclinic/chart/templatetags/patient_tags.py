"""`{% patient_banner patient %}`: the patient banner, the same on every page about one patient."""

from __future__ import annotations

from typing import Any

from django import template

from kapclinic.chart.banner import banner_for
from kapclinic.patients.models import Patient
from kapclinic.patients.selectors import ChartHeader
from kapclinic.roles import Action, may

register = template.Library()


@register.inclusion_tag("chart/_banner.html", takes_context=True)
def patient_banner(context: template.Context, patient: Patient, heading: bool = True) -> dict[str, Any]:
    """Render the banner for `patient`; the page has already checked (and audited) the user's access.

    `heading=False` on a page with its own <h1> (the session screen, the plan): the name is then not a heading.
    """
    request = context["request"]
    role = request.user.role
    # The chart and the notes pages have read the header and the safety flags already: no second query.
    header = context.get("header")
    flags = context.get("safety_flags")
    evaluation = context.get("banner_evaluation")  # the chart reads the evaluation's data with other things
    banner = banner_for(
        role=role,
        patient=patient,
        header=header if isinstance(header, ChartHeader) else None,
        safety_flags=flags if isinstance(flags, list) else None,
        evaluation=evaluation if isinstance(evaluation, tuple) else None,
    )
    return {
        "request": request,
        "patient": patient,
        "banner": banner,
        "header": banner.header,
        "safety_flags": banner.safety_flags,
        "can_acknowledge": may(role, Action.SAFETY_ACKNOWLEDGE),
        "access": context.get("access"),
        "heading": heading,
    }


@register.inclusion_tag("print/_banner.html", takes_context=True)
def print_banner(context: template.Context, patient: Patient) -> dict[str, Any]:
    """The banner at the top of a printed record: identity, allergies, open safety flags (as the role may see)."""
    banner = banner_for(role=context["request"].user.role, patient=patient)
    return {"patient": patient, "banner": banner}

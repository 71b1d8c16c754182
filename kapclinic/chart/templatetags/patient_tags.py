"""`{% patient_banner patient %}`: the patient banner, the same on every page about one patient."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from kapclinic.chart.banner import banner_for
from kapclinic.patients.fragments import cached_part, facts_of, fragment_key
from kapclinic.patients.models import Patient
from kapclinic.patients.selectors import ChartHeader
from kapclinic.roles import Action, may

register = template.Library()


@register.simple_tag(takes_context=True)
def patient_banner(context: template.Context, patient: Patient, heading: bool = True) -> SafeString:
    """Render the banner for `patient`; the page has already checked (and audited) the user's access.

    `heading=False` on a page with its own <h1> (the session screen, the plan): the name is then not a heading.
    Drawn once per version of the record for each role (what the banner shows differs by role, not by user) and
    kept (patients/fragments.py); not under emergency access, whose notice is about this user's grant.
    """
    request = context["request"]
    role = request.user.role
    access = context.get("access")

    def draw(csrf_token: str) -> str:
        banner_context = _banner_context(context, patient, heading)
        banner_context["csrf_token"] = csrf_token
        assert context.template is not None  # a tag renders inside a template
        return context.template.engine.get_template("chart/_banner.html").render(context.new(banner_context))

    if getattr(access, "emergency", None) is not None:
        return mark_safe(draw(str(context.get("csrf_token", ""))))  # noqa: S308 - our template, autoescaped
    return cached_part(request, fragment_key("banner", request, patient, role, heading), draw)


def _banner_context(context: template.Context, patient: Patient, heading: bool) -> dict[str, Any]:
    request = context["request"]
    role = request.user.role
    # The chart and the notes pages have read the header and the safety flags already: no second query.
    header = context.get("header")
    flags = context.get("safety_flags")
    evaluation = context.get("banner_evaluation")  # the chart reads the evaluation's data with other things
    if not isinstance(evaluation, tuple):
        evaluation = facts_of(request, patient.pk).evaluation  # read with the record version
    banner = banner_for(
        role=role,
        patient=patient,
        header=header if isinstance(header, ChartHeader) else None,
        safety_flags=flags if isinstance(flags, list) else None,
        evaluation=evaluation,
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

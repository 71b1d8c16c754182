"""`{% referral_items_taken patient.pk as taken %}`: what was taken into the record from referrals' bundles, with
where each came from (issue 17 item 4), for the evaluation screen.

A tag, not the view's context: the evaluation screen belongs to intake, which sits beneath fhir in the house, so
its template asks fhir itself (as the session screen asks measures)."""

from __future__ import annotations

from django import template

from kapclinic.fhir.models import ReferralChoice

register = template.Library()
SHOWN_MAX = 50


@register.simple_tag
def referral_items_taken(patient_id: int) -> list[ReferralChoice]:
    """The items taken from the patient's referral bundles, newest choice first (at most SHOWN_MAX)."""
    return list(
        ReferralChoice.objects.filter(referral__patient_id=patient_id, taken=True)
        .select_related("referral", "chosen_by")
        .order_by("-chosen_at", "-id")[:SHOWN_MAX]
    )

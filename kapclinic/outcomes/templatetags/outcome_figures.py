"""`{{ rate|rate_cell }}`: a rate as "12 / 40 · 30.0 % (95 % CI 18.1 to 45.4)", or "no patients" when there is none."""

from __future__ import annotations

from datetime import datetime

from django import template

from kapclinic.outcomes.cohorts import Rate

register = template.Library()


@register.filter
def rate_cell(rate: Rate) -> str:
    if rate.of == 0 or rate.share is None:
        return "no patients"
    interval = rate.interval
    assert interval is not None
    low, high = (f"{bound * 100:.1f}" for bound in interval)
    return f"{rate.count} / {rate.of} · {rate.share * 100:.1f} % (95 % CI {low} to {high})"


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


@register.filter
def from_iso(value: str) -> datetime | None:
    """A moment kept as ISO text in a signed report's content, back as a datetime (for the `day` filters)."""
    return datetime.fromisoformat(value) if value else None

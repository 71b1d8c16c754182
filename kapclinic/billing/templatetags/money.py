"""Money on billing pages: integer cents written as dollars ("$1,250.00"); never through a float."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def dollars(cents: object) -> str:
    """12500 → "$125.00"; None → "—" (no fee in the schedule)."""
    if not isinstance(cents, int):
        return "—"
    whole, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}${whole:,}.{rest:02d}"

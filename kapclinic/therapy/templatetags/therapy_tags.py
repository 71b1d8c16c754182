"""`{% notes_to_sign %}`: the home pages' card of unsigned notes (and notes waiting for a co-signature);
`{% notes_about_session session as notes %}`: the notes on one dosing session the user may see (the session
screen belongs to the dosing app, beneath therapy in the house, so its template asks therapy itself)."""

from __future__ import annotations

from typing import Any

from django import template

from kapclinic.accounts.web import current_user
from kapclinic.audit.context import AuditContext
from kapclinic.dosing.models import DosingSession
from kapclinic.roles import Role
from kapclinic.therapy.models import TherapyNote
from kapclinic.therapy.selectors import notes_for_dosing_session
from kapclinic.therapy.selectors import notes_to_sign as select_notes_to_sign

register = template.Library()


@register.inclusion_tag("therapy/_notes_to_sign.html", takes_context=True)
def notes_to_sign(context: template.Context) -> dict[str, Any]:
    """Render the signed-in user's drafts (overdue ones marked), co-signatures asked of them, and for the
    director every draft unsigned longer than KAPCLINIC_UNSIGNED_NOTE_DAYS. The patients shown are audited."""
    request = context["request"]
    ctx = AuditContext.from_request(request)
    director = ctx.user.role == Role.DIRECTOR
    return {
        "lists": select_notes_to_sign(ctx=ctx),
        "title": "Unsigned therapy notes" if director else "Notes to sign",
    }


@register.simple_tag(takes_context=True)
def notes_about_session(context: template.Context, session: DosingSession) -> list[TherapyNote]:
    """Return the notes about `session` that the signed-in user may see."""
    return notes_for_dosing_session(user=current_user(context["request"]), session_id=session.pk)

"""What every page about a patient does with a service's refusal: one decorator instead of a try/except a view.

A NotFound becomes the 404 page and an AccessDenied the 403 page, offering emergency access when the role
may use it on the patient the URL names. The services audit a refusal before they raise it, so a page only
has to show it. Value and conflict refusals stay on the page's form (`kapclinic.accounts.web.submitted`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from kapclinic.accounts.web import forbidden, not_found
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.patients.forms import EmergencyAccessForm

View = Callable[..., HttpResponse]


def refused_with_emergency_offer(request: HttpRequest, exc: AccessDenied, patient_id: int | None) -> HttpResponse:
    """The 403 page, with the emergency-access form where the role may open this patient's chart that way."""
    context: dict[str, object] = {}
    if exc.emergency_possible and patient_id is not None:
        context = {"emergency_form": EmergencyAccessForm(), "patient_id": patient_id}
    return forbidden(request, exc.message, context=context)


def refusals_as_pages(view: View) -> View:
    """Answer the view's NotFound with the 404 page and its AccessDenied with the 403 page."""

    @wraps(view)
    def answered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            return not_found(request, exc.message)
        except AccessDenied as exc:
            return refused_with_emergency_offer(request, exc, kwargs.get("patient_id"))

    return answered

"""Small pieces every HTML view uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec, TypeVar

from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.errors import AccessDenied, Conflict, NotFound


def current_user(request: HttpRequest) -> User:
    """Return the signed-in user (views using this are behind login_required)."""
    user = request.user
    assert isinstance(user, User)
    return user


def safe_next(request: HttpRequest, target: str | None, default: str) -> str:
    """Return `target` if it is a path on this site, else `default` (no open redirects)."""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return resolve_url(default)


def forbidden(request: HttpRequest, message: str, *, context: dict[str, object] | None = None) -> HttpResponse:
    return render(request, "403.html", {"message": message, **(context or {})}, status=403)


def not_found(request: HttpRequest, message: str = "That page does not exist.") -> HttpResponse:
    return render(request, "404.html", {"message": message}, status=404)


def api_user(request: HttpRequest) -> User:
    """Return the user the API authenticated (bearer token or signed-in session)."""
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


def api_context(request: HttpRequest) -> AuditContext:
    """The audit context of an API call: the token's (or session's) user, channel "api"."""
    return AuditContext.from_request(request, user=api_user(request), channel="api")


def apply_validation_errors(form: BaseForm, exc: ValidationError, *, fallback_field: str | None = None) -> None:
    """Put a service's ValidationError on the form: next to its field, or at the top when it has none."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(fallback_field if fallback_field in form.fields else None, exc.messages)


def querystring_without_page(request: HttpRequest) -> str:
    """Return the request's filters as a query string, without the page number (for pager links)."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


AnswerT = TypeVar("AnswerT")
_CONFLICT = "_refused_by_conflict"


def submitted(form: BaseForm, call: Callable[[], AnswerT], *, fallback_field: str | None = None) -> AnswerT | None:
    """Run the service `call` when `form` is valid and return its answer (the record written: never None);
    on a refusal return None.

    The one way a page writes (issue 14): a Django form parses what was typed, a typed service call writes. A
    service's ValidationError lands next to its field (at the top when it names none) and a Conflict (a stale
    version, a state that moved on) at the top; the form keeps every typed value, so the page shows it again.
    A ValidationError naming no field lands next to `fallback_field` when given. Permission and not-found
    refusals pass through to `refusals_as_pages` (kapclinic/patients/pages.py) or `refusals_as_plain_pages`.
    """
    if not form.is_valid():
        return None
    try:
        return call()
    except ValidationError as exc:
        apply_validation_errors(form, exc, fallback_field=fallback_field)
    except Conflict as exc:
        form.add_error(None, exc.message)
        setattr(form, _CONFLICT, True)
    return None


def refused_status(form: BaseForm) -> int:
    """The status of a page shown again after a refusal: 409 for a conflict, 422 for a value that cannot be stored."""
    return 409 if getattr(form, _CONFLICT, False) else 422


def refusal_text(form: BaseForm) -> str:
    """Every error on a refused form as one line, for a button whose page another app draws (a flash message)."""
    return " ".join(str(message) for errors in form.errors.values() for message in errors)


Params = ParamSpec("Params")
ResponseT = TypeVar("ResponseT", bound=HttpResponseBase)


def refusals_as_plain_pages(
    view: Callable[Concatenate[HttpRequest, Params], ResponseT],
) -> Callable[Concatenate[HttpRequest, Params], ResponseT | HttpResponse]:
    """Answer the view's NotFound with the 404 page and its AccessDenied with the 403 page.

    For pages not about one patient (no emergency access to offer); a patient's pages use `refusals_as_pages`.
    """

    @wraps(view)
    def answered(request: HttpRequest, /, *args: Params.args, **kwargs: Params.kwargs) -> ResponseT | HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            return not_found(request, exc.message)
        except AccessDenied as exc:
            return forbidden(request, exc.message)

    return answered

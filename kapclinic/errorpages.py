from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", {"message": "You do not have permission to see this page."}, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused by the CSRF check, as the clinic's own page: Django's has an inline style, which the
    Content-Security-Policy blocks. Nothing was saved; `reason` is for the log, not for the user. (The API's
    session writes are refused by django-ninja's own check, in JSON.)"""
    message = (
        "This form could not be accepted, so nothing was saved: it had expired (after signing in again, or after "
        "a long time open) or did not come from this site. Go back, reload the page, and submit it again."
    )
    return render(request, "403.html", {"heading": "Form not accepted", "message": message}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", {"message": "That page does not exist."}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the failure may be in one of them.
    return HttpResponse(get_template("500.html").render(), status=500)

"""A person's own calendar as an iCalendar feed (issue 16, item 3): the page where they make, replace or end its
address, and the feed itself, which a calendar app fetches with the secret in the address (it cannot sign in)."""

from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from kapclinic.accounts.services import (
    calendar_feed_token_issue,
    calendar_feed_token_live,
    calendar_feed_token_revoke,
    calendar_feed_user_for,
)
from kapclinic.accounts.web import current_user
from kapclinic.appointments.calendar import feed_address, feed_ics
from kapclinic.appointments.selectors import appointments_for_feed
from kapclinic.audit.context import AuditContext
from kapclinic.roles import Role

# The secret never goes into the audit log: the log names the route, not the address that was fetched.
FEED_PATH_AUDITED = "/calendar/feed/….ics"


def _no_store(response: HttpResponse) -> HttpResponse:
    # The page shows the secret once and the feed names patients: neither may sit in a cache along the way.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def feed_page(request: HttpRequest) -> HttpResponse:
    """Show the state of the user's feed address; a POST makes a new one (ending the old) and shows it once."""
    user = current_user(request)
    address = ""
    if request.method == "POST":
        _token, secret = calendar_feed_token_issue(ctx=AuditContext.from_request(request))
        address = feed_address(request, secret)
    context = {
        "live": calendar_feed_token_live(user),
        "address": address,
        "webcal": address.replace("https://", "webcal://", 1).replace("http://", "webcal://", 1),
        "for_patient": user.role == Role.PATIENT,
    }
    return _no_store(render(request, "appointments/calendar_feed.html", context))


@login_required
@require_http_methods(["GET", "POST"])
def feed_revoke(request: HttpRequest) -> HttpResponse:
    """Ask before ending the feed address (a calendar app using it stops updating), then end it."""
    if request.method == "POST":
        if calendar_feed_token_revoke(ctx=AuditContext.from_request(request)):
            messages.success(
                request, "Your calendar feed address was ended. Calendar apps using it will stop updating."
            )
        return redirect("calendar_feed:page")
    return render(
        request, "appointments/calendar_feed_revoke.html", {"live": calendar_feed_token_live(current_user(request))}
    )


@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The feed: the owner's bookings as text/calendar. An unknown or ended address is "not found", the same answer
    whatever the reason, so the address gives nothing away."""
    user = calendar_feed_user_for(token)
    if user is None:
        raise Http404
    ctx = replace(AuditContext.from_request(request, user=user), path=FEED_PATH_AUDITED)
    body = feed_ics(
        appointments_for_feed(ctx=ctx),
        name=f"kapclinic — {user.display_name}",
        for_patient=user.role == Role.PATIENT,
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="kapclinic.ics"'
    return _no_store(response)

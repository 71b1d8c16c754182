"""Send a signed-in user to finish signing in: a new password after a reset, then the second factor."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from kapclinic.accounts.models import User
from kapclinic.accounts.services import mfa_required_for, sign_in_failure_record, sign_in_record, username_in_body

_ALWAYS_OPEN = ("/static/", "/api/", "/accounts/logout/", "/healthz", "/readyz")


class AccountGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        path = request.path
        if user.is_authenticated and not path.startswith(_ALWAYS_OPEN):
            mfa_paths = (reverse("accounts:mfa_setup"), reverse("accounts:mfa_verify"))
            verified = getattr(user, "is_verified", lambda: False)()  # set by django_otp's middleware
            if not verified and path not in mfa_paths and mfa_required_for(user, request.session):
                return redirect("accounts:mfa_verify")
            password_path = reverse("accounts:password_change")
            if getattr(user, "must_change_password", False) and path not in (password_path, *mfa_paths):
                return redirect("accounts:password_change")
        return self.get_response(request)


class SignInRequestGuard:
    """Count every refused sign-in request as a failure, whatever its body.

    A sign-in or token request whose body cannot be read (a multipart body without a boundary, too many fields,
    a NUL character, too large) or that the view answers 400 is a failed sign-in for django-axes and the audit
    log, so no content type slips past the lockout. Placed first, before anything reads the body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.paths = {reverse("accounts:login"), reverse("api:token_create")}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path not in self.paths:
            return self.get_response(request)
        api = request.path.startswith("/api/")
        body = b""
        try:
            body = request.body  # raises RequestDataTooBig past DATA_UPLOAD_MAX_MEMORY_SIZE
            request.POST  # noqa: B018 - raises on a malformed form or multipart body
        except Exception:  # every way a body can be unreadable: all of them are a 400 counted as a failure
            request._mark_post_parse_error()  # type: ignore[attr-defined]
            sign_in_failure_record(
                request, username=username_in_body(body), purpose="token" if api else "sign_in", why="unreadable body"
            )
            if getattr(request, "axes_locked_out", False):  # this failure reached the limit
                lockout: HttpResponse = get_lockout_response(request, None, None)  # AXES_LOCKOUT_CALLABLE: 429
                return lockout
            message = "The sign-in request could not be read."
            if api:
                return JsonResponse({"detail": message}, status=400)
            return HttpResponse(message, status=400, content_type="text/plain")
        response = self.get_response(request)
        if response.status_code == 400 and not api:  # the token view counts its own 400s
            sign_in_failure_record(
                request, username=str(request.POST.get("username", "")), purpose="sign_in", why="bad request"
            )
        return response


# Requests that are not a person's activity: the screens' automatic refreshes send this header.
POLL_HEADER = "X-Kapclinic-Poll"
LAST_ACTIVITY_SESSION_KEY = "kapclinic_last_activity"
# The last activity is written to the session at most this often, so pages do not each write the session row.
_ACTIVITY_RESOLUTION_SECONDS = 60


def mark_activity(request: HttpRequest, *, now: float | None = None, force: bool = False) -> None:
    """Note that the signed-in person did something (not a poll): the idle clock starts again."""
    moment = int(now if now is not None else time.time())
    last = request.session.get(LAST_ACTIVITY_SESSION_KEY)
    if force or not isinstance(last, int) or moment - last >= _ACTIVITY_RESOLUTION_SECONDS:
        request.session[LAST_ACTIVITY_SESSION_KEY] = moment


class IdleSignOutMiddleware:
    """Sign a browser session out after KAPCLINIC_IDLE_TIMEOUT_MINUTES without activity (HIPAA 164.312(a)(2)(iii)).

    Polls (the alert lists and today's board refresh themselves every few seconds) are not activity: they carry
    POLL_HEADER and neither restart the clock nor save the session. The page warns before the time-out
    (kapclinic/static/kapclinic/idle_timeout.js) and its "stay signed in" posts to accounts:keepalive.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and hasattr(request, "session") and request.session.session_key:
            now = time.time()
            last = request.session.get(LAST_ACTIVITY_SESSION_KEY)
            if isinstance(last, int) and now - last > settings.KAPCLINIC_IDLE_TIMEOUT_MINUTES * 60:
                if isinstance(user, User):
                    sign_in_record(request, user=user, purpose="idle_sign_out")
                logout(request)
                return self._signed_out(request)
            if request.headers.get(POLL_HEADER) != "1":
                mark_activity(request, now=now)
        response = self.get_response(request)
        return self._redirect_htmx_to_sign_in(request, response)

    def _signed_out(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "Signed out after a time without activity. Sign in again."}, status=401)
        target = f"{reverse('accounts:login')}?idle=1&{urlencode({'next': request.get_full_path()})}"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=200)
            response["HX-Redirect"] = target
            return response
        return redirect(target)

    @staticmethod
    def _redirect_htmx_to_sign_in(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # A poll answered "sign in first" must take the whole page there, not swap the sign-in form into a box.
        login_url = reverse("accounts:login")
        if (
            request.headers.get("HX-Request")
            and response.status_code == 302
            and response["Location"].startswith(login_url)
        ):
            redirected = HttpResponse(status=200)
            redirected["HX-Redirect"] = response["Location"]
            return redirected
        return response

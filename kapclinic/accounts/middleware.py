"""Send a signed-in user to finish signing in: a new password after a reset, then the second factor."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from kapclinic.accounts.services import mfa_required_for

_ALWAYS_OPEN = ("/static/", "/api/", "/accounts/logout/", "/healthz")


class AccountGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        path = request.path
        if user.is_authenticated and not path.startswith(_ALWAYS_OPEN):
            mfa_paths = (reverse("accounts:mfa_setup"), reverse("accounts:mfa_verify"))
            verified = getattr(user, "is_verified", lambda: False)()  # set by django_otp's middleware
            if mfa_required_for(user) and not verified and path not in mfa_paths:
                return redirect("accounts:mfa_verify")
            password_path = reverse("accounts:password_change")
            if getattr(user, "must_change_password", False) and path not in (password_path, *mfa_paths):
                return redirect("accounts:password_change")
        return self.get_response(request)

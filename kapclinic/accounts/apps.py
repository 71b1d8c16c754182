from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kapclinic.accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.connect(_remember_enrolment, dispatch_uid="kapclinic_mfa_enrolled")


def _remember_enrolment(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """At sign-in (the session is saved then anyway): note whether the user has an authenticator (asked again at
    the next sign-in), and start the idle clock."""
    from kapclinic.accounts.middleware import mark_activity
    from kapclinic.accounts.services import MFA_ENROLLED_SESSION_KEY, mfa_enrolled

    if request is not None and hasattr(request, "session"):
        request.session[MFA_ENROLLED_SESSION_KEY] = mfa_enrolled(user)
        mark_activity(request, force=True)

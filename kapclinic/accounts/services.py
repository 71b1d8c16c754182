"""Account changes: users, passwords, API tokens and two-factor devices."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, QueryDict
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapclinic.accounts.models import ApiToken, CalendarFeedToken, User, api_token_digest, secret_new
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.roles import Action, Role, may

# One answer for every failed witness confirmation: a wrong password, an unknown or inactive user, a locked-out
# account and a right password without a licence must look the same, or the prompt becomes a password oracle.
WITNESS_REFUSED = "The witness could not be confirmed: check the username and password of a licensed colleague."


def _require(ctx: AuditContext, action: Action) -> None:
    if not may(ctx.user.role, action):
        raise AccessDenied("Your role does not allow this.")


def _user_to_manage(ctx: AuditContext, user_id: int) -> User:
    """The account the director is about to change (a role that manages no users is refused first)."""
    _require(ctx, Action.USER_MANAGE)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("No such user.")
    return user


def user_create(
    *,
    ctx: AuditContext,
    username: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    licence_type: str = "",
    licence_number: str = "",
    password: str,
) -> User:
    """Create a staff account; the new user must choose their own password at first sign-in."""
    _require(ctx, Action.USER_MANAGE)
    if role not in Role.__members__.values() or role == Role.PATIENT:
        raise ValidationError({"role": "Choose a staff role."})
    if Role(role).is_licensed and not licence_number.strip():
        raise ValidationError({"licence_number": "Prescribers and nurses need a licence number."})
    user = User(
        username=username.strip(),
        role=role,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email.strip(),
        licence_type=licence_type.strip(),
        licence_number=licence_number.strip(),
        must_change_password=True,
    )
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    with transaction.atomic():
        user.save()
        access_event_record(ctx=ctx, action="user.create", detail={"user": user.username, "role": role})
    return user


def user_password_reset(*, ctx: AuditContext, user_id: int, new_password: str) -> User:
    """Set a temporary password for a user (director only); they must change it at next sign-in."""
    user = _user_to_manage(ctx, user_id)
    password_validation.validate_password(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.must_change_password = True
        user.save(update_fields=["password", "must_change_password"])
        # A reset password ends every API token the user had, and their calendar feed address.
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        _calendar_feed_end(user)
        access_event_record(ctx=ctx, action="user.password_reset", detail={"user": user.username})
    return user


def user_set_active(*, ctx: AuditContext, user_id: int, active: bool) -> User:
    """Deactivate or reactivate an account; accounts are never deleted (the audit trail points at them)."""
    user = _user_to_manage(ctx, user_id)
    if user.pk == ctx.user.pk and not active:
        raise ValidationError("You cannot deactivate your own account.")
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:
            ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        access_event_record(
            ctx=ctx, action="user.activate" if active else "user.deactivate", detail={"user": user.username}
        )
    return user


def password_changed(*, ctx: AuditContext) -> None:
    """After the user chose their own password: clear the must-change flag and end every API token they had
    (a token issued under the old password must not outlive it); audited."""
    user = ctx.user
    with transaction.atomic():
        if user.must_change_password:
            user.must_change_password = False
            user.save(update_fields=["must_change_password"])
        revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        access_event_record(ctx=ctx, action="auth.password_change", detail={"tokens_revoked": revoked})


def api_token_issue(*, user: User, label: str = "", request: HttpRequest | None = None) -> tuple[ApiToken, str]:
    """Create a bearer token for `user`; return the row and the token text (shown once, never stored).

    Issued through the API (`request` given), the token is in the audit log with the address it went to."""
    raw, digest, prefix = secret_new("kap_")
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            digest=digest,
            prefix=prefix,
            label=label[:80],
            created_at=now,
            expires_at=now + timedelta(hours=settings.KAPCLINIC_API_TOKEN_HOURS),
        )
        if request is not None:
            access_event_record(
                ctx=_auth_context(request, user),
                action="auth.token_issue",
                detail={"username": user.username, "token": token.pk, "expires_at": token.expires_at.isoformat()},
            )
    return token, raw


def api_token_for(raw: str) -> ApiToken | None:
    """Return the usable token for this bearer text, or None if unknown, revoked or expired."""
    token = ApiToken.objects.select_related("user").filter(digest=api_token_digest(raw)).first()
    if token is None or not token.is_usable() or not token.user.is_active:
        return None
    _mark_used(token)
    return token


def _mark_used(token: ApiToken | CalendarFeedToken) -> None:
    now = timezone.now()
    # Write the last-used time at most once a minute: reads should not each cost a write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        type(token).objects.filter(pk=token.pk).update(last_used_at=now)


def api_token_revoke(*, ctx: AuditContext, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (a director may revoke anyone's); audited."""
    user = ctx.user
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None or (token.user_id != user.pk and not may(user.role, Action.USER_MANAGE)):
        raise NotFound("No such token.")
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            access_event_record(ctx=ctx, action="auth.token_revoke", detail={"token": token.pk, "owner": token.user_id})
    return token


def calendar_feed_token_issue(*, ctx: AuditContext) -> tuple[CalendarFeedToken, str]:
    """Give the user a new calendar feed address, ending the one they had; return the row and the secret (shown
    once, never stored); audited."""
    raw, digest, prefix = secret_new("")
    with transaction.atomic():
        # The lock orders two clicks of "new address" at once: one live address per person (and the constraint).
        User.objects.select_for_update().filter(pk=ctx.user.pk).first()
        replaced = _calendar_feed_end(ctx.user)
        token = CalendarFeedToken.objects.create(user=ctx.user, digest=digest, prefix=prefix)
        access_event_record(
            ctx=ctx, action="auth.calendar_feed_issue", detail={"token": token.pk, "replaced": replaced}
        )
    return token, raw


def calendar_feed_token_revoke(*, ctx: AuditContext) -> int:
    """End the user's calendar feed address (a calendar app using it gets "not found" from then on); audited.
    Return how many addresses were ended (0 or 1)."""
    with transaction.atomic():
        ended = _calendar_feed_end(ctx.user)
        if ended:
            access_event_record(ctx=ctx, action="auth.calendar_feed_revoke", detail={"tokens_revoked": ended})
    return ended


def _calendar_feed_end(user: User) -> int:
    return CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def calendar_feed_token_live(user: User) -> CalendarFeedToken | None:
    """The user's live calendar feed address, if any (its prefix and dates; the secret is not kept)."""
    return CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).first()


def calendar_feed_user_for(raw: str) -> User | None:
    """Return the active user whose live feed address has this secret, or None (unknown, ended, or the account
    deactivated)."""
    token = CalendarFeedToken.objects.select_related("user").filter(digest=api_token_digest(raw)).first()
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    _mark_used(token)
    return token.user


def mfa_device_for(user: User) -> TOTPDevice | None:
    """Return the user's confirmed authenticator, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def mfa_enrolment_start(*, user: User) -> TOTPDevice:
    """Return the user's unconfirmed authenticator, creating it on first call."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def mfa_enrolment_confirm(*, ctx: AuditContext, code: str) -> bool:
    """Confirm the pending authenticator if `code` is right (replacing any earlier one); return whether it was."""
    user = ctx.user
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(code.strip()):
        return False
    with transaction.atomic():
        replaced = TOTPDevice.objects.filter(user=user, confirmed=True).delete()[0]
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        access_event_record(ctx=ctx, action="user.mfa_enrol", detail={"replaced": bool(replaced)})
    return True


# The session remembers whether its user has an authenticator, so pages do not ask the database every request.
MFA_ENROLLED_SESSION_KEY = "kapclinic_mfa_enrolled"


def mfa_enrolled(user: User) -> bool:
    """Return whether the user has a confirmed authenticator."""
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def mfa_required_for(user: Any, session: Any = None) -> bool:
    """Return whether this user must pass a second factor: staff when the setting is on, and anyone (a patient
    too) who has enrolled an authenticator. `session`, when given, caches the enrolment (set at sign-in)."""
    if bool(settings.KAPCLINIC_REQUIRE_MFA) and getattr(user, "role", "") != Role.PATIENT:
        return True
    if not isinstance(user, User) or user.pk is None:
        return False
    if session is not None and MFA_ENROLLED_SESSION_KEY in session:
        return bool(session[MFA_ENROLLED_SESSION_KEY])
    enrolled = mfa_enrolled(user)
    if session is not None:
        session[MFA_ENROLLED_SESSION_KEY] = enrolled
    return enrolled


@dataclass(frozen=True)
class PasswordCheck:
    """What one throttled password check found: the user (None on any failure) and whether the lockout holds."""

    user: User | None
    locked_out: bool


def _readable_body(request: HttpRequest) -> None:
    """Make the body safe to read again: django-axes reads request.POST, which raises on a malformed body."""
    try:
        request.POST  # noqa: B018 - parses (and caches) the form body, or raises
    except Exception:  # MultiPartParserError, TooManyFieldsSent, RequestDataTooBig, UnreadablePostError, ...
        request._mark_post_parse_error()  # type: ignore[attr-defined]  # Django's own: empty POST and FILES


def _auth_context(request: HttpRequest, actor: User | None) -> AuditContext:
    channel = "api" if request.path.startswith("/api/") else "page"
    who = actor if actor is not None else AnonymousUser()
    return AuditContext.from_request(request, user=who, channel=channel)  # type: ignore[arg-type]


def password_check(
    request: HttpRequest, *, username: str, password: str, purpose: str, actor: User | None = None
) -> PasswordCheck:
    """The one door for a password (sign-in page, API token, controlled-substance witness).

    Throttled by django-axes (AXES_FAILURE_LIMIT failures of one username from one address lock it for
    AXES_COOLOFF_TIME), whatever the content type; every failure and lockout is in the audit log, with the
    username that was tried. `actor` is the signed-in user asking (a witness check), if any.
    """
    _readable_body(request)
    tried = username[:150]
    user = authenticate(request, username=tried, password=password[:4096])
    locked_out = bool(getattr(request, "axes_locked_out", False))
    if isinstance(user, User):
        return PasswordCheck(user=user, locked_out=False)
    access_event_record(
        ctx=_auth_context(request, actor),
        action="auth.locked_out" if locked_out else "auth.failed",
        outcome=Outcome.DENIED,
        detail={"username": tried, "purpose": purpose},
    )
    return PasswordCheck(user=None, locked_out=locked_out)


def username_in_body(body: bytes) -> str:
    """The username a sign-in body names, read as JSON or as a form whatever its declared type, so a failure is
    counted on that username even when the request as a whole cannot be read ("" when none can be found)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        value = parsed.get("username")
        return value[:150] if isinstance(value, str) else ""
    try:
        form = QueryDict(body.decode("utf-8", errors="replace"))
    except Exception:  # TooManyFieldsSent and the like: no username to be had
        return ""
    return str(form.get("username", ""))[:150]


def sign_in_failure_record(request: HttpRequest, *, username: str, purpose: str, why: str) -> None:
    """Count a sign-in request that could not be read, or a wrong one-time code, as a failure (django-axes);
    audit it."""
    _readable_body(request)
    tried = username[:150]
    user_login_failed.send(sender=__name__, credentials={"username": tried}, request=request)
    access_event_record(
        ctx=_auth_context(request, None),
        action="auth.failed",
        outcome=Outcome.INVALID,
        detail={"username": tried, "purpose": purpose, "why": why},
    )


def sign_in_record(request: HttpRequest, *, user: User, purpose: str, second_factor: bool | None = None) -> None:
    """Audit a sign-in (its password step, `second_factor` saying whether a code is still to come), a second
    factor passed, or a sign-out."""
    detail: dict[str, Any] = {"username": user.username}
    if second_factor is not None:
        detail["second_factor_pending"] = second_factor
    access_event_record(ctx=_auth_context(request, user), action=f"auth.{purpose}", detail=detail)


def second_factor_failure_record(request: HttpRequest, *, user: User) -> None:
    """Audit a wrong one-time code on the page (django-otp's device slows repeated failures down by itself)."""
    access_event_record(
        ctx=_auth_context(request, user),
        action="auth.failed",
        outcome=Outcome.DENIED,
        detail={"username": user.username, "purpose": "second_factor"},
    )


def _request_from(ctx: AuditContext) -> HttpRequest:
    """The request a witness confirmation is throttled and audited as: the actor's own door and address."""
    request = HttpRequest()
    request.method = ctx.method or "POST"
    request.path = request.path_info = ctx.path.split("?")[0] or "/"
    request.META = {"REMOTE_ADDR": ctx.client_address or "127.0.0.1", "REQUEST_METHOD": request.method}
    return request


def witness_confirm(ctx: AuditContext, *, username: str, password: str, what: str) -> User:
    """Return the witness after their own password (through the throttled door), licence, and not the actor.

    Call it outside any transaction, so a failure stays counted and audited. Raises ValidationError on the
    "witness" field: every failure gives WITNESS_REFUSED, except the actor naming themself, which is checked
    before any password and reveals nothing.
    """
    actor = ctx.user
    username = username.strip()
    if not username:
        raise ValidationError({"witness": f"{what} needs a second licensed person as witness."})
    if username == actor.get_username():
        raise ValidationError({"witness": "The witness must be someone other than you."})
    request = _request_from(ctx)
    check = password_check(request, username=username, password=password, purpose="witness", actor=actor)
    witness = check.user
    if witness is None:
        raise ValidationError({"witness": WITNESS_REFUSED})
    if witness.pk == actor.pk:
        raise ValidationError({"witness": "The witness must be someone other than you."})
    if not Role(witness.role).is_licensed or not witness.licence_number:
        access_event_record(
            ctx=_auth_context(request, actor),
            action="auth.failed",
            outcome=Outcome.DENIED,
            detail={"username": witness.username, "purpose": "witness", "why": "no licence on file"},
        )
        raise ValidationError({"witness": WITNESS_REFUSED})
    return witness

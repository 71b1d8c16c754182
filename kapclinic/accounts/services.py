"""Account changes: users, passwords, API tokens and two-factor devices."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapclinic.accounts.models import ApiToken, User, api_token_digest
from kapclinic.accounts.roles import Action, Role, may
from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record
from kapclinic.errors import AccessDenied, NotFound


def _require(ctx: AuditContext, action: Action) -> None:
    if not may(ctx.user.role, action):
        raise AccessDenied("Your role does not allow this.")


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
    _require(ctx, Action.USER_MANAGE)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("No such user.")
    password_validation.validate_password(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.must_change_password = True
        user.save(update_fields=["password", "must_change_password"])
        # A reset password ends every API token the user had.
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        access_event_record(ctx=ctx, action="user.password_reset", detail={"user": user.username})
    return user


def user_set_active(*, ctx: AuditContext, user_id: int, active: bool) -> User:
    """Deactivate or reactivate an account; accounts are never deleted (the audit trail points at them)."""
    _require(ctx, Action.USER_MANAGE)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("No such user.")
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


def password_changed(*, user: User) -> None:
    """Clear the must-change flag after the user chose their own password."""
    if user.must_change_password:
        user.must_change_password = False
        user.save(update_fields=["must_change_password"])


def api_token_issue(*, user: User, label: str = "") -> tuple[ApiToken, str]:
    """Create a bearer token for `user`; return the row and the token text (shown once, never stored)."""
    raw = "kap_" + secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        digest=api_token_digest(raw),
        prefix=raw[4:12],
        label=label[:80],
        created_at=now,
        expires_at=now + timedelta(hours=settings.KAPCLINIC_API_TOKEN_HOURS),
    )
    return token, raw


def api_token_for(raw: str) -> ApiToken | None:
    """Return the usable token for this bearer text, or None if unknown, revoked or expired."""
    token = ApiToken.objects.select_related("user").filter(digest=api_token_digest(raw)).first()
    if token is None or not token.is_usable() or not token.user.is_active:
        return None
    now = timezone.now()
    # Write the last-used time at most once a minute: reads should not each cost a write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (a director may revoke anyone's)."""
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None or (token.user_id != user.pk and not may(user.role, Action.USER_MANAGE)):
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


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


def mfa_required_for(user: Any) -> bool:
    """Return whether this user must pass a second factor (staff, when the setting is on)."""
    return bool(settings.KAPCLINIC_REQUIRE_MFA) and getattr(user, "role", "") != Role.PATIENT

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts import services
from kapclinic.accounts.models import User
from kapclinic.apitypes import ERROR_ANSWERS, DbId
from kapclinic.errors import AccessDenied, NotFound

router = Router(tags=["auth"])


class TokenRequest(Schema):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not silently dropped

    username: str
    password: str
    otp: str | None = None
    label: str = ""


class TokenOut(Schema):
    id: int
    token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime


class RevokedOut(Schema):
    id: int
    revoked_at: datetime


@router.post("/token", auth=None, response={201: TokenOut, **ERROR_ANSWERS})
def token_create(request: HttpRequest, payload: TokenRequest) -> Status[dict[str, object]]:
    """Exchange a username and password (and a one-time code for staff when two-factor is on) for a token."""
    user = authenticate(request, username=payload.username[:150], password=payload.password[:4096])
    if getattr(request, "axes_locked_out", False):
        return Status(429, {"detail": "Too many failed sign-ins. Try again later or ask the clinic director."})
    if not isinstance(user, User):
        return Status(401, {"detail": "Wrong username or password."})
    if services.mfa_required_for(user):
        device = services.mfa_device_for(user)
        if device is None:
            return Status(403, {"detail": "Set up two-factor sign-in in the browser before using the API."})
        if not payload.otp or not device.verify_token(payload.otp.strip()):
            return Status(401, {"detail": "A current one-time code (otp) is required."})
    if user.must_change_password:
        return Status(403, {"detail": "Your password was reset. Sign in in the browser and choose a new one first."})
    token, raw = services.api_token_issue(user=user, label=payload.label)
    return Status(201, {"id": token.pk, "token": raw, "expires_at": token.expires_at})


@router.delete("/token", response={200: RevokedOut, **ERROR_ANSWERS})
def token_revoke_current(request: HttpRequest) -> dict[str, object]:
    """Revoke the token this request was made with."""
    current = getattr(request, "api_token", None)
    if current is None:
        raise AccessDenied("This request was not made with a token.")
    token = services.api_token_revoke(user=current.user, token_id=current.pk)
    return {"id": token.pk, "revoked_at": token.revoked_at}


@router.post("/tokens/{token_id}/revoke", response={200: RevokedOut, **ERROR_ANSWERS})
def token_revoke(request: HttpRequest, token_id: DbId) -> dict[str, object]:
    """Revoke one of your tokens (the director may revoke anyone's)."""
    user = request.user
    if not isinstance(user, User):
        raise NotFound("No such token.")
    token = services.api_token_revoke(user=user, token_id=token_id)
    return {"id": token.pk, "revoked_at": token.revoked_at}

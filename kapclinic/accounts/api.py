from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from kapclinic.accounts import services, smart
from kapclinic.accounts.models import SmartClient
from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId
from kapclinic.errors import AccessDenied

router = Router(tags=["auth"])

LOCKED_OUT = "Too many failed sign-ins. Try again later or ask the clinic director."


class TokenRequest(Schema):
    model_config = ConfigDict(extra="forbid")  # an unknown field is a 422, not silently dropped

    username: str = Field(max_length=150)
    password: str = Field(max_length=4096)
    otp: str | None = Field(default=None, max_length=12)
    label: str = Field(default="", max_length=80)


class TokenOut(Schema):
    id: int
    token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime


class RevokedOut(Schema):
    id: int
    revoked_at: datetime


def _token_request(request: HttpRequest) -> TokenRequest | str:
    """Read the token request from a JSON body, or say what is wrong with it."""
    if request.content_type != "application/json":
        return "Send the token request as JSON (Content-Type: application/json)."
    try:
        return TokenRequest.model_validate_json(request.body)
    except ValueError:
        return "The body must be a JSON object with a username and a password (and otp, label)."


@router.post(
    "/token",
    auth=None,
    response={201: TokenOut, **ERROR_ANSWERS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TokenRequest.model_json_schema()}},
        }
    },
)
def token_create(request: HttpRequest) -> Status[dict[str, object]]:
    """Exchange a username and password (and a one-time code when two-factor applies) for a token.

    Throttled like the sign-in page whatever the body: a body that cannot be read is a 400 counted as a failure.
    """
    payload = _token_request(request)
    if isinstance(payload, str):
        services.sign_in_failure_record(
            request, username=services.username_in_body(request.body), purpose="token", why=payload
        )
        if getattr(request, "axes_locked_out", False):
            return Status(429, {"detail": LOCKED_OUT})
        return Status(400, {"detail": payload})
    check = services.password_check(request, username=payload.username, password=payload.password, purpose="token")
    if check.locked_out:
        return Status(429, {"detail": LOCKED_OUT})
    user = check.user
    if user is None:
        return Status(401, {"detail": "Wrong username or password."})
    if services.mfa_required_for(user):
        device = services.mfa_device_for(user)
        if device is None:
            return Status(403, {"detail": "Set up two-factor sign-in in the browser before using the API."})
        if not payload.otp or not device.verify_token(payload.otp.strip()):
            services.sign_in_failure_record(request, username=user.username, purpose="token", why="one-time code")
            return Status(401, {"detail": "A current one-time code (otp) is required."})
    if user.must_change_password:
        return Status(403, {"detail": "Your password was reset. Sign in in the browser and choose a new one first."})
    token, raw = services.api_token_issue(user=user, label=payload.label, request=request)
    return Status(201, {"id": token.pk, "token": raw, "expires_at": token.expires_at})


@router.delete("/token", response={200: RevokedOut, **ERROR_ANSWERS})
def token_revoke_current(request: HttpRequest) -> dict[str, object]:
    """Revoke the token this request was made with."""
    current = getattr(request, "api_token", None)
    if current is None:
        raise AccessDenied("This request was not made with a token.")
    token = services.api_token_revoke(ctx=api_context(request), token_id=current.pk)
    return {"id": token.pk, "revoked_at": token.revoked_at}


@router.post("/tokens/{token_id}/revoke", response={200: RevokedOut, **ERROR_ANSWERS})
def token_revoke(request: HttpRequest, token_id: DbId) -> dict[str, object]:
    """Revoke one of your tokens (the director may revoke anyone's)."""
    token = services.api_token_revoke(ctx=api_context(request), token_id=token_id)
    return {"id": token.pk, "revoked_at": token.revoked_at}


# --- FHIR system clients (SMART Backend Services, issue 17): the director's, as the page accounts:smart_clients.

smart_router = Router(tags=["smart clients"])


class SmartClientIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=120)
    jwks: dict[str, object] = Field(description='The public keys: a JWK Set, {"keys": [...]}, RS384 or ES384')
    scopes: str = Field(max_length=2000, description="SMART v2 system scopes, space-separated")
    user: DbId = Field(description="The id of the staff account the client reads as")


class SmartClientOut(Schema):
    id: int
    client_id: str
    name: str
    scopes: str
    user: int
    username: str
    created_at: datetime
    revoked_at: datetime | None
    kids: list[str]


def _smart_client_out(client: SmartClient) -> dict[str, object]:
    return {
        "id": client.pk,
        "client_id": client.client_id,
        "name": client.name,
        "scopes": client.scopes,
        "user": client.user_id,
        "username": client.user.username,
        "created_at": client.created_at,
        "revoked_at": client.revoked_at,
        "kids": [str(key.get("kid", "")) for key in client.jwks.get("keys", [])],
    }


@smart_router.get("", response={200: list[SmartClientOut], **ERROR_ANSWERS})
def smart_clients(request: HttpRequest) -> list[dict[str, object]]:
    """The FHIR system clients (director only)."""
    return [_smart_client_out(c) for c in smart.smart_clients(ctx=api_context(request))]


@smart_router.post("", response={201: SmartClientOut, **ERROR_ANSWERS})
def smart_client_register(request: HttpRequest, payload: SmartClientIn) -> Status[dict[str, object]]:
    """Register a system client: its public keys, the scopes it may be granted, the staff account it reads as."""
    client = smart.smart_client_register(
        ctx=api_context(request), name=payload.name, jwks=payload.jwks, scopes=payload.scopes, user_id=payload.user
    )
    return Status(201, _smart_client_out(client))


@smart_router.post("/{smart_client_id}/revoke", response={200: SmartClientOut, **ERROR_ANSWERS})
def smart_client_revoke(request: HttpRequest, smart_client_id: DbId) -> dict[str, object]:
    """Revoke a system client: its tokens stop working at once."""
    return _smart_client_out(smart.smart_client_revoke(ctx=api_context(request), client_pk=smart_client_id))

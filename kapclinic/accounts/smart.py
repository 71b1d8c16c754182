"""SMART Backend Services for the FHIR face (issue 17, item 2): system clients, their SMART v2 scopes, the signed
client assertion (RFC 7523 `private_key_jwt`, RS384 or ES384) and the short access tokens it buys.

Who a client reads as: the staff account the director ties it to at registration. Its reads are that account's
(role x care team, through the same access doors and audit), further narrowed by the scopes of its token. A
dedicated account is the honest choice (e.g. "payer-export", role auditor: every patient, read only, no notes);
deactivating the account stops every token of the client at once, as revoking the client does.

Replay: each assertion's `jti` is kept (SmartAssertionJti, unique per client) until the assertion's `exp`, so the
same assertion is refused a second time. Access tokens are kept as their SHA-256 digest only, as API tokens are.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django.utils import timezone

from kapclinic.accounts.models import (
    SmartAccessToken,
    SmartAssertionJti,
    SmartClient,
    User,
    api_token_digest,
    secret_new,
)
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.roles import Action, Role, may

SIGNING_ALGORITHMS = ("RS384", "ES384")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_SECONDS = 300  # an access token's life, and the furthest ahead an assertion's exp may be
CLOCK_SKEW_SECONDS = 5  # tolerated between the client's clock and ours, either way
TOKEN_PREFIX = "kaps_"  # noqa: S105 - not a secret: tells a SMART access token from an API token (kap_) at a glance
CHANNEL = "smart"  # the audit channel of a system client's reads and of the token endpoint
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_ALGORITHM_OF_KTY = {"RSA": "RS384", "EC": "ES384"}
MAX_KEYS = 10
MAX_ASSERTION_CHARACTERS = 8_000  # an RS384 assertion with a 4096-bit key is under 1,500


# --- Scopes (SMART App Launch 2.0, 3.0.1: resource.permissions; v1 .read accepted) --------------------------


_SCOPE = re.compile(r"^(system|patient|user)/(\*|[A-Z][A-Za-z]{0,63})\.([a-z]+|\*)$")


@dataclass(frozen=True)
class Grant:
    """One scope: a context (system, patient, user), a resource type or "*", and the interactions it grants."""

    context: str
    resource_type: str
    permissions: frozenset[str]  # of "r" (read) and "s" (search)

    def allows(self, resource_type: str, interaction: str) -> bool:
        return self.resource_type in ("*", resource_type) and interaction in self.permissions

    def covers(self, other: Grant) -> bool:
        types_ok = self.resource_type in ("*", other.resource_type)
        return self.context == other.context and types_ok and other.permissions <= self.permissions


def scope_parse(text: str) -> Grant:
    """One scope as a Grant; ValueError naming what is wrong. This server reads and searches only: a scope asking
    to create, update or delete is refused, not silently narrowed; so is one with query parameters."""
    if "?" in text:
        raise ValueError(f"Scopes with query parameters are not supported: {text!r}.")
    found = _SCOPE.match(text)
    if found is None:
        raise ValueError(f"Not a SMART scope (e.g. system/Observation.rs): {text!r}.")
    context, resource_type, permissions = found.groups()
    if permissions == "read":  # SMART v1
        granted = frozenset("rs")
    elif permissions in ("write", "*"):
        raise ValueError(f"This server only reads: {text!r} asks to write.")
    else:
        if any(p not in "cruds" for p in permissions) or list(permissions) != sorted(
            set(permissions), key="cruds".index
        ):
            raise ValueError(f"Permissions are some of c, r, u, d, s, in that order: {text!r}.")
        if set(permissions) - set("rs"):
            raise ValueError(f"This server only reads and searches (r, s): {text!r}.")
        granted = frozenset(permissions)
    return Grant(context, resource_type, granted)


def scopes_parse(text: str, *, context: str | None = None) -> list[Grant]:
    """Space-separated scopes; ValueError for an empty list, a bad scope, or (with `context`) another context."""
    words = text.split()
    if not words:
        raise ValueError("Name at least one scope, e.g. system/Patient.rs.")
    if len(words) > 50:
        raise ValueError("At most 50 scopes.")
    grants = []
    for word in words:
        grant = scope_parse(word)
        if context is not None and grant.context != context:
            raise ValueError(f"A system client's scopes are system/... scopes: {word!r}.")
        grants.append(grant)
    return grants


def scopes_allow(grants: list[Grant], resource_type: str, interaction: str) -> bool:
    """Whether any of the scopes grants `interaction` ("r" read, "s" search) on `resource_type`."""
    return any(grant.allows(resource_type, interaction) for grant in grants)


# --- Public keys -----------------------------------------------------------------------------------------------


def _key_algorithm(key: dict[str, Any]) -> str:
    """The one algorithm a registered key verifies: RS384 for an RSA key, ES384 for an EC P-384 key."""
    return _ALGORITHM_OF_KTY[str(key.get("kty"))]


def jwks_parse(raw: str | dict[str, Any]) -> dict[str, Any]:
    """A client's JWK Set, checked: public RSA (2048 bits or more) and EC P-384 keys only, each with its own
    `kid`, for signatures, RS384 / ES384 when an `alg` is named. ValidationError on the `jwks` field otherwise."""

    def refuse(message: str) -> ValidationError:
        return ValidationError({"jwks": message})

    try:
        found = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise refuse(f"Not JSON: {exc}.") from None
    if not isinstance(found, dict) or not isinstance(found.get("keys"), list) or not found["keys"]:
        raise refuse('A JWK Set is an object with a non-empty "keys" list.')
    if len(found["keys"]) > MAX_KEYS:
        raise refuse(f"At most {MAX_KEYS} keys.")
    kids: set[str] = set()
    keys = []
    for index, key in enumerate(found["keys"], start=1):
        where = f"Key {index}"
        if not isinstance(key, dict):
            raise refuse(f"{where} is not an object.")
        if key.get("kty") not in _ALGORITHM_OF_KTY:
            raise refuse(f"{where}: only RSA and EC keys (kty), for RS384 and ES384.")
        if any(member in key for member in _PRIVATE_MEMBERS):
            raise refuse(f"{where} holds private key material: register the public key only.")
        kid = key.get("kid")
        if not isinstance(kid, str) or not kid.strip() or len(kid) > 200:
            raise refuse(f"{where} needs a kid (the assertion's header names it).")
        if kid in kids:
            raise refuse(f"{where}: kid {kid!r} is used twice.")
        kids.add(kid)
        algorithm = _key_algorithm(key)
        if "alg" in key and key["alg"] != algorithm:
            raise refuse(f"{where}: alg must be {algorithm} for a {key['kty']} key (RS384 and ES384 only).")
        if "use" in key and key["use"] != "sig":
            raise refuse(f'{where}: use must be "sig".')
        if "key_ops" in key and (not isinstance(key["key_ops"], list) or "verify" not in key["key_ops"]):
            raise refuse(f'{where}: key_ops must include "verify".')
        if key["kty"] == "EC" and key.get("crv") != "P-384":
            raise refuse(f"{where}: an ES384 key is on the P-384 curve.")
        try:
            public = jwt.PyJWK(key, algorithm=algorithm).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            raise refuse(f"{where} cannot be read: {exc}.") from None
        if isinstance(public, rsa.RSAPublicKey) and public.key_size < 2048:
            raise refuse(f"{where}: an RSA key has at least 2048 bits.")
        if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise refuse(f"{where} is not a public key.")
        keys.append(key)
    return {"keys": keys}


# --- Registration (the director) ------------------------------------------------------------------------------


def _require(ctx: AuditContext) -> None:
    if not may(ctx.user.role, Action.SMART_CLIENT_MANAGE):
        raise AccessDenied("Only the clinic director registers system clients.")


def smart_clients(*, ctx: AuditContext) -> QuerySet[SmartClient]:
    _require(ctx)
    return SmartClient.objects.select_related("user", "created_by").order_by("-created_at")


def smart_client_accounts() -> QuerySet[User]:
    """The accounts a system client may read as: active staff."""
    return User.objects.filter(is_active=True).exclude(role=Role.PATIENT).order_by("username")


def smart_client_register(
    *, ctx: AuditContext, name: str, jwks: str | dict[str, Any], scopes: str, user_id: int
) -> SmartClient:
    """Register a system client; audited, and so is a refusal (nothing written but the audit row)."""
    _require(ctx)
    try:
        errors: dict[str, str] = {}
        if not name.strip():
            errors["name"] = "Name the client (who runs it, what for)."
        elif len(name.strip()) > 120:
            errors["name"] = "At most 120 characters."
        try:
            parsed = jwks_parse(jwks)
        except ValidationError as exc:
            errors["jwks"] = exc.message_dict["jwks"][0]
        try:
            granted = " ".join(dict.fromkeys(scopes.split()))
            scopes_parse(granted, context="system")
        except ValueError as exc:
            errors["scopes"] = str(exc)
        account = smart_client_accounts().filter(pk=user_id).first()
        if account is None:
            errors["user"] = "Choose an active staff account for the client to read as."
        if errors:
            raise ValidationError(errors)
    except ValidationError as exc:
        access_event_record(
            ctx=ctx, action="smart_client.register", outcome=Outcome.DENIED, detail={"errors": exc.message_dict}
        )
        raise
    assert account is not None
    with transaction.atomic():
        client = SmartClient.objects.create(
            client_id=secrets.token_urlsafe(18),
            name=name.strip(),
            jwks=parsed,
            scopes=granted,
            user=account,
            created_by=ctx.user,
        )
        access_event_record(
            ctx=ctx,
            action="smart_client.register",
            detail={
                "client_id": client.client_id,
                "name": client.name,
                "user": account.username,
                "scopes": granted,
                "kids": [k["kid"] for k in parsed["keys"]],
            },
        )
    return client


def smart_client_revoke(*, ctx: AuditContext, client_pk: int) -> SmartClient:
    """Revoke a client: its assertions and every token it holds stop working at once; audited."""
    _require(ctx)
    with transaction.atomic():
        client = SmartClient.objects.select_for_update().filter(pk=client_pk).first()
        if client is None:
            raise NotFound("No such system client.")
        if client.revoked_at is None:
            client.revoked_at = timezone.now()
            client.save(update_fields=["revoked_at"])
            access_event_record(ctx=ctx, action="smart_client.revoke", detail={"client_id": client.client_id})
    return client


# --- The token endpoint ----------------------------------------------------------------------------------------


class TokenRefused(Exception):
    """An OAuth error answer (RFC 6749 5.2): `error` code, a description, the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400, client: SmartClient | None = None):
        super().__init__(description)
        self.error, self.description, self.status, self.client = error, description, status, client


def _client_refused(description: str, client: SmartClient | None = None) -> TokenRefused:
    return TokenRefused("invalid_client", description, 401, client)


def _one(form: QueryDict, name: str) -> str:
    values = form.getlist(name)
    if len(values) > 1:
        raise TokenRefused("invalid_request", f"{name} is sent more than once.")
    return values[0] if values else ""


def _signing_key(client: SmartClient, header: dict[str, Any]) -> jwt.PyJWK:
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _client_refused("The assertion's header names no kid.", client)
    key = next((k for k in client.jwks.get("keys", []) if k.get("kid") == kid), None)
    if key is None:
        raise _client_refused(f"No registered key has kid {kid!r}.", client)
    algorithm = _key_algorithm(key)
    if header.get("alg") != algorithm:
        raise _client_refused(f"Key {kid!r} signs with {algorithm}, not {header.get('alg')}.", client)
    return jwt.PyJWK(key, algorithm=algorithm)


def _assertion_claims(assertion: str, audience: str, now: datetime) -> tuple[SmartClient, dict[str, Any]]:
    """The verified claims of a client assertion and its client; TokenRefused(invalid_client) otherwise."""
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _client_refused("client_assertion is not a JWT.") from None
    if header.get("alg") not in SIGNING_ALGORITHMS:
        raise _client_refused(f"The assertion must be signed with RS384 or ES384, not {header.get('alg')!r}.")
    if "jku" in header or "x5u" in header or "jwk" in header:
        raise _client_refused("Keys are registered with the clinic: the header may not point at others.")
    if header.get("typ", "JWT") != "JWT":
        raise _client_refused("The assertion's typ is JWT.")
    issuer = unverified.get("iss")
    client = None
    if isinstance(issuer, str) and issuer:
        client = SmartClient.objects.select_related("user").filter(client_id=issuer).first()
    if client is None:
        raise _client_refused("Unknown client (iss).")
    if client.revoked_at is not None:
        raise _client_refused("This client was revoked.", client)
    key = _signing_key(client, header)
    try:
        claims = jwt.decode(
            assertion,
            key.key,
            algorithms=[key.algorithm_name],
            audience=audience,
            issuer=client.client_id,
            subject=client.client_id,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "jti"], "strict_aud": False},
        )
    except jwt.InvalidSignatureError:
        raise _client_refused("The signature does not verify with the registered key.", client) from None
    except jwt.ExpiredSignatureError:
        raise _client_refused("The assertion has expired (exp).", client) from None
    except jwt.InvalidAudienceError:
        raise _client_refused(f"The assertion's aud must be the token endpoint, {audience}.", client) from None
    except jwt.exceptions.InvalidSubjectError:
        raise _client_refused("The assertion's sub must be the client_id, as iss.", client) from None
    except jwt.MissingRequiredClaimError as exc:
        raise _client_refused(f"The assertion has no {exc.claim} claim.", client) from None
    except jwt.PyJWTError as exc:
        raise _client_refused(f"The assertion is not valid: {exc}.", client) from None
    expires = claims["exp"]
    if not isinstance(expires, int | float) or expires > now.timestamp() + TOKEN_SECONDS + CLOCK_SKEW_SECONDS:
        raise _client_refused("The assertion's exp is at most five minutes ahead.", client)
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= 255:
        raise _client_refused("The assertion's jti is a string of 1 to 255 characters.", client)
    return client, claims


def _auth_context(request: HttpRequest, actor: User | None) -> AuditContext:
    who = actor if actor is not None else AnonymousUser()
    return AuditContext.from_request(request, user=who, channel=CHANNEL)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Issued:
    token: SmartAccessToken
    raw: str


def smart_token_issue(request: HttpRequest, *, audience: str) -> Issued:
    """SMART Backend Services' token request (form-encoded) → an access token; every refusal and every token issued
    is audited. A refusal writes nothing else (the jti is kept only when a token is issued)."""
    try:
        return _token_issue(request, audience)
    except TokenRefused as refused:
        client = refused.client
        access_event_record(
            ctx=_auth_context(request, None),
            action="smart.token",
            outcome=Outcome.DENIED,
            detail={
                "error": refused.error,
                "why": refused.description,
                "client_id": client.client_id if client is not None else "",
            },
        )
        raise


def _token_issue(request: HttpRequest, audience: str) -> Issued:
    if request.content_type != "application/x-www-form-urlencoded":
        raise TokenRefused("invalid_request", "Send the token request form-encoded.")
    form = request.POST
    grant_type = _one(form, "grant_type")
    if grant_type != "client_credentials":
        raise TokenRefused("unsupported_grant_type", "grant_type is client_credentials.")
    if _one(form, "client_assertion_type") != ASSERTION_TYPE:
        raise TokenRefused("invalid_request", f"client_assertion_type is {ASSERTION_TYPE}.")
    assertion = _one(form, "client_assertion")
    if not assertion:
        raise TokenRefused("invalid_request", "client_assertion is missing.")
    if len(assertion) > MAX_ASSERTION_CHARACTERS:
        raise TokenRefused("invalid_request", "client_assertion is too long.")
    requested = _one(form, "scope")
    now = timezone.now()
    client, claims = _assertion_claims(assertion, audience, now)
    try:
        wanted = scopes_parse(requested, context="system")
    except ValueError as exc:
        raise TokenRefused("invalid_scope", str(exc), 400, client) from None
    registered = scopes_parse(client.scopes)
    missing = [w for w, g in zip(requested.split(), wanted, strict=True) if not any(r.covers(g) for r in registered)]
    if missing:
        raise TokenRefused("invalid_scope", f"Not registered for this client: {' '.join(missing)}.", 400, client)
    account = client.user
    if not account.is_active or account.role == Role.PATIENT:
        raise TokenRefused("invalid_grant", "The account this client reads as is deactivated.", 400, client)
    scope = " ".join(dict.fromkeys(requested.split()))
    raw, digest, prefix = secret_new(TOKEN_PREFIX)
    assertion_expires = datetime.fromtimestamp(claims["exp"], tz=UTC)
    try:
        with transaction.atomic():
            SmartAssertionJti.objects.filter(expires_at__lt=now).delete()
            with transaction.atomic():
                SmartAssertionJti.objects.create(client=client, jti=claims["jti"], expires_at=assertion_expires)
            token = SmartAccessToken.objects.create(
                client=client,
                digest=digest,
                prefix=prefix,
                scopes=scope,
                created_at=now,
                expires_at=now + timedelta(seconds=TOKEN_SECONDS),
            )
            access_event_record(
                ctx=_auth_context(request, account),
                action="smart.token",
                detail={"client_id": client.client_id, "token": token.pk, "scope": scope},
            )
    except IntegrityError:
        raise _client_refused("This assertion's jti was used already (replay).", client) from None
    return Issued(token, raw)


def smart_token_for(raw: str) -> SmartAccessToken | None:
    """The usable access token for this bearer text: unexpired, its client not revoked, its account active."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        SmartAccessToken.objects.select_related("client", "client__user").filter(digest=api_token_digest(raw)).first()
    )
    if token is None or token.expires_at <= timezone.now() or token.client.revoked_at is not None:
        return None
    if not token.client.user.is_active:
        return None
    return token

"""SMART Backend Services on the FHIR face (issue 17, item 2): the token endpoint (POST /fhir/auth/token), the
discovery document (/fhir/.well-known/smart-configuration), and who a FHIR request comes from with which scopes.

The clients, their keys and scopes, the assertion's checks and the tokens are kapclinic/accounts/smart.py's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from kapclinic.accounts.models import User
from kapclinic.accounts.services import api_token_for
from kapclinic.accounts.smart import (
    CHANNEL,
    SIGNING_ALGORITHMS,
    TOKEN_PREFIX,
    TOKEN_SECONDS,
    Grant,
    TokenRefused,
    scopes_allow,
    scopes_parse,
    smart_token_for,
    smart_token_issue,
)
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record

# What a system client may ask for: the types this face serves, one by one or all at once.
SCOPES_SUPPORTED = [
    "system/*.rs",
    "system/*.read",
    "system/Patient.rs",
    "system/Practitioner.rs",
    "system/Observation.rs",
]


@dataclass(frozen=True)
class Caller:
    """Who a FHIR request comes from. `grants` None: the user's own role rules only (an API token or the signed-in
    session, a patient's too: the access doors keep a patient to their own record, i.e. patient/*.rs);
    otherwise a system client's token, read as its account and narrowed by these scopes."""

    user: User
    grants: list[Grant] | None = None
    client_id: str = ""

    @property
    def channel(self) -> str:
        return CHANNEL if self.grants is not None else "fhir"


def bearer_caller(raw: str) -> Caller | None:
    """The caller a bearer token names: a SMART access token (kaps_...) or an API token; None when unusable."""
    if raw.startswith(TOKEN_PREFIX):
        token = smart_token_for(raw)
        if token is None:
            return None
        return Caller(token.client.user, scopes_parse(token.scopes), token.client.client_id)
    api_token = api_token_for(raw)
    return Caller(api_token.user) if api_token is not None else None


def interaction_of(request: HttpRequest) -> tuple[str, str] | None:
    """(resource type, "r" or "s") of a FHIR read (/fhir/Type/id) or search (/fhir/Type); None for anything else
    (an operation, a history), which no scope grants here."""
    parts = request.path.removeprefix("/fhir/").strip("/").split("/")
    if not parts[0][:1].isupper() or any(p.startswith(("$", "_")) for p in parts):
        return None
    if len(parts) == 1:
        return parts[0], "s"
    if len(parts) == 2:
        return parts[0], "r"
    return None


def scope_refusal(request: HttpRequest, caller: Caller, ctx: AuditContext) -> str:
    """Why the caller's scopes do not open this request ("" when they do, or when it has no scopes); audited."""
    if caller.grants is None:
        return ""
    asked = interaction_of(request)
    if asked is not None and scopes_allow(caller.grants, *asked):
        return ""
    what = f"{'read' if asked[1] == 'r' else 'search'} of {asked[0]}" if asked else "this interaction"
    access_event_record(
        ctx=ctx,
        action="smart.scope",
        outcome=Outcome.DENIED,
        detail={"client_id": caller.client_id, "asked": list(asked or ()), "scopes": _scope_text(caller.grants)},
    )
    return f"The token's scopes do not grant {what}."


def _scope_text(grants: list[Grant]) -> str:
    return " ".join(f"{g.context}/{g.resource_type}.{''.join(sorted(g.permissions, key='rs'.index))}" for g in grants)


def token_url(request: HttpRequest) -> str:
    """The token endpoint's address, the `aud` an assertion must name (KAPCLINIC_FHIR_TOKEN_URL behind a proxy that
    changes it)."""
    configured: str = settings.KAPCLINIC_FHIR_TOKEN_URL
    return configured or request.build_absolute_uri("/fhir/auth/token")


def _json(body: dict[str, Any], status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@csrf_exempt  # a server-to-server request with a signed assertion, never a browser's
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    """Client credentials with a signed JWT assertion (SMART Backend Services; RFC 7523, RFC 6749 4.4)."""
    try:
        issued = smart_token_issue(request, audience=token_url(request))
    except TokenRefused as refused:
        return _json({"error": refused.error, "error_description": refused.description}, refused.status)
    return _json(
        {
            "access_token": issued.raw,
            "token_type": "bearer",
            "expires_in": TOKEN_SECONDS,
            "scope": issued.token.scopes,
        }
    )


@require_GET
def smart_configuration(request: HttpRequest) -> HttpResponse:
    """SMART discovery: how a system client gets a token. Open, no data."""
    return _json(
        {
            "token_endpoint": token_url(request),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": SCOPES_SUPPORTED,
            "capabilities": ["client-confidential-asymmetric"],
        }
    )

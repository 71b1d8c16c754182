"""The JSON API at /api/v1/: one NinjaAPI that mounts each app's router.

Errors from the services become the same answers everywhere: 403, 404, 409, and 422
with the field and message, shaped like ninja's own validation errors.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.openapi.schema import OpenAPISchema
from ninja.security import APIKeyCookie, HttpBearer

from kapclinic.accounts.models import User
from kapclinic.accounts.services import api_token_for, mfa_required_for
from kapclinic.appointments.services import BookingClash
from kapclinic.errors import AccessDenied, Conflict, NotFound


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>` from POST /api/v1/auth/token."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        found = api_token_for(token)
        if found is None:
            return None
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        return found.user


class SignedInSession(APIKeyCookie):
    """The browser's session cookie, with CSRF on unsafe methods, once any second factor is passed."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = request.user
        if not user.is_authenticated or not isinstance(user, User):
            return None
        if not user.is_verified() and mfa_required_for(user, request.session):  # type: ignore[attr-defined]
            return None
        if user.must_change_password:
            return None
        return user


class KapclinicApi(NinjaAPI):
    """The API whose OpenAPI document is built once per process and path prefix, not on every request.

    The document follows from the code alone (routers are mounted at import), and building it takes about a second:
    /api/v1/openapi.json on every fetch cost that much CPU of a worker. The one document is shared: read it, never
    change it (tests/test_openapi.py copies it before it edits).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._documents: dict[str, OpenAPISchema] = {}

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        document = self._documents.get(path_prefix)
        if document is None:  # two first requests at once may both build it: the same document, harmless
            document = self._documents[path_prefix] = super().get_openapi_schema(path_prefix=path_prefix)
        return document


api = KapclinicApi(
    title="kapclinic API",
    version="1",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=[BearerToken(), SignedInSession(csrf=True)],
    description=(
        "Ketamine-assisted psychotherapy clinic API. Get a token with POST /api/v1/auth/token and send it as "
        "`Authorization: Bearer <token>`. Every read or write of patient data is audited."
    ),
)


def validation_detail(exc: DjangoValidationError, location: str = "body") -> list[dict[str, Any]]:
    """Turn a Django ValidationError into ninja's 422 shape: one entry per field and message."""
    if hasattr(exc, "error_dict"):
        return [
            {"loc": [location, field], "msg": message, "type": "value_error"}
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return [{"loc": [location], "msg": message, "type": "value_error"} for message in exc.messages]


@api.exception_handler(DjangoValidationError)
def _on_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    return api.create_response(request, {"detail": validation_detail(exc)}, status=422)


@api.exception_handler(BookingClash)
def _on_clash(request: HttpRequest, exc: BookingClash) -> HttpResponse:
    """A booking's time is taken: 409 with what clashed and the next free starts (apitypes.ClashOut)."""
    body = {"detail": exc.messages[0], "field": exc.field, "next_free": [f.isoformat() for f in exc.next_free]}
    return api.create_response(request, body, status=409)


@api.exception_handler(AccessDenied)
def _on_denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return api.create_response(request, {"detail": exc.message}, status=403)


@api.exception_handler(NotFound)
def _on_not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    return api.create_response(request, {"detail": exc.message}, status=404)


@api.exception_handler(Conflict)
def _on_conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
    return api.create_response(request, {"detail": exc.message}, status=409)


@api.exception_handler(AuthenticationError)
def _on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(
        request, {"detail": "Sign in first: send a valid, unexpired bearer token."}, status=401
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


def _mount() -> None:
    from kapclinic.accounts.api import router as auth_router
    from kapclinic.accounts.api import smart_router
    from kapclinic.appointments.api import router as appointments_router
    from kapclinic.appointments.feed_api import router as calendar_feed_router
    from kapclinic.billing.api import router as billing_router
    from kapclinic.billing.authorisation_api import router as prior_authorisations_router
    from kapclinic.billing.claims_api import router as claims_router
    from kapclinic.billing.payments_api import router as payments_router
    from kapclinic.chart.api import router as chart_router
    from kapclinic.consent.api import router as consent_router
    from kapclinic.dosing.api import router as dosing_router
    from kapclinic.fhir.imports_api import router as referral_imports_router
    from kapclinic.home.api import router as inbox_router
    from kapclinic.intake.api import router as intake_router
    from kapclinic.ledger.api import router as ledger_router
    from kapclinic.ledger.report_api import router as ledger_reports_router
    from kapclinic.measures.api import router as measures_router
    from kapclinic.messaging.api import router as messaging_router
    from kapclinic.outcomes.api import router as outcomes_router
    from kapclinic.oversight.api import router as audit_router
    from kapclinic.patients.api import router as patients_router
    from kapclinic.patients.api import search_router
    from kapclinic.plans.api import router as plans_router
    from kapclinic.reminders.api import router as reminders_router
    from kapclinic.therapy.api import router as therapy_router

    api.add_router("/auth", auth_router)
    api.add_router("/smart-clients", smart_router)
    api.add_router("/patients", patients_router)
    api.add_router("/patients", chart_router)
    api.add_router("/audit-events", audit_router)
    api.add_router("/ledger/reports", ledger_reports_router)
    api.add_router("/ledger", ledger_router)
    api.add_router("", measures_router)
    api.add_router("", intake_router)
    api.add_router("", appointments_router)
    api.add_router("/calendar-feed", calendar_feed_router)
    api.add_router("", consent_router)
    api.add_router("", plans_router)
    api.add_router("", dosing_router)
    api.add_router("", therapy_router)
    api.add_router("", inbox_router)
    api.add_router("", messaging_router)
    api.add_router("", reminders_router)
    api.add_router("", billing_router)
    api.add_router("", prior_authorisations_router)
    api.add_router("", payments_router)
    api.add_router("", claims_router)
    api.add_router("", search_router)
    api.add_router("", referral_imports_router)
    api.add_router("", outcomes_router)


_mount()

"""Request checks that apply to every page and API route."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control


def _too_large(request: HttpRequest) -> bool:
    """A body past DATA_UPLOAD_MAX_MEMORY_SIZE is not read here: Django refuses it (400) to any view that reads it
    whole, and the one view that takes such a file (a referral's FHIR Bundle, kapclinic/fhir/imports_api.py and a
    multipart upload) reads it capped and refuses a NUL in it itself (kapclinic/fhir/imports_bundle.py)."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return limit is not None and length.isdigit() and int(length) > limit


class RejectNulCharactersMiddleware:
    """Refuse a request carrying a NUL character anywhere (400), before any view sees it.

    No clinical field can hold one; PostgreSQL refuses them in text columns, and SQLite
    would store them silently.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        body = request.body if request.method in ("POST", "PUT", "PATCH") and not _too_large(request) else b""
        encoded = request.content_type == "application/x-www-form-urlencoded"
        # A NUL arrives raw, percent-encoded (query strings and form bodies) or JSON-escaped.
        if (
            "%00" in query
            or "\x00" in query
            or b"\x00" in body
            or (encoded and b"%00" in body)
            or (request.content_type == "application/json" and b"\\u0000" in body)
        ):
            message = "The request contains a NUL character, which no field accepts."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponse(message, status=400, content_type="text/plain")
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Headers every dynamic answer carries: a Content-Security-Policy (no inline script or style), a
    Permissions-Policy, and "no-store" so no page or API answer with patient data stays in a browser's or a
    proxy's cache (HIPAA 164.312(a)(1)). Static files are served above this middleware and cache as usual."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.KAPCLINIC_CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", settings.KAPCLINIC_PERMISSIONS_POLICY)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        elif "no-store" not in response["Cache-Control"]:
            patch_cache_control(response, no_store=True, private=True)
        return response

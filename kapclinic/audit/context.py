"""Who is acting, from where, by which door: passed to every service and access function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest

if TYPE_CHECKING:
    from kapclinic.accounts.models import User


def client_address(request: HttpRequest) -> str | None:
    """Return the client's address; behind the clinic's own proxy, the one it forwarded."""
    if settings.KAPCLINIC_BEHIND_PROXY:
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")[0].strip()
        if forwarded:
            return forwarded
    return str(request.META.get("REMOTE_ADDR") or "") or None


@dataclass(frozen=True)
class AuditContext:
    user: User
    channel: str  # audit.models.Channel value
    client_address: str | None = None
    method: str = ""
    path: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, *, user: User | None = None, channel: str = "page") -> AuditContext:
        """Build the context for a page or API request by `user` (default: the signed-in user)."""
        actor = user if user is not None else request.user
        return cls(
            user=actor,  # type: ignore[arg-type]
            channel=channel,
            client_address=client_address(request),
            method=request.method or "",
            path=request.get_full_path()[:300],
        )

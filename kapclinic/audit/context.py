"""Who is acting, from where, by which door: passed to every service and access function."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest

if TYPE_CHECKING:
    from kapclinic.accounts.models import User


def client_address(request: HttpRequest) -> str | None:
    """Return the client's address: the lockout, the public form's rate limit and the audit log key on it.

    Behind KAPCLINIC_TRUSTED_PROXIES reverse proxies, each appends the address it was reached from to
    X-Forwarded-For, so the client is the entry that many places from the right; anything further left was
    written by the client and is never trusted. A request that passed fewer proxies than that has only entries
    the proxies wrote: the left-most is the client. No valid address there: the nearest hop's own address.
    """
    remote = str(request.META.get("REMOTE_ADDR") or "") or None
    proxies: int = settings.KAPCLINIC_TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if hop.strip()]
    if not hops:
        return remote
    candidate = hops[-proxies] if len(hops) >= proxies else hops[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


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

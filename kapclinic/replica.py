"""Reads that may go to the read replica (issue 15, item 4; docs/deploy.md, "A read replica").

With DATABASE_REPLICA_URL set, settings.KAPCLINIC_READ_REPLICA names the replica's alias. Then, and only then:

- a read goes to the replica only inside `replica_reads()`, which the report, dashboard, export and outcome
  selectors open around their reads. Opting in by code, not by model: the audit insert of the same request,
  and every other read of the same tables, stays on the primary;
- every write goes to the primary (the router never names the replica for a write, and a row read from the
  replica is saved to the primary);
- a read inside a transaction on the primary stays there (it must see the transaction's own rows);
- a user who has just written reads from the primary: a request with an unsafe method (POST, PUT, PATCH,
  DELETE) is pinned to the primary and leaves a cookie that pins that browser's next requests for
  KAPCLINIC_REPLICA_STICKY_SECONDS. A cookie, not a session flag: it costs no database write, and forging or
  dropping it only changes where that user's own reads come from. Set the window above the replica's usual lag
  (pg_stat_replication.replay_lag), which docs/deploy.md says to watch.

Without a replica every choice is Django's own (the router answers None), so nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

# The cookie left after a write; its value says nothing, its presence pins reads to the primary.
WROTE_COOKIE = "kapclinic_wrote"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # RFC 9110 9.2.1

_replica_wanted: ContextVar[bool] = ContextVar("kapclinic_replica_wanted", default=False)
_primary_pinned: ContextVar[bool] = ContextVar("kapclinic_primary_pinned", default=False)


def replica_alias() -> str:
    """Return the replica's database alias, or "" when no replica is configured."""
    return str(getattr(settings, "KAPCLINIC_READ_REPLICA", ""))


@contextmanager
def replica_reads() -> Iterator[None]:
    """Let the reads inside go to the replica (when there is one and nothing pins this request to the primary).

    Also a decorator (contextlib.contextmanager objects are ContextDecorators). A lazy QuerySet is routed when it
    runs: evaluate it inside.
    """
    token = _replica_wanted.set(True)
    try:
        yield
    finally:
        _replica_wanted.reset(token)


@contextmanager
def primary_pinned() -> Iterator[None]:
    """Keep every read inside on the primary (a request that writes, or follows a write)."""
    token = _primary_pinned.set(True)
    try:
        yield
    finally:
        _primary_pinned.reset(token)


def _replica_now() -> bool:
    return bool(
        replica_alias()
        and _replica_wanted.get()
        and not _primary_pinned.get()
        and not connections[DEFAULT_DB_ALIAS].in_atomic_block
    )


def replica_reads_alias() -> str | None:
    """Return the replica's alias if a read opted in to it would go there now, else None (the primary).

    For a lazy QuerySet that runs after the request (a streamed export): bind it with .using() while the
    request's pin still holds.
    """
    with replica_reads():
        return replica_alias() if _replica_now() else None


def _hinted_db(hints: dict[str, Any]) -> str | None:
    instance = hints.get("instance")
    return instance._state.db if isinstance(instance, Model) else None


class ReplicaRouter:
    """Django database router (settings.DATABASE_ROUTERS): see the module's notes."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        replica = replica_alias()
        if not replica:
            return None
        if _replica_now():
            return replica
        # Outside replica_reads, a row read from the replica fetches its relations from the primary.
        return DEFAULT_DB_ALIAS if _hinted_db(hints) == replica else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        replica = replica_alias()
        # Django would save a row where it was read from; a row read from the replica is saved to the primary.
        return DEFAULT_DB_ALIAS if replica and _hinted_db(hints) == replica else None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        replica = replica_alias()
        if replica and {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, replica}:
            return True  # the same rows, one copy behind
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        # The replica copies the primary (streaming replication); nothing is ever migrated there directly.
        return False if db == "replica" or (db and db == replica_alias()) else None


class ReadYourWritesMiddleware:
    """Pin a request that writes, and the same browser's requests for a short while after, to the primary."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_alias():
            return self.get_response(request)
        writes = request.method not in _SAFE_METHODS
        if not writes and WROTE_COOKIE not in request.COOKIES:
            return self.get_response(request)
        with primary_pinned():
            response = self.get_response(request)
        if writes:
            response.set_cookie(
                WROTE_COOKIE,
                "1",
                max_age=settings.KAPCLINIC_REPLICA_STICKY_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

"""One audit INSERT per page: the reads a request records outside any transaction go in together at its end.

A page that shows a caseload, today's sessions and the safety flags records a row per patient shown; written as
each list is read, that was three chain locks, three INSERTs and three commits for one page (issue 15, item 3:
"a page's audit rows go in one bulk insert"). `PageReadsMiddleware` opens a batch for the request; the audit
services put reads recorded in autocommit mode into it, and the middleware writes it once, after the view and
before the answer leaves: if that write fails, the answer is an error page, so no patient data is shown unrecorded.
Inside a transaction (every write service) rows still go in at once, with the write they record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from kapclinic.audit.chain import chain_append
from kapclinic.audit.models import AccessEvent


@dataclass
class _Batch:
    events: list[AccessEvent] = field(default_factory=list)
    # Transactions already open when the batch began (a test's own): only one opened since means a write.
    depth: int = 0


_open_batch: ContextVar[_Batch | None] = ContextVar("kapclinic_page_reads", default=None)


def _depth() -> int:
    return len(transaction.get_connection().atomic_blocks)


def reads_deferred(events: list[AccessEvent]) -> bool:
    """Hold these rows for the request's one INSERT when a batch is open and no transaction began since; else
    False (the caller writes them now)."""
    batch = _open_batch.get()
    if batch is None or _depth() > batch.depth:
        return False
    batch.events.extend(events)
    return True


@contextmanager
def page_reads() -> Iterator[None]:
    """Collect the reads recorded inside; write them in one INSERT on the way out, error or not."""
    batch = _Batch(depth=_depth())
    token = _open_batch.set(batch)
    try:
        yield
    finally:
        _open_batch.reset(token)
        chain_append(batch.events)


class PageReadsMiddleware:
    """Open a batch of audit reads for each request (kapclinic.settings.MIDDLEWARE)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with page_reads():
            return self.get_response(request)

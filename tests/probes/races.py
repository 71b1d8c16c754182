"""Requests at the same moment on real threads (PostgreSQL: each thread its own connection), for the tests that
prove a lock: exactly one of two bookings of the last room or chair wins."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import connection


def at_once(attempts: list[Callable[[], object]]) -> list[str]:
    """Run the attempts together (a barrier before each); return "done" or "refused: <messages>" for each, in the
    order they finished. Each thread closes its own database connection."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(attempt: Callable[[], object]) -> None:
        try:
            barrier.wait()
            attempt()
            result = "done"
        except ValidationError as exc:
            result = "refused: " + " ".join(exc.messages)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes

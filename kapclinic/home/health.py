"""Readiness: can this instance serve the clinic now? (docs/deploy.md, "What to monitor").

Liveness (`/healthz`) says only that the process answers; readiness (`/readyz`) also asks the database and the
background queue. Neither reads or shows patient data, so neither is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Min, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

DATABASE_TASK_BACKEND = "django_tasks_db.DatabaseBackend"


@dataclass(frozen=True)
class Readiness:
    problem: str  # empty when ready
    queue_age_seconds: int | None  # how long the oldest task due to run has waited; None: nothing waiting

    @property
    def ready(self) -> bool:
        return not self.problem

    def text(self) -> str:
        """One short plain-text line for the load balancer and the person reading its log."""
        if self.problem:
            return f"not ready: {self.problem}\n"
        if self.queue_age_seconds is None:
            return "ready: database answers, queue empty\n"
        return f"ready: database answers, oldest queued task waiting {self.queue_age_seconds} s\n"


def queue_oldest_wait(now: datetime) -> datetime | None:
    """When the oldest task due to run began waiting: its enqueue time, or its run-after time if later."""
    due = Q(run_after=get_date_max()) | Q(run_after__lte=now)
    waiting = DBTaskResult.objects.filter(due, status=TaskResultStatus.READY)
    # A task without a run-after time carries the far-future sentinel: it has waited since it was queued.
    plain = waiting.filter(run_after=get_date_max()).aggregate(since=Min("enqueued_at"))["since"]
    scheduled = (
        waiting.exclude(run_after=get_date_max())
        .annotate(since=Greatest("enqueued_at", "run_after"))
        .aggregate(oldest=Min("since"))["oldest"]
    )
    found = [moment for moment in (plain, scheduled) if moment is not None]
    return min(found) if found else None


def readiness_check() -> Readiness:
    """The database answers `SELECT 1`, and no task due to run has waited past the threshold."""
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return Readiness(problem="the database does not answer", queue_age_seconds=None)
    if settings.TASKS["default"]["BACKEND"] != DATABASE_TASK_BACKEND:
        return Readiness(problem="", queue_age_seconds=None)  # no database queue to watch
    now = timezone.now()
    try:
        since = queue_oldest_wait(now)
    except DatabaseError:
        return Readiness(problem="the task queue cannot be read (migrations not run?)", queue_age_seconds=None)
    age = None if since is None else max(0, int((now - since).total_seconds()))
    limit: int = settings.KAPCLINIC_READY_MAX_QUEUE_AGE_SECONDS
    if age is not None and age > limit:
        return Readiness(
            problem=f"the oldest queued task has waited {age} s, more than {limit} s: is manage.py db_worker running?",
            queue_age_seconds=age,
        )
    return Readiness(problem="", queue_age_seconds=age)

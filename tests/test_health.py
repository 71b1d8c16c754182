"""Liveness (/healthz) and readiness (/readyz): what a load balancer and the monitoring ask (docs/deploy.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import OperationalError, connections
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kapclinic.measures.tasks import send_measure_reminders

pytestmark = pytest.mark.django_db


def test_liveness_answers_without_the_database(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_ready_when_the_database_answers_and_the_queue_is_empty() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "ready: database answers, queue empty\n"
    assert "no-store" in response["Cache-Control"]


def test_ready_while_queued_tasks_are_young(settings: Any) -> None:
    settings.KAPCLINIC_READY_MAX_QUEUE_AGE_SECONDS = 300
    with time_machine.travel(timezone.now() - timedelta(seconds=60)):
        send_measure_reminders.enqueue()
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert b"oldest queued task waiting 6" in response.content  # 60 s, give or take the test's own time


def test_not_ready_when_a_task_has_waited_too_long(settings: Any) -> None:
    settings.KAPCLINIC_READY_MAX_QUEUE_AGE_SECONDS = 300
    with time_machine.travel(timezone.now() - timedelta(minutes=10)):
        send_measure_reminders.enqueue()
    send_measure_reminders.enqueue()  # a young one does not hide the old one
    response = Client().get("/readyz")
    assert response.status_code == 503
    text = response.content.decode()
    assert text.startswith("not ready: the oldest queued task has waited 60")
    assert "db_worker" in text


def test_a_task_scheduled_for_later_is_not_late() -> None:
    # Queued long ago to run in the future: not waiting yet. Its run-after time, once passed, is when it starts to wait.
    with time_machine.travel(timezone.now() - timedelta(hours=2)):
        send_measure_reminders.using(run_after=timezone.now() + timedelta(hours=3)).enqueue()
        send_measure_reminders.using(run_after=timezone.now() + timedelta(hours=1, minutes=59)).enqueue()
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert b"oldest queued task waiting 6" in response.content  # due a minute ago


def test_finished_tasks_do_not_count() -> None:
    with time_machine.travel(timezone.now() - timedelta(hours=1)):
        result = send_measure_reminders.enqueue()
    DBTaskResult.objects.filter(id=result.id).update(status="SUCCESSFUL")
    assert Client().get("/readyz").status_code == 200


def test_not_ready_when_the_database_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(type(connections["default"]), "cursor", refuse)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.content.decode() == "not ready: the database does not answer\n"


def test_health_endpoints_are_open_and_not_redirected_to_https(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    assert client.get("/accounts/login/").status_code == 301  # everything else goes to https
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200

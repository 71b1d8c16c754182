"""The inbox (issue 16, item 5): derived from the records, an item per thing that needs the user, gone when done."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import MonitoringAlert
from kapclinic.dosing.session_services import alert_acknowledge
from kapclinic.home.inbox import inbox_for

pytestmark = pytest.mark.django_db


def signed_in(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def counts(username: str) -> dict[str, int]:
    return {s.key: s.count for s in inbox_for(AuditContext(user=User.objects.get(username=username), channel="system"))}


def test_the_demo_inbox_has_items_for_each_clinical_role_and_the_api_agrees() -> None:
    call_command("demo_load", "--quiet")
    assert counts("coordinator")["inquiries"] >= 1
    assert counts("prescriber")["orders"] >= 1 and counts("prescriber")["alerts"] >= 1
    assert counts("nurse")["alerts"] >= 1
    assert counts("therapist")["integration"] >= 1 and counts("therapist")["notes"] >= 1
    assert counts("therapist")["messages"] >= 1  # the demo patient's newest message, unread by the therapist
    assert counts("director")["adverse"] >= 1
    # Issue 19: the open outcome prompts reach the prescriber's and the therapist's inbox, linking to the prompt.
    assert counts("prescriber")["outcomes"] >= 1 and counts("therapist")["outcomes"] >= 1
    assert "/outcomes/prompts/" in signed_in("therapist").get("/inbox/").content.decode()
    page = signed_in("nurse").get("/inbox/")
    text = page.content.decode()
    assert page.status_code == 200 and "Monitoring alerts open" in text and "/dosing/sessions/" in text
    before = AccessEvent.objects.filter(action="inbox.alerts").count()
    api = signed_in("prescriber").get("/api/v1/inbox")
    body = api.json()
    assert api.status_code == 200
    assert body["total"] == sum(s["count"] for s in body["sections"]) >= 2
    assert AccessEvent.objects.filter(action="inbox.alerts").count() == before + 1  # the patients shown, audited
    # An item leaves the inbox when its record says it is done (one demo load for both: it takes seconds).
    nurse = User.objects.get(username="nurse")
    open_before = counts("nurse")["alerts"]
    alert = MonitoringAlert.objects.filter(acknowledgement__isnull=True).order_by("pk").first()
    assert alert is not None
    alert_acknowledge(
        ctx=AuditContext(user=nurse, channel="system"), alert_id=alert.pk, action_taken="Rechecked; BP settling"
    )
    assert counts("nurse")["alerts"] == open_before - 1


def test_patients_have_the_portal_not_an_inbox(client_for: Any, api_for: Any) -> None:
    assert client_for("patient_user").get("/inbox/").status_code == 302
    assert api_for("patient_user").get("/api/v1/inbox").status_code == 403
    assert Client().get("/inbox/").status_code == 302  # signed out: to the sign-in page

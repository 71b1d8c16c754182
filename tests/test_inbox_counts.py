"""The inbox's counts in the header (issue 16, item 5): one query of counts, no patient data read (so nothing
audited), equal to the inbox page's items for every role."""

from __future__ import annotations

import re
from typing import Any
from unittest.mock import ANY

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.home.context_processors import _shown, _spoken
from kapclinic.home.inbox import _STAND_IN_ID, _count_query, inbox_count, inbox_counts, inbox_for
from kapclinic.measures.models import SafetyFlag, SafetyFlagCode
from kapclinic.messaging.models import Message, MessageThread
from kapclinic.patients.models import Patient

pytestmark = pytest.mark.django_db


def badge(page: str, link: str) -> tuple[str, str] | None:
    """The count beside a header link and its words for a screen reader, or None when there is no badge."""
    found = re.search(
        rf'href="{link}">\w+ <span class="badge badge--count"><span aria-hidden="true">([^<]+)</span>'
        r'<span class="visually-hidden">: ([^<]+)</span>',
        page,
    )
    return (found.group(1), found.group(2)) if found else None


def test_each_roles_header_count_is_its_inbox_total_in_one_query() -> None:
    call_command("demo_load", "--quiet")
    therapist = User.objects.get(username="therapist")
    patient = Patient.objects.filter(care_team__user=therapist).order_by("pk").first()
    assert patient is not None
    SafetyFlag.objects.create(
        patient=patient, code=SafetyFlagCode.values[0], raised_by=therapist, reason="Said so in session"
    )
    seen: set[str] = set()
    for user in User.objects.exclude(role="patient").filter(is_active=True):
        sections = inbox_for(AuditContext(user=user, channel="system"))
        audited = AccessEvent.objects.count()
        with CaptureQueriesContext(connection) as queries:
            counts = inbox_counts(user)
        assert counts.sections == {s.key: s.count for s in sections}, user.username
        assert counts.total == inbox_count(sections)
        assert AccessEvent.objects.count() == audited  # numbers only: nobody's record was read
        # One query of counts (the biller: prior authorisations); the director's ledger clocks are two more; the
        # auditor has nothing to count.
        assert len(queries) == {"director": 3, "auditor": 0}.get(user.role, 1), [q["sql"] for q in queries]
        seen |= {key for key, n in counts.sections.items() if n}
        client = Client()
        client.force_login(user)
        page = client.get("/inbox/").content.decode()
        words = "1 item needs you" if counts.total == 1 else f"{counts.total} items need you"
        assert badge(page, "/inbox/") == ((str(counts.total), words) if counts.total else None), user.username
        unread = badge(page, "/messages/")
        assert unread == ((str(counts.unread_messages), ANY) if counts.unread_messages else None), user.username
    assert {
        "safety",
        "alerts",
        "messages",
        "orders",
        "notes",
        "integration",
        "outcomes",
        "inquiries",
        "reschedule",
        "adverse",
    } <= seen


def test_the_header_says_50_plus_past_the_inbox_page() -> None:
    assert (_shown(51), _spoken(51, "item needs you", "items need you")) == ("50+", "More than 50 items need you")
    assert (_shown(1), _spoken(1, "item needs you", "items need you")) == ("1", "1 item needs you")
    assert _shown(0) == ""


def test_the_api_gives_the_header_counts(api_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    thread = MessageThread.objects.create(
        patient=team_patient, subject="Sleep", started_by=personas["patient_user"], last_message_at=timezone.now()
    )
    for text in ("Hello", "Are you there?"):
        Message.objects.create(thread=thread, author=personas["patient_user"], body=text, sent_at=timezone.now())
    body = api_for("therapist").get("/api/v1/inbox").json()
    counts = inbox_counts(personas["therapist"])
    assert body["unread_messages"] == counts.unread_messages == 2
    assert body["total"] == counts.total == sum(s["count"] for s in body["sections"]) >= 1
    assert api_for("outsider_therapist").get("/api/v1/inbox").json()["unread_messages"] == 0  # not their patient


@pytest.mark.parametrize("url", ["/dosing/today/", "/dosing/alerts/"])
def test_the_polled_partials_count_nothing(client_for: Any, personas: dict[str, User], url: str) -> None:
    nurse = client_for("nurse")
    with CaptureQueriesContext(connection) as queries:
        answer = nurse.get(url, headers={"HX-Request": "true", "X-Kapclinic-Poll": "1"})
    assert answer.status_code == 200 and b'class="site-header"' not in answer.content
    assert not [q["sql"] for q in queries if "counted" in q["sql"]]
    with CaptureQueriesContext(connection) as queries:
        page = nurse.get("/dosing/today/")
    assert b'class="site-header"' in page.content
    assert len([q["sql"] for q in queries if "counted" in q["sql"]]) == 1  # the whole page: the header's one query


def test_one_built_query_serves_each_user_of_a_role_with_their_own_counts(
    personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    """The counts' SQL is built once a minute per role (home/inbox.py _count_query) and run with each user's id:
    two nurses in the same minute see their own patients' flags, and a new flag shows at the next request."""
    nurse, outsider = personas["nurse"], personas["outsider_nurse"]
    before = inbox_counts(nurse).sections.get("safety", 0), inbox_counts(outsider).sections.get("safety", 0)
    SafetyFlag.objects.create(
        patient=team_patient, code=SafetyFlagCode.values[0], reason="Synthetic flag", raised_by=personas["therapist"]
    )
    assert inbox_counts(nurse).sections["safety"] == before[0] + 1
    assert inbox_counts(outsider).sections.get("safety", 0) == before[1]  # not on that patient's team
    with CaptureQueriesContext(connection) as queries:
        inbox_counts(outsider)
    assert len(queries) == 1


def test_the_counts_statement_takes_the_users_id_alone_on_postgresql(personas: dict[str, User]) -> None:
    """The minute's dates, states and limits are in the text on PostgreSQL, so its plan is kept between pages; the
    user's id stays a parameter (one statement serves the role's every user). SQLite keeps the ORM's parameters.

    With the 25,000 patients of the load bench, PostgreSQL had planned the coordinator's and director's counts afresh
    on every page (4 ms of planning for 1 ms of running; pg_stat_statements); on the tests' few rows it keeps a
    generic plan either way, so the parameters are what is checked here."""
    for role in ("coordinator", "director", "prescriber", "nurse"):
        sql, params, names = _count_query(role)
        assert names
        if connection.vendor == "postgresql":
            assert params and set(params) == {_STAND_IN_ID}, role
            assert sql.count("%s") == len(params)
        else:
            assert len(set(params)) > 1, role  # the ORM's own values, the stand-in among them

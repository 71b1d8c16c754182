"""The pages that show a day's sessions, and the homes, as the clinic's history grows (issue 15, item 3;
bench/day_pages.py): the same queries at ten and at a hundred past sessions, and the two reads that walked the
whole history (the prescriber's sessions waiting, the therapist's integration sessions due) start from an index."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.demo.sessions import sessions_counted, sessions_ensure
from kapclinic.demo.synthetic import patients_ensure
from kapclinic.dosing.models import DosingSession
from kapclinic.dosing.selectors import sessions_waiting_for_prescriber
from kapclinic.therapy.selectors import integration_sessions_due

# Page -> (who, what, queries), in a test's transaction (no BEGIN of the audit insert's own). The board: the
# sign-in session, the user, the day's sessions with their open-alert counts, the audit chain's head and one INSERT
# of its rows; the API the same with its token for the first two. The homes add one query per list they show
# (prescriber: safety flags, caseload count and page, appointments, today's sessions, the sessions waiting, the
# notes to sign and to co-sign; prescriber and therapist: the open outcome prompts) and one head and one INSERT
# for all the lists naming patients (audit/page_reads.py).
# Every page adds the header's inbox and message counts (one query; home/context_processors.py), the API does not.
PAGES = {
    "board": ("nurse", "/dosing/today/", 6),
    "schedule": ("nurse", "/dosing/schedule/", 6),
    "home_nurse": ("nurse", "/", 9),
    "home_prescriber": ("prescriber", "/", 14),
    "home_therapist": ("therapist", "/", 13),
    "api_sessions": ("nurse", "/api/v1/dosing-sessions", 4),
}


def _queries(clients: dict[str, Client], name: str) -> int:
    who, url, _ = PAGES[name]
    client = clients["api" if url.startswith("/api/") else who]
    client.get(url)  # the first request may fill caches
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.fixture
def clinic(personas: dict[str, User]) -> dict[str, User]:
    patients_ensure(12, staff=personas)  # every second one on the personas' care team
    return personas


def test_the_day_pages_ask_the_same_queries_however_long_the_history(
    clinic: dict[str, User], client_for: Any, api_for: Any
) -> None:
    clients = {who: client_for(who) for who in ("nurse", "prescriber", "therapist")}
    clients["api"] = api_for("nurse")
    sessions_ensure(staff=clinic, past=10, today=6, coming=6)
    counts = {name: _queries(clients, name) for name in PAGES}
    sessions_ensure(staff=clinic, past=100, today=6, coming=6)
    assert sessions_counted().past == 100
    assert {name: _queries(clients, name) for name in PAGES} == counts
    assert counts == {name: queries for name, (_, _, queries) in PAGES.items()}


def _plan(sql: str, *, driven_by_sessions: bool = False) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A small table may be read whole; what matters is that the planner is allowed the index.
            cursor.execute("SET LOCAL enable_seqscan = off")
            if driven_by_sessions:
                # On a few rows, a walk through a whole other index with the state as a filter costs about the
                # same as the state index, and which one wins changed with what earlier tests left (CI, stops 25
                # and 26). A bitmap scan needs an index condition: with only bitmap scans allowed, the plan names
                # the index the sessions' own filter can use, or none.
                cursor.execute("SET LOCAL enable_indexscan = off")
                cursor.execute("SET LOCAL enable_indexonlyscan = off")
            cursor.execute("EXPLAIN " + sql)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(" ".join(str(part) for part in row) for row in cursor.fetchall())


def _sessions_sql(call: Any) -> str:
    with CaptureQueriesContext(connection) as captured:
        call()
    return next(q["sql"] for q in captured.captured_queries if "dosing_dosingsession" in q["sql"])


def test_the_sessions_waiting_for_the_prescriber_start_from_the_state_index(clinic: dict[str, User]) -> None:
    sessions_ensure(staff=clinic, past=50, today=8, coming=0)
    assert sessions_waiting_for_prescriber(clinic["prescriber"])  # today's held and cleared sessions
    plan = _plan(_sessions_sql(lambda: sessions_waiting_for_prescriber(clinic["prescriber"])), driven_by_sessions=True)
    if connection.vendor == "sqlite":  # not a walk through every session in time order
        assert "dosing_session_state_when" in plan
        assert "SCAN dosing_dosingsession" not in plan
    else:
        # PostgreSQL's choice on a test's few rows follows statistics this test cannot set: the tests run as the
        # application role, which owns no table, so ANALYZE skips them, and the planner works from what autovacuum
        # last saw of tests that commit (it chose the care team first with key probes, or another index walked
        # whole, in CI stops 25 to 27 and in session 13). So here: no session is read in a walk of the table
        # (sequential scans are off, so one shows only when no index can serve), the sessions' own filter is on
        # the state, and the state leads the index; SQLite's planner, above, shows the index chosen.
        assert "Seq Scan on dosing_dosingsession" not in plan
        sql = _sessions_sql(lambda: sessions_waiting_for_prescriber(clinic["prescriber"]))
        assert re.search(
            r'FROM "dosing_dosingsession"( U\d+)? WHERE ("dosing_dosingsession"|U\d+)\."state" IN \(', sql
        ), sql
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'dosing_session_state_when'")
            (definition,) = cursor.fetchone() or ("",)
        assert "USING btree (state," in definition, definition


def test_the_integration_sessions_due_start_from_each_patients_latest_discharge(clinic: dict[str, User]) -> None:
    sessions_ensure(staff=clinic, past=50, today=0, coming=0)
    ctx = AuditContext(user=clinic["therapist"], channel="test")
    due = integration_sessions_due(ctx=ctx)
    assert due and all(d.session.state == "discharged" for d in due)
    for item in due:  # each patient's latest discharge
        ended = DosingSession.objects.filter(patient=item.session.patient_id, state="discharged").values_list(
            "ended_at", flat=True
        )
        assert item.discharged_at == item.session.ended_at == max(e for e in ended if e is not None)
    if connection.vendor == "sqlite":
        plan = _plan(_sessions_sql(lambda: integration_sessions_due(ctx=ctx)))
        assert "dosing_session_patient_end (patient_id=? AND state=?)" in plan
        assert "SCAN dosing_discharge" not in plan
    else:  # a test's tables have no statistics, so the plan is a guess: the probe can be answered in index order
        latest = DosingSession.objects.filter(patient=due[0].session.patient_id, state="discharged")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
        plan = latest.order_by("-ended_at", "-id").values("pk")[:1].explain()
        assert "dosing_session_patient_end" in plan and "Index Cond: ((patient_id = " in plan

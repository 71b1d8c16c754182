"""The chart and session pages on a full record (the demo clinic, as bench/chart_pages.py measures them): a fixed
number of queries, none read twice, and one write, the audit row (issue 15, item 3)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kapclinic.accounts.models import User
from kapclinic.dosing.models import VitalSign
from kapclinic.measures.models import QuestionnaireResponse

# From the cache (patients/fragments.py; the request before drew it): session, user; patient (and the nurse's
# care-team check); the record version with the banner's allergies; audit chain head and INSERT; the header's
# inbox and message counts (one query); the prescriber's open outcome prompts, drawn live beside the cached body
# (one query; a nurse sees none, no query). What the chart shows is read when the record changes
# (tests/test_patients.py, test_chart_query_count_is_constant, counts that).
CHART = {"prescriber": 8, "nurse": 8}
# The session page's body from the cache too (dosing/session_views.py): session, user; the session's patient,
# state and number; patient (and the nurse's care-team check); the record version with the banner's allergies;
# audit chain head and INSERT; the header's counts. What the body shows is read when the record changes
# (tests/test_sessions.py, test_session_page_query_count_is_constant_as_readings_grow, counts that).
SESSION = {"prescriber": 8, "nurse": 9}


def _pages() -> dict[str, str]:
    scored = (  # the most scored patient both personas may open (the demo's cohort is on another nurse's team)
        QuestionnaireResponse.objects.filter(total__isnull=False, patient__care_team__user__username="nurse")
        .values("patient_id")
        .annotate(n=Count("id"))
        .order_by("-n", "patient_id")
        .first()
    )
    measured = VitalSign.objects.values("session_id").annotate(n=Count("id")).order_by("-n", "session_id").first()
    assert scored is not None and measured is not None
    return {"chart": f"/patients/{scored['patient_id']}/", "session": f"/dosing/sessions/{measured['session_id']}/"}


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["prescriber", "nurse"])
def test_the_chart_and_session_pages_read_each_thing_once_in_a_fixed_number_of_queries(username: str) -> None:
    call_command("demo_load", "--quiet")
    client = Client()
    client.force_login(User.objects.get(username=username))
    for page, url in _pages().items():
        assert client.get(url).status_code == 200  # the first request may fill caches (the charts, the session)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200 and b"<svg" in response.content
        statements = [q["sql"] for q in captured.captured_queries]
        repeated = [sql for sql, n in Counter(statements).items() if n > 1 and sql not in ("BEGIN", "COMMIT")]
        assert repeated == [], f"{page}: read twice: {repeated}"  # e.g. a user or a related row per row shown
        writes = [
            sql for sql in statements if not sql.startswith(("SELECT", "BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
        ]
        assert len(writes) == 1 and writes[0].startswith('INSERT INTO "audit_accessevent"'), writes
        expected = (CHART if page == "chart" else SESSION)[username]
        assert len(statements) == expected, f"{page} as {username}: " + "\n".join(s[:120] for s in statements)

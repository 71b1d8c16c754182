"""Bad input gets a clear refusal and changes nothing; never a 500 (issue 12, fault 8).

- every integer the API takes (path, query, body) is bounded to what the database holds: 0, -1, 2**63 and
  2**64 are a 422 naming the parameter, not a database overflow;
- a page address with an id no database holds is a 404 (the `<id:...>` converter), not a 500;
- a refusal about a patient id that does not exist is audited without naming a patient that is not there
  (the foreign key failed at commit on PostgreSQL: a 500, and the refusal was lost).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from kapclinic.audit.models import AccessEvent
from kapclinic.patients.models import Patient

HUGE = [0, -1, 2**63, 2**64, 10**20]


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/patients/{n}",
        "/api/v1/patients/{n}/record",
        "/api/v1/plans/{n}",
        "/api/v1/notes/{n}",
        "/api/v1/consents/{n}/pdf",
        "/api/v1/patients/{n}/responses",
    ],
)
def test_an_id_no_database_holds_is_a_422_in_the_api(api_for: Any, url: str, number: int) -> None:
    answer = api_for("director").get(url.format(n=number))
    assert answer.status_code == 422, answer.content
    assert answer.json()["detail"][0]["loc"][0] == "path"


@pytest.mark.parametrize(
    "url, name",
    [
        ("/api/v1/patients?offset=99999999999999999999", "offset"),
        ("/api/v1/patients?offset=-1", "offset"),
        ("/api/v1/audit-events?offset=99999999999999999999", "offset"),
        ("/api/v1/audit-events?patient=18446744073709551616", "patient"),
        ("/api/v1/ledger/entries?offset=99999999999999999999", "offset"),
        ("/api/v1/ledger/entries?lot=9223372036854775808", "lot"),
        ("/api/v1/ledger/entries?location=18446744073709551616", "location"),
        ("/api/v1/ledger/counts?limit=99999999999999999999", "limit"),
        ("/api/v1/inquiries?offset=99999999999999999999", "offset"),
    ],
)
def test_an_integer_out_of_range_in_a_query_is_a_422(api_for: Any, url: str, name: str) -> None:
    answer = api_for("director").get(url)
    assert answer.status_code == 422, answer.content
    assert answer.json()["detail"][0]["loc"] == ["query", name]


def test_an_integer_out_of_range_in_a_body_is_a_422_and_records_nothing(api_for: Any) -> None:
    entry = {"kind": "waste", "lot": 2**64, "location": 2**63, "quantity": "1"}
    answer = api_for("nurse").post("/api/v1/ledger/entries", entry, content_type="application/json")
    assert answer.status_code == 422, answer.content
    assert {tuple(e["loc"]) for e in answer.json()["detail"]} == {
        ("body", "payload", "lot"),
        ("body", "payload", "location"),
    }
    vitals = {"systolic": 2**40}
    answer = api_for("nurse").post("/api/v1/dosing-sessions/1/vitals", vitals, content_type="application/json")
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == "systolic"


@pytest.mark.parametrize(
    "url",
    [
        "/patients/{n}/",
        "/patients/{n}/record.json",
        "/appointments/{n}/",
        "/appointments/{n}.ics",
        "/patients/{n}/consent/",
        "/patients/{n}/notes/new/",  # these two overflowed in the database: a 500
        "/dosing-sessions/{n}/in-session-note/",
    ],
)
@pytest.mark.parametrize("number", [0, 2**63, 2**64, 10**30])
def test_a_page_for_an_id_no_database_holds_is_a_404(client_for: Any, url: str, number: int) -> None:
    assert client_for("director").get(url.format(n=number)).status_code == 404


def test_the_largest_id_still_reaches_the_page(client_for: Any) -> None:
    # 2**63 - 1 is a valid id that names nobody: the view's own "not found".
    assert client_for("director").get(f"/patients/{2**63 - 1}/").status_code == 404


def test_a_refusal_about_a_patient_that_does_not_exist_is_audited_without_naming_it(api_for: Any) -> None:
    missing = 987654
    assert not Patient.objects.filter(pk=missing).exists()
    # A coordinator may not sign in the portal: refused (and audited) before the patient is looked up.
    signing = {"version_id": 1, "typed_name": "Nobody Here", "risks_acknowledged": [], "channel": "portal"}
    answer = api_for("coordinator").post(
        f"/api/v1/patients/{missing}/consents", signing, content_type="application/json"
    )
    assert answer.status_code == 403, answer.content
    # The test's transaction never commits: check the foreign keys now, as the commit would have.
    connection.check_constraints()
    refusal = AccessEvent.objects.get(username="coordinator", action="consent.sign")
    assert refusal.outcome == "denied"
    assert refusal.patient_id is None and refusal.detail["patient_id"] == missing


def test_a_refusal_about_a_patient_that_exists_still_names_them(api_for: Any, team_patient: Patient) -> None:
    signing = {"version_id": 1, "typed_name": "Alder Teampatient", "risks_acknowledged": [], "channel": "portal"}
    answer = api_for("coordinator").post(
        f"/api/v1/patients/{team_patient.pk}/consents", signing, content_type="application/json"
    )
    assert answer.status_code == 403
    refusal = AccessEvent.objects.get(username="coordinator", action="consent.sign")
    assert refusal.patient_id == team_patient.pk and "patient_id" not in refusal.detail

"""Search from anywhere (issue 16, item 7): the staff header's search box, its matches, Enter, and GET /api/v1/search.

Every door reads through patient_search_for_user: scoped to whom the user may list and audited one row per patient
shown. The persona cast and the two patients are tests/conftest.py's: the nurse, prescriber and therapist are on
Alder Teampatient's care team, nobody is on Birch Otherpatient's.
"""

from __future__ import annotations

from typing import Any

import pytest

from kapclinic.audit.models import AccessEvent, Outcome
from kapclinic.patients.models import Patient
from kapclinic.roles import Action

pytestmark = pytest.mark.django_db

HEADER_BOX = 'id="header-search-q"'


# --- the box in the header ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["coordinator", "prescriber", "nurse", "therapist", "director", "auditor"])
def test_every_staff_page_has_the_box_with_its_shortcut(client_for: Any, persona: str) -> None:
    page = client_for(persona).get("/").content.decode()
    assert HEADER_BOX in page
    assert 'aria-keyshortcuts="/"' in page and "press slash on any page" in page
    assert "kapclinic/header_search.js" in page


def test_the_portal_has_no_box(client_for: Any, team_patient: Patient) -> None:
    page = client_for("patient_user").get("/portal/").content.decode()
    assert "My care" in page
    assert HEADER_BOX not in page and "header_search.js" not in page


def test_typing_shows_matches_linked_to_the_chart(client_for: Any, team_patient: Patient) -> None:
    answer = client_for("coordinator").get("/patients/search/", {"q": "alder"}, HTTP_HX_REQUEST="true")
    body = answer.content.decode()
    assert answer.status_code == 200 and "<html" not in body
    assert f'href="/patients/{team_patient.pk}/"' in body and team_patient.mrn in body
    assert "TEAMPATIENT, Alder" in body
    assert "/patients/?q=alder" in body and "All results for “alder”" in body


def test_at_most_eight_matches_and_the_count_says_so(client_for: Any, team_patient: Patient) -> None:
    from tests.test_patients import _many_patients

    _many_patients(12)
    body = client_for("director").get("/patients/search/", {"q": "1970-01-01"}).content.decode()
    assert body.count('class="header-search__hit"') == 8
    assert "First 8 of 12 patients matching “1970-01-01”" in body


def test_an_empty_box_shows_nothing(client_for: Any, team_patient: Patient) -> None:
    answer = client_for("director").get("/patients/search/", {"q": "  "})
    assert answer.status_code == 200 and team_patient.mrn not in answer.content.decode()


def test_a_nurse_finds_only_her_care_teams_patients(
    client_for: Any, team_patient: Patient, other_patient: Patient
) -> None:
    nurse = client_for("nurse")
    # Both patients share the phone exchange and the date format; search so that both would match.
    body = nurse.get("/patients/search/", {"q": "212555"}).content.decode()
    assert team_patient.mrn in body and other_patient.mrn not in body
    body = nurse.get("/patients/search/", {"q": other_patient.mrn}).content.decode()
    assert "No patient matches" in body and "header-search__hit" not in body
    # The director lists everyone: the same query finds both.
    body = client_for("director").get("/patients/search/", {"q": "212555"}).content.decode()
    assert team_patient.mrn in body and other_patient.mrn in body


def test_the_patient_role_is_refused_and_the_refusal_audited(client_for: Any, team_patient: Patient) -> None:
    client = client_for("patient_user")
    for url in ("/patients/search/", "/patients/search/go/"):
        before = AccessEvent.objects.filter(outcome=Outcome.DENIED, action=Action.PATIENT_LIST).count()
        answer = client.get(url, {"q": "alder"})
        assert answer.status_code == 403
        assert team_patient.mrn not in answer.content.decode()
        assert AccessEvent.objects.filter(outcome=Outcome.DENIED, action=Action.PATIENT_LIST).count() == before + 1


def test_each_match_shown_is_an_audited_read(client_for: Any, personas: dict[str, Any], team_patient: Patient) -> None:
    before = AccessEvent.objects.count()
    client_for("nurse").get("/patients/search/", {"q": "alder"})
    rows = list(AccessEvent.objects.order_by("id")[before:])
    assert [(r.action, r.patient_id, r.user_id, r.outcome) for r in rows] == [
        (Action.PATIENT_LIST, team_patient.pk, personas["nurse"].pk, Outcome.ALLOWED)
    ]
    assert rows[0].detail["query"] == "alder"


def test_markup_in_the_query_is_escaped(client_for: Any, team_patient: Patient) -> None:
    attack = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    client = client_for("coordinator")
    body = client.get("/patients/search/", {"q": attack}).content.decode()
    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    answer = client.get("/patients/search/go/", {"q": attack})
    assert answer.status_code == 302 and "<" not in answer["Location"]


# --- Enter ------------------------------------------------------------------------------------------------


def test_enter_on_an_exact_mrn_opens_the_chart(client_for: Any, team_patient: Patient) -> None:
    client = client_for("nurse")
    answer = client.get("/patients/search/go/", {"q": team_patient.mrn.lower()})
    assert answer.status_code == 302 and answer["Location"] == f"/patients/{team_patient.pk}/"
    chart = client.get(answer["Location"])
    assert chart.status_code == 200 and team_patient.mrn in chart.content.decode()


def test_enter_on_a_name_goes_to_the_list_with_the_query(client_for: Any, team_patient: Patient) -> None:
    answer = client_for("nurse").get("/patients/search/go/", {"q": "Alder Team"})
    assert answer.status_code == 302 and answer["Location"] == "/patients/?q=Alder+Team"


def test_enter_on_an_mrn_outside_the_team_does_not_open_the_chart(
    client_for: Any, team_patient: Patient, other_patient: Patient
) -> None:
    answer = client_for("nurse").get("/patients/search/go/", {"q": other_patient.mrn})
    assert answer.status_code == 302 and answer["Location"] == f"/patients/?q={other_patient.mrn}"


# --- the API ----------------------------------------------------------------------------------------------


def test_api_search_finds_with_the_same_rules(api_for: Any, team_patient: Patient, other_patient: Patient) -> None:
    answer = api_for("nurse").get("/api/v1/search", {"q": "212555"})
    assert answer.status_code == 200
    found = answer.json()
    assert [h["mrn"] for h in found["items"]] == [team_patient.mrn]
    assert found["items"][0]["url"] == f"/patients/{team_patient.pk}/" and found["exact_mrn"] is False
    both = api_for("director").get("/api/v1/search", {"q": "212555"}).json()
    assert {h["mrn"] for h in both["items"]} == {team_patient.mrn, other_patient.mrn}
    exact = api_for("director").get("/api/v1/search", {"q": other_patient.mrn}).json()
    assert exact["exact_mrn"] is True and [h["id"] for h in exact["items"]] == [other_patient.pk]


def test_api_search_audits_and_refuses_the_patient(
    api_for: Any, personas: dict[str, Any], team_patient: Patient
) -> None:
    before = AccessEvent.objects.count()
    api_for("therapist").get("/api/v1/search", {"q": "alder"})
    rows = [r for r in AccessEvent.objects.order_by("id")[before:] if r.action == Action.PATIENT_LIST]
    assert [(r.patient_id, r.user_id, r.channel) for r in rows] == [(team_patient.pk, personas["therapist"].pk, "api")]
    refused = api_for("patient_user").get("/api/v1/search", {"q": "alder"})
    assert refused.status_code == 403 and team_patient.mrn not in refused.content.decode()


@pytest.mark.parametrize(
    "params",
    [{"q": "x" * 101}, {"q": "al\x1bder"}, {"q": "al\x7fder"}, {"q": "alder", "limit": 0}, {"q": "a", "limit": 26}],
)
def test_api_search_bad_input_is_422(api_for: Any, team_patient: Patient, params: dict[str, Any]) -> None:
    answer = api_for("director").get("/api/v1/search", params)
    assert answer.status_code == 422, answer.content


def test_api_search_nul_is_refused_by_the_house_rule(api_for: Any, team_patient: Patient) -> None:
    answer = api_for("director").get("/api/v1/search", {"q": "alder\x00"})
    assert answer.status_code == 400 and "NUL" in answer.json()["detail"]


def test_api_search_finds_nobody_for_markup(api_for: Any, team_patient: Patient) -> None:
    answer = api_for("director").get("/api/v1/search", {"q": "<script>alert(1)</script>"})
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/json")
    assert answer.json()["items"] == []


def test_api_search_with_no_query_finds_nobody(api_for: Any, team_patient: Patient) -> None:
    answer = api_for("director").get("/api/v1/search")
    assert answer.status_code == 200 and answer.json() == {
        "items": [],
        "count": 0,
        "count_capped": False,
        "exact_mrn": False,
    }

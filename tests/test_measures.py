"""Questionnaires: answering, scoring, safety flags, corrections and the API."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.db import DatabaseError, transaction

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.measures.models import QuestionnaireResponse, ResponseDraft, ResponseItem, SafetyFlag
from kapclinic.patients.models import Patient
from tests.db_roles import REFUSED
from tests.probes.records import response_make

PHQ9_ITEM9 = [1, 1, 1, 1, 0, 0, 0, 0, 2, 1]  # total 6 (item 10 is not scored), item 9 = 2


def _post(api: Any, patient: Patient, body: dict[str, Any]) -> Any:
    return api.post(f"/api/v1/patients/{patient.pk}/responses", body, content_type="application/json")


def test_instruments_endpoint_lists_codes_items_and_loinc(api_for: Any, personas: dict[str, User]) -> None:
    instruments = {i["code"]: i for i in api_for("prescriber").get("/api/v1/instruments").json()}
    assert {"phq9", "gad7", "pcl5", "cssrs_screen", "auditc", "craving_vas"} <= set(instruments)
    assert instruments["phq9"]["loinc"] == "44249-1" and len(instruments["phq9"]["items"]) == 10
    assert [o["value"] for o in instruments["phq9"]["items"][0]["options"]] == [0, 1, 2, 3]


def test_phq9_with_item9_raises_a_flag_shown_until_acknowledged(
    api_for: Any, client_for: Any, team_patient: Patient
) -> None:
    response = _post(api_for("patient_user"), team_patient, {"instrument": "phq9", "answers": PHQ9_ITEM9})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["total"] == 6 and body["severity"] and "suicide_risk" in body["flags"]
    assert body["answers"]["9"] == 2
    flag = SafetyFlag.objects.get()
    assert flag.code == "suicide_risk_urgent"  # item 9 of 2 or more: one flag, the most urgent
    for name in ("prescriber", "therapist"):
        assert "Safety flag: Urgent: suicide risk" in client_for(name).get("/").content.decode()
    assert "Safety flag" in client_for("nurse").get(f"/patients/{team_patient.pk}/").content.decode()

    empty = client_for("prescriber").post(f"/measures/safety-flags/{flag.pk}/acknowledge/", {"action_taken": " "})
    assert empty.status_code == 422 and "Record the action taken" in empty.content.decode()
    flag.refresh_from_db()
    assert flag.acknowledged_at is None
    client_for("prescriber").post(
        f"/measures/safety-flags/{flag.pk}/acknowledge/", {"action_taken": "Called the patient; safety plan reviewed"}
    )
    acknowledged = SafetyFlag.objects.select_related("acknowledged_by").get(pk=flag.pk)
    assert acknowledged.acknowledged_at is not None
    assert acknowledged.acknowledged_by is not None and acknowledged.acknowledged_by.username == "prescriber"
    twice = client_for("therapist").post(f"/measures/safety-flags/{flag.pk}/acknowledge/", {"action_taken": "Called"})
    assert twice.status_code == 409 and "already acknowledged" in twice.content.decode()
    assert "No open safety flags." in client_for("prescriber").get("/").content.decode()


def test_outsider_cannot_acknowledge(client_for: Any, api_for: Any, team_patient: Patient) -> None:
    _post(api_for("patient_user"), team_patient, {"instrument": "phq9", "answers": PHQ9_ITEM9})
    flag = SafetyFlag.objects.get()
    assert (
        client_for("outsider_therapist")
        .post(f"/measures/safety-flags/{flag.pk}/acknowledge/", {"action_taken": "x"})
        .status_code
        == 403
    )
    flag.refresh_from_db()
    assert flag.acknowledged_at is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instrument": "phq9", "answers": {str(n): 0 for n in range(1, 9)}}, "still to answer: 9"),
        ({"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 4, 0]}, "4 is not one of the allowed answers"),
        ({"instrument": "phq9", "answers": [0] * 10, "version": "0.9"}, "no longer exists"),
        ({"instrument": "phq99", "answers": [0]}, "Unknown instrument"),
        ({"instrument": "moaas", "answers": [5]}, "completed by a clinician"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_saved(
    api_for: Any, team_patient: Patient, body: dict[str, Any], message: str
) -> None:
    response = _post(api_for("patient_user"), team_patient, body)
    assert response.status_code == 422 and message in str(response.json()), response.json()
    assert not QuestionnaireResponse.objects.exists() and not ResponseItem.objects.exists()
    assert AccessEvent.objects.filter(outcome="invalid", action="measure.answer").exists()


def test_double_submit_with_the_same_token_saves_once(api_for: Any, team_patient: Patient) -> None:
    token = str(uuid.uuid4())
    body = {"instrument": "gad7", "answers": [1] * 7, "client_token": token}
    api = api_for("patient_user")
    first, second = _post(api, team_patient, body), _post(api, team_patient, body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and QuestionnaireResponse.objects.count() == 1


def test_patient_cannot_answer_for_someone_else(api_for: Any, team_patient: Patient, other_patient: Patient) -> None:
    response = _post(api_for("patient_user"), other_patient, {"instrument": "phq9", "answers": [0] * 10})
    assert response.status_code == 404
    assert api_for("patient_user").get(f"/api/v1/patients/{other_patient.pk}/responses").status_code == 404
    assert not QuestionnaireResponse.objects.exists()


def test_submitted_responses_are_immutable_and_corrected_by_a_new_one(api_for: Any, team_patient: Patient) -> None:
    api = api_for("prescriber")
    first = _post(api, team_patient, {"instrument": "gad7", "answers": [1] * 7}).json()
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        QuestionnaireResponse.objects.filter(pk=first["id"]).update(total=0)
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        ResponseItem.objects.filter(response_id=first["id"]).delete()
    no_reason = _post(api, team_patient, {"instrument": "gad7", "answers": [2] * 7, "corrects": first["id"]})
    assert no_reason.status_code == 422
    fixed = _post(
        api,
        team_patient,
        {"instrument": "gad7", "answers": [2] * 7, "corrects": first["id"], "correction_reason": "Misread item 3"},
    )
    assert fixed.status_code == 201 and fixed.json()["corrects"] == first["id"] and fixed.json()["total"] == 14
    listed = api.get(f"/api/v1/patients/{team_patient.pk}/responses").json()
    assert [r["total"] for r in listed["items"]] == [14, 7] and listed["count"] == 2


def test_paper_entry_keeps_a_skipped_risk_item_and_flags_it(client_for: Any, team_patient: Patient) -> None:
    form = {str(n): "0" for n in range(1, 11)}
    form["9"] = ""
    response = client_for("nurse").post(
        f"/measures/patients/{team_patient.pk}/phq9/", {**form, "client_token": str(uuid.uuid4())}
    )
    assert response.status_code == 302
    saved = QuestionnaireResponse.objects.get()
    assert saved.source == "paper" and "risk_item_missing" in saved.flags and saved.total is None
    assert SafetyFlag.objects.filter(code="risk_item_missing").exists()


def test_chart_offers_the_follow_up_instruments(client_for: Any, team_patient: Patient) -> None:
    """The chart's outcome schedule offers the instruments whose uses include follow-up, the defaults ticked."""
    page = client_for("nurse").get(f"/patients/{team_patient.pk}/").content.decode()
    offered = re.findall(r'name="instruments" value="(\w+)"( checked)?', page)
    assert offered == [("phq9", " checked"), ("gad7", " checked"), ("pcl5", ""), ("auditc", "")]


def test_portal_flow_autosaves_then_shows_crisis_resources(client_for: Any, team_patient: Patient) -> None:
    client = client_for("patient_user")
    page = client.get("/portal/questionnaires/phq9/").content.decode()
    assert 'name="9"' in page and "data-questionnaire" in page
    assert client.post("/portal/questionnaires/phq9/draft/", {"1": "2", "2": "x"}).status_code == 204
    assert ResponseDraft.objects.get().answers == {"1": 2}
    assert 'value="2" checked' in client.get("/portal/questionnaires/phq9/").content.decode()
    answers = {str(n): str(v) for n, v in enumerate(PHQ9_ITEM9, start=1)}
    done = client.post("/portal/questionnaires/phq9/", {**answers, "client_token": str(uuid.uuid4())}, follow=True)
    body = done.content.decode()
    assert "988" in body and "Suicide &amp; Crisis Lifeline" in body
    assert not ResponseDraft.objects.exists()
    assert "Continue" not in client.get("/portal/").content.decode()


def test_portal_phq9_shows_every_item_in_its_published_words(client_for: Any, team_patient: Patient) -> None:
    # Issue 13 rule 7: the PHQ-9 is free to reproduce, so the portal asks its own words, not staff labels.
    from django.utils.html import escape

    from tests.test_instruments import PUBLISHED_PHQ9

    page = client_for("patient_user").get("/portal/questionnaires/phq9/").content.decode()
    assert "Over the last 2 weeks, how often have you been bothered by any of the following problems?" in page
    for wording in PUBLISHED_PHQ9.values():
        assert escape(wording) in page
    assert "Interest or pleasure</legend>" not in page


def test_calm_result_page_without_risk(client_for: Any, team_patient: Patient) -> None:
    client = client_for("patient_user")
    answers = {str(n): "1" for n in range(1, 8)}
    body = client.post("/portal/questionnaires/gad7/", {**answers, "client_token": str(uuid.uuid4())}, follow=True)
    text = body.content.decode()
    assert "Your score: <strong>7</strong>" in text and "988" not in text


def test_a_patient_reaches_no_other_patients_data_by_any_url(
    client_for: Any, api_for: Any, team_patient: Patient, other_patient: Patient, personas: dict[str, User]
) -> None:
    other_response = response_make(other_patient, personas["nurse"], 3)
    page, api = client_for("patient_user"), api_for("patient_user")
    pages = [
        f"/patients/{other_patient.pk}/",
        f"/patients/{other_patient.pk}/edit/",
        f"/measures/patients/{other_patient.pk}/phq9/",
        f"/portal/responses/{other_response.pk}/",
        f"/audit/?patient={other_patient.mrn}",
        "/patients/",
        "/ledger/entries/",
    ]
    for url in pages:
        body = page.get(url, follow=True).content.decode()
        assert other_patient.mrn not in body and "Birch" not in body, url
    for url in (
        f"/api/v1/patients/{other_patient.pk}",
        f"/api/v1/patients/{other_patient.pk}/responses",
        "/api/v1/patients",
        f"/api/v1/audit-events?patient={other_patient.pk}",
        "/api/v1/ledger/entries",
    ):
        response = api.get(url)
        assert response.status_code in {403, 404} and "Birch" not in response.content.decode(), url

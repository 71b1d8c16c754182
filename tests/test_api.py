"""The JSON API: tokens, patients, audit events; same rules and audit as the pages."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapclinic.accounts.models import ApiToken, User
from kapclinic.audit.models import AccessEvent
from kapclinic.patients.models import Patient
from tests.conftest import PASSWORD

NEW = {"given_name": "Rowan", "family_name": "Apitest", "birth_date": "1979-09-09", "phone": "+44 20 7946 0958"}


def _token(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(
        "/api/v1/auth/token", {"username": username, "password": password, **extra}, content_type="application/json"
    )


def test_token_then_list_read_create_update(personas: dict[str, User], team_patient: Patient) -> None:
    anonymous = Client()
    response = _token(anonymous, "coordinator", label="intake script")
    assert response.status_code == 201
    token = response.json()["token"]
    assert token.startswith("kap_") and not ApiToken.objects.filter(digest=token).exists()  # only a digest is kept
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    listed = api.get("/api/v1/patients", {"search": "alder", "limit": "10", "offset": "0"}).json()
    assert listed["count"] == 1
    assert {"id", "mrn", "given_name", "family_name", "birth_date"} <= set(listed["items"][0])

    created = api.post("/api/v1/patients", NEW, content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["mrn"].startswith("K") and body["birth_date"] == "1979-09-09"

    read = api.get(f"/api/v1/patients/{body['id']}")
    assert read.status_code == 200 and read.json()["family_name"] == "Apitest"

    patched = api.patch(
        f"/api/v1/patients/{body['id']}", {"pronouns": "they/them", "version": 1}, content_type="application/json"
    )
    assert patched.status_code == 200 and patched.json()["pronouns"] == "they/them"
    assert patched.json()["version"] == 2

    stale = api.patch(
        f"/api/v1/patients/{body['id']}", {"pronouns": "he/him", "version": 1}, content_type="application/json"
    )
    assert stale.status_code == 409 and "Someone else changed" in stale.json()["detail"]

    channels = set(AccessEvent.objects.filter(username="coordinator").values_list("channel", flat=True))
    assert channels == {"api"}
    actions = set(AccessEvent.objects.filter(patient_id=body["id"]).values_list("action", flat=True))
    assert actions == {"patient.register", "patient.view", "patient.edit"}


def test_list_pagination_limits(api_for: Any, team_patient: Patient, other_patient: Patient) -> None:
    api = api_for("prescriber")
    page = api.get("/api/v1/patients", {"limit": 1, "offset": 1}).json()
    assert page["count"] == 2 and len(page["items"]) == 1
    assert api.get("/api/v1/patients", {"limit": 0}).status_code == 422
    assert api.get("/api/v1/patients", {"limit": 101}).status_code == 422
    assert api.get("/api/v1/patients", {"offset": -1}).status_code == 422


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"birth_date": "2999-01-01"}, "birth_date", "Date of birth cannot be in the future."),
        ({"birth_date": "1990-02-30"}, "birth_date", ""),
        ({"family_name": "x" * 101}, "family_name", "at most 100 characters"),
        ({"email": "nope"}, "email", "Enter a valid email address."),
        ({"phone": "12"}, "phone", "Enter a 10-digit phone number"),
        ({"given_name": "  "}, "given_name", "This field cannot be blank."),
        ({"sex_at_birth": "robot"}, "sex_at_birth", "is not a valid choice"),
    ],
)
def test_create_validation_is_422_with_field_and_message(
    api_for: Any, personas: dict[str, User], change: dict[str, str], field: str, message: str
) -> None:
    response = api_for("coordinator").post("/api/v1/patients", {**NEW, **change}, content_type="application/json")
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == field and message in e["msg"] for e in errors), errors
    assert not Patient.objects.exists()


def test_duplicate_is_409_until_confirmed(api_for: Any, team_patient: Patient) -> None:
    api = api_for("coordinator")
    same = {"given_name": "Alder", "family_name": "Teampatient", "birth_date": "1984-03-14"}
    response = api.post("/api/v1/patients", same, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["duplicates"] == [
        {"id": team_patient.pk, "mrn": team_patient.mrn, "reasons": ["same name and date of birth"]}
    ]
    confirmed = api.post("/api/v1/patients", {**same, "allow_duplicate": True}, content_type="application/json")
    assert confirmed.status_code == 201


def test_wrong_password_expired_and_revoked_tokens(personas: dict[str, User], team_patient: Patient) -> None:
    anonymous = Client()
    wrong = _token(anonymous, "coordinator", password="not-the-password")
    assert wrong.status_code == 401 and wrong.json() == {"detail": "Wrong username or password."}
    assert anonymous.get("/api/v1/patients").status_code == 401
    garbage = Client(HTTP_AUTHORIZATION="Bearer kap_nonsense")
    assert garbage.get("/api/v1/patients").status_code == 401

    token = _token(anonymous, "coordinator").json()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token['token']}")
    assert api.get("/api/v1/patients").status_code == 200
    ApiToken.objects.filter(pk=token["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = api.get("/api/v1/patients")
    assert expired.status_code == 401 and expired["WWW-Authenticate"] == "Bearer"

    second = _token(anonymous, "coordinator").json()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {second['token']}")
    assert api.delete("/api/v1/auth/token").status_code == 200
    assert api.get("/api/v1/patients").status_code == 401


@pytest.mark.production_hashers
def test_token_throttled_after_repeated_failures(personas: dict[str, User]) -> None:
    anonymous = Client()
    for _ in range(4):
        assert _token(anonymous, "nurse", password="wrong-password-x").status_code == 401
    assert _token(anonymous, "nurse", password="wrong-password-x").status_code == 429  # the fifth failure locks
    locked = _token(anonymous, "nurse")  # even the right password is refused while locked
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.json()["detail"]


def test_deactivated_user_token_stops_working(api_for: Any, personas: dict[str, User], client_for: Any) -> None:
    api = api_for("therapist")
    assert api.get("/api/v1/patients").status_code == 200
    client_for("director").post(f"/accounts/users/{personas['therapist'].pk}/active/", {"active": "0"})
    assert api.get("/api/v1/patients").status_code == 401


def test_outside_care_team_is_403_patient_others_404(
    api_for: Any, team_patient: Patient, other_patient: Patient
) -> None:
    assert api_for("nurse").get(f"/api/v1/patients/{other_patient.pk}").status_code == 403
    assert api_for("nurse").get(f"/api/v1/patients/{team_patient.pk}").status_code == 200
    patient_api = api_for("patient_user")
    assert patient_api.get(f"/api/v1/patients/{team_patient.pk}").status_code == 200
    assert patient_api.get(f"/api/v1/patients/{other_patient.pk}").status_code == 404
    assert patient_api.get("/api/v1/patients").status_code == 403
    assert patient_api.get("/api/v1/audit-events").status_code == 403
    assert api_for("prescriber").get("/api/v1/patients/424242").status_code == 404
    assert AccessEvent.objects.filter(patient=other_patient, outcome="denied").count() == 2


def test_audit_events_endpoint(api_for: Any, team_patient: Patient, other_patient: Patient) -> None:
    api_for("prescriber").get(f"/api/v1/patients/{team_patient.pk}")
    api_for("prescriber").get(f"/api/v1/patients/{other_patient.pk}")
    response = api_for("auditor").get("/api/v1/audit-events", {"patient": team_patient.pk})
    assert response.status_code == 200
    items = response.json()["items"]
    assert {e["patient_id"] for e in items} == {team_patient.pk}
    assert any(e["action"] == "patient.view" and e["username"] == "prescriber" for e in items)
    assert api_for("director").get("/api/v1/audit-events", {"from": "2026-13-01"}).status_code == 422


def test_openapi_and_docs_are_served(personas: dict[str, User]) -> None:
    schema = Client().get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/auth/token", "/api/v1/patients", "/api/v1/patients/{patient_id}", "/api/v1/audit-events"):
        assert path in paths
    assert Client().get("/api/v1/docs").status_code == 200


def test_session_auth_needs_csrf_for_writes(personas: dict[str, User]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["coordinator"])
    assert client.get("/api/v1/patients").status_code == 200
    assert client.post("/api/v1/patients", NEW, content_type="application/json").status_code == 403
    assert not Patient.objects.exists()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from([*NEW, "email", "sex_at_birth", "version", "allow_duplicate", "x"]), JSON_VALUES, max_size=6
    )
)
def test_no_500_on_any_patient_body(api_for: Any, team_patient: Patient, body: dict[str, Any]) -> None:
    api = api_for("coordinator")
    created = api.post("/api/v1/patients", json.dumps(body), content_type="application/json")
    assert created.status_code in {201, 400, 409, 422}, created.content
    patched = api.patch(f"/api/v1/patients/{team_patient.pk}", json.dumps(body), content_type="application/json")
    assert patched.status_code in {200, 400, 409, 422}, patched.content


@pytest.mark.parametrize("raw", ["{", "[]", '"text"', "null", "\x00"])
def test_malformed_json_is_a_client_error(api_for: Any, personas: dict[str, User], raw: str) -> None:
    response = api_for("coordinator").post("/api/v1/patients", raw, content_type="application/json")
    assert 400 <= response.status_code < 500


def test_nul_characters_are_refused(api_for: Any, client_for: Any, personas: dict[str, User]) -> None:
    api = api_for("coordinator")
    body = '{"given_name": "A\\u0000", "family_name": "B", "birth_date": "1980-01-01"}'
    response = api.post("/api/v1/patients", body, content_type="application/json")
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    assert api.get("/api/v1/patients", {"search": "a\x00"}).status_code == 400
    assert client_for("coordinator").get("/patients/", {"q": "a\x00b"}).status_code == 400
    assert not Patient.objects.exists()


def test_unknown_fields_are_refused(api_for: Any, team_patient: Patient) -> None:
    response = api_for("coordinator").patch(
        f"/api/v1/patients/{team_patient.pk}", {"mrn": "K00000000"}, content_type="application/json"
    )
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "mrn"


def test_session_api_refused_until_a_reset_password_is_changed(client_for: Any, personas: dict[str, User]) -> None:
    User.objects.filter(username="nurse").update(must_change_password=True)
    assert client_for("nurse").get("/api/v1/patients").status_code == 401

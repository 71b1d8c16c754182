"""SMART Backend Services on the FHIR face (issue 17, item 2; Bad input): the director registers a system client
with its public keys and scopes; the client signs an assertion (RS384 or ES384) for a five-minute token and reads
as the staff account it is tied to, narrowed by its scopes. Every refusal is an OAuth error or a 403
OperationOutcome, audited, with nothing written besides the audit row."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client
from django.utils import timezone
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from kapclinic.accounts.models import SmartAccessToken, SmartAssertionJti, SmartClient, User
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import DosingSession, VitalSign
from kapclinic.patients.models import Patient
from tests.probes.records import plan_make

TOKEN_URL = "http://testserver/fhir/auth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def public_jwk(key: PrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        found = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        return {**found, "kid": kid, "alg": "RS384", "use": "sig"}
    return {**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "ES384"}


def register(
    api: Client, key: PrivateKey, *, user: User, scopes: str = "system/Patient.rs system/Observation.rs"
) -> dict[str, Any]:
    answer = api.post(
        "/api/v1/smart-clients",
        {"name": "Payer export", "user": user.pk, "scopes": scopes, "jwks": {"keys": [public_jwk(key, "k1")]}},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    body: dict[str, Any] = answer.json()
    return body


def assertion(key: PrivateKey, client_id: str, **change: Any) -> str:
    """A client assertion; `change` overrides claims (None drops one), `_alg`, `_kid` and `_key` the signing."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": now + 240,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    alg = change.pop("_alg", "RS384" if isinstance(key, rsa.RSAPrivateKey) else "ES384")
    kid = change.pop("_kid", "k1")
    signer = change.pop("_key", key)
    for name, value in change.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return jwt.encode(claims, signer, algorithm=alg, headers={"kid": kid})


def ask(assertion_text: str, scope: str = "system/Patient.rs", **change: str) -> Any:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion_text,
        "scope": scope,
        **change,
    }
    return Client().post("/fhir/auth/token", urlencode(form), content_type="application/x-www-form-urlencoded")


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def vital(personas: dict[str, User], team_patient: Patient) -> VitalSign:
    plan = plan_make(team_patient, personas, stamp=True)
    session = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=1, scheduled_for=timezone.now() - timedelta(hours=2), state="monitoring"
    )
    return VitalSign.objects.create(
        session=session, measured_at=timezone.now() - timedelta(minutes=30), systolic=120, diastolic=80,
        heart_rate=70, recorded_by=personas["nurse"],
    )  # fmt: skip


# --- Discovery -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_discovery_and_the_capability_statement_name_the_token_endpoint() -> None:
    found = Client().get("/fhir/.well-known/smart-configuration").json()
    assert found["token_endpoint"] == TOKEN_URL
    assert found["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert found["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert found["capabilities"] == ["client-confidential-asymmetric"] and "system/*.rs" in found["scopes_supported"]
    statement = Client().get("/fhir/metadata").json()
    CapabilityStatement.model_validate(statement)
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    assert security["extension"][0]["extension"] == [{"url": "token", "valueUri": TOKEN_URL}]


# --- Registration ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_director_registers_and_revokes_clients_on_the_page(
    client_for: Any, personas: dict[str, User], ec_key: ec.EllipticCurvePrivateKey
) -> None:
    page = client_for("director")
    jwks = json.dumps({"keys": [public_jwk(ec_key, "k1")]})
    answer = page.post(
        "/accounts/smart-clients/",
        {"name": "Research feed", "user": personas["auditor"].pk, "scopes": "system/*.rs", "jwks": jwks},
    )
    assert answer.status_code == 302
    client = SmartClient.objects.get()
    assert (client.user, client.scopes, client.created_by) == (personas["auditor"], "system/*.rs", personas["director"])
    assert client.client_id in page.get("/accounts/smart-clients/").content.decode()
    assert AccessEvent.objects.filter(action="smart_client.register", outcome="allowed").exists()
    assert page.post(f"/accounts/smart-clients/{client.pk}/revoke/").status_code == 302
    client.refresh_from_db()
    assert client.revoked_at is not None
    assert AccessEvent.objects.filter(action="smart_client.revoke").exists()
    # Only the director: the auditor's page and API are refused, and nothing is written.
    assert client_for("auditor").get("/accounts/smart-clients/").status_code == 403
    assert client_for("prescriber").post(f"/accounts/smart-clients/{client.pk}/revoke/").status_code == 403


def _jwk_cases(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> list[tuple[Any, str]]:
    private_rsa = json.loads(RSAAlgorithm.to_jwk(rsa_key))
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the key refused
    small = json.loads(RSAAlgorithm.to_jwk(weak.public_key()))
    p256 = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    good = public_jwk(rsa_key, "k1")
    return [
        ("not json", "Not JSON"),
        ({"keys": []}, "non-empty"),
        ({"keys": [{**private_rsa, "kid": "k1"}]}, "private key material"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k1"}]}, "only RSA and EC"),
        ({"keys": [{**good, "alg": "RS256"}]}, "alg must be RS384"),
        ({"keys": [{**small, "kid": "k1"}]}, "2048 bits"),
        ({"keys": [{**p256, "kid": "k1"}]}, "P-384"),
        ({"keys": [{k: v for k, v in good.items() if k != "kid"}]}, "needs a kid"),
        ({"keys": [good, {**public_jwk(ec_key, "k1")}]}, "used twice"),
        ({"keys": [{**good, "n": "AAAA!"}]}, "cannot be read"),
    ]


@pytest.mark.django_db
def test_registration_refuses_bad_keys_scopes_and_accounts(
    api_for: Any, personas: dict[str, User], rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    api = api_for("director")
    good = {"keys": [public_jwk(rsa_key, "k1")]}
    auditor = personas["auditor"].pk

    def refused(field: str, words: str, **body: Any) -> None:
        sent = {"name": "Client", "user": auditor, "scopes": "system/Patient.rs", "jwks": good, **body}
        answer = api.post("/api/v1/smart-clients", sent, content_type="application/json")
        assert answer.status_code == 422, answer.content
        messages = {d["loc"][-1]: d["msg"] for d in answer.json()["detail"]}
        assert words in messages[field], messages

    for jwks, words in _jwk_cases(rsa_key, ec_key):
        if not isinstance(jwks, str):  # the API takes an object; pasted text is the page's case, below
            refused("jwks", words, jwks=jwks)
    refused("scopes", "system/... scopes", scopes="patient/*.rs")
    refused("scopes", "only reads", scopes="system/Patient.cruds")
    refused("scopes", "only reads", scopes="system/Patient.write")
    refused("scopes", "query parameters", scopes="system/Observation.rs?category=vital-signs")
    refused("scopes", "Not a SMART scope", scopes="Patient.read")
    refused("scopes", "in that order", scopes="system/Patient.sr")
    refused("user", "active staff account", user=personas["patient_user"].pk)
    refused("name", "Name the client", name="  ")
    assert not SmartClient.objects.exists()
    assert AccessEvent.objects.filter(action="smart_client.register", outcome="denied").count() >= 10
    # The page shows the same refusal next to its field, with a 422.
    page = Client()
    page.force_login(personas["director"])
    answer = page.post(
        "/accounts/smart-clients/", {"name": "C", "user": auditor, "scopes": "system/*.rs", "jwks": "not json"}
    )
    assert answer.status_code == 422 and "Not JSON" in answer.content.decode()
    # Only the director.
    denied = api_for("auditor").post(
        "/api/v1/smart-clients",
        {"name": "C", "user": auditor, "scopes": "system/*.rs", "jwks": good},
        content_type="application/json",
    )
    assert denied.status_code == 403 and not SmartClient.objects.exists()


# --- Tokens and reads ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_system_client_gets_a_token_and_reads_as_its_account(
    api_for: Any,
    personas: dict[str, User],
    rsa_key: rsa.RSAPrivateKey,
    team_patient: Patient,
    other_patient: Patient,
    vital: VitalSign,
) -> None:
    client = register(api_for("director"), rsa_key, user=personas["auditor"])
    answer = ask(assertion(rsa_key, client["client_id"]), "system/Patient.rs system/Observation.rs")
    assert answer.status_code == 200, answer.content
    assert answer["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 300
    assert body["scope"] == "system/Patient.rs system/Observation.rs"
    token = SmartAccessToken.objects.get()
    assert token.digest == hashlib.sha256(body["access_token"].encode()).hexdigest()  # the token itself is not kept
    reader = bearer(body["access_token"])
    assert reader.get(f"/fhir/Patient/{other_patient.pk}").json()["id"] == str(other_patient.pk)
    found = reader.get("/fhir/Observation", {"patient": str(team_patient.pk), "category": "vital-signs"})
    assert found.status_code == 200 and found.json()["entry"]
    # Each read is an audited read by the client's account, on the channel of system clients.
    assert AccessEvent.objects.filter(
        action="patient.view", patient_id=other_patient.pk, channel="smart", user=personas["auditor"]
    ).exists()
    issued = AccessEvent.objects.get(action="smart.token", outcome="allowed")
    assert issued.detail["client_id"] == client["client_id"] and issued.user == personas["auditor"]
    # A SMART token opens the FHIR face only, not the API.
    assert reader.get(f"/api/v1/patients/{team_patient.pk}").status_code == 401


@pytest.mark.django_db
def test_an_es384_client_with_a_v1_scope(
    api_for: Any, personas: dict[str, User], ec_key: ec.EllipticCurvePrivateKey, team_patient: Patient
) -> None:
    client = register(api_for("director"), ec_key, user=personas["auditor"], scopes="system/*.read")
    answer = ask(assertion(ec_key, client["client_id"]), "system/Patient.rs")
    assert answer.status_code == 200, answer.content
    assert bearer(answer.json()["access_token"]).get(f"/fhir/Patient/{team_patient.pk}").status_code == 200


@pytest.mark.django_db
def test_scopes_narrow_what_the_token_reads_and_the_account_bounds_it(
    api_for: Any,
    personas: dict[str, User],
    rsa_key: rsa.RSAPrivateKey,
    team_patient: Patient,
    other_patient: Patient,
    vital: VitalSign,
) -> None:
    client = register(api_for("director"), rsa_key, user=personas["nurse"], scopes="system/*.rs")
    reader = bearer(ask(assertion(rsa_key, client["client_id"]), "system/Patient.r").json()["access_token"])
    assert reader.get(f"/fhir/Patient/{team_patient.pk}").status_code == 200
    refused: list[tuple[str, dict[str, str]]] = [
        ("Patient", {"name": "teamp"}),
        ("Observation", {"patient": str(team_patient.pk)}),
        (f"Observation/vs-{vital.pk}-bp", {}),
        (f"Practitioner/{personas['nurse'].pk}", {}),
    ]
    for path, params in refused:
        answer = reader.get(f"/fhir/{path}", params)
        assert answer.status_code == 403, path
        OperationOutcome.model_validate(answer.json())
        assert "scopes do not grant" in answer.json()["issue"][0]["diagnostics"]
    assert AccessEvent.objects.filter(action="smart.scope", outcome="denied", channel="smart").count() == 4
    # The nurse's care team bounds the client too: the other patient is refused whatever the scopes.
    wide = bearer(ask(assertion(rsa_key, client["client_id"]), "system/*.rs").json()["access_token"])
    assert wide.get(f"/fhir/Patient/{other_patient.pk}").status_code == 403
    assert wide.get("/fhir/Observation", {"patient": team_patient.pk}).status_code == 200


def _refusals(rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey) -> dict[str, Callable[[str], Any]]:
    """Each bad request, given the registered client's id: (answer)."""
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())

    def unsigned(client_id: str) -> str:
        claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 60, "jti": "x"}
        return f"{_b64({'alg': 'none', 'kid': 'k1'})}.{_b64(claims)}."

    def hmac_with_public_key(client_id: str) -> str:
        claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 60, "jti": "x"}
        header = _b64({"alg": "HS256", "kid": "k1", "typ": "JWT"})
        body = f"{header}.{_b64(claims)}"
        signature = hmac.new(pem, body.encode(), hashlib.sha256).digest()
        return f"{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    return {
        "wrong key": lambda c: ask(assertion(rsa_key, c, _key=other_rsa_key)),
        "alg HS256": lambda c: ask(hmac_with_public_key(c)),
        "alg none": lambda c: ask(unsigned(c)),
        "alg RS256": lambda c: ask(assertion(rsa_key, c, _alg="RS256")),
        "wrong aud": lambda c: ask(assertion(rsa_key, c, aud="https://elsewhere.example/token")),
        "expired": lambda c: ask(assertion(rsa_key, c, exp=now - 30)),
        "exp too far ahead": lambda c: ask(assertion(rsa_key, c, exp=now + 600)),
        "no exp": lambda c: ask(assertion(rsa_key, c, exp=None)),
        "no jti": lambda c: ask(assertion(rsa_key, c, jti=None)),
        "sub is not iss": lambda c: ask(assertion(rsa_key, c, sub="someone-else")),
        "unknown kid": lambda c: ask(assertion(rsa_key, c, _kid="k9")),
        "unknown client": lambda c: ask(assertion(rsa_key, "no-such-client")),
        "not a jwt": lambda c: ask("not-a-jwt"),
        "too long": lambda c: ask(assertion(rsa_key, c, padding="x" * 9000)),
        "scope not registered": lambda c: ask(assertion(rsa_key, c), "system/Practitioner.rs"),
        "scope wider than registered": lambda c: ask(assertion(rsa_key, c), "system/*.rs"),
        "scope of a patient": lambda c: ask(assertion(rsa_key, c), "patient/Patient.rs"),
        "no scope": lambda c: ask(assertion(rsa_key, c), ""),
        "grant type": lambda c: ask(assertion(rsa_key, c), grant_type="password"),
        "assertion type": lambda c: ask(assertion(rsa_key, c), client_assertion_type="urn:other"),
        "json body": lambda c: Client().post(
            "/fhir/auth/token",
            {"grant_type": "client_credentials", "client_assertion": assertion(rsa_key, c)},
            content_type="application/json",
        ),
    }


EXPECTED = {
    "scope not registered": (400, "invalid_scope"),
    "scope wider than registered": (400, "invalid_scope"),
    "scope of a patient": (400, "invalid_scope"),
    "no scope": (400, "invalid_scope"),
    "grant type": (400, "unsupported_grant_type"),
    "assertion type": (400, "invalid_request"),
    "json body": (400, "invalid_request"),
    "too long": (400, "invalid_request"),
}


WHY = {
    "wrong key": "signature does not verify",
    "alg HS256": "not 'HS256'",
    "alg none": "not 'none'",
    "alg RS256": "not 'RS256'",
    "wrong aud": "aud must be the token endpoint",
    "expired": "expired",
    "exp too far ahead": "at most five minutes ahead",
    "no exp": "no exp claim",
    "no jti": "no jti claim",
    "sub is not iss": "sub must be the client_id",
    "unknown kid": "No registered key has kid",
    "unknown client": "Unknown client",
    "not a jwt": "not a JWT",
    "too long": "too long",
    "scope not registered": "Not registered for this client: system/Practitioner.rs",
    "scope wider than registered": "Not registered for this client: system/*.rs",
    "scope of a patient": "system/... scopes",
    "no scope": "at least one scope",
    "grant type": "grant_type is client_credentials",
    "assertion type": "client_assertion_type is",
    "json body": "form-encoded",
}


@pytest.mark.django_db
def test_every_bad_token_request_is_refused_audited_and_writes_nothing(
    api_for: Any, personas: dict[str, User], rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    client = register(api_for("director"), rsa_key, user=personas["auditor"], scopes="system/Patient.rs")
    for name, send in _refusals(rsa_key, other_rsa_key).items():
        before = AccessEvent.objects.filter(action="smart.token", outcome="denied").count()
        answer = send(client["client_id"])
        status, error = EXPECTED.get(name, (401, "invalid_client"))
        assert (answer.status_code, answer.json()["error"]) == (status, error), (name, answer.content)
        assert WHY[name] in answer.json()["error_description"], (name, answer.json())
        assert AccessEvent.objects.filter(action="smart.token", outcome="denied").count() == before + 1, name
    assert not SmartAccessToken.objects.exists() and not SmartAssertionJti.objects.exists()
    assert not AccessEvent.objects.filter(action="smart.token", outcome="allowed").exists()


@pytest.mark.django_db
def test_a_replayed_assertion_is_refused(api_for: Any, personas: dict[str, User], rsa_key: rsa.RSAPrivateKey) -> None:
    client = register(api_for("director"), rsa_key, user=personas["auditor"])
    signed = assertion(rsa_key, client["client_id"])
    assert ask(signed).status_code == 200
    again = ask(signed)
    assert (again.status_code, again.json()["error"]) == (401, "invalid_client")
    assert "replay" in again.json()["error_description"]
    assert SmartAccessToken.objects.count() == 1 and SmartAssertionJti.objects.count() == 1
    assert AccessEvent.objects.filter(action="smart.token", outcome="denied").count() == 1
    # A new assertion (its own jti) is fine.
    assert ask(assertion(rsa_key, client["client_id"])).status_code == 200


@pytest.mark.django_db
def test_revoking_the_client_or_deactivating_its_account_ends_its_tokens(
    api_for: Any, personas: dict[str, User], rsa_key: rsa.RSAPrivateKey, team_patient: Patient
) -> None:
    director = api_for("director")
    client = register(director, rsa_key, user=personas["auditor"])
    reader = bearer(ask(assertion(rsa_key, client["client_id"])).json()["access_token"])
    assert reader.get(f"/fhir/Patient/{team_patient.pk}").status_code == 200
    User.objects.filter(pk=personas["auditor"].pk).update(is_active=False)
    assert reader.get(f"/fhir/Patient/{team_patient.pk}").status_code == 401
    refused = ask(assertion(rsa_key, client["client_id"]))
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    User.objects.filter(pk=personas["auditor"].pk).update(is_active=True)
    assert reader.get(f"/fhir/Patient/{team_patient.pk}").status_code == 200
    assert director.post(f"/api/v1/smart-clients/{client['id']}/revoke").json()["revoked_at"]
    assert reader.get(f"/fhir/Patient/{team_patient.pk}").status_code == 401
    after = ask(assertion(rsa_key, client["client_id"]))
    assert (after.status_code, after.json()["error"]) == (401, "invalid_client")
    assert "revoked" in after.json()["error_description"]
    assert SmartAccessToken.objects.count() == 1 and SmartAssertionJti.objects.count() == 1
    refusals = AccessEvent.objects.filter(action="smart.token", outcome="denied", detail__client_id=client["client_id"])
    assert [e.detail["error"] for e in refusals.order_by("pk")] == ["invalid_grant", "invalid_client"]


@pytest.mark.django_db
def test_a_token_expires_after_five_minutes(
    api_for: Any, personas: dict[str, User], rsa_key: rsa.RSAPrivateKey, team_patient: Patient
) -> None:
    client = register(api_for("director"), rsa_key, user=personas["auditor"])
    reader = bearer(ask(assertion(rsa_key, client["client_id"])).json()["access_token"])
    with time_machine.travel(timezone.now() + timedelta(seconds=299)):
        assert reader.get(f"/fhir/Patient/{team_patient.pk}").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=301)):
        answer = reader.get(f"/fhir/Patient/{team_patient.pk}")
        assert answer.status_code == 401 and answer["WWW-Authenticate"] == "Bearer"


# --- A patient's own token: patient/*.rs -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_patients_own_token_reads_as_patient_star_rs(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient, vital: VitalSign
) -> None:
    """The access doors keep a patient to their own record: their Patient and Observations, nobody else's; a search
    holds only theirs, and a Patient search finds their own record only."""
    other_plan = plan_make(other_patient, personas, stamp=True)
    other_session = DosingSession.objects.create(
        patient=other_patient, plan=other_plan, number=1, scheduled_for=timezone.now(), state="monitoring"
    )
    theirs = VitalSign.objects.create(
        session=other_session, measured_at=timezone.now(), heart_rate=90, recorded_by=personas["nurse"]
    )
    me = api_for("patient_user")
    assert me.get(f"/fhir/Patient/{team_patient.pk}").json()["id"] == str(team_patient.pk)
    assert me.get(f"/fhir/Observation/vs-{vital.pk}-hr").json()["subject"]["reference"] == f"Patient/{team_patient.pk}"
    assert me.get(f"/fhir/Patient/{other_patient.pk}").status_code == 404
    assert me.get(f"/fhir/Observation/vs-{theirs.pk}-hr").status_code in (403, 404)
    mine = me.get("/fhir/Observation", {"_id": f"vs-{vital.pk}-hr"}).json()
    assert {e["resource"]["subject"]["reference"] for e in mine["entry"]} == {f"Patient/{team_patient.pk}"}
    assert me.get("/fhir/Observation", {"_id": f"vs-{theirs.pk}-hr"}).status_code in (403, 404)
    assert me.get("/fhir/Observation", {"patient": other_patient.pk}).status_code in (403, 404)
    # Searching Patient finds exactly their own record (issue 17 item 2: patient/*.rs).
    assert [e["resource"]["id"] for e in me.get("/fhir/Patient").json()["entry"]] == [str(team_patient.pk)]
    refused = AccessEvent.objects.filter(user=personas["patient_user"], outcome="denied", channel="fhir")
    assert refused.count() >= 3

"""Signing in: passwords, throttling, idle time-out, two-factor, resets by the director, role homes."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapclinic.accounts.models import ApiToken, User
from kapclinic.audit.models import AccessEvent
from kapclinic.patients.models import Patient
from tests.conftest import PASSWORD


def _sign_in(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password})


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=0):06d}"


@pytest.mark.production_hashers
def test_production_settings_hash_with_argon2_and_validate_passwords() -> None:
    assert django_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    configured = cast(list[dict[str, str]], django_settings.AUTH_PASSWORD_VALIDATORS)
    validators = {v["NAME"].rsplit(".", 1)[1] for v in configured}
    assert {"MinimumLengthValidator", "CommonPasswordValidator", "NumericPasswordValidator"} <= validators


def test_sign_in_and_out(personas: dict[str, User]) -> None:
    client = Client()
    assert client.get("/").status_code == 302  # to the sign-in page
    response = _sign_in(client, "coordinator")
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Intake" in client.get("/").content.decode()
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_wrong_password_message(personas: dict[str, User]) -> None:
    response = _sign_in(Client(), "coordinator", "wrong-password")
    assert response.status_code == 200
    assert "did not match" in response.content.decode()


@pytest.mark.production_hashers
def test_sign_in_throttled_after_five_failures(personas: dict[str, User]) -> None:
    client = Client()
    for _ in range(4):
        assert _sign_in(client, "therapist", "wrong-password").status_code == 200
    assert _sign_in(client, "therapist", "wrong-password").status_code == 429
    locked = _sign_in(client, "therapist")
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()


def test_idle_session_times_out(personas: dict[str, User], settings: Any) -> None:
    assert settings.SESSION_COOKIE_AGE == 15 * 60 and settings.KAPCLINIC_IDLE_TIMEOUT_MINUTES == 15
    with time_machine.travel(time.time(), tick=False) as traveller:
        client = Client()
        _sign_in(client, "nurse")
        traveller.shift(14 * 60)
        assert client.get("/").status_code == 200  # activity renews the 15 minutes
        traveller.shift(14 * 60)
        assert client.get("/").status_code == 200
        traveller.shift(16 * 60)
        response = client.get("/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_staff_must_set_up_and_pass_two_factor(personas: dict[str, User], settings: Any) -> None:
    settings.KAPCLINIC_REQUIRE_MFA = True
    client = Client()
    _sign_in(client, "prescriber")
    assert client.get("/patients/")["Location"] == "/accounts/mfa/"
    assert client.get("/accounts/mfa/")["Location"] == "/accounts/mfa/setup/"
    setup = client.get("/accounts/mfa/setup/").content.decode()
    assert "<svg" in setup and "Key:" in setup
    device = TOTPDevice.objects.get(user=personas["prescriber"], confirmed=False)
    wrong = client.post("/accounts/mfa/setup/", {"code": "000000" if _code(device) != "000000" else "111111"})
    assert "That code is not right" in wrong.content.decode()
    # django-otp throttles after a failure (1 s, doubling); the next window's code is accepted.
    with time_machine.travel(time.time() + 31):
        assert client.post("/accounts/mfa/setup/", {"code": _code(device)})["Location"] == "/"
        assert client.get("/patients/").status_code == 200

    # Next sign-in: the code is asked for, and nothing else opens until it is given.
    later = Client()
    _sign_in(later, "prescriber")
    assert later.get("/audit/")["Location"] == "/accounts/mfa/"
    assert later.get("/api/v1/patients").status_code == 401  # no API by session before the second factor
    device.refresh_from_db()
    with time_machine.travel(time.time() + 62):  # a code is good once; use a later one
        assert later.post("/accounts/mfa/", {"code": _code(device)})["Location"] == "/"
        assert later.get("/patients/").status_code == 200


def test_api_token_needs_one_time_code_when_mfa_is_on(personas: dict[str, User], settings: Any) -> None:
    settings.KAPCLINIC_REQUIRE_MFA = True
    client = Client()
    body = {"username": "nurse", "password": PASSWORD}
    no_device = client.post("/api/v1/auth/token", body, content_type="application/json")
    assert no_device.status_code == 403 and "two-factor" in no_device.json()["detail"]
    device = TOTPDevice.objects.create(user=personas["nurse"], name="phone", confirmed=True)
    assert client.post("/api/v1/auth/token", body, content_type="application/json").status_code == 401
    with_code = client.post("/api/v1/auth/token", {**body, "otp": _code(device)}, content_type="application/json")
    assert with_code.status_code == 201
    # Patients are not staff: no second factor for the portal.
    assert (
        client.post(
            "/api/v1/auth/token", {"username": "patient_user", "password": PASSWORD}, content_type="application/json"
        ).status_code
        == 201
    )


def test_director_resets_a_password_and_the_user_must_change_it(personas: dict[str, User], client_for: Any) -> None:
    therapist = personas["therapist"]
    token = ApiToken.objects.create(user=therapist, digest="x" * 64, prefix="x", expires_at="2999-01-01T00:00Z")
    director = client_for("director")
    too_short = director.post(f"/accounts/users/{therapist.pk}/password/", {"new_password": "short"})
    assert "too short" in too_short.content.decode()
    director.post(f"/accounts/users/{therapist.pk}/password/", {"new_password": "temporary-pass-2026-x"})
    therapist.refresh_from_db()
    token.refresh_from_db()
    assert therapist.must_change_password and token.revoked_at is not None
    assert AccessEvent.objects.filter(action="user.password_reset", username="director").exists()

    client = Client()
    _sign_in(client, "therapist", "temporary-pass-2026-x")
    assert client.get("/patients/")["Location"] == "/accounts/password/"
    client.post(
        "/accounts/password/",
        {
            "old_password": "temporary-pass-2026-x",
            "new_password1": "my-own-new-pass-2026",
            "new_password2": "my-own-new-pass-2026",
        },
    )
    assert User.objects.get(pk=therapist.pk).must_change_password is False
    assert client.get("/patients/").status_code == 200


def test_director_adds_a_licensed_user(client_for: Any, personas: dict[str, User]) -> None:
    director = client_for("director")
    missing = director.post(
        "/accounts/users/new/", {"username": "rn3", "role": "nurse", "password": "a-long-temporary-pass-9"}
    )
    assert "Prescribers and nurses need a licence number." in missing.content.decode()
    director.post(
        "/accounts/users/new/",
        {"username": "rn3", "role": "nurse", "licence_number": "RN-3", "password": "a-long-temporary-pass-9"},
    )
    assert User.objects.get(username="rn3").must_change_password


def test_a_refused_staff_change_shows_the_page_again(client_for: Any, personas: dict[str, User]) -> None:
    director = client_for("director")
    own = director.post(f"/accounts/users/{personas['director'].pk}/active/", {"active": "0"})
    assert own.status_code == 422 and "You cannot deactivate your own account." in own.content.decode()
    assert User.objects.get(pk=personas["director"].pk).is_active
    assert director.post("/accounts/users/999999/active/", {"active": "0"}).status_code == 404
    assert director.post("/accounts/tokens/999999/revoke/").status_code == 404


@pytest.mark.parametrize(
    ("name", "heading"),
    [
        ("coordinator", "<h1>Intake</h1>"),
        ("prescriber", "<h1>Prescriber</h1>"),
        ("nurse", "<h1>Nursing</h1>"),
        ("therapist", "<h1>Therapy</h1>"),
        ("director", "<h1>Clinic director</h1>"),
        ("auditor", "<h1>Audit</h1>"),
    ],
)
def test_each_role_has_its_own_home(client_for: Any, personas: dict[str, User], name: str, heading: str) -> None:
    assert heading in client_for(name).get("/").content.decode()


def test_patient_lands_on_the_portal(client_for: Any, team_patient: Patient) -> None:
    client = client_for("patient_user")
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/portal/"
    assert "Hello, Alder" in response.content.decode()
    assert AccessEvent.objects.filter(action="portal.use", patient=team_patient).exists()


def test_password_alone_cannot_replace_the_authenticator(personas: dict[str, User], settings: Any) -> None:
    settings.KAPCLINIC_REQUIRE_MFA = True
    device = TOTPDevice.objects.create(user=personas["prescriber"], name="phone", confirmed=True)
    client = Client()
    _sign_in(client, "prescriber")
    # Setting up a new device is the verify page until the current code is given.
    assert client.get("/accounts/mfa/setup/")["Location"] == "/accounts/mfa/"
    assert client.post("/accounts/mfa/setup/", {"code": "123456"})["Location"] == "/accounts/mfa/"
    assert list(TOTPDevice.objects.filter(user=personas["prescriber"])) == [device]

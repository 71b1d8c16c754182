"""What an attack on sign-in found (issue 12): every authentication path counts failures and locks out the same
way whatever the body, the witness prompt is no password oracle, forwarded addresses are trusted only from the
configured proxies, polls do not keep an idle session alive, an enrolled patient is asked for the code, and the
headers, token and audit rules that go with them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapclinic.accounts.models import ApiToken, User
from kapclinic.accounts.services import WITNESS_REFUSED, api_token_issue
from kapclinic.audit.models import AccessEvent
from kapclinic.ledger.models import LedgerEntry, Lot, Product, StorageLocation
from kapclinic.patients.models import Patient
from tests.conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token"
LOGIN_URL = "/accounts/login/"
LIMIT = int(django_settings.AXES_FAILURE_LIMIT)
ROOT = Path(__file__).resolve().parent.parent


def _token(client: Client, body: bytes | dict[str, Any], content_type: str = "application/json", **extra: Any) -> Any:
    return client.generic(
        "POST",
        TOKEN_URL,
        body if isinstance(body, bytes) else __import__("json").dumps(body),
        content_type=content_type,
        **extra,
    )


def _sign_in(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(LOGIN_URL, {"username": username, "password": password}, **extra)


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=0):06d}"


# Bodies an attacker may send to the token endpoint, each naming the nurse with a wrong password.
WRONG = '{"username": "nurse", "password": "not-the-password"}'
MALFORMED = [
    pytest.param(WRONG.encode(), "multipart/form-data", id="multipart-without-boundary"),
    pytest.param(b"username=nurse&password=not-the-password", "multipart/form-data", id="form-as-multipart"),
    pytest.param(b"username=nurse&password=not-the-password", "application/x-www-form-urlencoded", id="form"),
    pytest.param(WRONG.encode(), "text/plain", id="json-as-text"),
    pytest.param(b'{"username": "nurse"}', "application/json", id="no-password"),
    pytest.param(b'{"username": "nurse", "password": 5}', "application/json", id="password-not-text"),
    pytest.param(b'{"username": "nurse", "password": "x", "admin": true}', "application/json", id="unknown-field"),
]


@pytest.mark.production_hashers
@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
def test_a_token_request_that_cannot_be_read_is_a_counted_failure_and_the_lockout_holds(
    personas: dict[str, User], body: bytes, content_type: str
) -> None:
    client = Client()
    for n in range(LIMIT):
        response = _token(client, body, content_type)
        # Each is a 400, counted; the one that reaches the limit already answers that the lockout holds.
        assert response.status_code == (429 if n == LIMIT - 1 else 400), response.content
        assert response["Content-Type"].startswith("application/json")
    assert AccessAttempt.objects.get(username="nurse").failures_since_start == LIMIT
    assert AccessEvent.objects.filter(action="auth.failed", detail__username="nurse").count() == LIMIT
    # Locked: the right password gets no token by any door, whatever the body.
    right = _token(client, {"username": "nurse", "password": PASSWORD})
    assert right.status_code == 429 and "token" not in right.json()
    assert _sign_in(client, "nurse").status_code == 429
    assert AccessEvent.objects.filter(action="auth.locked_out").exists()
    assert not ApiToken.objects.exists()


@pytest.mark.production_hashers
def test_a_body_naming_nobody_is_counted_on_the_address(personas: dict[str, User]) -> None:
    client = Client()
    for n in range(LIMIT):
        response = _token(client, b'{"username": "nurse", "password": ', "application/json")
        assert response.status_code == (429 if n == LIMIT - 1 else 400)
    assert AccessAttempt.objects.get(username="").failures_since_start == LIMIT
    assert AccessEvent.objects.filter(action="auth.failed", detail__username="", outcome="invalid").count() == LIMIT


@pytest.mark.production_hashers
def test_wrong_passwords_on_the_page_lock_the_api_and_the_other_way_round(personas: dict[str, User]) -> None:
    client = Client()
    for n in range(LIMIT):
        assert _sign_in(client, "therapist", "wrong-password").status_code == (429 if n == LIMIT - 1 else 200)
    assert _token(client, {"username": "therapist", "password": PASSWORD}).status_code == 429
    for n in range(LIMIT):
        wrong = _token(client, {"username": "director", "password": "wrong"})
        assert wrong.status_code == (429 if n == LIMIT - 1 else 401)
    assert _sign_in(client, "director").status_code == 429
    # Another user from the same address is not locked out by them.
    assert _token(client, {"username": "auditor", "password": PASSWORD}).status_code == 201


@pytest.mark.production_hashers
def test_an_unreadable_sign_in_page_body_is_a_counted_failure(personas: dict[str, User]) -> None:
    client = Client(enforce_csrf_checks=False)
    for n in range(LIMIT):
        response = client.generic("POST", LOGIN_URL, b"username=nurse&password=x", content_type="multipart/form-data")
        assert response.status_code == (429 if n == LIMIT - 1 else 400)
    assert _sign_in(client, "nurse").status_code == 429


@pytest.mark.production_hashers
def test_a_wrong_one_time_code_counts_towards_the_lockout(personas: dict[str, User], settings: Any) -> None:
    settings.KAPCLINIC_REQUIRE_MFA = True
    device = TOTPDevice.objects.create(user=personas["nurse"], name="phone", confirmed=True)
    wrong = "000000" if _code(device) != "000000" else "111111"
    client = Client()
    for n in range(LIMIT):
        refused = _token(client, {"username": "nurse", "password": PASSWORD, "otp": wrong})
        assert refused.status_code == (429 if n == LIMIT - 1 else 401)
    locked = _token(client, {"username": "nurse", "password": PASSWORD, "otp": _code(device)})
    assert locked.status_code == 429


@pytest.mark.production_hashers
@pytest.mark.parametrize("proxies", [1, 2])
def test_rotating_x_forwarded_for_does_not_escape_the_lockout(
    personas: dict[str, User], settings: Any, proxies: int
) -> None:
    settings.KAPCLINIC_TRUSTED_PROXIES = proxies
    client = Client()
    hops = ", ".join(["203.0.113.9"] + ["10.0.0.1"] * (proxies - 1))
    for n in range(LIMIT):
        forged = f"198.51.100.{n + 1}, {hops}"
        refused = _token(client, WRONG.encode(), HTTP_X_FORWARDED_FOR=forged)
        assert refused.status_code == (429 if n == LIMIT - 1 else 401)
    attempt = f"192.0.2.77, {hops}"
    assert _token(client, {"username": "nurse", "password": PASSWORD}, HTTP_X_FORWARDED_FOR=attempt).status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}


# -- The witness prompt -------------------------------------------------------------------------------------


@pytest.fixture
def safe_with_stock(personas: dict[str, User], api_for: Any) -> dict[str, Any]:
    product = Product.objects.create(
        name="Ketamine HCl injection", form="vial", mg_per_unit=50, unit="mL", units_per_container=10
    )
    safe = StorageLocation.objects.create(name="Safe")
    response = api_for("nurse").post(
        "/api/v1/ledger/lots",
        {
            "product": product.pk,
            "lot_number": "W1",
            "expires_on": "2099-01-01",
            "supplier_name": "Example Wholesale (synthetic)",
            "supplier_dea_number": "RX0000000",
            "invoice_reference": "INV-W",
            "received_on": time.strftime("%Y-%m-%d"),
            "location": safe.pk,
            "quantity": "20",
            "unit": "mL",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return {"lot": Lot.objects.get(lot_number="W1"), "safe": safe}


def _waste(api: Any, stock: dict[str, Any], witness: str, password: str) -> Any:
    body = {
        "kind": "waste",
        "lot": stock["lot"].pk,
        "location": stock["safe"].pk,
        "quantity": "1",
        "unit": "mL",
        "reason": "Drawn, not given",
        "witness_username": witness,
        "witness_password": password,
    }
    return api.post("/api/v1/ledger/entries", body, content_type="application/json")


def _witness_message(response: Any) -> str:
    assert response.status_code == 422, response.content
    return " ".join(e["msg"] for e in response.json()["detail"] if e["loc"][-1] == "witness")


def test_the_witness_prompt_gives_one_message_for_every_failure_and_audits_each(
    safe_with_stock: dict[str, Any], api_for: Any
) -> None:
    api = api_for("nurse")
    wrong_password = _witness_message(_waste(api, safe_with_stock, "prescriber", "wrong-password"))
    unknown_user = _witness_message(_waste(api, safe_with_stock, "nobody-here", "wrong-password"))
    # The therapist's password is right, but a therapist holds no licence: the answer must not say so.
    right_but_unlicensed = _witness_message(_waste(api, safe_with_stock, "therapist", PASSWORD))
    assert wrong_password == unknown_user == right_but_unlicensed == WITNESS_REFUSED
    failures = AccessEvent.objects.filter(action="auth.failed", detail__purpose="witness")
    assert sorted(failures.values_list("detail__username", flat=True)) == ["nobody-here", "prescriber", "therapist"]
    assert set(failures.values_list("username", flat=True)) == {"nurse"}  # who asked
    assert LedgerEntry.objects.count() == 1  # only the receipt


@pytest.mark.production_hashers
def test_the_witness_prompt_is_throttled_like_sign_in(safe_with_stock: dict[str, Any], api_for: Any) -> None:
    api = api_for("nurse")
    for _ in range(LIMIT):
        _witness_message(_waste(api, safe_with_stock, "prescriber", "guess"))
    # Now even the right password is refused, with the same message, and the lockout is audited.
    assert _witness_message(_waste(api, safe_with_stock, "prescriber", PASSWORD)) == WITNESS_REFUSED
    assert AccessEvent.objects.filter(action="auth.locked_out", detail__purpose="witness").exists()
    # The prescriber's own sign-in from that address is locked too: one lockout for every door.
    assert _token(Client(), {"username": "prescriber", "password": PASSWORD}).status_code == 429


def test_the_witness_prompt_on_the_page_is_the_same_door(safe_with_stock: dict[str, Any], client_for: Any) -> None:
    page = client_for("nurse").post(
        "/ledger/record/",
        {
            "kind": "waste",
            "lot": safe_with_stock["lot"].pk,
            "location": safe_with_stock["safe"].pk,
            "quantity": "1",
            "unit": "mL",
            "reason": "Drawn, not given",
            "witness_username": "therapist",
            "witness_password": PASSWORD,
        },
    )
    text = page.content.decode()
    assert page.status_code == 422 and "could not be confirmed" in text and "licence" not in text
    assert AccessEvent.objects.filter(action="auth.failed", detail__purpose="witness", channel="page").exists()


# -- Idle time-out and polls --------------------------------------------------------------------------------


def test_polls_do_not_keep_an_idle_session_alive(personas: dict[str, User]) -> None:
    with time_machine.travel(time.time(), tick=False) as traveller:
        client = Client()
        _sign_in(client, "nurse")
        for _ in range(20):  # 20 minutes of the board refreshing itself, nobody at the screen
            traveller.shift(60)
            poll = client.get("/dosing/today/", HTTP_HX_REQUEST="true", HTTP_X_KAPCLINIC_POLL="1")
            if poll.status_code != 200 or "HX-Redirect" in poll:
                break
        assert poll.get("HX-Redirect", "").startswith("/accounts/login/"), "the poll took the screen to sign-in"
        response = client.get("/")
        assert response.status_code == 302 and response["Location"].startswith(LOGIN_URL)


def test_activity_and_stay_signed_in_restart_the_clock(personas: dict[str, User]) -> None:
    with time_machine.travel(time.time(), tick=False) as traveller:
        client = Client()
        _sign_in(client, "nurse")
        traveller.shift(13 * 60)
        assert client.post("/accounts/session/keepalive/").status_code == 204
        traveller.shift(13 * 60)
        assert client.get("/").status_code == 200
        traveller.shift(16 * 60)
        timed_out = client.get("/patients/")
        assert timed_out.status_code == 302 and timed_out["Location"].startswith(LOGIN_URL)
        assert "idle=1" in timed_out["Location"] or "next=" in timed_out["Location"]


def test_pages_warn_before_the_time_out(client_for: Any) -> None:
    page = client_for("nurse").get("/").content.decode()
    assert 'id="idle-warning"' in page and "Stay signed in" in page
    assert 'data-idle-seconds="900"' in page and "idle_timeout.js" in page
    signed_out = Client().get(LOGIN_URL + "?idle=1").content.decode()
    assert "signed out after 15 minutes without activity" in signed_out


def test_a_poll_does_not_write_the_session(client_for: Any) -> None:
    from django.contrib.sessions.models import Session

    client = client_for("nurse")
    client.get("/")
    before = Session.objects.get().expire_date
    time.sleep(0.01)
    with time_machine.travel(time.time() + 120, tick=False):
        client.get("/dosing/today/", HTTP_HX_REQUEST="true", HTTP_X_KAPCLINIC_POLL="1")
        assert Session.objects.get().expire_date == before
        client.get("/")
        assert Session.objects.get().expire_date > before


# -- Patient two-factor -------------------------------------------------------------------------------------


def test_an_enrolled_patient_is_asked_for_the_code(team_patient: Patient, personas: dict[str, User]) -> None:
    device = TOTPDevice.objects.create(user=personas["patient_user"], name="phone", confirmed=True)
    client = Client()
    _sign_in(client, "patient_user")
    assert client.get("/portal/")["Location"] == "/accounts/mfa/"
    assert client.get("/api/v1/patients/" + str(team_patient.pk)).status_code == 401
    body = {"username": "patient_user", "password": PASSWORD}
    assert _token(Client(), body).status_code == 401
    assert _token(Client(), {**body, "otp": _code(device)}).status_code == 201
    with time_machine.travel(time.time() + 31):  # a code is good once: the page takes the next one
        device.refresh_from_db()
        assert client.post("/accounts/mfa/", {"code": _code(device)})["Location"] == "/"
        assert client.get("/portal/").status_code == 200


def test_a_patient_without_an_authenticator_signs_in_with_the_password(team_patient: Patient) -> None:
    client = Client()
    _sign_in(client, "patient_user")
    assert client.get("/portal/").status_code == 200


# -- Tokens, passwords and the audit log ----------------------------------------------------------------------


def test_changing_your_own_password_ends_your_api_tokens(personas: dict[str, User]) -> None:
    _, raw = api_token_issue(user=personas["nurse"])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/patients").status_code == 200
    client = Client()
    _sign_in(client, "nurse")
    changed = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-pass-for-nurse-77",
            "new_password2": "a-new-pass-for-nurse-77",
        },
    )
    assert changed.status_code == 302
    assert api.get("/api/v1/patients").status_code == 401
    assert AccessEvent.objects.filter(action="auth.password_change", detail__tokens_revoked=1).exists()


def test_sign_ins_tokens_and_failures_are_in_the_audit_log(personas: dict[str, User]) -> None:
    client = Client()
    _sign_in(client, "nurse", "wrong-password")
    _sign_in(client, "nurse")
    client.post("/accounts/logout/")
    token = _token(Client(), {"username": "coordinator", "password": PASSWORD}).json()
    Client(HTTP_AUTHORIZATION=f"Bearer {token['token']}").delete(TOKEN_URL)
    events = list(AccessEvent.objects.order_by("id").values_list("action", "outcome", "detail__username"))
    assert events == [
        ("auth.failed", "denied", "nurse"),
        ("auth.sign_in", "allowed", "nurse"),
        ("auth.sign_out", "allowed", "nurse"),
        ("auth.token_issue", "allowed", "coordinator"),
        ("auth.token_revoke", "allowed", None),
    ]


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "qwertyuiopas", "password1234", "nurse-nurse-nurse"])
def test_guessable_passwords_are_refused(personas: dict[str, User], password: str) -> None:
    with pytest.raises(ValidationError, match=r"too easy to guess|too common|too similar"):
        password_validation.validate_password(password, personas["nurse"])


def test_a_strong_password_passes() -> None:
    password_validation.validate_password("violet-anchor-meadow-1917")


# -- The demo loader and production settings -----------------------------------------------------------------


def test_the_demo_refuses_a_database_with_real_data(other_patient: Patient) -> None:
    with pytest.raises(CommandError, match="not the demo's"):
        call_command("demo_load", "--quiet")
    assert not User.objects.filter(username="coordinator", first_name="Demo").exists()


def test_check_deploy_has_no_warnings_with_production_settings(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KAPCLINIC_", "DATABASE_URL"))}
    env.update(
        {
            "SECRET_KEY": "k" + "9f3Hq2vLx8sT1pR6wZ0cY4mN7bJ5dG3eA2uK8iO1lP6rS9tV4xW7zQ0yB5nM3hF8",
            "ALLOWED_HOSTS": "clinic.example.org",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
            "KAPCLINIC_STATIC_ROOT": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "kapclinic.settings",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# -- Headers ---------------------------------------------------------------------------------------------------


def test_pages_and_api_answers_carry_the_security_headers(client_for: Any, api_for: Any, team_patient: Patient) -> None:
    for response in (
        client_for("prescriber").get(f"/patients/{team_patient.pk}/"),
        api_for("prescriber").get(f"/api/v1/patients/{team_patient.pk}"),
        Client().get(LOGIN_URL),
    ):
        assert response.status_code == 200
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "camera=()" in response["Permissions-Policy"]
        assert "no-store" in response["Cache-Control"]


TEMPLATES = ROOT / "kapclinic" / "templates"
# Print templates become PDFs through WeasyPrint and are never served as pages.
PDF_ONLY = {
    "dosing/rems_print.html",
    "consent/print.html",
    "ledger/reports/_print_base.html",
    "print/_base.html",
    # WeasyPrint only (kapclinic/pdf.py): never served as a page, so no CSP applies to them.
    "billing/_print_base.html",
    "billing/reports_print.html",
    "billing/statement_print.html",
    "outcomes/report_print.html",
}


@pytest.mark.parametrize(
    "pattern",
    ["<script>", "<script ", "style=", "<style", "hx-on", " onclick=", " onload=", " onchange=", "javascript:"],
)
def test_no_template_needs_inline_script_or_style(pattern: str) -> None:
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        name = str(path.relative_to(TEMPLATES))
        if name in PDF_ONLY:
            continue
        text = path.read_text()
        if pattern == "<script " and all('src="' in tag for tag in text.split("<script ")[1:]):
            continue
        if pattern != "<script " and pattern in text:
            offenders.append(name)
    assert offenders == []

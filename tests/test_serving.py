"""The production server really serves: gunicorn with kapclinic/gunicorn_conf.py, production settings, a real socket.

`make serve` (scripts/serve) adds migrations, collectstatic and the task worker around the same command; its
refusals are checked here too. docs/deploy.md describes the whole.
"""

from __future__ import annotations

import http.client
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0
SECRET = "s" + "Qm4vX9tL2pR7wZ1cY6nB3jH8dG5eA0uK4iO9lP2rS7tV1xW6zQ3yB8nM5hF0gJ"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _production_env(**extra: str) -> dict[str, str]:
    """This process's environment without any kapclinic or database setting, plus production ones."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KAPCLINIC_", "DATABASE_"))}
    env.update({"SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **extra})
    return env


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class Server:
    port: int
    log: Path

    def get(self, path: str, *, via_proxy: bool = False) -> Answer:
        """One GET, redirects not followed; `via_proxy`: as the TLS-terminating reverse proxy forwards it."""
        headers = {"Host": "localhost"}
        if via_proxy:
            headers |= {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode())
        finally:
            conn.close()


@pytest.fixture(scope="module")
def migrated_copy(tmp_path_factory: pytest.TempPathFactory, django_db_setup: Any, django_db_blocker: Any) -> Path:
    """A file copy of the migrated SQLite test database (module scope: made before any test's transaction opens)."""
    if connections["default"].vendor != "sqlite":
        pytest.skip("copies the migrated SQLite test database; the PostgreSQL run is `make serve` (docs/deploy.md)")
    database = tmp_path_factory.mktemp("served") / "served.sqlite3"
    with django_db_blocker.unblock():
        connection = connections["default"]
        connection.ensure_connection()
        target = sqlite3.connect(database)
        connection.connection.backup(target)  # the migrated schema in milliseconds instead of migrating again
        target.close()
    return database


@pytest.fixture
def gunicorn(tmp_path: Path, migrated_copy: Path) -> Iterator[Server]:
    """gunicorn, one worker, production settings behind one proxy, on a copy of the migrated test database."""
    database = migrated_copy
    port = _free_port()
    env = _production_env(
        DATABASE_URL=f"sqlite:///{database}",
        ALLOWED_HOSTS="localhost",
        KAPCLINIC_TRUSTED_PROXIES="1",
        KAPCLINIC_BIND=f"127.0.0.1:{port}",
        KAPCLINIC_WEB_WORKERS="1",
        # Static files from the finders: collectstatic takes a minute and is make serve's step, not this test's.
        KAPCLINIC_STATIC_FROM_FINDERS="true",
        KAPCLINIC_PLAIN_STATIC="true",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:kapclinic.gunicorn_conf"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(port=port, log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if server.get("/healthz").status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer /healthz:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    assert process.returncode == 0, log.read_text(errors="replace")  # a clean, graceful stop on SIGTERM


@pytest.mark.django_db  # so that pytest-django makes the test database the fixture copies
def test_gunicorn_serves_the_clinic_in_production_mode(gunicorn: Server) -> None:
    live = gunicorn.get("/healthz")
    assert (live.status, live.body) == (200, "ok")
    assert live.headers["server"] == "gunicorn"

    ready = gunicorn.get("/readyz")
    assert ready.status == 200, ready.body
    assert ready.body == "ready: database answers, queue empty\n"

    # Production: plain http is sent to https...
    plain = gunicorn.get("/accounts/login/?next=/patients/%3Fsearch%3Dcedar")
    assert plain.status == 301
    assert plain.headers["location"].startswith("https://localhost/accounts/login/")
    # ...and what the proxy forwards as https is served, with HSTS and secure cookies.
    page = gunicorn.get("/accounts/login/?next=/patients/%3Fsearch%3Dcedar", via_proxy=True)
    assert page.status == 200, page.body[:500]
    assert 'name="password"' in page.body
    assert page.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert "secure" in page.headers["set-cookie"].lower()

    feed = gunicorn.get("/calendar/feed/SecretOfAFeedAddress.ics", via_proxy=True)
    assert feed.status == 404

    time.sleep(0.3)  # the access log line is written after the answer
    log = gunicorn.log.read_text()
    assert "1 worker(s) on 127.0.0.1:" in log and "1 trusted proxy(ies) at 127.0.0.1,::1" in log
    assert '"GET /accounts/login/ HTTP/1.1" 200' in log
    assert '"GET /readyz HTTP/1.1" 200' in log
    # The access log keeps no query string: searches and filters name patients.
    assert "cedar" not in log and "search" not in log and "next=" not in log
    # Nor a calendar feed's secret, the one path that holds one.
    assert '"GET /calendar/feed/….ics HTTP/1.1" 404' in log and "SecretOfAFeedAddress" not in log


def _serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own script
        [str(ROOT / "scripts" / "serve")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("extra", "missing", "says"),
    [
        ({"KAPCLINIC_DEBUG": "True"}, "", "KAPCLINIC_DEBUG=True: debug mode"),
        ({}, "DATABASE_URL", "DATABASE_URL is not set"),
        ({}, "SECRET_KEY", "SECRET_KEY is not set"),
    ],
)
def test_make_serve_refuses_without_production_settings(
    tmp_path: Path, extra: dict[str, str], missing: str, says: str
) -> None:
    env = _production_env(DATABASE_URL=f"sqlite:///{tmp_path / 'never.sqlite3'}", VENV=sys.prefix, **extra)
    env.pop(missing, None)
    result = _serve(env)
    assert result.returncode == 2
    assert f"make serve: refused: {says}" in result.stderr
    assert "docs/deploy.md" in result.stderr
    assert not (tmp_path / "never.sqlite3").exists()  # nothing was migrated


def test_make_serve_refuses_a_deployment_check_finding(tmp_path: Path) -> None:
    env = _production_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'never.sqlite3'}", VENV=sys.prefix, KAPCLINIC_SSL_REDIRECT="false"
    )
    result = _serve(env)
    assert result.returncode == 2
    assert "security.W008" in result.stderr  # Django's own words: SECURE_SSL_REDIRECT is off
    assert "make serve: refused: manage.py check --deploy found the problems above." in result.stderr
    assert not (tmp_path / "never.sqlite3").exists()


def test_gunicorn_workers_default_to_the_cores_and_no_proxy_is_believed_without_one() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "python:kapclinic.gunicorn_conf", "--print-config"],
        cwd=ROOT,
        env=_production_env(DATABASE_URL="sqlite:///:memory:"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    settings = dict(line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    settings = {key.strip(): value.strip() for key, value in settings.items()}
    assert settings["workers"] == str(len(os.sched_getaffinity(0)))
    assert settings["worker_class"] == "sync" and settings["threads"] == "1"  # KAPCLINIC_WEB_THREADS unset
    assert settings["bind"] == "['127.0.0.1:8000']"
    assert settings["forwarded_allow_ips"] == "[]"
    assert settings["secure_scheme_headers"] == "{'X-FORWARDED-PROTO': 'https'}"
    assert settings["control_socket_disable"] == "True"
    # A replaced worker imports everything again (about 2 s of CPU): not every 1,000 requests (bench/load.py).
    assert (settings["max_requests"], settings["max_requests_jitter"]) == ("10000", "1000")
    assert "%(q)s" not in settings["access_log_format"] and "%(r)s" not in settings["access_log_format"]


def test_gunicorn_refuses_debug_mode() -> None:
    result = subprocess.run(  # our own gunicorn configuration, fixed arguments
        [sys.executable, "-m", "gunicorn", "-c", "python:kapclinic.gunicorn_conf", "--check-config"],
        cwd=ROOT,
        env=_production_env(DATABASE_URL="sqlite:///:memory:", KAPCLINIC_DEBUG="true"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "gunicorn serves production only: unset KAPCLINIC_DEBUG" in result.stderr + result.stdout


def test_the_deployment_guide_shows_the_units_and_settings_the_repository_has() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for unit in ("kapclinic-web.service", "kapclinic-worker.service"):
        text = (ROOT / "deploy" / "systemd" / unit).read_text()
        starts = [line for line in text.splitlines() if line.startswith("ExecStart=")]
        assert len(starts) == 1 and starts[0] in guide, f"{unit}: {starts} not in docs/deploy.md"
    conf = (ROOT / "kapclinic" / "gunicorn_conf.py").read_text()
    for variable in (
        "KAPCLINIC_BIND",
        "KAPCLINIC_WEB_WORKERS",
        "KAPCLINIC_WEB_THREADS",
        "KAPCLINIC_WEB_TIMEOUT",
        "KAPCLINIC_WEB_MAX_REQUESTS",
        "KAPCLINIC_PROXY_ADDRESSES",
        "KAPCLINIC_ACCESS_LOG",
        "KAPCLINIC_WEB_LOG_LEVEL",
    ):
        assert f'"{variable}"' in conf and f"| `{variable}` |" in guide, variable
    assert "make serve" in (ROOT / "README.md").read_text()

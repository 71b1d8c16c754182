"""Browser fixtures: a real `runserver` on a throw-away SQLite database, and headless Chromium.

pytest-django's live_server is not used: its transactional flush deletes audit rows, which the
append-only trigger refuses. Here the server is a subprocess with its own database, loaded with
the demo clinic, and the tests only talk HTTP to it (no `db` fixture).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from kapclinic.demo.synthetic import DEMO_PASSWORD
from tests.conftest import DEMO_COHORT_IN_TESTS

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
AXE_JS = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("KAPCLINIC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_TIMEOUT = 30.0
DESKTOP = {"width": 1280, "height": 900}
TABLET = {"width": 820, "height": 1180}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - fixed http://127.0.0.1 URL
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, check=True, timeout=180
    )


# The environment of the running server (its database): for a test that sets up or checks records beside the pages.
_SERVER_ENV: dict[str, str] = {}


def server_python(code: str) -> Any:
    """Run `code` in `manage.py shell` on the live server's database; return the JSON its last printed line holds.

    For what a test needs set up or checked that no page of the walk does (the server stays the only writer
    through pages; this runs while no request is in flight, or under the same SQLite locks as a request)."""
    if not _SERVER_ENV:
        pytest.fail("server_python needs the server_url fixture")
    done = subprocess.run(  # noqa: S603 - our own manage.py; the code is the test's own
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=REPO_ROOT,
        env=_SERVER_ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"manage.py shell failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """Start `manage.py runserver` on a fresh demo database; yield its base URL (no trailing slash)."""
    tmp = Path(tempfile.mkdtemp(prefix="kapclinic-browser-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'browser.sqlite3'}",
        "KAPCLINIC_DEBUG": "true",
        "KAPCLINIC_REQUIRE_MFA": "false",
        "KAPCLINIC_EXPORT_DIR": str(tmp / "exports"),  # FHIR bulk export files, gone with the server
        "KAPCLINIC_DEMO_COHORT": str(DEMO_COHORT_IN_TESTS),  # the walks read no cohort figure; the load is shorter
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py sets it
    _manage(env, "migrate", "--no-input", "-v0")
    _manage(env, "demo_load", "--quiet")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(  # noqa: S603 - our own manage.py with fixed arguments
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    _SERVER_ENV.update(env)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _healthy(f"{base}/healthz"):
            if server.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")
                pytest.fail(f"runserver did not answer /healthz within {SERVER_START_TIMEOUT:.0f}s:\n{output}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        _SERVER_ENV.clear()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/system-deps")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser: Browser, server_url: str) -> Iterator[Any]:
    """Return a factory of fresh browser contexts (own cookies); all are closed after the test."""
    made: list[BrowserContext] = []
    refused: list[str] = []

    def watch(page: Page) -> None:
        # The Content-Security-Policy allows no inline script or style: anything it blocks would be a broken
        # screen, so every refusal Chromium reports fails the test.
        page.on(
            "console",
            lambda message: (
                refused.append(f"{page.url}: {message.text}") if "Content Security Policy" in message.text else None
            ),
        )

    def make(viewport: dict[str, int] | None = None, **options: Any) -> BrowserContext:
        """A context of `viewport` (desktop by default); `options` as Playwright's (e.g. a device's is_mobile)."""
        context = browser.new_context(base_url=server_url, **{**options, "viewport": viewport or DESKTOP})
        context.set_default_timeout(10_000)
        context.on("page", watch)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()
    assert refused == [], "the Content-Security-Policy refused:\n" + "\n".join(refused)


@pytest.fixture
def page(new_context: Any) -> Page:
    """A page in a fresh desktop-sized context."""
    context: BrowserContext = new_context()
    return context.new_page()


def sign_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form and wait until the app has left the login page."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def axe_check(page: Page, label: str) -> list[dict[str, Any]]:
    """Run axe-core on the page; fail on serious or critical violations. Return all violations.

    Every run's violations (any impact) are written to test-artifacts/axe-<label>.json for review.
    """
    page.evaluate(AXE_JS.read_text())  # evaluated by the test harness, not a page script: no CSP exception needed
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    violations: list[dict[str, Any]] = result["violations"]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{label}.json").write_text(json.dumps(violations, indent=2))
    blocking = [v for v in violations if v.get("impact") in ("serious", "critical")]
    if blocking:
        lines = [f"axe: {len(blocking)} serious/critical violation(s) on {label} ({page.url}):"]
        for v in blocking:
            lines.append(f"- {v['id']} [{v['impact']}]: {v['help']} ({v['helpUrl']})")
            for node in v["nodes"][:10]:
                lines.append(f"    target={node['target']} html={node['html'][:200]}")
                if node.get("failureSummary"):
                    lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
        message = "\n".join(lines)
        print(message)
        pytest.fail(message)
    return violations

"""The clinic's mixed day for locust, run headless by bench/load.py (not on its own: it reads the targets it wrote).

Three kinds of simulated user, each signed in once as a demo staff member, then requesting with no pause:
  ClinicStaff  the mix: each takes a role in turn (coordinator, prescriber, nurse, director) and requests that
               role's pages with the weights below: homes, the patient list and search, charts with scores, the
               nurse's board and session pages, the ledger, and the alert polls a page sends while open
  BarePage     the floor: the bare primary-key view (bench/urls.py) through the same server
  PatientFloor for reading the share, not a target: the least a page about a patient does (bench/urls.py)

Every request's time goes to a list (the listener below), apart from the sign-in and the first `warmup` seconds;
bench/load.py reads it back to compute throughput and percentiles exactly (locust's own table rounds them).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, events, task
from locust.env import Environment

TARGETS: dict[str, Any] = json.loads(Path(os.environ["KAPCLINIC_LOAD_TARGETS"]).read_text())
OUT = Path(os.environ["KAPCLINIC_LOAD_OUT"])
WARMUP_SECONDS = float(os.environ.get("KAPCLINIC_LOAD_WARMUP", "5"))
# An alert panel and the home page's alert list say what they show in hx-vals; a poll sends it back (204 if unchanged).
SEEN = re.compile(r'"seen": "([^"]*)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
POLL_HEADERS = {"X-Kapclinic-Poll": "1", "HX-Request": "true"}

started = time.monotonic()
recorded: list[tuple[str, float, float, bool]] = []  # (page, finished at, milliseconds, ok)
answered = [0]  # every request but the sign-ins, the warm-up's too: what the processes' CPU time was spent on


def _record(name: str, response_time: float, exception: BaseException | None, **_: Any) -> None:
    now = time.monotonic()
    if name != "sign-in":
        answered[0] += 1
        if now - started >= WARMUP_SECONDS:
            recorded.append((name, now - started, response_time, exception is None))


def _write(environment: Environment, **_: Any) -> None:
    OUT.write_text(json.dumps({"warmup_seconds": WARMUP_SECONDS, "requests": recorded, "answered": answered[0]}))


# Not as decorators: locust's add_listener is untyped, and would untype the functions (mypy --strict).
events.request.add_listener(_record)
events.quitting.add_listener(_write)


class SignedIn(FastHttpUser):
    abstract = True
    username = "coordinator"

    def on_start(self) -> None:
        self.rng = random.Random()
        page = self.client.get("/accounts/login/", name="sign-in")
        token = CSRF.search(page.text or "")
        if token is None:
            raise RuntimeError("the sign-in page has no CSRF token")
        with self.client.post(
            "/accounts/login/",
            data={"csrfmiddlewaretoken": token.group(1), "username": self.username, "password": TARGETS["password"]},
            name="sign-in",
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"{self.username} could not sign in ({answer.status_code})")
                raise RuntimeError(f"{self.username} could not sign in")

    def page(self, name: str, path: str, headers: dict[str, str] | None = None) -> str:
        """GET a page; anything but 200 or 204 (a redirect to the sign-in included) counts as an error."""
        with self.client.get(path, name=name, headers=headers, allow_redirects=False, catch_response=True) as response:
            if response.status_code not in (200, 204):
                response.failure(f"{path} answered {response.status_code}")
            return response.text or ""


ROLES = itertools.cycle(("coordinator", "prescriber", "nurse", "nurse", "prescriber", "coordinator", "director"))


class ClinicStaff(SignedIn):
    """One member of staff, role in turn; each role's pages with their weights (polls come often: every open
    session screen and home page sends one every few seconds)."""

    def on_start(self) -> None:
        self.username = next(ROLES)
        super().on_start()
        self.seen: dict[str, str] = {}
        pages = {
            "coordinator": [(self.home, 2), (self.patient_list, 2), (self.search, 4), (self.chart, 1)],
            "prescriber": [(self.home, 2), (self.chart, 4), (self.my_alerts_poll, 3), (self.search, 1)],
            "nurse": [
                (self.home, 1),
                (self.board, 3),
                (self.session_page, 2),
                (self.session_alert_poll, 5),
                (self.my_alerts_poll, 2),
                (self.ledger, 1),
            ],
            "director": [(self.home, 2), (self.ledger, 2), (self.patient_list, 1), (self.board, 1)],
        }[self.username]
        self.choices = [call for call, _ in pages]
        self.weights = [weight for _, weight in pages]

    @task
    def one_page(self) -> None:
        self.rng.choices(self.choices, self.weights)[0]()

    def home(self) -> None:
        self.page("home", "/")

    def patient_list(self) -> None:
        self.page("patient list", "/patients/")

    def search(self) -> None:
        self.page("search", f"/patients/?q={self.rng.choice(TARGETS['search_terms'])}")

    def chart(self) -> None:
        self.page("chart", f"/patients/{self.rng.choice(TARGETS['chart_patients'])}/")

    def board(self) -> None:
        self.page("board", "/dosing/today/")

    def session_page(self) -> None:
        self.page("session", f"/dosing/sessions/{self.rng.choice(TARGETS['sessions'])}/")

    def ledger(self) -> None:
        self.page("ledger", "/ledger/")

    def session_alert_poll(self) -> None:
        self.poll("session alert poll", f"/dosing/sessions/{self.rng.choice(TARGETS['sessions'])}/alerts/")

    def my_alerts_poll(self) -> None:
        self.poll("my alerts poll", "/dosing/alerts/")

    def poll(self, name: str, path: str) -> None:
        """As htmx does: the panel once when the page loads, then polls that send back what it shows."""
        seen = self.seen.get(path)
        if seen is None:
            body = self.page(name + " (first)", path)
            found = SEEN.search(body)
            self.seen[path] = found.group(1) if found else ""
            return
        self.page(name, f"{path}?seen={seen}", headers=POLL_HEADERS)


class BarePage(SignedIn):
    """The floor: one primary-key query behind the same middleware, signed in as the coordinator."""

    @task
    def bare(self) -> None:
        self.page("bare", f"/bench/bare/{random.choice(TARGETS['bare_patients'])}/")


class PatientFloor(SignedIn):
    """For comparison: the least a patient's page does (bench/urls.py): the access door, its audit row, the base
    page with the banner."""

    @task
    def floor(self) -> None:
        self.page("patient floor", f"/bench/patient-floor/{random.choice(TARGETS['bare_patients'])}/")

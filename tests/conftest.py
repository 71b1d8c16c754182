"""One cast of personas for the whole suite (after healthchecks' hc/test.py).

- coordinator, prescriber, nurse, therapist, director, auditor: one per role;
- outsider_nurse, outsider_therapist: clinicians on nobody's care team;
- patient_user: the portal login of `team_patient`;
- team_patient: prescriber, nurse and therapist are on its care team;
- other_patient: no care team, no login.

The fixtures make the cast afresh for each test. A module whose every test needs the same cast (the role matrix,
the route walk) makes it once with `made_once` and the `*_create` functions below.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import get_hasher, make_password
from django.core.cache import cache
from django.db import transaction
from django.test import Client, override_settings

from kapclinic.accounts.models import User
from kapclinic.accounts.services import api_token_issue
from kapclinic.clinical.registry import mrn_from_number
from kapclinic.patients.models import CareTeamMember, Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.roles import Role
from tests.db_roles import django_db_modify_db_settings, django_db_setup  # noqa: F401 - two roles on PostgreSQL
from tests.probes.records import plan_make
from tests.probes.world import World

PASSWORD = "correct-horse-battery-42"

# The production hashers (argon2 first), as kapclinic/settings.py configures them.
PRODUCTION_PASSWORD_HASHERS = list(django_settings.PASSWORD_HASHERS)
# Argon2 costs a tenth of a second a hash or check by design, and the suite signs in and confirms witnesses some
# two hundred times. Tests hash with salted MD5 instead, except those marked `production_hashers`.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The cast: persona -> (role, licence).
CAST: dict[str, tuple[Role, dict[str, str]]] = {
    "coordinator": (Role.COORDINATOR, {}),
    "prescriber": (Role.PRESCRIBER, {"licence_type": "MD", "licence_number": "TEST-MD-1"}),
    "nurse": (Role.NURSE, {"licence_type": "RN", "licence_number": "TEST-RN-1"}),
    "therapist": (Role.THERAPIST, {}),
    "director": (Role.DIRECTOR, {}),
    "auditor": (Role.AUDITOR, {}),
    "outsider_nurse": (Role.NURSE, {"licence_type": "RN", "licence_number": "TEST-RN-2"}),
    "outsider_therapist": (Role.THERAPIST, {}),
    "patient_user": (Role.PATIENT, {}),
    "biller": (Role.BILLER, {}),
}


DEMO_COHORT_IN_TESTS = 24


@pytest.fixture(scope="session", autouse=True)
def _test_only_settings() -> Iterator[None]:
    """Settings that make the suite faster without changing what it tests.

    - the fast password hasher (see FAST_PASSWORD_HASHERS);
    - WhiteNoise looks static files up when asked instead of listing every file of the finders each time a
      test client is made (over a thousand times a run); no test asks for a static file.
    - a demo outcome cohort of DEMO_COHORT_IN_TESTS courses instead of a few hundred: the suite loads the demo some
      thirty times; the tests of the cohort's figures ask for the full size (tests/test_demo.py).
    """
    with override_settings(
        PASSWORD_HASHERS=FAST_PASSWORD_HASHERS,
        WHITENOISE_AUTOREFRESH=True,
        KAPCLINIC_DEMO_COHORT=DEMO_COHORT_IN_TESTS,
    ):
        yield


@pytest.fixture(autouse=True)
def _page_parts_forgotten() -> None:
    """Empty the cache of drawn page parts (kapclinic/patients/fragments.py) before each test: a test's writes are
    rolled back after it, so the next test may reach the same record version with other content."""
    cache.clear()


@pytest.fixture(autouse=True)
def _production_hashers_when_marked(request: pytest.FixtureRequest, settings: Any) -> None:
    # Before the personas (autouse fixtures come first), so their password is hashed with argon2 too.
    if request.node.get_closest_marker("production_hashers"):
        settings.PASSWORD_HASHERS = PRODUCTION_PASSWORD_HASHERS


@pytest.fixture(autouse=True)
def _no_mfa_by_default(settings: Any) -> None:
    # Two-factor is covered by its own tests, which turn it back on.
    settings.KAPCLINIC_REQUIRE_MFA = False


def hashed_password() -> str:
    """Return PASSWORD hashed by the hasher in force, hashed once per run for each hasher."""
    return _hashed(get_hasher().algorithm)


@functools.cache
def _hashed(algorithm: str) -> str:
    return make_password(PASSWORD, hasher=algorithm)


@contextlib.contextmanager
def made_once(django_db_blocker: Any) -> Iterator[None]:
    """Let a module-scoped fixture write to the test database, and undo what it wrote when the module is done.

    What the fixture makes inside stays for every test of the module. Each test's own transaction (the `db`
    fixture) is a savepoint inside this one, rolled back after the test: a test sees the shared data and its own
    changes, never another test's.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        try:
            yield
        finally:
            transaction.set_rollback(True)


def personas_create() -> dict[str, User]:
    users = {}
    for name, (role, extra) in CAST.items():
        user = User(username=name, role=role, first_name=name.title(), last_name="Persona", **extra)
        user.password = hashed_password()
        user.save()
        users[name] = user
    return users


def _patient(serial: int, given: str, family: str, **extra: Any) -> Patient:
    values: dict[str, Any] = {
        "mrn": mrn_from_number(serial),
        "given_name": given,
        "family_name": family,
        "birth_date": date(1984, 3, 14),
        "phone": "(212) 555-0142",
        "phone_digits": "2125550142",
    }
    values.update(extra)
    return Patient.objects.create(**values)


def team_patient_create(personas: dict[str, User]) -> Patient:
    patient = _patient(101, "Alder", "Teampatient", user=personas["patient_user"])
    for role in ("prescriber", "nurse", "therapist"):
        CareTeamMember.objects.create(patient=patient, user=personas[role], role=role)
    return patient


def other_patient_create() -> Patient:
    return _patient(
        202, "Birch", "Otherpatient", birth_date=date(1990, 7, 1), phone="(212) 555-0177", phone_digits="2125550177"
    )


@pytest.fixture
def personas(db: None) -> dict[str, User]:
    return personas_create()


@pytest.fixture
def team_patient(personas: dict[str, User]) -> Patient:
    return team_patient_create(personas)


@pytest.fixture
def other_patient(personas: dict[str, User]) -> Patient:
    return other_patient_create()


@pytest.fixture
def client_for(personas: dict[str, User]) -> Any:
    """Return a signed-in browser client for a persona."""

    def make(name: str) -> Client:
        client = Client()
        client.force_login(personas[name])
        return client

    return make


@pytest.fixture
def api_for(personas: dict[str, User]) -> Any:
    """Return a client that sends a fresh bearer token of a persona."""

    def make(name: str) -> Client:
        _, raw = api_token_issue(user=personas[name])
        return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    return make


@pytest.fixture
def nurse_world(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> World:
    """The probes' World (tests/probes/world.py) as the nurse: what the session tests set a session up with."""
    return World(client_for("nurse"), api_for("nurse"), team_patient, other_patient, personas)


@pytest.fixture
def plan(personas: dict[str, User], team_patient: Patient) -> TreatmentPlan:
    """A signed plan for the team patient with two goals, stamped before it is saved (as the demo does), with a
    decimal the column writes as 0.500."""
    goals = ["Sleep through the night", "Walk in the park twice a week"]
    return plan_make(
        team_patient, personas, stamp=True, first_session_on=date(2026, 1, 5), goals=goals, measures=["phq9"]
    )

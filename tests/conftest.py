"""One cast of personas for the whole suite (after healthchecks' hc/test.py).

- coordinator, prescriber, nurse, therapist, director, auditor: one per role;
- outsider_nurse, outsider_therapist: clinicians on nobody's care team;
- patient_user: the portal login of `team_patient`;
- team_patient: prescriber, nurse and therapist are on its care team;
- other_patient: no care team, no login.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from kapclinic.accounts.models import User
from kapclinic.accounts.services import api_token_issue
from kapclinic.clinical.registry import mrn_from_number
from kapclinic.patients.models import CareTeamMember, Patient
from kapclinic.roles import Role
from tests.db_roles import django_db_modify_db_settings, django_db_setup  # noqa: F401 - two roles on PostgreSQL

PASSWORD = "correct-horse-battery-42"


@pytest.fixture(autouse=True)
def _no_mfa_by_default(settings: Any) -> None:
    # Two-factor is covered by its own tests, which turn it back on.
    settings.KAPCLINIC_REQUIRE_MFA = False


@functools.cache
def hashed_password() -> str:
    """Return PASSWORD hashed once per run (argon2 is slow on purpose)."""
    return make_password(PASSWORD)


@pytest.fixture
def personas(db: None, django_user_model: type[User]) -> dict[str, User]:
    people = {
        "coordinator": (Role.COORDINATOR, {}),
        "prescriber": (Role.PRESCRIBER, {"licence_type": "MD", "licence_number": "TEST-MD-1"}),
        "nurse": (Role.NURSE, {"licence_type": "RN", "licence_number": "TEST-RN-1"}),
        "therapist": (Role.THERAPIST, {}),
        "director": (Role.DIRECTOR, {}),
        "auditor": (Role.AUDITOR, {}),
        "outsider_nurse": (Role.NURSE, {"licence_type": "RN", "licence_number": "TEST-RN-2"}),
        "outsider_therapist": (Role.THERAPIST, {}),
        "patient_user": (Role.PATIENT, {}),
    }
    users = {}
    for name, (role, extra) in people.items():
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


@pytest.fixture
def team_patient(personas: dict[str, User]) -> Patient:
    patient = _patient(101, "Alder", "Teampatient", user=personas["patient_user"])
    for role in ("prescriber", "nurse", "therapist"):
        CareTeamMember.objects.create(patient=patient, user=personas[role], role=role)
    return patient


@pytest.fixture
def other_patient(personas: dict[str, User]) -> Patient:
    return _patient(
        202, "Birch", "Otherpatient", birth_date=date(1990, 7, 1), phone="(212) 555-0177", phone_digits="2125550177"
    )


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

"""What a role-matrix probe gets: clients for the persona, both patients, and every persona."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from kapclinic.accounts.models import User
from kapclinic.patients.models import Patient


class World:
    """What a probe needs: clients for the persona, both patients, and every persona."""

    def __init__(self, page: Client, api: Client, team: Patient, other: Patient, people: dict[str, User]):
        self.page = page
        self.api = api
        self.team = team
        self.other = other
        self.people = people


Probe = Callable[[World, Patient], bool]

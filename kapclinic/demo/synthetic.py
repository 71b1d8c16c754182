"""Synthetic clinic data for the demo and the benchmarks. Every person here is made up and named so.

Names are plants paired with obviously synthetic family names, phone numbers are in the
555-01xx range reserved for fiction, and email addresses use the reserved .test domain.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.chain import chain_append
from kapclinic.audit.models import AccessEvent, Channel
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number, phone_digits
from kapclinic.patients.models import CareTeamMember, Patient, SexAtBirth
from kapclinic.roles import Role

DEMO_PASSWORD = "kapclinic-demo-2026"  # noqa: S105 - printed by `make demo`; demo only

GIVEN_NAMES = (
    "Alder", "Aspen", "Birch", "Briar", "Cedar", "Clover", "Cypress", "Fern", "Hazel", "Heather",
    "Holly", "Iris", "Juniper", "Laurel", "Linden", "Maple", "Myrtle", "Oak", "Olive", "Rowan",
    "Sage", "Sorrel", "Willow", "Yarrow",
)  # fmt: skip
FAMILY_NAMES = ("Example", "Synthetic", "Testcase", "Placeholder", "Sample", "Fictional", "Demo", "Mockup")
PAYERS = ("Demo Health Plan", "Example Mutual (synthetic)", "Self-pay", "Sample Medicaid (synthetic)")
PRONOUNS = ("she/her", "he/him", "they/them", "")


@dataclass(frozen=True)
class StaffSpec:
    username: str
    role: Role
    first_name: str
    last_name: str
    licence_type: str = ""
    licence_number: str = ""


DEMO_STAFF = (
    StaffSpec("coordinator", Role.COORDINATOR, "Demo", "Coordinator"),
    StaffSpec("prescriber", Role.PRESCRIBER, "Demo", "Prescriber", "MD", "DEMO-MD-0001"),
    StaffSpec("nurse", Role.NURSE, "Demo", "Nurse", "RN", "DEMO-RN-0001"),
    StaffSpec("therapist", Role.THERAPIST, "Demo", "Therapist", "LCSW", "DEMO-LCSW-0001"),
    StaffSpec("director", Role.DIRECTOR, "Demo", "Director"),
    StaffSpec("auditor", Role.AUDITOR, "Demo", "Auditor"),
    StaffSpec("biller", Role.BILLER, "Demo", "Biller"),
    # A second nurse and therapist who are on no demo patient's team: to show care-team limits.
    StaffSpec("nurse2", Role.NURSE, "Demo", "Nurse-Two", "RN", "DEMO-RN-0002"),
    StaffSpec("therapist2", Role.THERAPIST, "Demo", "Therapist-Two", "LPC", "DEMO-LPC-0002"),
)


def staff_ensure(specs: tuple[StaffSpec, ...] = DEMO_STAFF, password: str = DEMO_PASSWORD) -> dict[str, User]:
    """Create the staff accounts that do not exist yet; return all of them by username."""
    users = {u.username: u for u in User.objects.filter(username__in=[s.username for s in specs])}
    hashed = None
    for spec in specs:
        if spec.username in users:
            continue
        user = User(
            username=spec.username,
            role=spec.role,
            first_name=spec.first_name,
            last_name=spec.last_name,
            email=f"{spec.username}@clinic.example.test",
            licence_type=spec.licence_type,
            licence_number=spec.licence_number,
        )
        if hashed is None:
            user.set_password(password)
            hashed = user.password
        else:
            user.password = hashed  # one argon2 hash for all: fast to load, same password
        user.save()
        users[spec.username] = user
    return users


def synthetic_patient(serial: int, rng: random.Random, today: date) -> Patient:
    """Return an unsaved, clearly synthetic patient with a stable MRN for `serial`."""
    given = GIVEN_NAMES[serial % len(GIVEN_NAMES)]
    family = f"{FAMILY_NAMES[(serial // len(GIVEN_NAMES)) % len(FAMILY_NAMES)]}"
    if serial >= len(GIVEN_NAMES) * len(FAMILY_NAMES):
        family = f"{family}-{serial}"
    birth = today - timedelta(days=rng.randint(19 * 365, 75 * 365))
    phone = f"(212) 555-01{serial % 100:02d}"  # 555-0100..0199: reserved for fiction
    sex = rng.choice([SexAtBirth.FEMALE, SexAtBirth.MALE, SexAtBirth.FEMALE, SexAtBirth.INTERSEX])
    return Patient(
        mrn=mrn_from_number(SYNTHETIC_MRN_BASE + serial),
        given_name=given,
        family_name=family,
        birth_date=birth,
        sex_at_birth=sex,
        pronouns=rng.choice(PRONOUNS),
        phone=phone,
        phone_digits=phone_digits(phone),
        email=f"{given.lower()}.{family.lower()}@example.test",
        address_line1=f"{rng.randint(1, 999)} Example Street",
        city="Sampletown",
        region="NY",
        postal_code=f"{10000 + serial % 900:05d}",
        emergency_contact_name=f"{rng.choice(GIVEN_NAMES)} {family}",
        emergency_contact_relationship=rng.choice(["partner", "parent", "sibling", "friend"]),
        emergency_contact_phone="(212) 555-0199",
        insurance_payer=rng.choice(PAYERS),
        insurance_member_id=f"SYN{serial:07d}",
    )


@transaction.atomic
def patients_ensure(
    count: int, *, staff: dict[str, User], seed: int = 2026, team_every: int = 2, events_per_patient: int = 0
) -> int:
    """Create synthetic patients with serials 1..count that are missing; return how many were made.

    Every `team_every`-th patient gets the demo prescriber, nurse and therapist as care team.
    `events_per_patient` adds that many past audit events per new patient (for benchmarks).
    """
    rng = random.Random(seed)
    today = timezone.localdate()
    wanted = {mrn_from_number(SYNTHETIC_MRN_BASE + s): s for s in range(1, count + 1)}
    # Every synthetic MRN starts with K9 (serials from 9,000,000), so one indexed range finds them.
    existing = set(Patient.objects.filter(mrn__startswith="K9").values_list("mrn", flat=True))
    creator = staff.get("coordinator")
    new = [
        synthetic_patient(serial, random.Random(seed * 100_000 + serial), today)
        for mrn, serial in wanted.items()
        if mrn not in existing
    ]
    for p in new:
        p.created_by = creator
        p.search_columns_fill()  # bulk_create does not call save()
    Patient.objects.bulk_create(new, batch_size=2000)
    made = {p.mrn: p for p in Patient.objects.filter(mrn__startswith="K9") if p.mrn in wanted}
    members = [
        CareTeamMember(patient=made[p.mrn], user=staff[role], role=role, assigned_by=creator)
        for p in new
        if team_every == 1 or wanted[p.mrn] % team_every == 1
        for role in ("prescriber", "nurse", "therapist")
        if role in staff
    ]
    CareTeamMember.objects.bulk_create(members, batch_size=2000)
    if events_per_patient and creator is not None:
        now = timezone.now()
        events = [
            AccessEvent(
                occurred_at=now - timedelta(minutes=rng.randint(1, 60 * 24 * 90)),
                user=creator,
                username=creator.username,
                role=creator.role,
                patient=made[p.mrn],
                action="patient.view",
                channel=Channel.PAGE,
                method="GET",
                path=f"/patients/{made[p.mrn].pk}/",
                client_address="127.0.0.1",
            )
            for p in new
            for _ in range(events_per_patient)
        ]
        chain_append(events, batch_size=5000)
    return len(new)

"""Walk every cell of the role x action table through real requests.

For each action a probe tries it, as a role, on the patient whose care team the
clinicians are on (for the patient role: their own record) and on a patient with no
team. What it observes (allowed nowhere, on the team/own patient only, or everywhere)
must be what MATRIX says.

The personas and both patients are made once for the module; each cell runs in a savepoint rolled back after
it, so a cell sees them as made and never another cell's writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment, Closure
from kapclinic.audit.models import EmergencyAccess
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.intake.models import EligibilityDecision, Evaluation, Inquiry
from kapclinic.ledger.models import (
    LedgerEntry,
    Product,
    StorageLocation,
)
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.patients.models import CareTeamMember, Patient
from kapclinic.roles import MATRIX, Action, Role, Scope
from tests.conftest import made_once, other_patient_create, personas_create, team_patient_create
from tests.probes import PROBES_BY_AREA, Probe, World
from tests.probes.records import investigation_make, suicide_risk_flag_make

# The persona that plays each role (clinicians are on team_patient's care team).
PERSONA = {
    Role.COORDINATOR: "coordinator",
    Role.PRESCRIBER: "prescriber",
    Role.NURSE: "nurse",
    Role.THERAPIST: "therapist",
    Role.DIRECTOR: "director",
    Role.AUDITOR: "auditor",
    Role.PATIENT: "patient_user",
    Role.BILLER: "biller",
}


def _list(w: World, patient: Patient) -> bool:
    page = w.page.get("/patients/", {"q": patient.family_name})
    api = w.api.get("/api/v1/patients", {"search": patient.family_name})
    page_ok = page.status_code == 200 and patient.mrn in page.content.decode()
    api_ok = api.status_code == 200 and any(p["mrn"] == patient.mrn for p in api.json()["items"])
    assert page_ok == api_ok, "page and API disagree"
    return page_ok


def _register(w: World, patient: Patient) -> bool:
    # Not patient-specific: allowed means "everywhere".
    data = {"given_name": "Probe", "family_name": "Registration", "birth_date": "1970-01-01", "sex_at_birth": "unknown"}
    before = Patient.objects.count()
    page = w.page.post("/patients/new/", {**data, "preferred_language": "English", "country": "United States"})
    api = w.api.post("/api/v1/patients", {**data, "given_name": "Probe2"}, content_type="application/json")
    created = Patient.objects.count() - before
    assert (page.status_code == 302) == (api.status_code == 201), "page and API disagree"
    return created == 2


def _view(w: World, patient: Patient) -> bool:
    api = w.api.get(f"/api/v1/patients/{patient.pk}")
    return api.status_code == 200 and api.json()["mrn"] == patient.mrn


def _view_clinical(w: World, patient: Patient) -> bool:
    response = w.page.get(f"/patients/{patient.pk}/", follow=True)
    if response.redirect_chain and response.redirect_chain[-1][0].endswith("/portal/"):
        # A patient's clinical view is their portal, which shows only their own record.
        return patient.user_id is not None and patient.given_name in response.content.decode()
    return response.status_code == 200 and "Evaluation and eligibility" in response.content.decode()


def _edit(w: World, patient: Patient) -> bool:
    response = w.api.patch(f"/api/v1/patients/{patient.pk}", {"pronouns": "they/them"}, content_type="application/json")
    patient.refresh_from_db()
    return response.status_code == 200 and patient.pronouns == "they/them"


def _edit_contact(w: World, patient: Patient) -> bool:
    response = w.api.patch(
        f"/api/v1/patients/{patient.pk}", {"phone": "(212) 555-0188"}, content_type="application/json"
    )
    patient.refresh_from_db()
    return response.status_code == 200 and patient.phone == "(212) 555-0188"


def _assign(w: World, patient: Patient) -> bool:
    new_therapist = w.people["outsider_therapist"]
    w.page.post(f"/patients/{patient.pk}/care-team/", {"role": "therapist", "user": new_therapist.pk})
    return CareTeamMember.objects.filter(patient=patient, role="therapist", user=new_therapist).exists()


def _emergency(w: World, patient: Patient) -> bool:
    w.page.post(f"/patients/{patient.pk}/emergency-access/", {"reason": "Patient unwell in the waiting room"})
    return EmergencyAccess.objects.filter(patient=patient).exists()


def _review(w: World, patient: Patient) -> bool:
    grant = EmergencyAccess.objects.create(
        user=w.people["outsider_nurse"],
        patient=patient,
        reason="Covering for a colleague on leave",
        expires_at="2999-01-01T00:00:00Z",
    )
    w.page.post(f"/audit/emergency/{grant.pk}/review/", {"note": "appropriate"})
    grant.refresh_from_db()
    return grant.reviewed_at is not None


def _audit(w: World, patient: Patient) -> bool:
    page = w.page.get("/audit/", {"patient": patient.mrn})
    api = w.api.get("/api/v1/audit-events", {"patient": patient.pk})
    assert (page.status_code == 200) == (api.status_code == 200), "page and API disagree"
    return page.status_code == 200


def _user_list(w: World, patient: Patient) -> bool:
    return w.page.get("/accounts/users/").status_code == 200


def _user_manage(w: World, patient: Patient) -> bool:
    w.page.post(
        "/accounts/users/new/",
        {"username": "probe-user", "role": "coordinator", "password": "a-long-temporary-pass-9"},
    )
    return User.objects.filter(username="probe-user").exists()


def _portal(w: World, patient: Patient) -> bool:
    response = w.page.get("/portal/")
    return response.status_code == 200 and patient.given_name in response.content.decode()


def _ledger_stock() -> tuple[Product, StorageLocation]:
    product = Product.objects.create(
        name="Ketamine HCl injection", form="vial", mg_per_unit=Decimal("50"), unit="mL", units_per_container=10
    )
    return product, StorageLocation.objects.create(name="Safe")


def _ledger_record(w: World, patient: Patient) -> bool:
    product, safe = _ledger_stock()
    response = w.api.post(
        "/api/v1/ledger/lots",
        {
            "product": product.pk,
            "lot_number": "M1",
            "expires_on": (timezone.localdate() + timedelta(days=90)).isoformat(),
            "supplier_name": "Synthetic supplier",
            "invoice_reference": "INV-M",
            "received_on": timezone.localdate().isoformat(),
            "location": safe.pk,
            "quantity": "10",
            "unit": "mL",
        },
        content_type="application/json",
    )
    return response.status_code == 201 and LedgerEntry.objects.exists()


def _ledger_view(w: World, patient: Patient) -> bool:
    statuses = {w.api.get(f"/api/v1/ledger/{what}").status_code for what in ("balances", "entries", "counts")}
    assert len(statuses) == 1, "ledger reads disagree"
    return statuses == {200}


def _ledger_report(w: World, patient: Patient) -> bool:
    paths = ("/api/v1/ledger/reconciliation", "/api/v1/ledger/reports/dispensing-log", "/ledger/reports/inventory/")
    statuses = {
        w.api.get(path).status_code if path.startswith("/api") else w.page.get(path).status_code for path in paths
    }
    assert len(statuses) == 1, f"ledger reports disagree: {statuses}"
    return statuses == {200}


def _ledger_setup(w: World, patient: Patient) -> bool:
    w.page.post("/ledger/locations/", {"name": "Probe cabinet", "description": "probe"})
    return StorageLocation.objects.filter(name="Probe cabinet").exists()


def _ledger_investigate(w: World, patient: Patient) -> bool:
    product, safe = _ledger_stock()
    investigation = investigation_make(product, safe, "I1", "INV-I", w.people["nurse"], w.people["prescriber"])
    w.page.post(f"/ledger/investigations/{investigation.pk}/", {"resolution": "Counted again: fine"})
    investigation.refresh_from_db()
    return investigation.resolved_at is not None


def _measure_answer(w: World, patient: Patient) -> bool:
    before = QuestionnaireResponse.objects.count()
    w.page.post("/portal/questionnaires/phq9/", {**_phq9_form(), "client_token": str(uuid.uuid4())})
    return QuestionnaireResponse.objects.count() == before + 1


def _phq9_form() -> dict[str, str]:
    return {item.id: "0" for item in INSTRUMENTS["phq9"].items}


def _measure_enter(w: World, patient: Patient) -> bool:
    w.page.post(f"/measures/patients/{patient.pk}/phq9/", {**_phq9_form(), "client_token": str(uuid.uuid4())})
    return QuestionnaireResponse.objects.filter(patient=patient).exists()


def _measure_view(w: World, patient: Patient) -> bool:
    return w.api.get(f"/api/v1/patients/{patient.pk}/responses").status_code == 200


def _safety_acknowledge(w: World, patient: Patient) -> bool:
    flag = suicide_risk_flag_make(patient, w.people["director"], 1)
    w.page.post(f"/measures/safety-flags/{flag.pk}/acknowledge/", {"action_taken": "Called the patient"})
    flag.refresh_from_db()
    return flag.acknowledged_at is not None


def _inquiry_manage(w: World, patient: Patient) -> bool:
    w.page.post(
        "/intake/inquiries/new/",
        {"source": "phone", "given_name": "Probe", "family_name": "Inquiry", "phone": "212-555-0160", "reason": "r"},
    )
    return Inquiry.objects.filter(family_name="Inquiry").exists()


def _inquiry_view(w: World, patient: Patient) -> bool:
    return w.page.get("/intake/inquiries/").status_code == 200


def _appointment_book(w: World, patient: Patient) -> bool:
    start = (timezone.localtime() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    w.page.post(
        f"/appointments/book/?patient={patient.pk}",
        {
            "kind": "evaluation",
            "with_user": w.people["prescriber"].pk,
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "minutes": 60,
            "mode": "in_person",
        },
    )
    return Appointment.objects.filter(patient=patient).exists()


def _availability_manage(w: World, patient: Patient) -> bool:
    start = (timezone.localtime() + timedelta(days=400)).replace(minute=0, second=0, microsecond=0)
    w.page.post(
        "/appointments/availability/",
        {
            "form": "closure",
            "closure-starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "closure-ends_at": (start + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"),
            "closure-reason": "Role matrix closure",
        },
    )
    return Closure.objects.filter(reason="Role matrix closure").exists()


def _evaluation_record(w: World, patient: Patient) -> bool:
    response = w.api.put(
        f"/api/v1/patients/{patient.pk}/evaluation", {"weight_kg": 70}, content_type="application/json"
    )
    return response.status_code == 200 and Evaluation.objects.filter(patient=patient).exists()


def _eligibility_decide(w: World, patient: Patient) -> bool:
    w.api.post(
        f"/api/v1/patients/{patient.pk}/eligibility-decisions",
        {"decision": "not_eligible"},
        content_type="application/json",
    )
    return EligibilityDecision.objects.filter(patient=patient).exists()


def _eligibility_view(w: World, patient: Patient) -> bool:
    return w.api.get(f"/api/v1/patients/{patient.pk}/eligibility").status_code == 200


PROBES: dict[Action, tuple[Probe, bool]] = {
    # action: (probe, whether the probe is about one patient)
    Action.PATIENT_LIST: (_list, True),
    Action.PATIENT_REGISTER: (_register, False),
    Action.PATIENT_VIEW: (_view, True),
    Action.PATIENT_VIEW_CLINICAL: (_view_clinical, True),
    Action.PATIENT_EDIT: (_edit, True),
    Action.PATIENT_EDIT_CONTACT: (_edit_contact, True),
    Action.CARE_TEAM_ASSIGN: (_assign, True),
    Action.EMERGENCY_ACCESS: (_emergency, False),
    Action.EMERGENCY_REVIEW: (_review, False),
    Action.AUDIT_BROWSE: (_audit, False),
    Action.USER_LIST: (_user_list, False),
    Action.USER_MANAGE: (_user_manage, False),
    Action.PORTAL_USE: (_portal, True),
    Action.LEDGER_RECORD: (_ledger_record, False),
    Action.LEDGER_VIEW: (_ledger_view, False),
    Action.LEDGER_REPORT: (_ledger_report, False),
    Action.LEDGER_SETUP: (_ledger_setup, False),
    Action.LEDGER_INVESTIGATE: (_ledger_investigate, False),
    Action.MEASURE_ANSWER: (_measure_answer, False),
    Action.MEASURE_ENTER: (_measure_enter, True),
    Action.MEASURE_VIEW: (_measure_view, True),
    Action.SAFETY_ACKNOWLEDGE: (_safety_acknowledge, True),
    Action.INQUIRY_MANAGE: (_inquiry_manage, False),
    Action.INQUIRY_VIEW: (_inquiry_view, False),
    Action.APPOINTMENT_BOOK: (_appointment_book, True),
    Action.AVAILABILITY_MANAGE: (_availability_manage, False),
    Action.EVALUATION_RECORD: (_evaluation_record, True),
    Action.ELIGIBILITY_DECIDE: (_eligibility_decide, True),
    Action.ELIGIBILITY_VIEW: (_eligibility_view, True),
}
for _area in PROBES_BY_AREA:
    PROBES.update(_area)


def test_every_action_has_a_probe() -> None:
    assert set(PROBES) == set(MATRIX)


CELLS = [(action, role) for action in MATRIX for role in Role]


@dataclass(frozen=True)
class Cast:
    """The primary keys of the module's personas and patients."""

    people: dict[str, int]
    team: int
    other: int


@pytest.fixture(scope="module")
def cast(django_db_setup: None, django_db_blocker: Any) -> Iterator[Cast]:
    """The cast of tests/conftest.py, made once for the module's ~370 cells and removed after the last."""
    with made_once(django_db_blocker):
        people = personas_create()
        team, other = team_patient_create(people), other_patient_create()
        yield Cast({name: user.pk for name, user in people.items()}, team.pk, other.pk)


# The fixtures of tests/conftest.py, read from the module's cast: fresh objects for each cell, as the cell's
# savepoint found them (a probe may change the ones it was given).
@pytest.fixture
def personas(cast: Cast, db: None) -> dict[str, User]:
    found = User.objects.in_bulk(list(cast.people.values()))
    return {name: found[pk] for name, pk in cast.people.items()}


@pytest.fixture
def team_patient(cast: Cast, personas: dict[str, User]) -> Patient:
    patient = Patient.objects.get(pk=cast.team)
    patient.user = personas["patient_user"]
    return patient


@pytest.fixture
def other_patient(cast: Cast, personas: dict[str, User]) -> Patient:
    return Patient.objects.get(pk=cast.other)


@pytest.mark.parametrize(("action", "role"), CELLS, ids=[f"{a.value}-{r.value}" for a, r in CELLS])
def test_matrix_cell(
    action: Action,
    role: Role,
    personas: dict[str, User],
    team_patient: Patient,
    other_patient: Patient,
    client_for: Any,
    api_for: Any,
) -> None:
    name = PERSONA[role]
    world = World(client_for(name), api_for(name), team_patient, other_patient, personas)
    probe, per_patient = PROBES[action]
    expected = MATRIX[action][role]
    if not per_patient:
        # Emergency access is tried on the patient outside the care team, where it matters.
        observed = Scope.ALL if probe(world, other_patient) else Scope.NONE
        assert observed == (Scope.NONE if expected is Scope.NONE else Scope.ALL)
        return
    on_other = probe(world, other_patient)
    on_own = probe(world, team_patient)
    if on_other:
        observed = Scope.ALL
    elif on_own:
        observed = Scope.OWN if role is Role.PATIENT else Scope.TEAM
    else:
        observed = Scope.NONE
    assert observed == expected

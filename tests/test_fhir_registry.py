"""The bulk exporter's sources (kapclinic/fhir/registry.py BULK_TYPES): every searchable type bound to a patient
streams its resources for a set of patients, validated with the fhir.resources R4B models, in a fixed number of
queries however many rows (no query per row), and `since` keeps only what changed after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient

from kapclinic.accounts.models import User
from kapclinic.dosing.models import DosingSession, VitalSign
from kapclinic.fhir.registry import BULK_TYPES
from kapclinic.fhir.resources import instant, patient_resource, score_observation, vital_observations
from kapclinic.fhir.search import SUPPORTED
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.patients.models import Patient
from tests.probes.records import plan_make, response_make
from tests.test_fhir import fhir


def test_every_patient_bound_type_has_a_stream() -> None:
    # Not the instruments (the same for everyone) nor the audit trail (never exported with a record).
    assert set(BULK_TYPES) == set(SUPPORTED) - {"Practitioner", "Questionnaire", "AuditEvent"}


@pytest.mark.django_db
def test_patients_and_observations_stream_in_a_fixed_number_of_queries(
    personas: dict[str, User], team_patient: Patient, other_patient: Patient, django_assert_max_num_queries: Any
) -> None:
    plan = plan_make(team_patient, personas, stamp=True)
    session = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=1, scheduled_for=timezone.now(), state="monitoring"
    )
    nurse = personas["nurse"]
    now = timezone.now()
    for minutes in range(5):
        VitalSign.objects.create(
            session=session, measured_at=now - timedelta(minutes=minutes), systolic=120, diastolic=80,
            heart_rate=70, recorded_by=nurse,
        )  # fmt: skip
    wrong = VitalSign.objects.create(session=session, measured_at=now, heart_rate=200, recorded_by=nurse)
    VitalSign.objects.create(
        session=session, measured_at=now, heart_rate=100, recorded_by=nurse, corrects=wrong, correction_reason="typo"
    )
    phq = response_make(team_patient, nurse, 12, submitted_at=now)
    gad = response_make(other_patient, nurse, 7, instrument="gad7", submitted_at=now)
    # A constant number whatever the rows: the patients; for vital signs and for scores, the corrected ids and rows.
    with django_assert_max_num_queries(5):
        patients = list(BULK_TYPES["Patient"]([team_patient.pk, other_patient.pk], None))
        observations = list(BULK_TYPES["Observation"]([team_patient.pk, other_patient.pk], None))
    assert sorted(p["id"] for p in patients) == sorted([str(team_patient.pk), str(other_patient.pk)])
    for resource in patients:
        FhirPatient.model_validate(resource)
    for resource in observations:
        Observation.model_validate(resource)
    by_id = {o["id"]: o for o in observations}
    assert len(observations) == 5 * 2 + 2 + 2  # five sets of bp and hr, the wrong and fixed hr, two scores
    assert by_id[f"vs-{wrong.pk}-hr"]["status"] == "entered-in-error"
    assert by_id[f"qr-{phq.pk}-total"]["code"]["coding"][0]["code"] == "44261-6"
    assert [o["id"] for o in BULK_TYPES["Observation"]([other_patient.pk], None)] == [f"qr-{gad.pk}-total"]
    later = now + timedelta(minutes=1)
    assert list(BULK_TYPES["Observation"]([team_patient.pk], later)) == []
    assert list(BULK_TYPES["Patient"]([team_patient.pk], later)) == []


def test_the_capability_statement_names_each_new_type_with_its_profile(client: Any, db: None) -> None:
    statement = fhir(client, "metadata")
    by_type = {r["type"]: r for r in statement["rest"][0]["resource"]}
    core = "http://hl7.org/fhir/us/core/StructureDefinition/"
    assert by_type["MedicationRequest"]["profile"] == core + "us-core-medicationrequest"
    assert by_type["Encounter"]["profile"] == core + "us-core-encounter"
    assert by_type["AllergyIntolerance"]["profile"] == core + "us-core-allergyintolerance"
    assert by_type["CarePlan"]["profile"] == core + "us-core-careplan"
    assert core + "us-core-condition-encounter-diagnosis" in by_type["Condition"]["supportedProfile"]
    assert "profile" not in by_type["MedicationAdministration"]  # US Core 6.1 has no such profile
    assert {p["name"] for p in by_type["MedicationAdministration"]["searchParam"]} == {
        "_id",
        "patient",
        "status",
        "effective-time",
    }


@pytest.mark.django_db
def test_the_bulk_rows_give_exactly_the_resources_the_search_face_builds_from_records(
    personas: dict[str, User], team_patient: Patient, settings: Any
) -> None:
    """The export reads plain rows with their times as text the database writes (registry.InstantText); what it
    builds is the same, to the character, as the resources built from the model instances the reads return."""
    plan = plan_make(team_patient, personas, stamp=True)
    session = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=1, scheduled_for=timezone.now(), state="monitoring"
    )
    nurse = personas["nurse"]
    # Microseconds and a time just before midnight UTC, to be cut (never rounded) to the second.
    moments = [timezone.now(), datetime(2026, 3, 8, 23, 59, 59, 999_999, tzinfo=UTC)]
    for at in moments:
        VitalSign.objects.create(
            session=session, measured_at=at, systolic=118, diastolic=None, heart_rate=64, spo2=97,
            respiratory_rate=14, recorded_by=nurse,
        )  # fmt: skip
    wrong = VitalSign.objects.first()
    assert wrong is not None
    VitalSign.objects.create(
        session=session, measured_at=moments[0], heart_rate=66, recorded_by=nurse, corrects=wrong,
        correction_reason="typo",
    )  # fmt: skip
    response_make(team_patient, nurse, 12, submitted_at=moments[1])
    patient = Patient.objects.get(pk=team_patient.pk)
    superseded = {wrong.pk}
    vitals = VitalSign.objects.filter(session__patient=patient).select_related("session").order_by("pk")
    expected = [
        *vital_observations(vitals, None, superseded=superseded),
        *(score_observation(r, superseded=False) for r in QuestionnaireResponse.objects.filter(patient=patient)),
    ]
    assert list(BULK_TYPES["Observation"]([patient.pk], None)) == expected
    mrn_system = settings.KAPCLINIC_FHIR_MRN_SYSTEM
    assert list(BULK_TYPES["Patient"]([patient.pk], None)) == [patient_resource(patient, mrn_system=mrn_system)]
    assert expected[-1]["effectiveDateTime"] == "2026-03-08T23:59:59+00:00"


@pytest.mark.parametrize("zone", [UTC, ZoneInfo("America/New_York"), None])
def test_an_instant_is_the_isoformat_to_the_second(zone: tzinfo | None) -> None:
    for moment in (datetime(2026, 7, 2, 3, 4, 5, 999_999, tzinfo=zone), datetime(1900, 1, 1, tzinfo=zone)):
        assert instant(moment) == moment.isoformat(timespec="seconds")


def test_an_instant_offset_is_hours_and_minutes_as_fhir_requires() -> None:
    # New York's local mean time (before 1883) is -4:56:02; FHIR's dateTime allows only hh:mm (isoformat would
    # write the seconds too).
    assert instant(datetime(1850, 1, 1, tzinfo=ZoneInfo("America/New_York"))) == "1850-01-01T00:00:00-04:56"

"""The audit trail: written for every patient access, browsable, exportable, and unchangeable."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent, EmergencyAccess
from kapclinic.patients.models import Patient
from tests.db_roles import REFUSED


def _some_event(client_for: Any, patient: Patient) -> AccessEvent:
    client_for("prescriber").get(f"/patients/{patient.pk}/")
    return AccessEvent.objects.get(action="patient.view")


def test_database_refuses_update_of_an_audit_row(client_for: Any, team_patient: Patient) -> None:
    event = _some_event(client_for, team_patient)
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).update(username="someone-else")
    event.refresh_from_db()
    assert event.username == "prescriber"


def test_database_refuses_delete_of_an_audit_row(client_for: Any, team_patient: Patient) -> None:
    event = _some_event(client_for, team_patient)
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).delete()
    assert AccessEvent.objects.filter(pk=event.pk).exists()


def test_database_refuses_raw_sql_too(client_for: Any, team_patient: Patient) -> None:
    # Not only the ORM: a hand-written statement is refused by the trigger as well.
    event = _some_event(client_for, team_patient)
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_accessevent WHERE id = %s", [event.pk])
    assert AccessEvent.objects.filter(pk=event.pk).exists()


def test_director_filters_the_log_by_patient_user_and_date(
    client_for: Any, team_patient: Patient, other_patient: Patient
) -> None:
    client_for("prescriber").get(f"/patients/{team_patient.pk}/")
    client_for("coordinator").get(f"/patients/{other_patient.pk}/")
    director = client_for("director")
    by_patient = director.get("/audit/", {"patient": team_patient.mrn}).content.decode()
    assert "prescriber" in by_patient and team_patient.mrn in by_patient and other_patient.mrn not in by_patient
    by_user = director.get("/audit/", {"user": "coordinator"}).content.decode()
    assert other_patient.mrn in by_user and team_patient.mrn not in by_user
    future = director.get("/audit/", {"from": "2999-01-01"}).content.decode()
    assert "No events match these filters." in future
    wrong = director.get("/audit/", {"from": "2026-05-01", "to": "2026-04-01"}).content.decode()
    assert "The start date is after the end date." in wrong
    unknown = director.get("/audit/", {"patient": "K99999999"}).content.decode()
    assert "No patient with MRN or id K99999999." in unknown
    # Reading the log is itself recorded (a filter with an error shows nothing and reads nothing).
    assert AccessEvent.objects.filter(action="audit.browse", username="director").count() == 3


def test_csv_export(client_for: Any, team_patient: Patient) -> None:
    client_for("nurse").get(f"/patients/{team_patient.pk}/")
    response = client_for("auditor").get("/audit/export.csv", {"patient": team_patient.mrn})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    # Newest first; the export itself is an access to this patient's trail and is listed too.
    assert [(r["username"], r["action"], r["patient_mrn"]) for r in rows] == [
        ("auditor", "audit.export", team_patient.mrn),
        ("nurse", "patient.view", team_patient.mrn),
    ]


@pytest.mark.parametrize("name", ["coordinator", "prescriber", "nurse", "therapist", "patient_user"])
def test_only_director_and_auditor_read_the_log(client_for: Any, personas: dict[str, User], name: str) -> None:
    client = client_for(name)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
    assert AccessEvent.objects.filter(
        action="audit.browse", outcome="denied", username=personas[name].username
    ).exists()


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        # Two proxies (e.g. a load balancer and nginx): the client is the second entry from the right.
        (2, "203.0.113.7, 10.0.0.2", "203.0.113.7"),
        # One proxy: whatever the client wrote to the left is ignored; the proxy's own entry is the client.
        (1, "198.51.100.99, 203.0.113.7", "203.0.113.7"),
        (1, "198.51.100.1, 198.51.100.2, 203.0.113.7", "203.0.113.7"),
        # No proxy trusted: the header is the client's own words, never believed.
        (0, "198.51.100.99", "127.0.0.1"),
        # Not an address where the proxy's entry should be: the connection's own address.
        (1, "<script>", "127.0.0.1"),
    ],
)
def test_client_address_trusts_only_the_configured_proxies(
    client_for: Any, team_patient: Patient, settings: Any, proxies: int, forwarded: str, expected: str
) -> None:
    settings.KAPCLINIC_TRUSTED_PROXIES = proxies
    client_for("prescriber").get(f"/patients/{team_patient.pk}/", HTTP_X_FORWARDED_FOR=forwarded)
    assert AccessEvent.objects.get(action="patient.view").client_address == expected


def test_review_redirect_stays_on_this_site(client_for: Any, other_patient: Patient, personas: dict[str, User]) -> None:

    grant = EmergencyAccess.objects.create(
        user=personas["nurse"],
        patient=other_patient,
        reason="Covering the evening clinic",
        expires_at="2999-01-01T00:00Z",
    )
    response = client_for("director").post(
        f"/audit/emergency/{grant.pk}/review/", {"note": "", "next": "https://elsewhere.example/steal"}
    )
    assert response["Location"] == "/audit/"


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres_only
@pytest.mark.parametrize("reference", ["99999", "²", str(10**30), "K99999999"])
def test_unknown_patient_filter_is_an_error_not_a_crash(
    client_for: Any, personas: dict[str, User], reference: str
) -> None:
    # Committed transactions (PostgreSQL checks foreign keys at commit): no audit row may point nowhere.
    page = client_for("director").get("/audit/", {"patient": reference})
    assert page.status_code == 200 and "No patient with MRN or id" in page.content.decode()
    api = client_for("director").get("/api/v1/audit-events", {"patient": reference})
    assert api.status_code in {404, 422}


def test_csv_cells_cannot_run_as_formulas(client_for: Any, other_patient: Patient) -> None:
    reason = '=HYPERLINK("https://elsewhere.example","urgent")'
    client_for("outsider_nurse").post(f"/patients/{other_patient.pk}/emergency-access/", {"reason": reason})
    response = client_for("director").get("/audit/export.csv", {"emergency": "1"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["reason"] for r in rows] == ["'" + reason]

"""Inquiries: the public form, staff entry, the coordinator's list, and conversion to a patient."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from kapclinic.accounts.models import User
from kapclinic.intake.models import Inquiry
from kapclinic.patients.models import Patient

PUBLIC = {
    "given_name": "Sorrel",
    "family_name": "Inquirytest",
    "phone": "212-555-0155",
    "email": "sorrel@example.test",
    "reason": "Depression that has not lifted with two medicines.",
    "referral_source": "Primary care",
    "consent_to_contact": "on",
}


@pytest.mark.django_db
def test_public_form_needs_no_login_and_stores_the_inquiry() -> None:
    response = Client().post("/inquire/", PUBLIC)
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    inquiry = Inquiry.objects.get()
    assert inquiry.source == "web" and inquiry.status == "new" and inquiry.consent_to_contact


@pytest.mark.django_db
def test_public_form_honeypot_and_rate_limit(settings: Any) -> None:
    client = Client()
    assert client.post("/inquire/", {**PUBLIC, "website": "http://spam.example"}).status_code == 200
    assert not Inquiry.objects.exists()
    settings.KAPCLINIC_PUBLIC_INQUIRIES_PER_HOUR = 2
    for _ in range(2):
        client.post("/inquire/", PUBLIC)
    assert client.post("/inquire/", PUBLIC).status_code == 429
    assert Inquiry.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phone": "", "email": ""}, "Give a phone number or an email address"),
        ({"email": "nope"}, "Enter a valid email address."),
        ({"reason": ""}, "This field is required."),
        ({"birth_date": "2999-01-01"}, "cannot be in the future"),
    ],
)
def test_public_form_refuses_bad_input(change: dict[str, str], message: str) -> None:
    response = Client().post("/inquire/", {**PUBLIC, **change})
    assert response.status_code == 422 and message in response.content.decode()
    assert not Inquiry.objects.exists()


def test_coordinator_records_lists_and_converts(client_for: Any, personas: dict[str, User]) -> None:
    coordinator = client_for("coordinator")
    created = coordinator.post("/intake/inquiries/new/", {**PUBLIC, "source": "phone"})
    inquiry = Inquiry.objects.get()
    assert created["Location"] == f"/intake/inquiries/{inquiry.pk}/"
    listed = coordinator.get("/intake/inquiries/", {"status": "new", "q": "inquiry"}).content.decode()
    assert "INQUIRYTEST, Sorrel" in listed
    assert "INQUIRYTEST, Sorrel" in coordinator.get("/").content.decode()  # on the coordinator's home
    no_dob = coordinator.post(f"/intake/inquiries/{inquiry.pk}/", {})
    assert no_dob.status_code == 422 and "Enter the date of birth" in no_dob.content.decode()
    converted = coordinator.post(f"/intake/inquiries/{inquiry.pk}/", {"birth_date": "1980-02-03"})
    patient = Patient.objects.get()
    assert converted["Location"] == f"/patients/{patient.pk}/"
    assert (patient.given_name, patient.phone, patient.email) == ("Sorrel", "212-555-0155", "sorrel@example.test")
    inquiry.refresh_from_db()
    assert inquiry.status == "converted" and inquiry.patient == patient
    again = coordinator.post(f"/intake/inquiries/{inquiry.pk}/", {"birth_date": "1980-02-03"}, follow=True)
    assert "already converted" in again.content.decode() and Patient.objects.count() == 1


def test_closing_needs_a_reason(client_for: Any, personas: dict[str, User]) -> None:
    coordinator = client_for("coordinator")
    coordinator.post("/intake/inquiries/new/", {**PUBLIC, "source": "referral"})
    inquiry = Inquiry.objects.get()
    coordinator.post(f"/intake/inquiries/{inquiry.pk}/status/", {"status": "closed"})
    inquiry.refresh_from_db()
    assert inquiry.status == "new"
    coordinator.post(f"/intake/inquiries/{inquiry.pk}/status/", {"status": "closed", "closed_reason": "Referred"})
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.closed_reason) == ("closed", "Referred")


def test_a_refused_status_change_shows_the_inquiry_again_with_the_message(
    client_for: Any, personas: dict[str, User]
) -> None:
    coordinator = client_for("coordinator")
    coordinator.post("/intake/inquiries/new/", {**PUBLIC, "source": "referral"})
    inquiry = Inquiry.objects.get()
    refused = coordinator.post(f"/intake/inquiries/{inquiry.pk}/status/", {"status": "closed", "closed_reason": " "})
    page = refused.content.decode()
    assert refused.status_code == 422 and 'id="closed_reason_error"' in page and "Say why the inquiry is closed" in page
    inquiry.refresh_from_db()
    assert inquiry.status == "new"


def test_api_inquiry(api_for: Any, personas: dict[str, User]) -> None:
    body = {k: v for k, v in PUBLIC.items() if k != "consent_to_contact"}
    created = api_for("coordinator").post("/api/v1/inquiries", body, content_type="application/json")
    assert created.status_code == 201 and created.json()["status"] == "new"
    no_contact = api_for("coordinator").post(
        "/api/v1/inquiries", {**body, "phone": "", "email": ""}, content_type="application/json"
    )
    assert no_contact.status_code == 422
    assert api_for("nurse").post("/api/v1/inquiries", body, content_type="application/json").status_code == 403


def test_the_intake_path_over_the_api(api_for: Any, personas: dict[str, Any]) -> None:
    """Inquiry → list → consultation → conversion → outcome, with the same rules as the pages."""
    from datetime import timedelta

    from django.utils import timezone

    from kapclinic.appointments.models import Appointment
    from kapclinic.measures.models import ScheduledMeasure

    api = api_for("coordinator")
    created = api.post(
        "/api/v1/inquiries",
        {"given_name": "Quince", "family_name": "Apiwalk", "phone": "(212) 555-0188", "reason": "Low mood"},
        content_type="application/json",
    )
    inquiry = created.json()["id"]
    listed = api.get("/api/v1/inquiries", {"status": "new", "search": "Apiw"}).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == inquiry
    assert api_for("therapist").get("/api/v1/inquiries").status_code == 403
    start = (timezone.localtime() + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    booking = {
        "kind": "consultation",
        "with_user": personas["coordinator"].pk,
        "starts_at": start.isoformat(),
        "minutes": 30,
        "mode": "video",
        "video_link": "https://video.example.test/q",
        "inquiry": inquiry,
    }
    booked = api.post("/api/v1/appointments", booking, content_type="application/json")
    assert booked.status_code == 201
    clash = api.post("/api/v1/appointments", booking, content_type="application/json")
    # A clash is 409 with the next free times (issue 16, item 9).
    assert clash.status_code == 409 and clash.json()["next_free"] and Appointment.objects.count() == 1
    no_dob = api.post(f"/api/v1/inquiries/{inquiry}/conversion", {}, content_type="application/json")
    assert no_dob.status_code == 422
    converted = api.post(
        f"/api/v1/inquiries/{inquiry}/conversion",
        {"birth_date": "1980-02-02", "sex_at_birth": "female"},
        content_type="application/json",
    )
    assert converted.status_code == 201
    patient = converted.json()["patient"]
    assert Appointment.objects.get().patient_id == patient  # the consultation follows the person
    outcome = api.post(
        f"/api/v1/appointments/{booked.json()['id']}/outcome", {"outcome": "proceed"}, content_type="application/json"
    )
    assert outcome.status_code == 200 and outcome.json()["outcome"] == "proceed"
    assert ScheduledMeasure.objects.filter(patient_id=patient, label="Pre-screen").exists()
    assert api.post(
        f"/api/v1/inquiries/{inquiry}/status", {"status": "nonsense"}, content_type="application/json"
    ).status_code in (409, 422)

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
    assert "Inquirytest, Sorrel" in listed
    assert "Sorrel Inquirytest" in coordinator.get("/").content.decode()  # on the coordinator's home
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


def test_api_inquiry(api_for: Any, personas: dict[str, User]) -> None:
    body = {k: v for k, v in PUBLIC.items() if k != "consent_to_contact"}
    created = api_for("coordinator").post("/api/v1/inquiries", body, content_type="application/json")
    assert created.status_code == 201 and created.json()["status"] == "new"
    no_contact = api_for("coordinator").post(
        "/api/v1/inquiries", {**body, "phone": "", "email": ""}, content_type="application/json"
    )
    assert no_contact.status_code == 422
    assert api_for("nurse").post("/api/v1/inquiries", body, content_type="application/json").status_code == 403

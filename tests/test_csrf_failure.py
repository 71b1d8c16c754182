"""A form refused by the CSRF check gets the clinic's own page, which the Content-Security-Policy lets render
(Django's default page styles itself inline), says nothing was saved, and saves nothing; the API answers JSON."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kapclinic.accounts.models import User
from kapclinic.patients.models import Patient


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_gets_the_clinics_page_and_changes_nothing(personas: dict[str, User]) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(personas["coordinator"])
    before = Patient.objects.count()
    page = browser.post(reverse("patients:register"), {"given_name": "Csrf", "family_name": "Refused"})
    body = page.content.decode()
    assert page.status_code == 403
    assert "<h1>Form not accepted</h1>" in body and "nothing was saved" in body and "reload the page" in body
    assert "<style" not in body and 'style="' not in body  # nothing the CSP would refuse
    assert "CSRF token" not in body  # Django's page names the token; the clinic's says what to do
    assert Patient.objects.count() == before


@pytest.mark.django_db
def test_the_api_refuses_a_session_write_without_the_token_in_json(personas: dict[str, User]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["coordinator"])
    answer = client.post("/api/v1/patients", {"given_name": "X"}, content_type="application/json")
    assert answer.status_code == 403
    assert answer["Content-Type"].startswith("application/json")
    assert "CSRF" in answer.json()["detail"]

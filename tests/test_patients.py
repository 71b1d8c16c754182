"""Registering, finding, editing and opening patients through the pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent, EmergencyAccess
from kapclinic.clinical.registry import is_valid_mrn, mrn_from_number
from kapclinic.patients.models import CareTeamMember, DuplicateFlag, Patient

VALID = {
    "given_name": "Quince",
    "family_name": "Registertest",
    "birth_date": "1988-05-17",
    "sex_at_birth": "female",
    "pronouns": "she/her",
    "phone": "212-555-0123",
    "email": "quince@example.test",
    "preferred_language": "English",
    "country": "United States",
}


def test_coordinator_registers_a_patient_with_a_system_mrn(client_for: Any, personas: dict[str, User]) -> None:
    response = client_for("coordinator").post("/patients/new/", VALID)
    patient = Patient.objects.get(family_name="Registertest")
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/"
    assert is_valid_mrn(patient.mrn)
    assert patient.phone_digits == "2125550123"
    assert patient.created_by == personas["coordinator"]
    event = AccessEvent.objects.get(action="patient.register", patient=patient)
    assert event.username == "coordinator" and event.channel == "page" and event.client_address == "127.0.0.1"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("birth_date", "2999-01-01", "Date of birth cannot be in the future."),
        ("birth_date", "1850-01-01", "Date of birth is more than 125 years ago"),
        ("birth_date", "1990-02-30", "Enter a valid date."),
        ("given_name", "", "This field is required."),
        ("family_name", "x" * 101, "Ensure this value has at most 100 characters"),
        ("email", "not-an-email", "Enter a valid email address."),
        ("phone", "555-12", "Enter a 10-digit phone number"),
        ("sex_at_birth", "other", "Select a valid choice."),
    ],
)
def test_bad_registration_is_refused_with_a_message_and_saves_nothing(
    client_for: Any, personas: dict[str, User], field: str, value: str, message: str
) -> None:
    response = client_for("coordinator").post("/patients/new/", {**VALID, field: value})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Patient.objects.exists()


def test_possible_duplicate_is_flagged_and_needs_confirmation(client_for: Any, team_patient: Patient) -> None:
    client = client_for("coordinator")
    same = {**VALID, "given_name": "alder", "family_name": "TEAMPATIENT", "birth_date": "1984-03-14", "phone": ""}
    response = client.post("/patients/new/", same)
    assert response.status_code == 422
    body = response.content.decode()
    assert "This may be someone already registered" in body and team_patient.mrn in body
    assert "same name and date of birth" in body
    assert Patient.objects.count() == 1
    # The look at the existing record is audited too.
    assert AccessEvent.objects.filter(action="patient.duplicate_check", patient=team_patient).exists()

    response = client.post("/patients/new/", {**same, "confirm_not_duplicate": "on"})
    assert response.status_code == 302
    created = Patient.objects.exclude(pk=team_patient.pk).get()
    flag = DuplicateFlag.objects.get(patient=created)
    assert flag.other == team_patient and flag.reasons == "same name and date of birth"
    chart = client.get(f"/patients/{created.pk}/").content.decode()
    assert "Possible duplicate of" in chart and team_patient.mrn in chart


def test_same_phone_is_a_possible_duplicate(client_for: Any, team_patient: Patient) -> None:
    response = client_for("coordinator").post("/patients/new/", {**VALID, "phone": "1 (212) 555-0142"})
    assert response.status_code == 422 and "same phone number" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("alder", True),
        ("teamp", True),
        ("Teampatient, Alder", True),
        ("1984-03-14", True),
        ("03/14/1984", True),
        ("555-0142", True),
        ("zzz", False),
    ],
)
def test_search_by_name_mrn_phone_or_birth_date(
    client_for: Any, team_patient: Patient, other_patient: Patient, query: str, found: bool
) -> None:
    body = client_for("coordinator").get("/patients/", {"q": query}).content.decode()
    assert (team_patient.mrn in body) is found
    assert other_patient.mrn not in body


def test_search_by_mrn(client_for: Any, team_patient: Patient, other_patient: Patient) -> None:
    body = client_for("coordinator").get("/patients/", {"q": team_patient.mrn.lower()}).content.decode()
    assert team_patient.mrn in body and other_patient.mrn not in body


def test_search_empty_state_and_htmx_partial(client_for: Any, team_patient: Patient) -> None:
    client = client_for("coordinator")
    body = client.get("/patients/", {"q": "nobody"}).content.decode()
    assert "No patient matches “nobody”" in body
    partial = client.get("/patients/", {"q": "alder"}, HTTP_HX_REQUEST="true").content.decode()
    assert team_patient.mrn in partial and "<html" not in partial


def _many_patients(count: int, start: int = 1000) -> None:
    Patient.objects.bulk_create(
        Patient(
            mrn=mrn_from_number(start + i),
            given_name=f"Given{i:03d}",
            family_name="Pagetest",
            birth_date="1970-01-01",
        )
        for i in range(count)
    )


def test_patient_list_is_paginated(client_for: Any, personas: dict[str, User]) -> None:
    _many_patients(30)
    client = client_for("coordinator")
    first = client.get("/patients/").content.decode()
    assert "Showing 1\u201325 of 30 patients" in first and 'rel="next"' in first
    second = client.get("/patients/", {"page": 2}).content.decode()
    assert "Showing 26\u201330 of 30 patients" in second and 'rel="next"' not in second
    # Each patient shown is one audit row; 25 + 5.
    assert AccessEvent.objects.filter(action="patient.list").count() == 30


def test_patient_list_query_count_does_not_grow(
    client_for: Any, personas: dict[str, User], django_assert_num_queries: Any
) -> None:
    client = client_for("coordinator")
    client.get("/patients/")  # warm the session
    # session, user, count, page of patients, the audit chain's head and one INSERT of audit rows, the header's
    # inbox count (the session is not written: the idle clock is noted at most once a minute)
    _many_patients(5)
    with django_assert_num_queries(7):
        client.get("/patients/")
    _many_patients(40, start=2000)
    with django_assert_num_queries(7):
        client.get("/patients/")


def test_team_list_adds_no_query_for_nurse(
    client_for: Any, team_patient: Patient, django_assert_num_queries: Any
) -> None:
    client = client_for("nurse")
    client.get("/patients/")
    with django_assert_num_queries(7):  # as for the coordinator: the team filter is a join, not a query
        assert team_patient.mrn in client.get("/patients/").content.decode()


def test_chart_query_count_is_constant(
    client_for: Any, team_patient: Patient, personas: dict[str, User], django_assert_num_queries: Any
) -> None:
    client = client_for("nurse")
    client.get(f"/patients/{team_patient.pk}/")
    # Drawn anew (the record changed): session, user, patient, care-team check, the record version with the
    # banner's allergies (the evaluation's data; patients/fragments.py), audit chain head and INSERT, care team with
    # users, duplicate flags, open safety flags, recent scores, trajectory scores, measurement schedule, current
    # treatment plan, consent status, therapy notes (the notes' team check reads the care team above), dosing
    # sessions with checklists, appointments, the inquiry the patient came from, the header's inbox and message
    # counts (one query)
    Patient.objects.filter(pk=team_patient.pk).update(pronouns="they/them")
    with django_assert_num_queries(20):
        response = client.get(f"/patients/{team_patient.pk}/")
    assert response.status_code == 200
    # From the cache, the record unchanged: session, user, patient, care-team check, the record version, audit
    # chain head and INSERT, the header's counts: the chart's own reads and the banner's are gone.
    with django_assert_num_queries(8):
        response = client.get(f"/patients/{team_patient.pk}/")
    assert "they/them" in response.content.decode()
    _many_patients(20)
    with django_assert_num_queries(8):
        client.get(f"/patients/{team_patient.pk}/")


def test_chart_shows_banner_sections_and_care_team(client_for: Any, team_patient: Patient) -> None:
    body = client_for("prescriber").get(f"/patients/{team_patient.pk}/").content.decode()
    assert "TEAMPATIENT, Alder" in body and team_patient.mrn in body
    for title in ("1. Inquiry and consultation", "5. Dosing sessions", "7. Follow-up and outcomes"):
        assert title in body
    assert "Prescriber Persona" in body and "Nurse Persona" in body


def test_coordinator_chart_hides_clinical_sections(client_for: Any, team_patient: Patient) -> None:
    body = client_for("coordinator").get(f"/patients/{team_patient.pk}/").content.decode()
    assert "1. Inquiry and consultation" in body
    assert "Evaluation and eligibility" not in body
    assert "Clinical sections are not shown to your role." in body


def test_unknown_patient_is_404_and_audited(client_for: Any, personas: dict[str, User]) -> None:
    response = client_for("prescriber").get("/patients/999999/")
    assert response.status_code == 404
    event = AccessEvent.objects.get(outcome="not_found")
    assert event.detail == {"patient_id": 999999} and event.username == "prescriber"


def test_nurse_outside_care_team_is_refused_and_offered_emergency_access(
    client_for: Any, other_patient: Patient
) -> None:
    client = client_for("nurse")
    response = client.get(f"/patients/{other_patient.pk}/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "This patient is not on your care team." in body and "Open chart with emergency access" in body
    assert other_patient.mrn not in body
    assert AccessEvent.objects.filter(patient=other_patient, outcome="denied", username="nurse").exists()


def test_emergency_access_needs_a_reason_then_opens_the_chart_flagged(
    client_for: Any, other_patient: Patient, personas: dict[str, User]
) -> None:
    client = client_for("outsider_therapist")
    refused = client.post(f"/patients/{other_patient.pk}/emergency-access/", {"reason": "short"})
    assert refused.status_code == 403 and "at least 10 characters" in refused.content.decode()
    assert not EmergencyAccess.objects.exists()

    client.post(f"/patients/{other_patient.pk}/emergency-access/", {"reason": "Patient in crisis, covering"})
    chart = client.get(f"/patients/{other_patient.pk}/")
    assert chart.status_code == 200 and "Emergency access" in chart.content.decode()
    view = AccessEvent.objects.filter(action="patient.view", patient=other_patient, outcome="allowed").get()
    assert view.emergency and view.reason == "Patient in crisis, covering"

    director = client_for("director")
    home = director.get("/").content.decode()
    assert "Patient in crisis, covering" in home
    grant = EmergencyAccess.objects.get()
    director.post(f"/audit/emergency/{grant.pk}/review/", {"note": "Appropriate: on call"})
    grant.refresh_from_db()
    assert grant.reviewed_by == personas["director"] and grant.review_note == "Appropriate: on call"


def test_emergency_access_expires(client_for: Any, other_patient: Patient, personas: dict[str, User]) -> None:
    now = timezone.now()
    EmergencyAccess.objects.create(
        user=personas["nurse"],
        patient=other_patient,
        reason="Earlier emergency, long over",
        granted_at=now - timedelta(hours=3),
        expires_at=now - timedelta(hours=2),
    )
    assert client_for("nurse").get(f"/patients/{other_patient.pk}/").status_code == 403


def test_edit_demographics_with_version_check(client_for: Any, team_patient: Patient) -> None:
    client = client_for("coordinator")
    form = client.get(f"/patients/{team_patient.pk}/edit/").content.decode()
    assert 'name="version"' in form
    data = {**VALID, "given_name": "Alder", "family_name": "Teampatient", "birth_date": "1984-03-14", "version": 1}
    response = client.post(f"/patients/{team_patient.pk}/edit/", {**data, "pronouns": "they/them"})
    assert response.status_code == 302
    team_patient.refresh_from_db()
    assert team_patient.pronouns == "they/them" and team_patient.version == 2
    opened, saved = AccessEvent.objects.filter(action="patient.edit").order_by("id")
    assert opened.method == "GET" and saved.method == "POST" and "pronouns" in saved.detail["changed"]

    # A second form drawn from version 1 must not overwrite the newer change.
    stale = client.post(f"/patients/{team_patient.pk}/edit/", {**data, "pronouns": "she/her"})
    # A stale version is a conflict: 409, as the API answers it.
    assert stale.status_code == 409 and "Someone else changed this patient" in stale.content.decode()
    team_patient.refresh_from_db()
    assert team_patient.pronouns == "they/them"


def test_bad_edit_changes_nothing_and_is_audited(client_for: Any, team_patient: Patient) -> None:
    client = client_for("coordinator")
    data = {**VALID, "given_name": "Changed", "birth_date": "2999-01-01", "version": 1}
    response = client.post(f"/patients/{team_patient.pk}/edit/", data)
    assert response.status_code == 422 and "Date of birth cannot be in the future." in response.content.decode()
    team_patient.refresh_from_db()
    assert team_patient.given_name == "Alder"
    invalid = AccessEvent.objects.get(outcome="invalid", patient=team_patient)
    assert invalid.detail == {"fields": ["birth_date"]}


def test_nurse_edits_contact_details_only(client_for: Any, team_patient: Patient) -> None:
    client = client_for("nurse")
    form = client.get(f"/patients/{team_patient.pk}/edit/").content.decode()
    assert 'name="phone"' in form and 'name="given_name"' not in form
    response = client.post(
        f"/patients/{team_patient.pk}/edit/", {"phone": "212 555 0111", "country": "United States", "version": 1}
    )
    assert response.status_code == 302
    team_patient.refresh_from_db()
    assert team_patient.phone == "212 555 0111" and team_patient.given_name == "Alder"


def test_care_team_assignment_replaces_the_holder(
    client_for: Any, team_patient: Patient, personas: dict[str, User]
) -> None:
    client = client_for("coordinator")
    client.post(f"/patients/{team_patient.pk}/care-team/", {"role": "nurse", "user": personas["outsider_nurse"].pk})
    assert CareTeamMember.objects.get(patient=team_patient, role="nurse").user == personas["outsider_nurse"]
    # A therapist cannot be put in the nurse's place.
    client.post(f"/patients/{team_patient.pk}/care-team/", {"role": "nurse", "user": personas["therapist"].pk})
    assert CareTeamMember.objects.get(patient=team_patient, role="nurse").user == personas["outsider_nurse"]
    # The former nurse no longer reaches the chart.
    assert client_for("nurse").get(f"/patients/{team_patient.pk}/").status_code == 403


def test_duplicate_flag_shows_on_both_charts(client_for: Any, team_patient: Patient) -> None:
    client = client_for("coordinator")
    same = {**VALID, "given_name": "Alder", "family_name": "Teampatient", "birth_date": "1984-03-14", "phone": ""}
    client.post("/patients/new/", {**same, "confirm_not_duplicate": "on"})
    created = Patient.objects.exclude(pk=team_patient.pk).get()
    original_chart = client.get(f"/patients/{team_patient.pk}/").content.decode()
    assert "Possible duplicate of" in original_chart and created.mrn in original_chart


def test_a_refused_emergency_reason_is_shown_again_beside_its_field(client_for: Any, other_patient: Patient) -> None:
    refused = client_for("outsider_therapist").post(
        f"/patients/{other_patient.pk}/emergency-access/", {"reason": "  urgent  "}
    )
    html = refused.content.decode()
    assert refused.status_code == 403
    assert "  urgent  </textarea>" in html
    assert '<p class="field-error" id="id_reason_error">Ensure this value has at least 10 characters' in html
    assert not EmergencyAccess.objects.exists()
    assert AccessEvent.objects.filter(patient=other_patient, action="patient.view", outcome="denied").exists()


def test_a_refused_portal_login_or_care_team_change_comes_back_to_the_chart_with_the_reason(
    client_for: Any, team_patient: Patient, other_patient: Patient, personas: dict[str, User]
) -> None:
    coordinator = client_for("coordinator")
    blank = coordinator.post(f"/patients/{other_patient.pk}/portal-account/", {"username": " "}, follow=True)
    assert "Choose a username for the patient" in blank.content.decode()
    taken = coordinator.post(f"/patients/{other_patient.pk}/portal-account/", {"username": "nurse"}, follow=True)
    assert "That username is taken; choose another." in taken.content.decode()
    wrong = coordinator.post(
        f"/patients/{team_patient.pk}/care-team/", {"role": "nurse", "user": personas["therapist"].pk}, follow=True
    )
    assert wrong.redirect_chain == [(f"/patients/{team_patient.pk}/", 302)]
    assert CareTeamMember.objects.get(patient=team_patient, role="nurse").user == personas["nurse"]
    cleared = coordinator.post(f"/patients/{team_patient.pk}/care-team/", {"role": "nurse", "user": ""}, follow=True)
    assert "The care team was updated." in cleared.content.decode()
    assert not CareTeamMember.objects.filter(patient=team_patient, role="nurse").exists()


def test_a_page_number_that_is_not_one_shows_the_first_page(client_for: Any, team_patient: Patient) -> None:
    for page in ("abc", "0", "-3"):
        response = client_for("coordinator").get("/patients/", {"page": page})
        assert response.status_code == 200 and team_patient.mrn in response.content.decode()


def test_patient_user_learns_nothing_from_emergency_access(
    client_for: Any, other_patient: Patient, personas: dict[str, User]
) -> None:
    client = client_for("patient_user")
    existing = client.post(f"/patients/{other_patient.pk}/emergency-access/", {"reason": "I would like to look"})
    missing = client.post("/patients/999999/emergency-access/", {"reason": "I would like to look"})
    assert existing.status_code == missing.status_code == 404
    assert not EmergencyAccess.objects.exists()


def test_team_member_needs_no_emergency_access(client_for: Any, team_patient: Patient) -> None:
    response = client_for("nurse").post(
        f"/patients/{team_patient.pk}/emergency-access/", {"reason": "Patient unwell in the waiting room"}
    )
    assert response["Location"] == f"/patients/{team_patient.pk}/"
    assert not EmergencyAccess.objects.exists()


def test_edit_under_emergency_access_is_flagged(client_for: Any, other_patient: Patient) -> None:
    client = client_for("outsider_nurse")
    client.post(f"/patients/{other_patient.pk}/emergency-access/", {"reason": "Covering the evening clinic"})
    client.post(
        f"/patients/{other_patient.pk}/edit/", {"phone": "212 555 0111", "country": "United States", "version": 1}
    )
    saved = AccessEvent.objects.get(action="patient.edit_contact", method="POST")
    assert saved.emergency and saved.reason == "Covering the evening clinic"


def test_coordinator_opens_a_portal_login_shown_once(client_for: Any, other_patient: Patient) -> None:
    coordinator = client_for("coordinator")
    chart = coordinator.get(f"/patients/{other_patient.pk}/").content.decode()
    assert "Open portal login" in chart
    opened = coordinator.post(f"/patients/{other_patient.pk}/portal-account/", {"username": "birch.portal"})
    assert opened.status_code == 200
    page = opened.content.decode()
    temporary = page.split('id="portal-temporary-password">')[1].split("<")[0]
    other_patient.refresh_from_db()
    assert other_patient.user is not None and other_patient.user.role == "patient"
    assert other_patient.user.must_change_password
    assert other_patient.user.check_password(temporary)
    again = coordinator.post(f"/patients/{other_patient.pk}/portal-account/", {"username": "birch.other"})
    assert again.status_code == 302 and not User.objects.filter(username="birch.other").exists()
    assert (
        client_for("nurse").post(f"/patients/{other_patient.pk}/portal-account/", {"username": "x.y"}).status_code
        == 403
    )

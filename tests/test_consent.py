"""Informed consent: versioned texts, signatures in the portal and at the clinic, witnesses, withdrawal, PDF, API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.test import Client
from django.utils import timezone

from kapclinic import pdf
from kapclinic.accounts.models import User
from kapclinic.accounts.services import api_token_issue
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.consent.models import ConsentSignature, ConsentVersion, ConsentWithdrawal, ConsentWitness
from kapclinic.consent.selectors import consent_current, consent_status
from kapclinic.consent.services import (
    consent_sign,
    consent_version_publish,
    consent_withdraw,
    consent_witness,
)
from kapclinic.dosing.models import DosingSession, SessionState, SessionTransition
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.patients.models import Patient
from kapclinic.roles import Role
from kapclinic.signing import content_digest
from tests.db_roles import REFUSED
from tests.probes.records import plan_make

RISKS = [
    {"code": "dissociation", "text": "You may feel detached from your body for about two hours."},
    {"code": "nausea", "text": "Nausea and vomiting are common."},
    {"code": "no-driving", "text": "Do not drive until the next day after sleep."},
]
V1_BODY = "Version one: ketamine sessions at the clinic, with monitoring."
V2_BODY = "Version two: ketamine sessions at the clinic, with monitoring and a bladder warning."
CODES = [r["code"] for r in RISKS]
NAME_ERROR = "The typed name must be the patient&#x27;s full legal name"


def ctx_of(user: User, address: str | None = "203.0.113.5") -> AuditContext:
    return AuditContext(user=user, channel="page", client_address=address)


def publish(personas: dict[str, User], body: str = V1_BODY, **extra: Any) -> ConsentVersion:
    return consent_version_publish(
        ctx=ctx_of(personas["director"]), title="KAP consent", body=body, risks=RISKS, **extra
    )


@pytest.fixture
def v1(personas: dict[str, User]) -> ConsentVersion:
    return publish(personas)


def portal_sign(personas: dict[str, User], patient: Patient, version: ConsentVersion) -> ConsentSignature:
    return consent_sign(
        ctx=ctx_of(personas["patient_user"]),
        patient_id=patient.pk,
        version_id=version.pk,
        typed_name=patient.full_name,
        risks_acknowledged=version.risk_codes,
    )


def events(action: str, outcome: str) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(action=action, outcome=outcome))


@pytest.fixture
def second_patient_user(other_patient: Patient) -> User:
    """Another patient's portal login (other_patient has none in the shared fixtures)."""
    user = User.objects.create(username="other_patient_user", role=Role.PATIENT)
    other_patient.user = user
    other_patient.save(update_fields=["user"])
    return user


# --- Publishing versions ---------------------------------------------------------------------------


def test_director_publishes_numbered_versions_with_a_digest(personas: dict[str, User]) -> None:
    v1 = publish(personas)
    v2 = publish(personas, body=V2_BODY, change_summary="Bladder warning added")
    assert (v1.number, v2.number) == (1, 2) and v1.document == v2.document == "kap-treatment"
    assert v2.body_digest == content_digest(
        {"document": "kap-treatment", "title": "KAP consent", "body": V2_BODY, "risks": RISKS}
    )
    v1.refresh_from_db()
    assert v1.body == V1_BODY and v1.text_intact
    assert events("consent.publish", "allowed")[0].detail["number"] == 2


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"risks": []}, "risks", "List at least one key risk"),
        ({"risks": [{"code": "Bad Code", "text": "x"}]}, "risks", "the code must be 1-40 lowercase"),
        ({"risks": [RISKS[0], RISKS[0]]}, "risks", "is used twice"),
        ({"body": "  "}, "body", "Write the text the patient reads."),
        ({"body": V1_BODY, "change_summary": "nothing really"}, "body", "This is the same as version 1"),
        ({"body": V2_BODY, "change_summary": ""}, "change_summary", "Say what changed since version 1."),
    ],
)
def test_bad_versions_are_refused_and_audited(
    personas: dict[str, User], v1: ConsentVersion, change: dict[str, Any], field: str, message: str
) -> None:
    values: dict[str, Any] = {"title": "KAP consent", "body": V2_BODY, "risks": RISKS, "change_summary": "c"}
    values.update(change)
    with pytest.raises(ValidationError, match=message) as caught:
        consent_version_publish(ctx=ctx_of(personas["director"]), **values)
    assert field in caught.value.message_dict
    assert ConsentVersion.objects.count() == 1
    assert events("consent.publish", "invalid")[0].detail["fields"] == [field]


@pytest.mark.parametrize("persona", ["prescriber", "coordinator", "auditor", "patient_user"])
def test_only_the_director_publishes(personas: dict[str, User], persona: str) -> None:
    with pytest.raises(AccessDenied, match="Only the clinic director"):
        publish({**personas, "director": personas[persona]})
    assert not ConsentVersion.objects.exists()
    assert events("consent.publish", "denied")[0].username == persona


def test_texts_pages_list_versions_keep_old_ones_readable_and_prefill_the_form(
    client_for: Any, personas: dict[str, User], v1: ConsentVersion
) -> None:
    v2 = publish(personas, body=V2_BODY, change_summary="Bladder warning added")
    director = client_for("director")
    listed = director.get("/consent/texts/").content.decode()
    assert "✓ Current" in listed and "Replaced by version 2" in listed and "Bladder warning added" in listed
    old = director.get(f"/consent/texts/{v1.pk}/").content.decode()
    assert V1_BODY in old and "Replaced by" in old and "✓ matches the text" in old
    form = director.get("/consent/texts/publish/").content.decode()
    assert V2_BODY in form and 'value="no-driving"' in form and "Publish version 3" in form
    published = director.post(
        "/consent/texts/publish/",
        {
            "document": "kap-treatment",
            "title": "KAP consent",
            "body": "Version three.",
            "risk_code_1": "nausea",
            "risk_text_1": "Nausea is common.",
            "change_summary": "Shorter",
            "confirm": "on",
        },
    )
    v3 = ConsentVersion.objects.get(number=3)
    assert published["Location"] == f"/consent/texts/{v3.pk}/" and v3.risks == [
        RISKS[1] | {"text": "Nausea is common."}
    ]
    no_confirm = director.post("/consent/texts/publish/", {"document": "kap-treatment", "title": "t", "body": "b"})
    assert no_confirm.status_code == 422 and ConsentVersion.objects.count() == 3
    assert client_for("prescriber").get("/consent/texts/publish/").status_code == 403
    assert client_for("prescriber").get(f"/consent/texts/{v2.pk}/").status_code == 200  # staff may read
    assert client_for("patient_user").get("/consent/texts/")["Location"] == "/portal/consent/"


# --- Signing in the portal -------------------------------------------------------------------------


def test_patient_reads_and_signs_in_the_portal(client_for: Any, team_patient: Patient, v1: ConsentVersion) -> None:
    client = client_for("patient_user")
    home = client.get("/portal/consent/").content.decode()
    assert "Read and sign the consent" in home
    page = client.get("/portal/consent/sign/").content.decode()
    assert V1_BODY in page and RISKS[0]["text"] in page and 'name="typed_name"' in page
    signed = client.post(
        "/portal/consent/sign/",
        {"version_id": v1.pk, "typed_name": "  alder   TEAMPATIENT ", "risks_acknowledged": CODES},
        HTTP_USER_AGENT="Phone browser 1.0",
        REMOTE_ADDR="198.51.100.7",
    )
    signature = ConsentSignature.objects.get()
    assert signed["Location"] == f"/portal/consent/{signature.pk}/"
    assert (signature.channel, signature.recorded_by.username) == ("portal", "patient_user")
    assert (signature.client_address, signature.user_agent) == ("198.51.100.7", "Phone browser 1.0")
    assert signature.typed_name == "alder TEAMPATIENT" and signature.risks_acknowledged == CODES
    assert signature.signature_intact and consent_current(team_patient.pk) == signature
    assert not signature.witnesses.exists()
    shown = client.get(f"/portal/consent/{signature.pk}/").content.decode()
    assert V1_BODY in shown and "✓ " + RISKS[2]["text"] in shown
    assert "✓ Your consent is in force" in client.get("/portal/consent/").content.decode()
    again = client.get("/portal/consent/sign/", follow=True).content.decode()
    assert "You have already signed the current consent." in again
    assert events("consent.sign", "allowed")[0].detail["channel"] == "portal"


def test_a_typed_name_that_is_not_the_patients_is_refused_nothing_saved_audited(
    client_for: Any, team_patient: Patient, v1: ConsentVersion
) -> None:
    response = client_for("patient_user").post(
        "/portal/consent/sign/", {"version_id": v1.pk, "typed_name": "Alder Someoneelse", "risks_acknowledged": CODES}
    )
    assert response.status_code == 422 and NAME_ERROR in response.content.decode()
    assert not ConsentSignature.objects.exists()
    refused = events("consent.sign", "invalid")
    assert len(refused) == 1 and refused[0].patient_id == team_patient.pk
    assert refused[0].detail["fields"] == ["typed_name"]


def test_an_unticked_risk_is_refused(client_for: Any, team_patient: Patient, v1: ConsentVersion) -> None:
    response = client_for("patient_user").post(
        "/portal/consent/sign/",
        {"version_id": v1.pk, "typed_name": team_patient.full_name, "risks_acknowledged": CODES[:2]},
    )
    page = response.content.decode()
    assert response.status_code == 422 and "Tick every key risk" in page and "(1 of 3 not ticked)" in page
    assert page.count(" checked") == 2  # what was ticked stays ticked
    assert not ConsentSignature.objects.exists()
    assert events("consent.sign", "invalid")[0].detail["fields"] == ["risks_acknowledged"]


def test_another_patient_cannot_sign_for_the_patient(
    team_patient: Patient, v1: ConsentVersion, second_patient_user: User
) -> None:
    intruder = Client()
    intruder.force_login(second_patient_user)
    _, raw = api_token_issue(user=second_patient_user)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = {"version_id": v1.pk, "typed_name": team_patient.full_name, "risks_acknowledged": CODES}
    response = api.post(f"/api/v1/patients/{team_patient.pk}/consents", body, content_type="application/json")
    assert response.status_code == 404  # a patient cannot even learn that another record exists
    with pytest.raises(NotFound):
        consent_sign(ctx=ctx_of(second_patient_user), patient_id=team_patient.pk, version_id=v1.pk,
                     typed_name=team_patient.full_name, risks_acknowledged=CODES)  # fmt: skip
    assert not ConsentSignature.objects.exists()
    denied = AccessEvent.objects.filter(username="other_patient_user", outcome="denied", patient=team_patient)
    assert denied.count() == 2
    # Their own portal page signs only their own record.
    intruder.post("/portal/consent/sign/", body)
    assert not ConsentSignature.objects.filter(patient=team_patient).exists()


@pytest.mark.parametrize("persona", ["prescriber", "director", "nurse"])
def test_staff_cannot_sign_as_the_patient_in_the_portal(
    api_for: Any, personas: dict[str, User], team_patient: Patient, v1: ConsentVersion, persona: str
) -> None:
    response = api_for(persona).post(
        f"/api/v1/patients/{team_patient.pk}/consents",
        {"version_id": v1.pk, "typed_name": team_patient.full_name, "risks_acknowledged": CODES, "channel": "portal"},
        content_type="application/json",
    )
    assert response.status_code == 403 and "Only the patient signs" in response.json()["detail"]
    assert not ConsentSignature.objects.exists() and events("consent.sign", "denied")


def test_an_outdated_version_is_refused_with_a_clear_message(
    client_for: Any, personas: dict[str, User], team_patient: Patient, v1: ConsentVersion
) -> None:
    client = client_for("patient_user")
    assert V1_BODY in client.get("/portal/consent/sign/").content.decode()
    publish(personas, body=V2_BODY, change_summary="Bladder warning added")  # while the patient reads
    body = {"version_id": v1.pk, "typed_name": team_patient.full_name, "risks_acknowledged": CODES}
    response = client.post("/portal/consent/sign/", body)
    page = response.content.decode()
    assert response.status_code == 422
    assert "Version 1 of this consent has been replaced by version 2: please read and sign the current version." in page
    assert V2_BODY in page and " checked" not in page  # they start again on the new text
    assert not ConsentSignature.objects.exists()
    assert events("consent.sign", "invalid")[0].detail["fields"] == ["version_id"]
    garbled = client.post("/portal/consent/sign/", {**body, "version_id": "v1"})
    assert garbled.status_code == 422 and "There is no such consent version." in garbled.content.decode()


# --- At the clinic, and witnesses ------------------------------------------------------------------


def test_clinic_tablet_signature_records_the_staff_member_as_witness(
    client_for: Any, team_patient: Patient, v1: ConsentVersion
) -> None:
    nurse = client_for("nurse")
    page = nurse.get(f"/patients/{team_patient.pk}/consent/")
    assert "✕ No signed consent" in page.content.decode() and "Sign at the clinic (tablet)" in page.content.decode()
    tablet = nurse.get(f"/patients/{team_patient.pk}/consent/sign/").content.decode()
    assert "Clinic tablet" in tablet and V1_BODY in tablet
    signed = nurse.post(
        f"/patients/{team_patient.pk}/consent/sign/",
        {"version_id": v1.pk, "typed_name": team_patient.full_name, "risks_acknowledged": CODES},
        HTTP_USER_AGENT="Clinic tablet",
    )
    assert signed["Location"] == f"/patients/{team_patient.pk}/consent/"
    signature = ConsentSignature.objects.get()
    assert (signature.channel, signature.recorded_by.username, signature.user_agent) == (
        "clinic",
        "nurse",
        "Clinic tablet",
    )
    assert signature.client_address == "127.0.0.1"
    assert [w.witness.username for w in signature.witnesses.all()] == ["nurse"]
    shown = nurse.get(f"/patients/{team_patient.pk}/consent/").content.decode()
    assert "✓ Consent in force" in shown and "You witnessed this signature" in shown


def test_clinic_signature_needs_the_right_to_witness_for_that_patient(
    client_for: Any, team_patient: Patient, v1: ConsentVersion
) -> None:
    body = {"version_id": v1.pk, "typed_name": team_patient.full_name, "risks_acknowledged": CODES}
    assert client_for("outsider_nurse").post(f"/patients/{team_patient.pk}/consent/sign/", body).status_code == 403
    assert client_for("auditor").post(f"/patients/{team_patient.pk}/consent/sign/", body).status_code == 403
    assert not ConsentSignature.objects.exists()
    assert {e.username for e in events("consent.witness", "denied")} == {"outsider_nurse", "auditor"}


def test_staff_witness_a_portal_signature_once_each(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, v1: ConsentVersion
) -> None:
    signature = portal_sign(personas, team_patient, v1)
    url = f"/patients/{team_patient.pk}/consent/{signature.pk}/witness/"
    therapist = client_for("therapist")
    unconfirmed = therapist.post(url, {"note": "ok"}, follow=True)
    assert "Tick the box to confirm" in unconfirmed.content.decode() and not ConsentWitness.objects.exists()
    assert unconfirmed.status_code == 422 and 'value="ok"' in unconfirmed.content.decode()  # the note kept
    therapist.post(url, {"confirm": "on", "note": "Confirmed at the preparation visit"})
    assert [w.witness.username for w in signature.witnesses.all()] == ["therapist"]
    twice = therapist.post(url, {"confirm": "on"}, follow=True).content.decode()
    assert "You have already witnessed this signature" in twice and ConsentWitness.objects.count() == 1
    with pytest.raises(Conflict):
        consent_witness(ctx=ctx_of(personas["therapist"]), signature_id=signature.pk)
    client_for("prescriber").post(url, {"confirm": "on"})
    assert ConsentWitness.objects.count() == 2
    patient_api = api_for("patient_user").post(
        f"/api/v1/consents/{signature.pk}/witness", {}, content_type="application/json"
    )
    assert patient_api.status_code == 403 and ConsentWitness.objects.count() == 2
    assert client_for("outsider_therapist").post(url, {"confirm": "on"}).status_code == 403


# --- Withdrawal ------------------------------------------------------------------------------------


def _plan_with_sessions(personas: dict[str, User], patient: Patient) -> dict[str, DosingSession]:
    plan = plan_make(patient, personas, session_count=4, goals=["Sleep through the night"])
    start = timezone.now()
    states = {
        "done": SessionState.DISCHARGED,
        "today": SessionState.CHECKED_IN,
        "scheduled": SessionState.SCHEDULED,
        "proposed": SessionState.PROPOSED,
    }
    return {
        key: DosingSession.objects.create(
            patient=patient, plan=plan, number=n, scheduled_for=start + timedelta(days=3 * n), state=state
        )
        for n, (key, state) in enumerate(states.items(), start=1)
    }


def test_withdrawal_in_the_portal_cancels_sessions_not_started(
    client_for: Any, personas: dict[str, User], team_patient: Patient, v1: ConsentVersion
) -> None:
    sessions = _plan_with_sessions(personas, team_patient)
    signature = portal_sign(personas, team_patient, v1)
    client = client_for("patient_user")
    url = f"/portal/consent/{signature.pk}/withdraw/"
    confirm_page = client.get(url).content.decode()
    assert "every dosing session not yet started is cancelled" in confirm_page
    unconfirmed = client.post(url, {"reason": "I changed my mind"})
    assert unconfirmed.status_code == 422 and not ConsentWithdrawal.objects.exists()
    assert DosingSession.objects.get(pk=sessions["proposed"].pk).state == SessionState.PROPOSED
    done = client.post(url, {"reason": "I changed my mind", "confirm": "on"})
    assert done["Location"] == "/portal/consent/"
    withdrawal = ConsentWithdrawal.objects.get()
    assert (withdrawal.channel, withdrawal.recorded_by.username) == ("portal", "patient_user")
    states = {key: DosingSession.objects.get(pk=s.pk).state for key, s in sessions.items()}
    assert states == {
        "done": SessionState.DISCHARGED,
        "today": SessionState.CHECKED_IN,
        "scheduled": SessionState.CANCELLED,
        "proposed": SessionState.CANCELLED,
    }
    reasons = set(SessionTransition.objects.values_list("reason", flat=True))
    assert reasons == {"Consent withdrawn: I changed my mind"}
    assert consent_current(team_patient.pk) is None
    assert consent_status(team_patient.pk).state == "withdrawn"
    assert events("consent.withdraw", "allowed")[0].detail["cancelled_sessions"] == sorted(
        [sessions["scheduled"].pk, sessions["proposed"].pk]
    )
    assert "✕ You withdrew your consent" in client.get("/portal/consent/").content.decode()
    with pytest.raises(Conflict, match="already withdrawn"):
        consent_withdraw(ctx=ctx_of(personas["patient_user"]), signature_id=signature.pk)
    again = client.post(url, {"reason": "Twice", "confirm": "on"})
    shown = again.content.decode()  # the page answers the conflict, with what was typed kept
    assert again.status_code == 409 and "already withdrawn" in shown and "Twice" in shown


def test_staff_record_a_withdrawal_with_a_reason(
    client_for: Any, personas: dict[str, User], team_patient: Patient, v1: ConsentVersion
) -> None:
    signature = portal_sign(personas, team_patient, v1)
    url = f"/patients/{team_patient.pk}/consent/{signature.pk}/withdraw/"
    nurse = client_for("nurse")
    assert "Record a withdrawal of consent" in nurse.get(url).content.decode()
    no_reason = nurse.post(url, {"confirm": "on"})
    assert no_reason.status_code == 422 and not ConsentWithdrawal.objects.exists()
    with pytest.raises(ValidationError, match="Say how the patient asked to withdraw"):
        consent_withdraw(ctx=ctx_of(personas["nurse"]), signature_id=signature.pk)
    assert events("consent.withdraw", "invalid")
    assert client_for("coordinator").post(url, {"reason": "asked", "confirm": "on"}).status_code == 403
    nurse.post(url, {"reason": "By phone: wants to stop treatment", "confirm": "on"})
    assert ConsentWithdrawal.objects.get().channel == "clinic"
    page = nurse.get(f"/patients/{team_patient.pk}/consent/").content.decode()
    assert "✕ Consent withdrawn" in page and "By phone: wants to stop treatment" in page
    assert "No dosing session can be scheduled until the patient signs." in page


# --- consent_current: the rule scheduling relies on ------------------------------------------------


def test_consent_current_respects_expiry_withdrawal_and_versions(
    personas: dict[str, User], team_patient: Patient, v1: ConsentVersion, settings: Any
) -> None:
    clinic = timezone.get_current_timezone()
    with time_machine.travel(datetime(2026, 1, 10, 15, 0, tzinfo=clinic), tick=False):
        first = portal_sign(personas, team_patient, v1)
    assert consent_current(team_patient.pk, on=date(2026, 1, 9)) is None  # before it was signed
    assert consent_current(team_patient.pk, on=date(2027, 1, 10)) == first  # 365 days later: still valid
    assert consent_current(team_patient.pk, on=date(2027, 1, 11)) is None
    assert consent_status(team_patient.pk, on=date(2027, 1, 11)).state == "expired"
    settings.KAPCLINIC_CONSENT_VALID_DAYS = 30
    assert consent_current(team_patient.pk, on=date(2026, 2, 10)) is None
    settings.KAPCLINIC_CONSENT_VALID_DAYS = 365

    with time_machine.travel(datetime(2026, 3, 1, 10, 0, tzinfo=clinic), tick=False):
        assert consent_current(team_patient.pk) == first
        v2 = publish(personas, body=V2_BODY, change_summary="Bladder warning added")
        assert consent_current(team_patient.pk) == first  # a new version never changes what was signed
        second = portal_sign(personas, team_patient, v2)
        assert consent_current(team_patient.pk) == second
    with time_machine.travel(datetime(2026, 4, 1, 10, 0, tzinfo=clinic), tick=False):
        with pytest.raises(Conflict, match="later signature replaced this one"):
            consent_withdraw(ctx=ctx_of(personas["patient_user"]), signature_id=first.pk)
        consent_withdraw(ctx=ctx_of(personas["patient_user"]), signature_id=second.pk)
        # The older, never-withdrawn signature does not come back.
        assert consent_current(team_patient.pk) is None
        assert consent_current(team_patient.pk, on=date(2026, 3, 31)) == second  # as it stood the day before
    with time_machine.travel(datetime(2026, 4, 2, 10, 0, tzinfo=clinic), tick=False):
        third = portal_sign(personas, team_patient, v2)
        assert consent_current(team_patient.pk) == third


def test_only_the_current_document_counts(
    personas: dict[str, User], team_patient: Patient, v1: ConsentVersion, settings: Any
) -> None:
    portal_sign(personas, team_patient, v1)
    settings.KAPCLINIC_CONSENT_DOCUMENT = "kap-treatment-2027"
    assert consent_current(team_patient.pk) is None


# --- PDF -------------------------------------------------------------------------------------------


@pytest.fixture
def printed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The HTML each PDF was rendered from (WeasyPrint's text is not searchable in the PDF bytes)."""
    seen: list[str] = []
    real = pdf.pdf_from_html

    def spy(html: str) -> bytes:
        seen.append(html)
        return real(html)

    monkeypatch.setattr(pdf, "pdf_from_html", spy)
    return seen


def test_the_pdf_of_a_v1_signature_still_shows_v1_after_v2(
    client_for: Any, personas: dict[str, User], team_patient: Patient, v1: ConsentVersion, printed: list[str]
) -> None:
    signature = portal_sign(personas, team_patient, v1)
    consent_witness(ctx=ctx_of(personas["nurse"]), signature_id=signature.pk, note="Checked ID")
    publish(personas, body=V2_BODY, change_summary="Bladder warning added")
    response = client_for("prescriber").get(f"/patients/{team_patient.pk}/consent/{signature.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    stamp = timezone.localtime(signature.signed_at).strftime("%Y%m%d-%H%M")
    assert response["Content-Disposition"] == f'attachment; filename="consent-{team_patient.mrn}-v1-{stamp}.pdf"'
    html = printed[0]
    assert V1_BODY in html and V2_BODY not in html
    assert "version 1" in html and team_patient.full_name in html and "203.0.113.5" in html
    assert signature.digest in html and "✓ The digest matches" in html
    assert "Nurse Persona" in html and "Checked ID" in html and "Patient portal" in html
    assert html.count("☑") == 3 and "WITHDRAWN" not in html
    assert timezone.localtime(signature.signed_at).strftime("%H:%M") in html  # clinic time zone


def test_the_pdf_shows_a_withdrawal_and_is_reachable_by_the_patient_and_the_api(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, v1: ConsentVersion,
    printed: list[str],
) -> None:  # fmt: skip
    signature = portal_sign(personas, team_patient, v1)
    consent_withdraw(ctx=ctx_of(personas["patient_user"]), signature_id=signature.pk, reason="Moving away")
    portal = client_for("patient_user").get(f"/portal/consent/{signature.pk}/pdf/")
    assert portal.content.startswith(b"%PDF") and "WITHDRAWN on" in printed[0] and "Moving away" in printed[0]
    api = api_for("auditor").get(f"/api/v1/consents/{signature.pk}/pdf")
    assert api.status_code == 200 and api.content.startswith(b"%PDF")
    assert api_for("outsider_nurse").get(f"/api/v1/consents/{signature.pk}/pdf").status_code == 403
    assert len(printed) == 2


def test_a_patient_reaches_only_their_own_signatures(
    client_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient, v1: ConsentVersion,
    second_patient_user: User,
) -> None:  # fmt: skip
    signature = portal_sign(personas, team_patient, v1)
    intruder = Client()
    intruder.force_login(second_patient_user)
    for path in ("", "pdf/", "withdraw/"):
        assert intruder.get(f"/portal/consent/{signature.pk}/{path}").status_code == 404
    assert intruder.post(f"/portal/consent/{signature.pk}/withdraw/", {"confirm": "on"}).status_code == 404
    assert not ConsentWithdrawal.objects.exists()
    # A staff URL with the wrong patient does not show the signature either.
    wrong = client_for("director").get(f"/patients/{other_patient.pk}/consent/{signature.pk}/pdf/")
    assert wrong.status_code == 404


# --- API -------------------------------------------------------------------------------------------


def test_api_publish_read_sign_witness_withdraw(api_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    director = api_for("director")
    created = director.post(
        "/api/v1/consent-versions", {"title": "KAP consent", "body": V1_BODY, "risks": RISKS},
        content_type="application/json",
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["number"] == 1
    version_id = created.json()["id"]
    listed = api_for("patient_user").get("/api/v1/consent-versions").json()
    assert [v["number"] for v in listed] == [1] and listed[0]["risks"] == RISKS

    patient = api_for("patient_user")
    url = f"/api/v1/patients/{team_patient.pk}/consents"
    good = {"version_id": version_id, "typed_name": team_patient.full_name, "risks_acknowledged": CODES}
    bad_name = patient.post(url, {**good, "typed_name": "Someone Else"}, content_type="application/json")
    assert bad_name.status_code == 422
    assert bad_name.json()["detail"][0]["loc"] == ["body", "typed_name"]
    assert bad_name.json()["detail"][0]["msg"].startswith("The typed name must be the patient's full legal name")
    unticked = patient.post(url, {**good, "risks_acknowledged": ["nausea"]}, content_type="application/json")
    assert unticked.status_code == 422 and "Tick every key risk" in unticked.json()["detail"][0]["msg"]
    unknown = patient.post(url, {**good, "risks_acknowledged": [*CODES, "x"]}, content_type="application/json")
    assert unknown.status_code == 422 and "Not a risk of this consent: x" in unknown.json()["detail"][0]["msg"]
    extra = patient.post(url, {**good, "signed_at": "2020-01-01T00:00:00Z"}, content_type="application/json")
    assert extra.status_code == 422
    assert not ConsentSignature.objects.exists() and len(events("consent.sign", "invalid")) == 3

    signed = patient.post(url, good, content_type="application/json", HTTP_USER_AGENT="kap-app/1")
    assert signed.status_code == 201, signed.content
    body = signed.json()
    assert body["channel"] == "portal" and body["digest_intact"] and body["witnesses"] == []
    assert patient.post(url, good, content_type="application/json").status_code == 409  # already in force

    nurse = api_for("nurse")
    witnessed = nurse.post(f"/api/v1/consents/{body['id']}/witness", {"note": "seen"}, content_type="application/json")
    assert witnessed.status_code == 201 and witnessed.json()["witnesses"][0]["witness"] == "nurse"
    unknown_field = nurse.post(f"/api/v1/consents/{body['id']}/witness", {"who": "x"}, content_type="application/json")
    assert unknown_field.status_code == 422

    read = api_for("therapist").get(url).json()
    assert read["state"] == "current" and read["current"]["id"] == body["id"] and len(read["signatures"]) == 1

    v2 = director.post(
        "/api/v1/consent-versions",
        {"title": "KAP consent", "body": V2_BODY, "risks": RISKS, "change_summary": "Bladder"},
        content_type="application/json",
    ).json()
    outdated = patient.post(url, good, content_type="application/json")
    assert outdated.status_code == 422 and "replaced by version 2" in outdated.json()["detail"][0]["msg"]
    assert (
        api_for("prescriber")
        .post("/api/v1/consent-versions", {"title": "t", "body": "b", "risks": RISKS}, content_type="application/json")
        .status_code
        == 403
    )

    withdrawal_url = f"/api/v1/consents/{body['id']}/withdrawal"
    no_reason = nurse.post(withdrawal_url, {}, content_type="application/json")
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    withdrawn = nurse.post(withdrawal_url, {"reason": "By phone"}, content_type="application/json")
    assert withdrawn.status_code == 201 and withdrawn.json()["withdrawal"]["reason"] == "By phone"
    after = api_for("therapist").get(url).json()
    assert after["state"] == "withdrawn" and after["current"] is None and after["latest_version_id"] == v2["id"]
    assert api_for("outsider_therapist").get(url).status_code == 403


# --- Database, queries, care team ------------------------------------------------------------------


def test_signatures_are_append_only_in_the_database(
    personas: dict[str, User], team_patient: Patient, v1: ConsentVersion
) -> None:
    signature = portal_sign(personas, team_patient, v1)
    for change in (
        lambda: ConsentSignature.objects.filter(pk=signature.pk).update(typed_name="Someone Else"),
        lambda: ConsentSignature.objects.filter(pk=signature.pk).delete(),
        lambda: ConsentVersion.objects.filter(pk=v1.pk).update(body="Rewritten"),
    ):
        with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
            change()
    signature.refresh_from_db()
    assert signature.typed_name == team_patient.full_name and signature.signature_intact


def test_the_consent_page_needs_the_care_team(client_for: Any, team_patient: Patient, v1: ConsentVersion) -> None:
    response = client_for("outsider_nurse").get(f"/patients/{team_patient.pk}/consent/")
    assert response.status_code == 403 and "not on your care team" in response.content.decode()
    assert events("consent.view", "denied")[0].username == "outsider_nurse"
    assert client_for("patient_user").get(f"/patients/{team_patient.pk}/consent/")["Location"] == "/portal/consent/"


def test_the_consent_page_query_count_does_not_grow_with_history(
    client_for: Any, personas: dict[str, User], team_patient: Patient, v1: ConsentVersion,
    django_assert_num_queries: Any,
) -> None:  # fmt: skip
    nurse = client_for("nurse")
    url = f"/patients/{team_patient.pk}/consent/"

    def sign_and_witness() -> None:
        signature = consent_sign(
            ctx=ctx_of(personas["nurse"]), patient_id=team_patient.pk, version_id=v1.pk,
            typed_name=team_patient.full_name, risks_acknowledged=CODES,
        )  # fmt: skip
        consent_witness(ctx=ctx_of(personas["therapist"]), signature_id=signature.pk)
        consent_withdraw(ctx=ctx_of(personas["nurse"]), signature_id=signature.pk, reason="Paused")

    sign_and_witness()
    # 1 session, 2 user, 3 patient, 4 care team (the nurse's scope is the team), 5 audit chain head, 6 audit INSERT,
    # 7 signatures (with version, recorder, withdrawal), 8 their witnesses, 9 latest version, 10 care team and
    # 11 duplicate flags of the banner, 12 safety flags, 13 allergies (the evaluation), 14 the header's inbox and
    # message counts (one query). The session is not saved: activity is noted at most once a minute.
    with django_assert_num_queries(14):
        assert nurse.get(url).status_code == 200
    for _ in range(4):
        sign_and_witness()
    with django_assert_num_queries(14):
        page = nurse.get(url).content.decode()
    assert page.count("✕ Withdrawn ") == 5

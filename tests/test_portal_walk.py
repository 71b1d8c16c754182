"""The portal as a patient walks it (issue 13, defect 8): today's session, one button per questionnaire however
many schedules ask for it, follow-ups after the course's end, the patient's own plan page, no API text."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent, Outcome
from kapclinic.clinical.schedule import follow_up_label
from kapclinic.dosing.models import DosingSession, SessionState
from kapclinic.measures.models import ScheduledMeasure
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from tests.probes.records import MODERATE, plan_make


def _course(personas: dict[str, User], patient: Patient, states: list[SessionState]) -> TreatmentPlan:
    """A signed plan whose first session is today (in the given states, three days apart)."""
    plan = plan_make(
        patient,
        personas,
        session_count=len(states),
        goals=["Get back to running on weekends"],
        measures=["phq9"],
        signed_at=timezone.now(),
        signed_by=personas["prescriber"],
        **MODERATE,
    )
    start = timezone.now() + timedelta(minutes=5)
    for n, state in enumerate(states, start=1):
        DosingSession.objects.create(
            patient=patient, plan=plan, number=n, scheduled_for=start + timedelta(days=3 * (n - 1)), state=state
        )
    return plan


def test_a_patient_in_a_session_today_sees_it(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    _course(personas, team_patient, [SessionState.DOSING, SessionState.PROPOSED])
    home = client_for("patient_user").get("/portal/").content.decode()
    assert "No sessions booked yet" not in home
    assert "Session 1 at" in home and "in progress" in home
    assert "Session 2, planned" in home
    assert "Read, sign or download your consent" in home


def test_one_button_per_questionnaire_and_one_answer_fulfils_both(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    today = timezone.localdate()
    for label, due_on in (("Before dosing session 2", today + timedelta(days=2)), ("End of course", today)):
        ScheduledMeasure.objects.create(
            patient=team_patient, instrument="phq9", label=label, due_on=due_on, created_by=personas["coordinator"]
        )
    portal = client_for("patient_user")
    home = portal.get("/portal/").content.decode()
    assert home.count("Answer: PHQ-9") == 1  # not twice in "Due now", nor again in the list of all questionnaires
    assert "End of course; Before dosing session 2" in home
    answers = {str(n): "0" for n in range(1, 11)}
    posted = portal.post(
        "/portal/questionnaires/phq9/", {**answers, "client_token": "0b8f0c9e-6f7e-4b7a-8f7c-2f1d3a4b5c6d"}
    )
    assert posted.status_code == 302
    assert not ScheduledMeasure.objects.filter(patient=team_patient, response__isnull=True).exists()
    assert "Nothing is due right now" in portal.get("/portal/").content.decode()


def test_a_follow_up_is_not_due_in_the_middle_of_the_course(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    """A 1-month follow-up dated today while the course runs (session today and in 3 days) waits for its end."""
    _course(personas, team_patient, [SessionState.DOSING, SessionState.SCHEDULED])
    ScheduledMeasure.objects.create(
        patient=team_patient,
        instrument="gad7",
        label=follow_up_label(1),
        due_on=timezone.localdate(),
        created_by=personas["coordinator"],
    )
    home = client_for("patient_user").get("/portal/").content.decode()
    due_now = home.split('id="due"')[1].split("</section>")[0]
    assert "GAD-7" not in due_now.split("Coming up")[0]
    assert "Nothing is due right now" in due_now


def test_the_patient_has_their_own_plain_plan_page(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    plan = _course(personas, team_patient, [SessionState.SCHEDULED, SessionState.PROPOSED])
    portal = client_for("patient_user")
    home = portal.get("/portal/").content.decode()
    assert 'href="/portal/plan/"' in home and f"/plans/{plan.pk}/" not in home
    page = portal.get("/portal/plan/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "a drip into a vein" in body and "Twice weekly" in body and "Get back to running on weekends" in body
    assert "mg/kg" not in body and "F33.1" not in body  # the staff's words stay on the staff's page
    assert client_for("coordinator").get("/portal/plan/").status_code == 302  # staff have the real plan page


def test_the_staff_plan_url_takes_a_patient_to_their_own_plain_plan_page(
    client_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    """Issue 13, defect 8: a patient who types the staff URL of their plan gets their own plain-language page, never
    the staff page; another patient's plan stays refused as before (404, so its existence is not told; the refusal
    audited) and a draft stays unknown (404)."""
    own = _course(personas, team_patient, [SessionState.SCHEDULED, SessionState.PROPOSED])
    portal = client_for("patient_user")
    typed = portal.get(f"/plans/{own.pk}/")
    assert typed.status_code == 302 and typed["Location"] == "/portal/plan/"
    body = portal.get(f"/plans/{own.pk}/", follow=True).content.decode()
    assert "a drip into a vein" in body and "Get back to running on weekends" in body
    assert "mg/kg" not in body and "F33.1" not in body
    # Staff still get the staff page.
    staff = client_for("prescriber").get(f"/plans/{own.pk}/")
    assert staff.status_code == 200 and "F33.1" in staff.content.decode()
    # Another patient's plan: refused as before, nothing of it shown, and the refusal audited.
    theirs = _course(personas, other_patient, [SessionState.PROPOSED])
    refused = portal.get(f"/plans/{theirs.pk}/")
    assert refused.status_code == 404 and "Otherpatient" not in refused.content.decode()
    assert AccessEvent.objects.filter(
        user=personas["patient_user"], patient=other_patient, outcome=Outcome.DENIED
    ).exists()
    # A draft of their own is the prescriber's work in progress: still not found.
    draft = plan_make(
        team_patient,
        personas,
        route="im",
        starting_dose_mg_per_kg=Decimal("0.75"),
        session_count=2,
        interval_days=7,
        **MODERATE,
    )
    assert portal.get(f"/plans/{draft.pk}/").status_code == 404


def test_the_patient_page_without_a_plan_says_so(client_for: Any, team_patient: Patient) -> None:
    body = client_for("patient_user").get("/portal/plan/").content.decode()
    assert "has not signed a treatment plan yet" in body


def test_the_account_page_shows_a_patient_no_api_tokens(client_for: Any, team_patient: Patient) -> None:
    assert "API" not in client_for("patient_user").get("/accounts/account/").content.decode()
    assert "API tokens" in client_for("nurse").get("/accounts/account/").content.decode()


def test_the_scores_table_scrolls_by_keyboard(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    portal = client_for("patient_user")
    answers = {str(n): "1" for n in range(1, 11)}
    portal.post("/portal/questionnaires/phq9/", {**answers, "client_token": "9d1f0c9e-6f7e-4b7a-8f7c-2f1d3a4b5c6d"})
    home = portal.get("/portal/").content.decode()
    assert '<div class="table-wrap" role="region" aria-label="Table of your answers" tabindex="0">' in home
    assert "<td>PHQ-9</td>" in home and "PHQ9" not in home

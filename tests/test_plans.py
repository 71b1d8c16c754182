"""Treatment plans: draft, dose limits, signing, proposed sessions, scheduling and the preparation checklist."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Place
from kapclinic.audit.models import AccessEvent
from kapclinic.consent.models import ConsentSignature, ConsentVersion, ConsentWithdrawal
from kapclinic.dosing.models import DosingSession, PreparationChecklist, SessionState
from kapclinic.intake.models import EligibilityDecision
from kapclinic.measures.models import ScheduledMeasure
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.signing import SignedRecord, content_digest
from tests.probes.records import plan_make


def plan_body(therapist: User, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "indication_code": "F33.2",
        "indication_text": "Major depressive disorder, recurrent, severe",
        "route": "iv",
        "dose": "0.5",
        "session_count": 6,
        "interval_days": 3,
        "first_session_on": (timezone.localdate() + timedelta(days=3)).isoformat(),
        "session_time": "09:30",
        "session_minutes": 180,
        "therapist": therapist.pk,
        "goals": ["Get out of bed before nine", "Call my sister every week"],
        "measures": ["phq9", "gad7"],
    }
    body.update(changes)
    return body


def decide(patient: Patient, prescriber: User, decision: str = "eligible") -> None:
    EligibilityDecision.objects.create(
        patient=patient, decision=decision, decided_by=prescriber, rule_set_version="t", policy_version="t"
    )


def consent(patient: Patient, director: User, recorded_by: User) -> ConsentSignature:
    version = ConsentVersion.objects.create(
        document="kap-treatment", title="Test consent", number=1, body="Text.", body_digest="x", published_by=director
    )
    return ConsentSignature.objects.create(
        patient=patient,
        version=version,
        typed_name=patient.full_name,
        channel="portal",
        recorded_by=recorded_by,
        digest=content_digest({"t": 1}),
    )


def post_plan(api: Any, patient: Patient, body: dict[str, Any]) -> Any:
    return api.post(f"/api/v1/patients/{patient.pk}/plans", body, content_type="application/json")


def test_prescriber_drafts_and_signs_a_plan_that_proposes_sessions(
    api_for: Any, client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    api = api_for("prescriber")
    created = post_plan(api, team_patient, plan_body(personas["therapist"]))
    assert created.status_code == 201, created.content
    plan = created.json()
    assert Decimal(plan["starting_dose_mg_per_kg"]) == Decimal("0.5") and plan["starting_dose_mg"] is None
    assert plan["signed_at"] is None and plan["sessions"] == []
    # No eligible decision yet: signing is refused and the refusal audited.
    refused = api.post(f"/api/v1/plans/{plan['id']}/sign")
    assert refused.status_code == 422 and "eligible" in refused.content.decode()
    assert AccessEvent.objects.filter(action="plan.write", outcome="denied", patient_id=team_patient.pk).exists()
    # The page says the same beside the confirmation, on the plan page again.
    page = client_for("prescriber").post(f"/plans/{plan['id']}/sign/", {"confirm": "yes"})
    assert page.status_code == 422 and "can be signed only when the patient is eligible" in page.content.decode()
    assert "Sign plan" in page.content.decode()
    decide(team_patient, personas["prescriber"])
    signed = api.post(f"/api/v1/plans/{plan['id']}/sign")
    assert signed.status_code == 200, signed.content
    sessions = signed.json()["sessions"]
    assert [s["number"] for s in sessions] == [1, 2, 3, 4, 5, 6]
    assert {s["state"] for s in sessions} == {"proposed"}
    first = timezone.localtime(DosingSession.objects.get(plan_id=plan["id"], number=1).scheduled_for)
    sixth = timezone.localtime(DosingSession.objects.get(plan_id=plan["id"], number=6).scheduled_for)
    assert (first.hour, first.minute) == (9, 30) and (sixth - first).days == 17  # 3, 4, 3, 4, 3 days
    saved = TreatmentPlan.objects.get(pk=plan["id"])
    assert saved.signature_intact and saved.signed_by == personas["prescriber"]
    # The measurement schedule reaches the portal: PHQ-9 and GAD-7 before each session, then the follow-ups.
    due = ScheduledMeasure.objects.filter(patient=team_patient)
    assert due.filter(label="Before dosing session 1", instrument__in=["phq9", "gad7"]).count() == 2
    assert due.filter(label__startswith="Before dosing session").count() == 12
    assert due.filter(label="6 months after the course", instrument="phq9").exists()


def test_a_signed_plan_is_never_changed(api_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    api = api_for("prescriber")
    decide(team_patient, personas["prescriber"])
    plan_id = post_plan(api, team_patient, plan_body(personas["therapist"])).json()["id"]
    assert api.post(f"/api/v1/plans/{plan_id}/sign").status_code == 200
    edit = api.put(
        f"/api/v1/plans/{plan_id}", plan_body(personas["therapist"], dose="0.75"), content_type="application/json"
    )
    assert edit.status_code == 409
    assert AccessEvent.objects.filter(action="plan.write", outcome="denied", detail__why="signed").exists()
    assert TreatmentPlan.objects.get(pk=plan_id).starting_dose_mg_per_kg == pytest.approx(0.5)
    # And the database refuses it too, whatever the code path.
    with pytest.raises(DatabaseError), transaction.atomic():
        TreatmentPlan.objects.filter(pk=plan_id).update(notes="changed behind the service")
    with pytest.raises(DatabaseError), transaction.atomic():
        TreatmentPlan.objects.filter(pk=plan_id).delete()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"dose": "1.2"}, "dose"),  # IV above 1.0 mg/kg (dosing.md section 6 hard stop)
        ({"route": "im", "dose": "1.6"}, "dose"),  # IM above 1.5 mg/kg
        ({"route": "sublingual", "dose": "400"}, "dose"),  # SL above 300 mg
        ({"route": "intranasal", "esketamine_indication": "trd", "dose": "112"}, "dose"),  # Spravato above 84 mg
        # Esketamine plans need the indication; TRD starts at 56 mg; induction is twice weekly for 4 weeks, then
        # weekly; MDSI is dosed for 4 weeks (Spravato US PI 2.1, 2.2; dosing.md section 5, corrected 2026-12-04).
        ({"route": "intranasal", "dose": "56"}, "esketamine_indication"),
        ({"route": "intranasal", "esketamine_indication": "trd", "dose": "84"}, "dose"),
        ({"route": "intranasal", "esketamine_indication": "trd", "dose": "28"}, "dose"),
        ({"route": "intranasal", "esketamine_indication": "trd", "dose": "56", "session_count": 12}, "session_count"),
        ({"route": "intranasal", "esketamine_indication": "mdsi", "dose": "84", "session_count": 10}, "session_count"),
        ({"titration": "step", "titration_step": "0.25", "titration_ceiling": "1.25"}, "titration_ceiling"),
        ({"indication_code": "F99.99X"}, "indication_code"),
        ({"goals": []}, "goals_text"),
        ({"session_count": 0}, "session_count"),
        ({"first_session_on": "2020-01-01"}, "first_session_on"),
    ],
)
def test_bad_plans_are_refused_and_nothing_is_saved(
    api_for: Any, personas: dict[str, User], team_patient: Patient, changes: dict[str, Any], field: str
) -> None:
    response = post_plan(api_for("prescriber"), team_patient, plan_body(personas["therapist"], **changes))
    assert response.status_code == 422, response.content
    assert field in {error["loc"][-1] for error in response.json()["detail"]}
    assert not TreatmentPlan.objects.exists()
    assert AccessEvent.objects.filter(action="plan.write", outcome="invalid").exists()


def test_only_the_prescriber_writes_plans(api_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    for name in ("nurse", "therapist", "coordinator", "patient_user"):
        response = post_plan(api_for(name), team_patient, plan_body(personas["therapist"]))
        assert response.status_code == 403, name
    assert not TreatmentPlan.objects.exists()


def _signed_plan(api: Any, personas: dict[str, User], patient: Patient, **changes: Any) -> int:
    plan_id = int(post_plan(api, patient, plan_body(personas["therapist"], **changes)).json()["id"])
    assert api.post(f"/api/v1/plans/{plan_id}/sign").status_code == 200
    return plan_id


def test_dosing_is_scheduled_only_with_consent_and_an_eligible_decision(
    api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    api = api_for("prescriber")
    decide(team_patient, personas["prescriber"])
    plan_id = _signed_plan(api, personas, team_patient)
    first = DosingSession.objects.get(plan_id=plan_id, number=1)
    refused = api.post(f"/api/v1/dosing-sessions/{first.pk}/schedule", {}, content_type="application/json")
    assert refused.status_code == 422 and "consent" in refused.content.decode()
    assert AccessEvent.objects.filter(action="dosing.schedule", outcome="denied").exists()
    first.refresh_from_db()
    assert first.state == SessionState.PROPOSED
    signature = consent(team_patient, personas["director"], personas["patient_user"])
    # A later "not eligible" decision blocks too.
    decide(team_patient, personas["prescriber"], "not_eligible")
    assert (
        api.post(f"/api/v1/dosing-sessions/{first.pk}/schedule", {}, content_type="application/json").status_code == 422
    )
    decide(team_patient, personas["prescriber"], "eligible_with_precautions")
    chair = Place.objects.create(name="Chair 2", kind="chair")
    scheduled = api.post(
        f"/api/v1/dosing-sessions/{first.pk}/schedule",
        {"place": chair.pk, "nurse": personas["nurse"].pk},
        content_type="application/json",
    )
    assert scheduled.status_code == 200, scheduled.content
    assert scheduled.json()["state"] == "scheduled" and scheduled.json()["room"] == "Chair 2"
    assert PreparationChecklist.objects.filter(session=first).exists()
    # Withdrawn consent blocks the next one.
    ConsentWithdrawal.objects.create(signature=signature, recorded_by=personas["patient_user"], channel="portal")
    second = DosingSession.objects.get(plan_id=plan_id, number=2)
    assert (
        api.post(f"/api/v1/dosing-sessions/{second.pk}/schedule", {}, content_type="application/json").status_code
        == 422
    )


def test_a_new_plan_replaces_the_old_and_cancels_its_future_sessions(
    api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    api = api_for("prescriber")
    decide(team_patient, personas["prescriber"])
    old = _signed_plan(api, personas, team_patient)
    new = _signed_plan(api, personas, team_patient, route="im", dose="0.75")
    assert TreatmentPlan.objects.get(pk=new).supersedes_id == old
    assert set(DosingSession.objects.filter(plan_id=old).values_list("state", flat=True)) == {"cancelled"}
    assert set(DosingSession.objects.filter(plan_id=new).values_list("state", flat=True)) == {"proposed"}


def _scheduled_session(api_for: Any, personas: dict[str, User], patient: Patient) -> DosingSession:
    api = api_for("prescriber")
    decide(patient, personas["prescriber"])
    consent(patient, personas["director"], personas["patient_user"])
    plan_id = _signed_plan(api, personas, patient)
    session = DosingSession.objects.get(plan_id=plan_id, number=1)
    nurse = {"nurse": personas["nurse"].pk}
    assert (
        api.post(f"/api/v1/dosing-sessions/{session.pk}/schedule", nurse, content_type="application/json").status_code
        == 200
    )
    return session


def test_the_patient_completes_the_checklist_in_the_portal(
    api_for: Any, client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    session = _scheduled_session(api_for, personas, team_patient)
    portal = client_for("patient_user")
    home = portal.get("/portal/")
    assert f"/portal/sessions/{session.pk}/checklist/" in home.content.decode()
    page = portal.get(f"/portal/sessions/{session.pk}/checklist/")
    assert page.status_code == 200 and "Who is driving you home?" in page.content.decode()
    # The morning of the session: last ate an hour ago, the session is in two hours.
    DosingSession.objects.filter(pk=session.pk).update(scheduled_for=timezone.now() + timedelta(hours=2))
    fasted = timezone.localtime() - timedelta(hours=1)
    bad = portal.post(
        f"/portal/sessions/{session.pk}/checklist/",
        {"fasting_since": (timezone.localtime() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"), "ride_phone": "12"},
    )
    assert bad.status_code == 422 and "future" in bad.content.decode()
    done = portal.post(
        f"/portal/sessions/{session.pk}/checklist/",
        {
            "fasting_since": fasted.strftime("%Y-%m-%dT%H:%M"),
            "medications_held": "on",
            "ride_name": "A. Friend",
            "ride_phone": "(212) 555-0100",
            "no_driving_until_next_day": "on",
        },
    )
    assert done.status_code == 302
    checklist = PreparationChecklist.objects.get(session=session)
    assert checklist.is_complete and checklist.completed_at is not None
    # The staff schedule shows the state.
    schedule = client_for("nurse").get("/dosing/schedule/")
    assert schedule.status_code == 200 and "complete" in schedule.content.decode()
    assert team_patient.mrn in schedule.content.decode()


def test_checklist_rules_over_the_api(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    session = _scheduled_session(api_for, personas, team_patient)
    url = f"/api/v1/dosing-sessions/{session.pk}/checklist"
    body = {"medications_held": True, "ride_name": "A. Friend", "ride_phone": "(212) 555-0100"}
    assert api_for("nurse").put(url, body, content_type="application/json").status_code == 403
    patient_api = api_for("patient_user")
    saved = patient_api.put(url, body, content_type="application/json")
    assert saved.status_code == 200 and saved.json()["complete"] is False
    assert (
        patient_api.put(url, {"ride_name": "x", "colour": "blue"}, content_type="application/json").status_code == 422
    )
    DosingSession.objects.filter(pk=session.pk).update(state=SessionState.CHECKED_IN)
    assert patient_api.put(url, body, content_type="application/json").status_code == 409


def test_plan_pages_walk(client_for: Any, personas: dict[str, User], team_patient: Patient) -> None:
    prescriber = client_for("prescriber")
    decide(team_patient, personas["prescriber"])
    form = prescriber.get(f"/patients/{team_patient.pk}/plans/new/")
    assert form.status_code == 200 and "Starting dose" in form.content.decode()
    body = plan_body(personas["therapist"])
    body["goals_text"] = "\n".join(body.pop("goals"))
    too_high = prescriber.post(f"/patients/{team_patient.pk}/plans/new/", {**body, "dose": "1.5"})
    assert too_high.status_code == 422 and not TreatmentPlan.objects.exists()
    created = prescriber.post(f"/patients/{team_patient.pk}/plans/new/", body)
    assert created.status_code == 302
    plan = TreatmentPlan.objects.get()
    detail = prescriber.get(f"/plans/{plan.pk}/")
    assert "Sign plan" in detail.content.decode()
    unticked = prescriber.post(f"/plans/{plan.pk}/sign/", {})  # no confirmation tick: the plan page again
    assert unticked.status_code == 422 and "Tick the confirmation to sign the plan." in unticked.content.decode()
    assert not TreatmentPlan.objects.get().is_signed
    prescriber.post(f"/plans/{plan.pk}/sign/", {"confirm": "yes"})
    plan.refresh_from_db()
    assert plan.is_signed and plan.sessions.count() == 6
    detail = prescriber.get(f"/plans/{plan.pk}/").content.decode()
    assert "Sessions cannot be scheduled yet" in detail and "No current signed consent" in detail
    chart = prescriber.get(f"/patients/{team_patient.pk}/").content.decode()
    assert "Get out of bed before nine" in chart
    # The patient sees their signed plan and goals on their own plain page (the staff URL leads there), not the
    # prescriber's tools.
    own = client_for("patient_user").get(f"/plans/{plan.pk}/", follow=True)
    assert own.redirect_chain == [("/portal/plan/", 302)]
    assert "Call my sister every week" in own.content.decode() and "Schedule" not in own.content.decode()


def test_plan_page_query_count_does_not_grow_with_sessions(
    client_for: Any, personas: dict[str, User], team_patient: Patient, django_assert_num_queries: Any
) -> None:
    prescriber = client_for("prescriber")
    decide(team_patient, personas["prescriber"])
    counts = []
    for sessions in (3, 12):
        plan = plan_make(
            team_patient,
            personas,
            indication_text="MDD",
            starting_dose_mg_per_kg="0.5",
            session_count=sessions,
            first_session_on=timezone.localdate() + timedelta(days=2),
            session_time="09:00",
            goals=["g"],
            dosing_policy_version="t",
        )
        plan.signature_stamp(personas["prescriber"].pk)
        plan.save()
        for n in range(1, sessions + 1):
            DosingSession.objects.create(
                patient=team_patient, plan=plan, number=n, scheduled_for=timezone.now() + timedelta(days=n)
            )
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert prescriber.get(f"/plans/{plan.pk}/").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_an_esketamine_plan_records_its_indication_under_the_signature(
    api_for: Any, client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    """Spravato US PI 2.1-2.2 dose TRD and MDSI differently, so an esketamine plan names its indication (page and
    API); the signature covers it, and plans signed before it was asked keep the digest they were signed with."""
    page = client_for("prescriber").get(f"/patients/{team_patient.pk}/plans/new/")
    assert page.status_code == 200 and 'name="esketamine_indication"' in page.content.decode()
    api = api_for("prescriber")
    body = plan_body(personas["therapist"], route="intranasal", dose="56", session_count=8, esketamine_indication="trd")
    created = post_plan(api, team_patient, body)
    assert created.status_code == 201, created.content
    assert created.json()["esketamine_indication"] == "trd"
    # Other routes have no label indication: whatever is sent is not stored.
    iv = post_plan(api, team_patient, plan_body(personas["therapist"], esketamine_indication="mdsi"))
    assert iv.status_code == 201 and iv.json()["esketamine_indication"] == ""
    decide(team_patient, personas["prescriber"])
    assert api.post(f"/api/v1/plans/{created.json()['id']}/sign").status_code == 200
    plan = TreatmentPlan.objects.get(pk=created.json()["id"])
    assert plan.signature_intact and plan.signed_content()["esketamine_indication"] == "trd"
    changed = TreatmentPlan.objects.get(pk=plan.pk)
    changed.esketamine_indication = "mdsi"
    assert not changed.signature_intact
    # A plan without the indication is digested exactly as before the field existed.
    legacy = TreatmentPlan.objects.get(pk=iv.json()["id"])
    assert legacy.signed_content() == SignedRecord.signed_content(legacy)

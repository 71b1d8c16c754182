"""Outcome prompts (issue 19 item 2) and the outcome API (item 7): a rule that fires on a patient's course raises one
prompt for the care team, with its evidence; the care team answers it (recorded, append-only) and the answer clears
it; anyone else is refused, nothing changed, audited."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.dosing.models import DosingSession
from kapclinic.measures.services import response_submit
from kapclinic.outcomes.models import OutcomePrompt, PromptAction
from kapclinic.outcomes.services import prompts_evaluate, prompts_sweep
from kapclinic.patients.models import CareTeamMember, Patient
from kapclinic.plans.models import TreatmentPlan
from tests.probes.medications import dose_given_make
from tests.probes.records import plan_make, response_make

pytestmark = pytest.mark.django_db


def phq9_answers(total: int) -> dict[str, int]:
    """PHQ-9 answers adding up to `total` with item 9 at 0 (no safety flag)."""
    answers: dict[str, int] = {}
    left = total
    for item in INSTRUMENTS["phq9"].items:
        value = 0 if item.id == "9" else min(3, left)
        answers[item.id] = value
        left -= value
    assert left == 0
    return answers


def course_make(
    patient: Patient, people: dict[str, User], *, days_ago: tuple[int, ...] = (14, 11, 7, 4), sessions: int = 6
) -> tuple[TreatmentPlan, list[datetime]]:
    """A signed IV plan of `sessions` sessions, the doses given `days_ago`, the rest scheduled ahead."""
    plan = plan_make(patient, people, stamp=True, measures=["phq9"], session_count=sessions)
    now = timezone.now()
    times: list[datetime] = []
    for number in range(1, sessions + 1):
        given = number <= len(days_ago)
        when = now - timedelta(days=days_ago[number - 1]) if given else now + timedelta(days=3 * number)
        session = DosingSession.objects.create(
            patient=patient, plan=plan, number=number, scheduled_for=when, state="discharged" if given else "scheduled"
        )
        if given:
            _, administration = dose_given_make(session, people, ndc=f"0409-2051-{number:02d}", started=when)
            times.append(administration.started_at)
    return plan, times


def enter(people: dict[str, User], patient: Patient, total: int) -> None:
    """The prescriber enters a paper PHQ-9 now: the response's signal evaluates the rules."""
    ctx = AuditContext(user=people["prescriber"], channel="page")
    response_submit(ctx=ctx, patient_id=patient.pk, instrument_code="phq9", answers=phq9_answers(total))


@pytest.fixture
def non_responder(personas: dict[str, User], team_patient: Patient) -> TreatmentPlan:
    """Four doses given, baseline PHQ-9 20 two days before the first; no score since."""
    plan, times = course_make(team_patient, personas)
    response_make(team_patient, personas["nurse"], 20, submitted_at=times[0] - timedelta(days=2))
    return plan


def test_a_score_after_the_induction_without_improvement_raises_one_prompt(
    personas: dict[str, User], team_patient: Patient, non_responder: TreatmentPlan
) -> None:
    assert not OutcomePrompt.objects.exists()
    enter(personas, team_patient, 18)
    prompt = OutcomePrompt.objects.get()
    assert (prompt.rule, prompt.instrument, prompt.plan_id) == ("early_non_response", "phq9", non_responder.pk)
    assert [total for _, total in prompt.evidence_points] == [20, 18]
    assert "10 % improvement" in prompt.reason and "25 %" in prompt.source
    assert AccessEvent.objects.filter(action="outcome.prompt_raise", patient=team_patient, channel="system").exists()
    # The sweep and a second evaluation find it open: still one.
    assert prompts_sweep() == 0 and prompts_evaluate(patient_id=team_patient.pk) == []
    assert OutcomePrompt.objects.count() == 1


def test_an_improving_patient_gets_no_prompt(
    personas: dict[str, User], team_patient: Patient, non_responder: TreatmentPlan
) -> None:
    enter(personas, team_patient, 12)  # 40 % better than 20: not early non-response, not worse
    assert not OutcomePrompt.objects.exists()


def test_before_the_fourth_dose_nothing_is_judged(personas: dict[str, User], team_patient: Patient) -> None:
    _, times = course_make(team_patient, personas, days_ago=(8, 5, 1))
    response_make(team_patient, personas["nurse"], 20, submitted_at=times[0] - timedelta(days=1))
    enter(personas, team_patient, 19)
    assert not OutcomePrompt.objects.exists()


def test_worsening_raises_its_own_prompt_and_again_only_on_a_score_after_the_answer(
    personas: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    _, times = course_make(team_patient, personas, days_ago=(8, 5))
    response_make(team_patient, personas["nurse"], 10, submitted_at=times[0] - timedelta(days=1))
    enter(personas, team_patient, 16)
    prompt = OutcomePrompt.objects.get(rule="worsening")
    client_for("therapist").post(
        f"/outcomes/prompts/{prompt.pk}/", {"choice": "add_integration", "reason": "Two integration sessions."}
    )
    assert OutcomePrompt.objects.get(pk=prompt.pk).cleared_at is not None
    prompts_sweep()  # the same evidence: answered already
    assert OutcomePrompt.objects.filter(rule="worsening").count() == 1
    enter(personas, team_patient, 17)  # a new score, still worse: a new prompt
    assert OutcomePrompt.objects.filter(rule="worsening").count() == 2
    assert OutcomePrompt.objects.filter(rule="worsening", cleared_at__isnull=True).count() == 1


def test_the_database_refuses_a_second_open_prompt_for_the_same_rule(
    personas: dict[str, User], team_patient: Patient, non_responder: TreatmentPlan
) -> None:
    enter(personas, team_patient, 18)
    prompt = OutcomePrompt.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        OutcomePrompt.objects.create(
            patient=team_patient,
            plan=non_responder,
            rule=prompt.rule,
            instrument="phq9",
            reason="again",
            source="test",
            evidence_until=timezone.now(),
        )


def test_the_prescriber_sees_the_prompt_on_home_chart_and_list_and_answers_it(
    personas: dict[str, User], team_patient: Patient, non_responder: TreatmentPlan, client_for: Any
) -> None:
    enter(personas, team_patient, 18)
    prompt = OutcomePrompt.objects.get()
    prescriber = client_for("prescriber")
    for url in ("/", f"/patients/{team_patient.pk}/", "/outcomes/prompts/"):
        page = prescriber.get(url)
        assert page.status_code == 200 and b"Early non-response" in page.content, url
    detail = prescriber.get(f"/outcomes/prompts/{prompt.pk}/")
    assert b"What will you do?" in detail.content and b"Record and clear the prompt" in detail.content
    answered = prescriber.post(
        f"/outcomes/prompts/{prompt.pk}/", {"choice": "adjust_plan", "reason": "Raise to 0.75 mg/kg."}
    )
    assert answered.status_code == 302
    action = PromptAction.objects.get(prompt=prompt)
    assert (action.choice, action.reason, action.by_id) == (
        "adjust_plan",
        "Raise to 0.75 mg/kg.",
        personas["prescriber"].pk,
    )
    assert OutcomePrompt.objects.get(pk=prompt.pk).cleared_at == action.at
    assert AccessEvent.objects.filter(action="outcome.prompt_act", patient=team_patient, outcome="allowed").exists()
    assert b"Early non-response" not in prescriber.get("/outcomes/prompts/").content
    # Answered once: a second answer is refused with the reason, nothing changed.
    again = prescriber.post(f"/outcomes/prompts/{prompt.pk}/", {"choice": "stop", "reason": "Second thoughts."})
    assert again.status_code == 409 and PromptAction.objects.count() == 1
    # An early non-response is judged once per course: a later score does not raise it again.
    enter(personas, team_patient, 18)
    assert OutcomePrompt.objects.filter(rule="early_non_response").count() == 1


def test_a_bad_answer_is_refused_next_to_its_field_with_what_was_typed(
    personas: dict[str, User], team_patient: Patient, non_responder: TreatmentPlan, client_for: Any
) -> None:
    enter(personas, team_patient, 18)
    prompt = OutcomePrompt.objects.get()
    page = client_for("therapist").post(f"/outcomes/prompts/{prompt.pk}/", {"choice": "", "reason": "Keep going"})
    assert page.status_code == 422 and b"Keep going" in page.content and b"field-error" in page.content
    api = client_for("therapist")  # the API twin: an unknown choice is 422 with the field named
    answer = api_post(personas, "therapist", prompt.pk, {"choice": "wait", "reason": "Later"})
    assert answer.status_code == 422 and "choice" in json.dumps(answer.json())
    assert not PromptAction.objects.exists() and OutcomePrompt.objects.get(pk=prompt.pk).is_open
    assert AccessEvent.objects.filter(action="outcome.prompt_act", outcome="invalid").exists()
    assert api is not None


def api_post(personas: dict[str, User], who: str, prompt_id: int, body: dict[str, str]) -> Any:
    from django.test import Client

    from kapclinic.accounts.services import api_token_issue

    _, raw = api_token_issue(user=personas[who])
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}").post(
        f"/api/v1/prompts/{prompt_id}/action", body, content_type="application/json"
    )


@pytest.mark.parametrize("who", ["director", "nurse", "coordinator", "outsider"])
def test_outside_the_care_team_an_answer_is_refused_audited_and_changes_nothing(
    personas: dict[str, User], team_patient: Patient, non_responder: TreatmentPlan, who: str
) -> None:
    if who == "outsider":
        outsider = User.objects.create(username="outsider_rx", role="prescriber", first_name="Out", last_name="Sider")
        personas = {**personas, "outsider": outsider}
    enter(personas, team_patient, 18)
    prompt = OutcomePrompt.objects.get()
    answer = api_post(personas, who, prompt.pk, {"choice": "stop", "reason": "Not mine to decide."})
    assert answer.status_code == 403
    assert not PromptAction.objects.exists() and OutcomePrompt.objects.get(pk=prompt.pk).is_open
    assert AccessEvent.objects.filter(
        action="outcome.prompt_act", user=personas[who], patient=team_patient, outcome="denied"
    ).exists()


def test_the_patient_outcome_over_the_api_names_the_course_findings_and_open_prompts(
    personas: dict[str, User], team_patient: Patient, non_responder: TreatmentPlan, api_for: Any
) -> None:
    enter(personas, team_patient, 18)
    body = api_for("therapist").get(f"/api/v1/patients/{team_patient.pk}/outcome").json()
    assert body["course"]["plan"] == non_responder.pk and body["course"]["doses"] == 4
    assert body["course"]["finished"] is False
    phq9 = body["instruments"][0]
    assert phq9["instrument"] == "phq9" and phq9["outcome"] is None and phq9["latest"]["total"] == 18
    early = next(f for f in phq9["findings"] if f["rule"] == "early non-response")
    assert early["fires"] is True and [p["total"] for p in early["evidence"]] == [20, 18]
    assert [p["rule"] for p in body["open_prompts"]] == ["early_non_response"]
    assert AccessEvent.objects.filter(action="outcome.view", patient=team_patient, user=personas["therapist"]).exists()


def test_another_patients_outcome_and_prompt_are_refused(
    personas: dict[str, User], team_patient: Patient, other_patient: Patient, api_for: Any, client_for: Any
) -> None:
    plan = plan_make(other_patient, personas, stamp=True)
    prompt = OutcomePrompt.objects.create(
        patient=other_patient,
        plan=plan,
        rule="relapse",
        instrument="phq9",
        reason="r",
        source="s",
        evidence_until=timezone.now(),
    )
    assert api_for("therapist").get(f"/api/v1/patients/{other_patient.pk}/outcome").status_code == 403
    assert api_for("therapist").get(f"/api/v1/prompts/{prompt.pk}").status_code == 403
    assert client_for("prescriber").get(f"/outcomes/prompts/{prompt.pk}/").status_code == 403
    assert api_for("patient_user").get(f"/api/v1/prompts/{prompt.pk}").status_code in (403, 404)
    assert api_for("therapist").get("/api/v1/prompts/999999").status_code == 404
    # The director sees every patient's prompts (and answers none).
    assert api_for("director").get(f"/api/v1/prompts/{prompt.pk}").status_code == 200
    assert b"Relapse" not in client_for("therapist").get("/outcomes/prompts/").content
    assert b"Relapse" in client_for("director").get("/outcomes/prompts/").content


def test_the_prompt_list_reads_in_a_constant_number_of_queries(
    personas: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    client = client_for("prescriber")

    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert client.get("/outcomes/prompts/").status_code == 200
        return len(seen)

    plan = plan_make(team_patient, personas, stamp=True)
    OutcomePrompt.objects.create(
        patient=team_patient,
        plan=plan,
        rule="relapse",
        instrument="phq9",
        reason="r",
        source="s",
        evidence_until=timezone.now(),
    )
    one = queries()
    for number in range(4):
        extra = Patient.objects.create(
            mrn=f"K7{number:07d}", given_name="Extra", family_name=f"P{number}", birth_date=team_patient.birth_date
        )
        CareTeamMember.objects.create(patient=extra, user=personas["prescriber"], role="prescriber")
        OutcomePrompt.objects.create(
            patient=extra,
            plan=plan_make(extra, personas, stamp=True),
            rule="worsening",
            instrument="phq9",
            reason="w",
            source="s",
            evidence_until=timezone.now(),
        )
    assert queries() == one


def test_the_sweep_raises_a_loss_of_response_at_the_one_month_follow_up(
    personas: dict[str, User], team_patient: Patient
) -> None:
    from io import StringIO

    from django.core.management import call_command

    # Six doses, the last 43 days ago; PHQ-9 20 → 8 at the end (response), 14 at the one-month follow-up.
    _, times = course_make(team_patient, personas, days_ago=(60, 57, 53, 50, 46, 43))
    for when, total in ((times[0] - timedelta(days=2), 20), (times[-1] + timedelta(days=2), 8)):
        response_make(team_patient, personas["nurse"], total, submitted_at=when)
    response_make(team_patient, personas["nurse"], 14, submitted_at=times[-1] + timedelta(days=31))
    out = StringIO()
    call_command("outcomes_sweep", stdout=out)
    assert out.getvalue().strip() == "Outcome prompts raised: 1"
    prompt = OutcomePrompt.objects.get()
    assert prompt.rule == "loss_at_follow_up" and [t for _, t in prompt.evidence_points] == [20, 8, 14]
    call_command("outcomes_sweep", stdout=out)  # idempotent
    assert OutcomePrompt.objects.count() == 1

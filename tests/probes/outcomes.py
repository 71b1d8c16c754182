"""Role-matrix probes for outcomes (issue 19): a patient's outcome and prompts, answering a prompt, the cohorts.
The prompt is answered on the page and over the API, which must agree."""

from __future__ import annotations

from django.utils import timezone

from kapclinic.outcomes.models import OutcomePrompt, PromptAction
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.roles import Action
from tests.probes.records import plan_make
from tests.probes.world import Probe, World


def outcome_prompt_make(patient: Patient, plan: TreatmentPlan, rule: str = "early_non_response") -> OutcomePrompt:
    """An open prompt on the patient's plan, as the rules raise it (PHQ-9 20 → 18 after four doses)."""
    now = timezone.now()
    return OutcomePrompt.objects.create(
        patient=patient,
        plan=plan,
        rule=rule,
        instrument="phq9",
        reason="Patient Health Questionnaire-9 20 → 18 after 4 doses: 10 % improvement (under 25 %).",
        source="issue 19 [policy]",
        evidence=[{"at": now.isoformat(), "total": 20}, {"at": now.isoformat(), "total": 18}],
        evidence_until=now,
    )


def _prompt(w: World, patient: Patient) -> OutcomePrompt:
    return outcome_prompt_make(patient, plan_make(patient, w.people, stamp=True))


def _outcome_view(w: World, patient: Patient) -> bool:
    prompt = _prompt(w, patient)
    api = w.api.get(f"/api/v1/patients/{patient.pk}/outcome").status_code == 200
    page = w.page.get(f"/outcomes/prompts/{prompt.pk}/").status_code == 200
    assert page == api, "page and API disagree"
    return api


def _prompt_act(w: World, patient: Patient) -> bool:
    first, second = _prompt(w, patient), outcome_prompt_make(patient, plan_make(patient, w.people, stamp=True))
    w.page.post(f"/outcomes/prompts/{first.pk}/", {"choice": "continue", "reason": "One more session first."})
    page = PromptAction.objects.filter(prompt=first).exists()
    w.api.post(
        f"/api/v1/prompts/{second.pk}/action",
        {"choice": "booster", "reason": "A booster."},
        content_type="application/json",
    )
    api = PromptAction.objects.filter(prompt=second).exists()
    assert page == api, "page and API disagree"
    return page


def _outcome_cohorts(w: World, patient: Patient) -> bool:
    return w.api.get("/api/v1/outcomes/cohorts").status_code == 200


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.OUTCOME_VIEW: (_outcome_view, True),
    Action.OUTCOME_PROMPT_ACT: (_prompt_act, True),
    Action.OUTCOME_COHORTS: (_outcome_cohorts, False),
}

"""Role-matrix probes for outcomes (issue 19): a patient's outcome and prompts, answering a prompt, the cohorts.
The prompt is answered on the page and over the API, which must agree."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.dosing.models import DosingSession
from kapclinic.outcomes.models import OutcomePrompt, PromptAction, ReferrerReport
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.roles import Action
from tests.probes.medications import dose_given_make
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


def referrer_report_make(patient: Patient, plan: TreatmentPlan, prescriber: User) -> ReferrerReport:
    """A signed referrer's report, as the prescriber signs it (its content a small snapshot)."""
    report = ReferrerReport(
        patient=patient,
        plan=plan,
        addressed_to="Dr Example Referrer (synthetic)",
        plan_ahead="A booster in a month.",
        content={
            "course": {
                "indication": "F33.1", "route": "IV", "sessions_planned": 6, "first_dose": timezone.now().isoformat(),
                "last_dose": timezone.now().isoformat(), "finished": True, "therapist": "Therapist",
            },
            "doses": [], "instruments": [], "adverse_events": [], "follow_ups_ahead": [],
        },
    )  # fmt: skip
    report.signature_stamp(prescriber.pk)
    report.save(force_insert=True)
    return report


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


def _report_sign(w: World, patient: Patient) -> bool:
    """Signing needs a course with a dose: the probe gives the patient one (a signed plan, one dose)."""
    plan = plan_make(patient, w.people, stamp=True, measures=["phq9"])
    session = DosingSession.objects.create(
        patient=patient, plan=plan, number=1, scheduled_for=timezone.now() - timedelta(days=3), state="discharged"
    )
    dose_given_make(session, w.people)
    w.page.post(f"/outcomes/patients/{patient.pk}/report/", {"addressed_to": "Dr Example", "plan_ahead": "A booster."})
    return ReferrerReport.objects.filter(patient=patient).exists()


def _research_export(w: World, patient: Patient) -> bool:
    return w.page.get("/outcomes/research.csv").status_code == 200


def _outcome_cohorts(w: World, patient: Patient) -> bool:
    return w.api.get("/api/v1/outcomes/cohorts").status_code == 200


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.OUTCOME_VIEW: (_outcome_view, True),
    Action.OUTCOME_PROMPT_ACT: (_prompt_act, True),
    Action.OUTCOME_COHORTS: (_outcome_cohorts, False),
    Action.OUTCOME_REPORT_SIGN: (_report_sign, True),
    Action.OUTCOME_RESEARCH_EXPORT: (_research_export, False),
}

"""Role-matrix probes for treatment plans, dosing sessions, alerts, adverse events and REMS."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from kapclinic.consent.models import ConsentSignature, ConsentVersion
from kapclinic.dosing.models import (
    AdverseEvent,
    AdverseEventReview,
    Clearance,
    DosingSession,
    MonitoringAlert,
    PreparationChecklist,
    RemsSubmission,
    SessionState,
    VitalSign,
)
from kapclinic.intake.models import EligibilityDecision
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.roles import Action
from kapclinic.signing import content_digest
from tests.probes.records import check_in_make, plan_body, plan_make
from tests.probes.world import Probe, World


def _ready(w: World, patient: Patient, route: str = "iv") -> TreatmentPlan:
    """An eligible, consented patient with a signed plan (made directly: the probe tests only its own action)."""
    director, prescriber = w.people["director"], w.people["prescriber"]
    EligibilityDecision.objects.create(
        patient=patient, decision="eligible", decided_by=prescriber, rule_set_version="t", policy_version="t"
    )
    version = ConsentVersion.objects.filter(document="kap-treatment").first() or ConsentVersion.objects.create(
        document="kap-treatment", title="Consent", number=1, body="Text", body_digest="x", published_by=director
    )
    ConsentSignature.objects.create(
        patient=patient,
        version=version,
        typed_name=patient.full_name,
        channel="clinic",
        recorded_by=director,
        digest=content_digest({"p": patient.pk}),
    )
    fixed = route in ("intranasal", "sublingual")
    return plan_make(
        patient,
        w.people,
        stamp=True,
        indication_text="MDD",
        route=route,
        starting_dose_mg_per_kg=None if fixed else Decimal("0.5"),
        starting_dose_mg=Decimal("56") if fixed else None,
        session_count=1,
        interval_days=7,
        first_session_on=timezone.localdate() + timedelta(days=1),
        session_time="09:00",
        goals=["g"],
        dosing_policy_version="t",
    )


def later_today() -> datetime:
    """An hour from now, or the day's last minute when that hour would cross local midnight.

    The board and the day's lists show the clinic's local day; a test run late in the
    evening must not push its session into tomorrow (CI failed at 23:xx New York time).
    """
    now = timezone.localtime()
    last_minute = now.replace(hour=23, minute=59, second=0, microsecond=0)
    return min(now + timedelta(hours=1), max(last_minute, now))


def _session(w: World, patient: Patient, state: str, route: str = "iv") -> DosingSession:
    plan = _ready(w, patient, route)
    session = DosingSession.objects.create(
        patient=patient, plan=plan, number=1, scheduled_for=later_today(), state=state
    )
    if state not in (SessionState.PROPOSED, SessionState.SCHEDULED):
        check_in_make(session, w.people["nurse"], at=timezone.now() - timedelta(minutes=20))
    return session


def _plan_write(w: World, patient: Patient) -> bool:
    body = plan_body(w.people["therapist"])
    response = w.api.post(f"/api/v1/patients/{patient.pk}/plans", body, content_type="application/json")
    return response.status_code == 201


def _plan_view(w: World, patient: Patient) -> bool:
    return w.api.get(f"/api/v1/patients/{patient.pk}/plans").status_code == 200


def _dosing_schedule(w: World, patient: Patient) -> bool:
    session = _session(w, patient, SessionState.PROPOSED)
    nurse = {"nurse": w.people["nurse"].pk}  # scheduling books the session's nurse
    w.api.post(f"/api/v1/dosing-sessions/{session.pk}/schedule", nurse, content_type="application/json")
    return DosingSession.objects.get(pk=session.pk).state == SessionState.SCHEDULED


def _checklist_complete(w: World, patient: Patient) -> bool:
    session = _session(w, patient, SessionState.SCHEDULED)
    PreparationChecklist.objects.create(session=session, updated_by=w.people["nurse"])
    response = w.api.put(
        f"/api/v1/dosing-sessions/{session.pk}/checklist", {"ride_name": "A. Driver"}, content_type="application/json"
    )
    return response.status_code == 200


def _session_view(w: World, patient: Patient) -> bool:
    session = _session(w, patient, SessionState.SCHEDULED)
    return w.page.get(f"/dosing/sessions/{session.pk}/").status_code == 200


def _session_run(w: World, patient: Patient) -> bool:
    session = _session(w, patient, SessionState.CHECKED_IN)
    body = {"systolic": 128, "diastolic": 80, "heart_rate": 72, "spo2": 98}
    response = w.api.post(f"/api/v1/dosing-sessions/{session.pk}/vitals", body, content_type="application/json")
    return response.status_code == 201


def _dose_order(w: World, patient: Patient) -> bool:
    # The prescriber's part: overriding a hold (with a reason) is the order-giver's decision.
    session = _session(w, patient, SessionState.HELD)
    vital = VitalSign.objects.create(
        session=session,
        measured_at=timezone.now(),
        systolic=165,
        diastolic=85,
        heart_rate=70,
        spo2=98,
        predose=True,
        recorded_by=w.people["nurse"],
    )
    Clearance.objects.create(session=session, vital=vital, status="hold", policy_version="t", by=w.people["nurse"])
    w.page.post(f"/dosing/sessions/{session.pk}/override/", {"reason": "Rechecked: white-coat, asymptomatic."})
    return DosingSession.objects.get(pk=session.pk).state == SessionState.CLEARED


def _alert(w: World, patient: Patient) -> MonitoringAlert:
    session = _session(w, patient, SessionState.MONITORING)
    vital = VitalSign.objects.create(
        session=session, measured_at=timezone.now(), systolic=186, diastolic=100, recorded_by=w.people["nurse"]
    )
    return MonitoringAlert.objects.create(
        session=session, vital=vital, code="bp_systolic_high", level="alert", message="BP high", source="test"
    )


def _alert_acknowledge(w: World, patient: Patient) -> bool:
    alert = _alert(w, patient)
    response = w.api.post(
        f"/api/v1/alerts/{alert.pk}/acknowledgement", {"action_taken": "Rechecked"}, content_type="application/json"
    )
    return response.status_code == 201


def _adverse_event_record(w: World, patient: Patient) -> bool:
    body = {
        "what": "Vomiting",
        "severity": "mild",
        "action": "Ondansetron 4 mg ODT",
        "occurred_at": timezone.now().isoformat(),
    }
    w.api.post(f"/api/v1/patients/{patient.pk}/adverse-events", body, content_type="application/json")
    return AdverseEvent.objects.filter(patient=patient).exists()


def _adverse_event_review(w: World, patient: Patient) -> bool:
    event = AdverseEvent.objects.create(
        patient=patient,
        what="Vomiting",
        severity="mild",
        action="Ondansetron",
        occurred_at=timezone.now(),
        by=w.people["nurse"],
    )
    w.api.post(f"/api/v1/adverse-events/{event.pk}/review", {"note": "Reviewed."}, content_type="application/json")
    return AdverseEventReview.objects.filter(event=event).exists()


def _rems_submit(w: World, patient: Patient) -> bool:
    session = _session(w, patient, SessionState.DISCHARGED, route="intranasal")
    w.page.post(f"/dosing/sessions/{session.pk}/rems/", {"reference": "REMS-1"})
    return RemsSubmission.objects.filter(session=session).exists()


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.PLAN_WRITE: (_plan_write, True),
    Action.PLAN_VIEW: (_plan_view, True),
    Action.DOSING_SCHEDULE: (_dosing_schedule, True),
    Action.CHECKLIST_COMPLETE: (_checklist_complete, True),
    Action.SESSION_VIEW: (_session_view, True),
    Action.SESSION_RUN: (_session_run, True),
    Action.DOSE_ORDER: (_dose_order, True),
    Action.ALERT_ACKNOWLEDGE: (_alert_acknowledge, True),
    Action.ADVERSE_EVENT_RECORD: (_adverse_event_record, True),
    Action.ADVERSE_EVENT_REVIEW: (_adverse_event_review, False),
    Action.REMS_SUBMIT: (_rems_submit, True),
}

"""Dosing sessions end to end: check-in, clearance, order, administration with the ledger, monitoring, alerts,
discharge and signing; the bad inputs of the issue; the concurrency guard; the page's constant query count."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import (
    Administration,
    AdverseEvent,
    AlertAcknowledgement,
    CheckIn,
    DoseOrder,
    DosingSession,
    MonitoringAlert,
    SessionState,
    VitalSign,
)
from kapclinic.dosing.session_services import session_advance, session_stop, vital_record
from kapclinic.errors import Conflict
from kapclinic.ledger.models import LedgerEntry, Lot, Product, StorageLocation
from kapclinic.ledger.services import Quantity
from kapclinic.patients.models import CareTeamMember, Patient
from tests.conftest import PASSWORD
from tests.probes.dosing import _session
from tests.probes.records import check_in_make, receive_make
from tests.probes.world import World


@pytest.fixture
def stock(personas: dict[str, User]) -> tuple[Product, Lot, StorageLocation]:
    product = Product.objects.create(
        name="Ketamine HCl injection", form="vial", mg_per_unit=Decimal("10"), unit="mL", units_per_container=20
    )
    safe = StorageLocation.objects.create(name="Safe")
    nurse = AuditContext(user=personas["nurse"], channel="test")
    receive_make(nurse, product, safe, "LOT-A", Quantity("20", "mL"), invoice_reference="INV-1")
    return product, Lot.objects.get(lot_number="LOT-A"), safe


def scheduled(w: World) -> DosingSession:
    session = _session(w, w.team, SessionState.SCHEDULED)
    DosingSession.objects.filter(pk=session.pk).update(scheduled_for=timezone.now() - timedelta(minutes=10))
    return DosingSession.objects.get(pk=session.pk)


def step(client: Any, session: DosingSession, name: str, data: dict[str, Any]) -> Any:
    session.refresh_from_db()
    return client.post(f"/dosing/sessions/{session.pk}/{name}/", {"version": session.version, **data})


def vitals(api: Any, session: DosingSession, **values: Any) -> Any:
    return api.post(f"/api/v1/dosing-sessions/{session.pk}/vitals", values, content_type="application/json")


def test_a_whole_iv_session_from_check_in_to_signature(
    client_for: Any, api_for: Any, personas: dict[str, User], nurse_world: World, stock: Any
) -> None:
    product, lot, safe = stock
    session = scheduled(nurse_world)
    nurse, prescriber = client_for("nurse"), client_for("prescriber")
    nurse_api = api_for("nurse")
    checked = step(
        nurse,
        session,
        "check-in",
        {
            "identity_confirmed": "on",
            "checklist_confirmed": "on",
            "pregnancy_test": "not_applicable",
            "weight_kg": "78",
        },
    )
    assert checked.status_code == 302
    session.refresh_from_db()
    assert session.state == SessionState.CHECKED_IN
    # Pre-dose reading within limits: cleared.
    pre = vitals(nurse_api, session, systolic=128, diastolic=82, heart_rate=72, spo2=98, respiratory_rate=14)
    assert pre.status_code == 201 and pre.json()["clearance"] == "clear" and pre.json()["alerts"] == []
    session.refresh_from_db()
    assert session.state == SessionState.CLEARED
    # The dose with its working (dosing.md section 6 worked example: 78 kg x 0.5 mg/kg = 39 mg = 3.9 mL at 10 mg/mL).
    page = prescriber.get(f"/dosing/sessions/{session.pk}/", {"product": product.pk}).content.decode()
    assert "39 mg" in page and "3.9 mL" in page
    # The nurse cannot give without an order.
    early = step(nurse, session, "administer", {"lot": lot.pk, "location": safe.pk, "drawn": "4", "given": "3.9"})
    assert early.status_code == 422 and not Administration.objects.exists()  # the screen again, saying why
    assert "There is no signed dose order for this session." in early.content.decode()
    assert AccessEvent.objects.filter(action="session.administer", outcome="denied").exists()
    step(prescriber, session, "order", {"product": product.pk})
    order = DoseOrder.objects.get(session=session)
    assert (
        order.dose_mg == Decimal("39")
        and order.volume_ml == Decimal("3.9")
        and order.signed_by == personas["prescriber"]
        and order.signature_intact
    )
    dose = {"lot": lot.pk, "location": safe.pk, "drawn": "4.0", "given": "3.9", "infusion_rate": "75"}
    # A wrong witness password refuses the whole step, and the failure stays counted and audited (the check runs
    # before the step's transaction, which would otherwise roll the audit row back).
    refused = step(nurse, session, "administer", {**dose, "witness_username": "prescriber", "witness_password": "x"})
    assert refused.status_code in (302, 422) and not Administration.objects.exists()
    assert AccessEvent.objects.filter(action="auth.failed", detail__purpose="witness", username="nurse").exists()
    given = step(nurse, session, "administer", {**dose, "witness_username": "prescriber", "witness_password": PASSWORD})
    assert given.status_code == 302
    administration = Administration.objects.get(session=session)
    assert administration.given_mg == Decimal("39") and administration.drawn_mg == Decimal("40")
    # The ledger moved in the same step: 39 mg administered and 1 mg wasted with the witness.
    assert administration.ledger_entry.quantity_mg == Decimal("-39")
    assert administration.waste_entry is not None and administration.waste_entry.quantity_mg == Decimal("-1")
    assert administration.waste_entry.witness == personas["prescriber"]
    assert LedgerEntry.objects.filter(lot=lot).order_by("-id").first().balance_after_mg == Decimal("160")  # type: ignore[union-attr]
    session.refresh_from_db()
    assert session.state == SessionState.DOSING
    # A hypertensive reading raises an alert at once, returned to the device.
    high = vitals(nurse_api, session, systolic=186, diastolic=104, heart_rate=96, spo2=97)
    assert high.status_code == 201
    codes = {a["code"] for a in high.json()["alerts"]}
    assert "bp_systolic_high" in codes and all(a["source"] for a in high.json()["alerts"])
    alert = MonitoringAlert.objects.get(session=session, code="bp_systolic_high")
    # The prescriber's home shows it (the partial the page polls).
    assert "bp" in client_for("prescriber").get("/dosing/alerts/").content.decode().lower()
    ack = api_for("prescriber").post(
        f"/api/v1/alerts/{alert.pk}/acknowledgement",
        {"action_taken": "Rechecked in 5 min; infusion slowed"},
        content_type="application/json",
    )
    assert ack.status_code == 201 and AlertAcknowledgement.objects.get(alert=alert).by == personas["prescriber"]
    # Ended at once, the 40-minute infusion was a bolus: refused without a reason, kept with one (issue 13 rule 5).
    bolus = step(nurse, session, "advance", {"to": "monitoring"})
    assert bolus.status_code == 422 and "Give the reason it ended early" in bolus.content.decode()
    session.refresh_from_db()
    assert session.state == SessionState.DOSING
    reason = {"reason": "Pump alarm; the line was flushed by hand."}
    assert step(nurse, session, "advance", {"to": "monitoring", **reason}).status_code == 302
    step(nurse, session, "event", {"kind": "side_effect", "code": "nausea", "severity": "mild"})
    step(nurse, session, "event", {"kind": "rescue_medication", "code": "ondansetron", "value": "4 mg ODT"})
    step(nurse, session, "advance", {"to": "recovery"})
    vitals(nurse_api, session, systolic=134, diastolic=84, heart_rate=76, spo2=98)
    answers = {
        "moaas": "5",
        "oriented": "on",
        "walks_steadily": "on",
        "nausea_controlled": "on",
        "escort_present": "on",
        "new_suicidal_ideation": "no",
        "driver_name": "A. Friend",
    }
    # Observation time (30 min after the infusion's end) is not met yet: the nurse cannot discharge.
    step(nurse, session, "discharge", answers)
    session.refresh_from_db()
    assert session.state == SessionState.RECOVERY
    # The prescriber may override with a reason.
    step(prescriber, session, "discharge", {**answers, "override_reason": "Test of the override: stable for 20 min."})
    session.refresh_from_db()
    assert session.state == SessionState.DISCHARGED and session.discharge.override_by == personas["prescriber"]
    assert step(nurse, session, "sign", {}).status_code == 302
    session.refresh_from_db()
    assert session.is_signed and session.signature_intact
    with pytest.raises(DatabaseError), transaction.atomic():
        DosingSession.objects.filter(pk=session.pk).update(room="changed after signing")
    states = list(session.transitions.values_list("to_state", flat=True))
    assert states == ["checked_in", "cleared", "dosing", "monitoring", "recovery", "discharged"]
    ended = session.transitions.get(to_state="monitoring")
    assert "given as a bolus" in ended.reason and "Pump alarm" in ended.reason


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"heart_rate": 0}, "heart"),
        ({"heart_rate": 400}, "heart"),
        ({"systolic": 80, "diastolic": 95}, "systolic"),
        ({"systolic": 120, "diastolic": 80, "pulse": 70}, "pulse"),
    ],
)
def test_implausible_readings_are_refused_and_nothing_is_stored(
    nurse_world: World, api_for: Any, team_patient: Patient, values: dict[str, int], problem: str
) -> None:
    session = _session(nurse_world, team_patient, "checked_in")
    response = vitals(api_for("nurse"), session, **values)
    assert response.status_code == 422 and problem in response.content.decode().lower()
    assert not VitalSign.objects.exists()


def test_readings_in_the_future_or_before_the_session_are_refused(
    nurse_world: World, api_for: Any, team_patient: Patient
) -> None:
    session = _session(nurse_world, team_patient, "checked_in")
    api = api_for("nurse")
    reading = {"systolic": 120, "diastolic": 80, "heart_rate": 70, "spo2": 98}
    future = vitals(api, session, **reading, measured_at=(timezone.now() + timedelta(minutes=30)).isoformat())
    before = vitals(api, session, **reading, measured_at=(timezone.now() - timedelta(hours=5)).isoformat())
    assert future.status_code == 422 and before.status_code == 422
    assert not VitalSign.objects.exists()


def test_a_hold_needs_the_prescriber_and_do_not_dose_is_never_overridden(
    client_for: Any,
    api_for: Any,
    personas: dict[str, User],
    team_patient: Patient,
    other_patient: Patient,
    nurse_world: World,
) -> None:
    w = nurse_world
    session = _session(w, team_patient, "checked_in")
    held = vitals(api_for("nurse"), session, systolic=165, diastolic=92, heart_rate=80, spo2=97)
    assert held.json()["clearance"] == "hold"
    session.refresh_from_db()
    assert session.state == SessionState.HELD
    step(client_for("nurse"), session, "override", {"reason": "Nurse tries to clear the hold."})
    session.refresh_from_db()
    assert session.state == SessionState.HELD
    step(client_for("prescriber"), session, "override", {"reason": "short"})
    session.refresh_from_db()
    assert session.state == SessionState.HELD
    step(client_for("prescriber"), session, "override", {"reason": "Asymptomatic, recheck 150/90 after rest."})
    session.refresh_from_db()
    assert session.state == SessionState.CLEARED
    other = _session(w, other_patient, "checked_in")
    _join_team(other_patient, personas)
    worst = vitals(api_for("nurse"), other, systolic=185, diastolic=100, heart_rate=80, spo2=97)
    assert worst.json()["clearance"] == "do_not_dose"
    step(client_for("prescriber"), other, "override", {"reason": "Trying to override a do-not-dose."})
    other.refresh_from_db()
    assert other.state == SessionState.HELD
    assert AccessEvent.objects.filter(action="session.clearance_override", outcome="denied").exists()


def _join_team(patient: Patient, personas: dict[str, User]) -> None:

    for role in ("prescriber", "nurse"):
        CareTeamMember.objects.get_or_create(patient=patient, user=personas[role], role=role)


def test_an_order_above_the_policy_maximum_needs_a_reason(
    client_for: Any, nurse_world: World, personas: dict[str, User], team_patient: Patient, stock: Any
) -> None:
    product, _lot, _safe = stock
    w = nurse_world
    session = _session(w, team_patient, "cleared")
    # 320 kg at 0.5 mg/kg is 160 mg: above the 150 mg single parenteral dose (dosing.md section 6 hard stop).
    heavy = DosingSession.objects.create(
        patient=team_patient, plan=session.plan, number=2, scheduled_for=session.scheduled_for, state="cleared"
    )
    check_in_make(heavy, personas["nurse"], "320")
    prescriber = client_for("prescriber")
    step(prescriber, heavy, "order", {"product": product.pk})
    assert not DoseOrder.objects.exists()
    assert AccessEvent.objects.filter(action="dose.order", outcome="denied").exists()
    step(prescriber, heavy, "order", {"product": product.pk, "override_reason": "Documented tolerance at 150 mg."})
    order = DoseOrder.objects.get()
    assert order.session == heavy and order.dose_mg == Decimal("160")
    assert [h["code"] for h in order.hard_stops] == ["parenteral_above_max_mg"] and order.override_reason


def test_acknowledging_as_someone_else_is_refused(
    nurse_world: World, api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    from tests.probes.dosing import _alert

    alert = _alert(nurse_world, team_patient)
    response = api_for("nurse").post(
        f"/api/v1/alerts/{alert.pk}/acknowledgement",
        {"action_taken": "Rechecked", "by": personas["prescriber"].pk},
        content_type="application/json",
    )
    assert response.status_code == 422 and not AlertAcknowledgement.objects.exists()
    assert (
        api_for("therapist")
        .post(
            f"/api/v1/alerts/{alert.pk}/acknowledgement", {"action_taken": "Rechecked"}, content_type="application/json"
        )
        .status_code
        == 403
    )


def test_a_stale_screen_is_refused_and_readings_never_make_it_stale(
    nurse_world: World, personas: dict[str, User], team_patient: Patient
) -> None:
    session = _session(nurse_world, team_patient, "monitoring")
    shown = session.version
    ctx = AuditContext(user=personas["nurse"], channel="test")
    # A device posting readings does not change the version the nurse's screen holds.
    vital_record(
        ctx=ctx, session_id=session.pk, values={"systolic": 120, "diastolic": 80, "heart_rate": 70, "spo2": 98}
    )
    session_advance(ctx=ctx, session_id=session.pk, to="recovery", version=shown)
    # A second nurse's screen, loaded before that step, is refused: nothing is overwritten.
    with pytest.raises(Conflict):
        session_stop(
            ctx=AuditContext(user=personas["prescriber"], channel="test"),
            session_id=session.pk,
            outcome="stopped_early",
            reason="Stale screen",
            version=shown,
        )
    assert DosingSession.objects.get(pk=session.pk).state == SessionState.RECOVERY


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_nurses_saving_one_screen_at_once_one_wins(personas: dict[str, User], team_patient: Patient) -> None:
    """Real threads on PostgreSQL: the row lock serialises them, the version check refuses the second."""
    from tests.probes.dosing import _session as make

    w = World(None, None, team_patient, team_patient, personas)  # type: ignore[arg-type]
    session = make(w, team_patient, "monitoring")
    version = session.version
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def save(name: str) -> None:
        ctx = AuditContext(user=personas[name], channel="test")
        barrier.wait()
        try:
            session_advance(ctx=ctx, session_id=session.pk, to="recovery", version=version)
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(n,)) for n in ("nurse", "prescriber")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    assert session.transitions.filter(to_state="recovery").count() == 1


def test_session_page_query_count_is_constant_as_readings_grow(
    client_for: Any, nurse_world: World, personas: dict[str, User], team_patient: Patient
) -> None:
    session = _session(nurse_world, team_patient, "monitoring")
    nurse = client_for("nurse")
    ctx = AuditContext(user=personas["nurse"], channel="test")
    counts = []
    for readings in (2, 20):
        while VitalSign.objects.filter(session=session).count() < readings:
            vital_record(
                ctx=ctx, session_id=session.pk, values={"systolic": 190, "diastolic": 90, "heart_rate": 80, "spo2": 97}
            )
        with CaptureQueriesContext(connection) as captured:
            assert nurse.get(f"/dosing/sessions/{session.pk}/").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts


def test_todays_board_and_the_api_list(
    client_for: Any, api_for: Any, nurse_world: World, team_patient: Patient
) -> None:
    session = _session(nurse_world, team_patient, "monitoring")
    board = client_for("nurse").get("/dosing/today/").content.decode()
    assert team_patient.mrn in board and "Monitoring" in board
    listed = api_for("nurse").get("/api/v1/dosing-sessions", {"date": timezone.localdate().isoformat()}).json()
    assert [s["id"] for s in listed] == [session.pk] and listed[0]["state"] == "monitoring"
    assert api_for("outsider_nurse").get("/api/v1/dosing-sessions").json() == []


def test_an_esketamine_session_over_the_api_with_rems(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, nurse_world: World
) -> None:
    """Spravato REMS (monitoring.md s1, s6): enrollment before the first dose; 2 hours of observation that no
    override shortens; the monitoring form filled from the record; the 7-day clock until marked submitted."""
    w = nurse_world
    session = _session(w, team_patient, "checked_in", route="intranasal")
    spravato = Product.objects.create(
        name="Spravato (esketamine) nasal spray",
        form="28 mg device",
        mg_per_unit=28,
        unit="device",
        units_per_container=1,
    )
    safe = StorageLocation.objects.create(name="Safe")
    nurse_ctx = AuditContext(user=personas["nurse"], channel="test")
    receive_make(nurse_ctx, spravato, safe, "SPR-1", Quantity("6", "device"), days=60, invoice_reference="INV-S")
    nurse, prescriber = api_for("nurse"), api_for("prescriber")
    base = f"/api/v1/dosing-sessions/{session.pk}"
    assert vitals(nurse, session, systolic=124, diastolic=78, heart_rate=70, spo2=98).json()["clearance"] == "clear"
    refused = prescriber.post(f"{base}/orders", {"product": spravato.pk}, content_type="application/json")
    assert refused.status_code == 422 and "REMS" in refused.content.decode()
    enrolled = prescriber.post(
        f"/api/v1/patients/{team_patient.pk}/rems-enrollments",
        {"enrolled_on": timezone.localdate().isoformat(), "reference": "REMS-T-1"},
        content_type="application/json",
    )
    assert enrolled.status_code == 201
    # A plan written before the indication was asked: the first esketamine order asks for it (dosing.md section 5).
    unknown = prescriber.post(f"{base}/orders", {"product": spravato.pk}, content_type="application/json")
    assert unknown.status_code == 422 and "Indication needed before the first esketamine order" in unknown.text
    order = prescriber.post(
        f"{base}/orders", {"product": spravato.pk, "indication": "trd"}, content_type="application/json"
    )
    assert order.status_code == 201 and Decimal(order.json()["dose_mg"]) == 56 and Decimal(order.json()["units"]) == 2
    assert order.json()["esketamine_indication"] == "trd"
    lot = Lot.objects.get(lot_number="SPR-1")
    now = timezone.now().isoformat()
    given = nurse.post(
        f"{base}/administration",
        {"lot": lot.pk, "location": safe.pk, "started_at": now, "ended_at": now, "drawn": "2", "given": "2"},
        content_type="application/json",
    )
    assert given.status_code == 200 and given.json()["state"] == "monitoring"
    assert (
        nurse.post(
            f"{base}/events", {"kind": "score", "code": "cadss6", "value": "8"}, content_type="application/json"
        ).status_code
        == 201
    )
    assert (
        nurse.post(f"{base}/advance", {"to": "recovery"}, content_type="application/json").json()["state"] == "recovery"
    )
    answers = {
        "driver_name": "Partner",
        "moaas": 5,
        "oriented": True,
        "walks_steadily": True,
        "nausea_controlled": True,
        "escort_present": True,
        "new_suicidal_ideation": False,
    }
    early = prescriber.post(
        f"{base}/discharge",
        {**answers, "override_reason": "Trying to leave after 10 minutes."},
        content_type="application/json",
    )
    assert early.status_code == 422 and "2 hours" in early.content.decode()
    with time_machine.travel(timezone.now() + timedelta(hours=2, minutes=5)):
        assert vitals(nurse, session, systolic=130, diastolic=80, heart_rate=72, spo2=98).status_code == 201
        # Esketamine: one safe reading is not enough; BP must be stable or falling over the last two
        # (monitoring.md section 6, Spravato HCP dosing page).
        one = nurse.post(f"{base}/discharge", answers, content_type="application/json")
        assert one.status_code == 422 and "two BP readings" in one.content.decode()
        assert vitals(nurse, session, systolic=128, diastolic=80, heart_rate=70, spo2=98).status_code == 201
        done = nurse.post(f"{base}/discharge", answers, content_type="application/json")
        assert done.status_code == 200, done.content
    assert done.json()["state"] == "discharged"
    director = client_for("director")
    assert team_patient.family_name.upper() in director.get("/").content.decode().split("Spravato REMS forms")[1]
    pdf = director.get(f"/dosing/sessions/{session.pk}/rems.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    submitted = api_for("director").post(
        f"{base}/rems-submission", {"reference": "R-77"}, content_type="application/json"
    )
    assert submitted.status_code == 201
    assert "No REMS monitoring forms waiting" in director.get("/").content.decode()
    stale = nurse.post(f"{base}/sign", {"version": 1}, content_type="application/json")
    assert stale.status_code == 409
    signed = nurse.post(f"{base}/sign", {}, content_type="application/json")
    assert signed.status_code == 200 and DosingSession.objects.get(pk=session.pk).is_signed


def test_adverse_event_reported_on_the_session_page_reaches_the_director(
    client_for: Any, nurse_world: World, team_patient: Patient
) -> None:
    session = _session(nurse_world, team_patient, "monitoring")
    nurse = client_for("nurse")
    assert "Report an adverse event" in nurse.get(f"/dosing/sessions/{session.pk}/").content.decode()
    step(
        nurse, session, "adverse-event", {"what": "Vasovagal episode", "severity": "moderate", "action": "Legs raised"}
    )
    step(nurse, session, "adverse-event", {"what": "", "severity": "mild", "action": ""})  # refused: nothing saved
    assert AdverseEvent.objects.count() == 1
    director = client_for("director")
    assert "Vasovagal episode" in director.get("/").content.decode()
    event = AdverseEvent.objects.get()
    director.post(f"/dosing/adverse-events/{event.pk}/review/", {"note": "Discussed at the team meeting."})
    assert "Vasovagal episode" not in director.get("/").content.decode()
    assert client_for("nurse").post(f"/dosing/adverse-events/{event.pk}/review/", {"note": "x"}).status_code == 403


def test_an_empty_reading_is_a_clear_error(
    client_for: Any, api_for: Any, nurse_world: World, team_patient: Patient
) -> None:
    session = _session(nurse_world, team_patient, "monitoring")
    assert vitals(api_for("nurse"), session).status_code == 422
    page = step(client_for("nurse"), session, "vitals", {"systolic": "", "heart_rate": ""})
    # Shown again with the message next to the form (issue 13, bad input), nothing stored.
    assert page.status_code == 422 and not VitalSign.objects.exists()
    assert client_for("nurse").get("/dosing/today/", {"date": "2024-13-45"}).status_code == 200
    step(client_for("nurse"), session, "event", {"kind": "score", "code": "moaas", "occurred_at": "2024-13-45T99:99"})
    assert not session.events.exists()


def test_refusals_stay_in_the_audit_log(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, nurse_world: World
) -> None:
    session = _session(nurse_world, team_patient, "held")
    # A nurse may not override a hold; a nurse off the care team may not post readings.
    step(client_for("nurse"), session, "override", {"reason": "Nurse tries to clear the hold."})
    off_team = vitals(api_for("outsider_nurse"), session, systolic=120, diastolic=80, heart_rate=70, spo2=98)
    assert off_team.status_code in (403, 404)
    denied = AccessEvent.objects.filter(outcome="denied", patient_id=team_patient.pk)
    assert denied.filter(user=personas["nurse"]).exists()
    assert denied.filter(user=personas["outsider_nurse"]).exists()


def test_a_changed_evaluation_needs_a_new_decision_before_dosing(
    nurse_world: World, personas: dict[str, User], team_patient: Patient
) -> None:
    from kapclinic.dosing.services import session_schedule
    from kapclinic.intake.services import evaluation_save

    w = nurse_world
    session = _session(w, team_patient, "proposed")
    prescriber = AuditContext(user=personas["prescriber"], channel="test")
    # A contraindication recorded after the "eligible" decision: nothing more may be scheduled or given.
    evaluation_save(ctx=prescriber, patient_id=team_patient.pk, values={"aneurysmal_vascular_disease": True})
    with pytest.raises(ValidationError, match="decide again"):
        session_schedule(ctx=prescriber, session_id=session.pk)
    assert DosingSession.objects.get(pk=session.pk).state == SessionState.PROPOSED


@pytest.mark.parametrize(
    ("code", "value", "ok"),
    [("moaas", "5", True), ("moaas", "6", False), ("rass", "-5", True), ("cadss6", "x", False), ("mood", "3", False)],
)
def test_in_session_scores_use_the_scales_ranges(
    nurse_world: World, api_for: Any, team_patient: Patient, code: str, value: str, ok: bool
) -> None:
    session = _session(nurse_world, team_patient, "monitoring")
    response = api_for("nurse").post(
        f"/api/v1/dosing-sessions/{session.pk}/events",
        {"kind": "score", "code": code, "value": value},
        content_type="application/json",
    )
    assert (response.status_code == 201) is ok and session.events.exists() is ok


def test_pre_dose_checks_take_what_check_in_records(client_for: Any, api_for: Any, nurse_world: World) -> None:
    """monitoring.md section 1 (issue 13, rule 6): the check-in page records fasting, the escort and alcohol or
    substances today; the pre-dose clearance judges them with the vitals (ketamine: no solids 4 h, clear
    liquids 2 h, clinic policy), and a wrong answer is refused with nothing saved."""
    session = scheduled(nurse_world)
    nurse = client_for("nurse")
    now = timezone.localtime()
    answers = {
        "identity_confirmed": "on",
        "checklist_confirmed": "on",
        "pregnancy_test": "not_applicable",
        "weight_kg": "78",
        "last_food_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "last_liquid_at": (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "escort_confirmed": "yes",
        "substances_today": "yes",
        "substances_note": "",
    }
    refused = nurse.post(
        f"/dosing/sessions/{session.pk}/check-in/", {"version": session.version, **answers}, follow=True
    )
    assert "Say what was taken and when" in refused.content.decode()
    assert not CheckIn.objects.filter(session=session).exists()
    step(nurse, session, "check-in", {**answers, "substances_note": "One glass of wine at lunch"})
    check_in = CheckIn.objects.get(session=session)
    assert check_in.substances_today is True and check_in.escort_confirmed is True
    page = nurse.get(f"/dosing/sessions/{session.pk}/").content.decode()
    assert "alcohol or substances today yes: One glass of wine at lunch" in page
    pre = vitals(api_for("nurse"), session, systolic=124, diastolic=78, heart_rate=70, spo2=98)
    assert pre.json()["clearance"] == "hold"
    clearance = session.clearances.get()
    assert {f["code"] for f in clearance.findings} == {"fasting_food", "substances_today"}
    assert all(f["source"] for f in clearance.findings)
    session.refresh_from_db()
    assert session.state == SessionState.HELD


def test_the_route_choices_are_the_rule_cores_routes() -> None:
    """One definition of the routes: the model choices carry exactly the rule core's values (clinical/dosing.py)."""
    from kapclinic.clinical import dosing as dose_rules
    from kapclinic.dosing.models import WEIGHT_BASED_ROUTES, Route

    assert set(Route.values) == set(dose_rules.ROUTES)
    assert set(WEIGHT_BASED_ROUTES) == set(dose_rules.WEIGHT_BASED_ROUTES)

"""The session screen (issue 13, defects 5 and 6, and the dose and administration form's bad input): the chart's
lines and caption before the dose, the overdue vitals mark, the administration defaults, typed values kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.charts import VitalPoint, vitals_summary
from kapclinic.dosing.models import (
    Administration,
    CheckIn,
    DoseOrder,
    DosingSession,
    PreparationChecklist,
    SessionState,
    VitalSign,
)
from kapclinic.dosing.session_services import discharge_criteria, event_record
from kapclinic.dosing.session_views import _thresholds
from kapclinic.ledger.models import Lot, Product, StorageLocation
from kapclinic.ledger.services import Quantity
from kapclinic.patients.models import Patient
from tests.conftest import PASSWORD
from tests.probes.dosing import _session
from tests.probes.medications import dose_given_make
from tests.probes.records import check_in_make, receive_make
from tests.probes.world import World

AT = datetime(2026, 12, 4, 19, 10, tzinfo=UTC)


def test_a_held_sessions_caption_names_the_hold_line_it_crossed() -> None:
    # monitoring.md section 3, pre-dose column: systolic >= 160 holds for the prescriber, >= 180 do not dose.
    held = [VitalPoint(AT, 165, 96, 84, 98)]
    caption = vitals_summary(held, _thresholds(before_dose=True), tz=UTC)
    assert caption == (
        "1 reading at 19:10; blood pressure 165/96, above the pre-dose hold line of 160; heart rate 84; "
        "SpO₂ 98%, above the review line of 94."
    )
    labels = [t.label for t in _thresholds(before_dose=True)]
    assert labels == ["Hold ≥ 160", "Do not dose ≥ 180", "Diastolic hold ≥ 100", "SpO₂ review < 94"]
    # After the dose the intra/post-dose alert lines apply, as before.
    after = vitals_summary(held, _thresholds(before_dose=False), tz=UTC)
    assert "below the alert line of 180" in after


# The screen itself --------------------------------------------------------------------------------------------------


@pytest.fixture
def two_places(personas: dict[str, User]) -> tuple[Product, StorageLocation, StorageLocation]:
    """A product stocked mostly in the safe, a little on the crash cart (first by name)."""
    product = Product.objects.create(
        name="Ketamine HCl injection", form="vial", mg_per_unit=Decimal("10"), unit="mL", units_per_container=20
    )
    cart = StorageLocation.objects.create(name="A crash cart")
    safe = StorageLocation.objects.create(name="Safe")
    for place, lot, ml in ((cart, "LOT-CART", "5"), (safe, "LOT-SAFE", "20")):
        receive_make(AuditContext(user=personas["nurse"], channel="test"), product, place, lot, Quantity(ml, "mL"))
    return product, cart, safe


def _post(client: Any, session: DosingSession, name: str, data: dict[str, Any]) -> Any:
    session.refresh_from_db()
    return client.post(f"/dosing/sessions/{session.pk}/{name}/", {"version": session.version, **data})


def test_administration_defaults_to_the_stock_keeps_what_was_typed_and_marks_overdue_vitals(
    client_for: Any, nurse_world: World, team_patient: Patient, two_places: Any
) -> None:
    product, _cart, safe = two_places
    session = _session(nurse_world, team_patient, "cleared")
    assert (
        _post(client_for("prescriber"), session, "order", {"product": product.pk, "infusion_minutes": 40}).status_code
        == 302
    )
    nurse = client_for("nurse")
    page = nurse.get(f"/dosing/sessions/{session.pk}/").content.decode()
    safe_lot = Lot.objects.get(lot_number="LOT-SAFE")
    # From: where the product is in stock, not the first name on the list (the crash cart); its lot with it.
    assert f'<option value="{safe.pk}" selected>Safe</option>' in page
    assert f'<option value="{safe_lot.pk}" selected>LOT-SAFE' in page
    typed = {"lot": safe_lot.pk, "location": safe.pk, "drawn": "3.5x", "given": "3.5", "infusion_rate": "52.5"}
    refused = _post(
        nurse, session, "administer", {**typed, "witness_username": "prescriber", "witness_password": "s3cret"}
    )
    body = refused.content.decode()
    assert refused.status_code == 422 and not Administration.objects.exists()
    assert '<p class="field-error">Enter a number.</p>' in body  # next to the field
    assert 'name="drawn" inputmode="decimal" required value="3.5x"' in body
    assert 'name="infusion_rate" inputmode="decimal" required value="52.5"' in body
    assert 'value="prescriber"' in body and "s3cret" not in body  # the password is never sent back
    given = _post(nurse, session, "administer", {**typed, "drawn": "3.5"})
    assert given.status_code == 302 and Administration.objects.filter(session=session, location=safe).exists()
    # IV: a reading every 10 minutes while dosing (monitoring.md section 2); 12 minutes on, the page says so.
    with time_machine.travel(timezone.now() + timedelta(minutes=12)):
        later = nurse.get(f"/dosing/sessions/{session.pk}/").content.decode()
    assert "Vitals overdue: the next reading was due at" in later and "⚠" in later


def test_a_refused_reading_keeps_what_was_typed(client_for: Any, nurse_world: World, team_patient: Patient) -> None:
    session = _session(nurse_world, team_patient, "checked_in")
    refused = _post(
        client_for("nurse"),
        session,
        "vitals",
        {"systolic": "13O", "diastolic": "85", "heart_rate": "70", "measured_at": "2026-12-04T09:05"},
    )
    body = refused.content.decode()
    assert refused.status_code == 422 and not VitalSign.objects.exists()
    assert 'value="13O"' in body and 'value="85"' in body and 'value="2026-12-04T09:05"' in body
    assert "Enter a whole number." in body


def test_a_refused_check_in_keeps_what_was_typed(client_for: Any, nurse_world: World, team_patient: Patient) -> None:
    session = _session(nurse_world, team_patient, "scheduled")
    typed = {
        "identity_confirmed": "on",
        "checklist_note": "Ride not arranged until noon",
        "pregnancy_test": "negative",
        "weight_kg": "700",  # out of range: the scale read in pounds
        "last_food_at": "2026-12-04T07:15",
        "last_liquid_at": "2026-12-04T08:40",
        "escort_confirmed": "no",
        "substances_today": "yes",
        "substances_note": "",  # yes, but not what: refused too
    }
    refused = _post(client_for("nurse"), session, "check-in", typed)
    body = refused.content.decode()
    assert refused.status_code == 422 and not CheckIn.objects.filter(session=session).exists()
    assert DosingSession.objects.get(pk=session.pk).state == SessionState.SCHEDULED
    # Each message next to its field, and every typed value (and tick) kept.
    assert 'value="700"><p class="field-error">Weight must be between 20 and 400 kg' in body
    assert 'name="substances_note" maxlength="200" value=""><p class="field-error">Say what was taken and when.' in body
    assert 'name="identity_confirmed" required checked>' in body
    assert 'name="checklist_confirmed">' in body  # left unticked stays unticked
    assert 'value="Ride not arranged until noon"' in body
    assert '<option value="negative" selected>' in body and '<option value="not_applicable" selected>' not in body
    assert 'value="2026-12-04T07:15"' in body and 'value="2026-12-04T08:40"' in body
    assert 'name="escort_confirmed" value="no" checked>' in body
    assert 'name="substances_today" value="yes" checked>' in body
    # A value that is no number at all is refused the same way.
    garbled = _post(client_for("nurse"), session, "check-in", {**typed, "weight_kg": "7O", "substances_note": "Wine"})
    assert garbled.status_code == 422 and not CheckIn.objects.exists()
    assert 'value="7O"><p class="field-error">Enter a number.</p>' in garbled.content.decode()
    # Corrected, it is saved.
    saved = _post(client_for("nurse"), session, "check-in", {**typed, "weight_kg": "70", "substances_note": "Wine"})
    assert saved.status_code == 302 and CheckIn.objects.get(session=session).weight_kg == Decimal("70")


def test_a_refused_dose_order_keeps_what_was_typed(
    client_for: Any, nurse_world: World, team_patient: Patient, two_places: Any
) -> None:
    product, _cart, _safe = two_places
    w = nurse_world
    session = _session(w, team_patient, "cleared")
    prescriber = client_for("prescriber")
    # The planned infusion minutes out of range (dosing.md section 2: 2-100): the order form again, with the dose.
    refused = _post(prescriber, session, "order", {"product": product.pk, "escalate": "0", "infusion_minutes": "400"})
    body = refused.content.decode()
    assert refused.status_code == 422 and not DoseOrder.objects.exists()
    assert 'max="100" value="400" required aria-describedby="order-minutes-hint"><p class="field-error">' in body
    assert "2-100 minutes" in body
    assert f'<option value="{product.pk}" selected>' in body  # the product chosen
    assert f'<input type="hidden" name="product" value="{product.pk}">' in body and "Sign the dose order" in body
    assert "35 mg" in body  # the dose it signs, worked out again (70 kg x 0.5 mg/kg)
    garbled = _post(prescriber, session, "order", {"product": product.pk, "escalate": "0", "infusion_minutes": "4O"})
    assert garbled.status_code == 422 and not DoseOrder.objects.exists()
    assert 'value="4O" required aria-describedby="order-minutes-hint"><p class="field-error">Enter a whole number.' in (
        garbled.content.decode()
    )
    # Someone who may not order never gets the form with the values: refused first (403), nothing stored.
    nurse = _post(client_for("nurse"), session, "order", {"product": product.pk, "infusion_minutes": "400"})
    assert nurse.status_code == 403 and 'value="400"' not in nurse.content.decode()
    signed = _post(prescriber, session, "order", {"product": product.pk, "escalate": "0", "infusion_minutes": "45"})
    assert signed.status_code == 302 and DoseOrder.objects.get(session=session).infusion_minutes == 45


def test_a_dose_order_refused_for_its_override_reason_keeps_it(
    client_for: Any, nurse_world: World, personas: dict[str, User], team_patient: Patient, two_places: Any
) -> None:
    product, _cart, _safe = two_places
    session = _session(nurse_world, team_patient, "scheduled")
    # 320 kg at 0.5 mg/kg is 160 mg: above the 150 mg single parenteral dose (dosing.md section 6 hard stop).
    check_in_make(session, personas["nurse"], "320")
    DosingSession.objects.filter(pk=session.pk).update(state=SessionState.CLEARED)
    typed = {"product": product.pk, "escalate": "0", "infusion_minutes": "50", "override_reason": "Tolerant"}
    refused = _post(client_for("prescriber"), session, "order", typed)
    body = refused.content.decode()
    assert refused.status_code == 422 and not DoseOrder.objects.exists()
    assert 'minlength="10">Tolerant</textarea><p class="field-error">' in body
    assert "An override needs the prescriber&#x27;s written reason." in body
    assert 'max="100" value="50" required' in body  # the other typed value kept too
    assert AccessEvent.objects.filter(action="dose.order", outcome="denied").exists()  # the refusal stays audited


def test_an_unanswered_checklist_reads_not_answered(
    client_for: Any, nurse_world: World, personas: dict[str, User], team_patient: Patient
) -> None:
    session = _session(nurse_world, team_patient, "scheduled")
    PreparationChecklist.objects.create(session=session, updated_by=personas["nurse"])  # created when scheduled
    page = client_for("nurse").get(f"/dosing/sessions/{session.pk}/").content.decode()
    assert "<dt>Medications held</dt><dd>not answered</dd>" in page
    assert "<dt>No driving until tomorrow</dt><dd>not answered</dd>" in page
    PreparationChecklist.objects.filter(session=session).update(updated_by=personas["patient_user"])
    page = client_for("nurse").get(f"/dosing/sessions/{session.pk}/").content.decode()
    assert "<dt>Medications held</dt><dd>no</dd>" in page  # the patient answered, and did not tick it


def test_the_exit_suicide_check_is_a_question_and_unanswered_never_meets_discharge(
    client_for: Any, nurse_world: World, team_patient: Patient
) -> None:
    session = _session(nurse_world, team_patient, "monitoring")

    def criterion(answers: dict[str, Any]) -> Any:
        return next(c for c in discharge_criteria(session, answers) if c.code == "no_new_suicidal_ideation")

    # monitoring.md section 6: not recorded is never met; only an answered "no" meets it.
    assert not criterion({}).met and criterion({}).detail == "Exit suicide check not recorded."
    assert criterion({"new_suicidal_ideation": False}).met
    assert not criterion({"new_suicidal_ideation": True}).met
    page = client_for("nurse").get(f"/dosing/sessions/{session.pk}/").content.decode()
    assert '<input type="radio" name="new_suicidal_ideation" value="no" required>' in page
    assert 'type="checkbox" name="new_suicidal_ideation"' not in page


def test_a_dose_recorded_a_moment_ahead_of_the_clock_does_not_break_the_discharge_criteria(
    client_for: Any, nurse_world: World, team_patient: Patient
) -> None:
    """The service accepts a dose up to a minute ahead of the server's clock; the discharge criteria then count no
    minutes since it (they raised on a negative count, and the session screen answered 500)."""
    session = _session(nurse_world, team_patient, "monitoring")
    dose_given_make(session, nurse_world.people, started=timezone.now() + timedelta(seconds=50), infusion_ended=False)
    criteria = discharge_criteria(session, {})
    assert criteria and not all(c.met for c in criteria)
    assert client_for("nurse").get(f"/dosing/sessions/{session.pk}/").status_code == 200


# Issue 14, one write-view pattern: every step of the screen parses its post with a form and, refused, shows the
# screen again with the form as typed and the service's message next to its field (422; 409 for a stale screen).


def _ordered(client_for: Any, w: World, product: Product) -> DosingSession:
    session = _session(w, w.team, "cleared")
    ordered = _post(client_for("prescriber"), session, "order", {"product": product.pk, "infusion_minutes": 40})
    assert ordered.status_code == 302
    return session


def test_a_refused_administration_keeps_what_was_typed_next_to_the_message(
    client_for: Any, nurse_world: World, two_places: Any
) -> None:
    product, cart, _safe = two_places
    session = _ordered(client_for, nurse_world, product)
    cart_lot = Lot.objects.get(lot_number="LOT-CART")
    started = timezone.localtime() - timedelta(minutes=5)
    typed = {
        "lot": cart_lot.pk,
        "location": cart.pk,  # not the page's default (the safe): what was chosen stays chosen
        "drawn": "5",
        "given": "5",  # 50 mg against an order of 35 mg (70 kg x 0.5 mg/kg)
        "infusion_rate": "75",
        "started_at": started.strftime("%Y-%m-%dT%H:%M"),
        "witness_username": "prescriber",
        "witness_password": PASSWORD,
    }
    refused = _post(client_for("nurse"), session, "administer", typed)
    body = refused.content.decode()
    assert refused.status_code == 422 and not Administration.objects.exists()
    assert 'required value="5"><p class="field-error">50 mg given differs from the order of 35 mg.</p>' in body
    assert f'<option value="{cart.pk}" selected>A crash cart</option>' in body
    assert f'<option value="{cart_lot.pk}" selected>LOT-CART' in body
    assert f'value="{typed["started_at"]}"' in body
    assert 'name="infusion_rate" inputmode="decimal" required value="75"' in body
    assert 'value="prescriber"' in body and f'value="{PASSWORD}"' not in body
    assert 'class="error-summary"' in body  # and listed at the top of the screen, where a refused post lands
    assert AccessEvent.objects.filter(action="session.administer", outcome="denied").exists()


def test_an_infusion_ended_early_keeps_the_reason_typed_next_to_the_message(
    client_for: Any, nurse_world: World, two_places: Any
) -> None:
    product, _cart, safe = two_places
    session = _ordered(client_for, nurse_world, product)
    nurse = client_for("nurse")
    lot = Lot.objects.get(lot_number="LOT-SAFE")
    dose = {"lot": lot.pk, "location": safe.pk, "drawn": "3.5", "given": "3.5", "infusion_rate": "52.5"}
    assert _post(nurse, session, "administer", dose).status_code == 302
    # Ended at once, the 40-minute infusion was a bolus: a reason under 10 characters is no reason (issue 13 rule 5).
    refused = _post(nurse, session, "advance", {"to": "monitoring", "reason": "Pump"})
    body = refused.content.decode()
    assert refused.status_code == 422
    assert DosingSession.objects.get(pk=session.pk).state == SessionState.DOSING
    assert 'rows="2">Pump</textarea><p class="field-error">' in body and "Give the reason it ended early" in body
    ended = _post(nurse, session, "advance", {"to": "monitoring", "reason": "Pump alarm; flushed by hand."})
    assert ended.status_code == 302 and DosingSession.objects.get(pk=session.pk).state == SessionState.MONITORING


def test_a_stale_screen_is_a_conflict_and_keeps_what_was_typed(
    client_for: Any, nurse_world: World, team_patient: Patient
) -> None:
    session = _session(nurse_world, team_patient, "monitoring")
    stale = {"version": session.version - 1, "outcome": "escalated", "reason": "Chest pain; ambulance called."}
    refused = client_for("nurse").post(f"/dosing/sessions/{session.pk}/stop/", stale)
    body = refused.content.decode()
    assert refused.status_code == 409
    assert DosingSession.objects.get(pk=session.pk).state == SessionState.MONITORING
    assert "Someone else updated this session since your screen loaded" in body  # at the top: it names no field
    assert '<details class="card" open>' in body  # the stop form opened again, as typed
    assert 'value="escalated" checked>' in body and ">Chest pain; ambulance called.</textarea>" in body


def test_a_refused_adverse_event_and_a_refused_acknowledgement_keep_what_was_typed(
    client_for: Any, nurse_world: World, personas: dict[str, User], team_patient: Patient
) -> None:
    session = _session(nurse_world, team_patient, "monitoring")
    nurse = client_for("nurse")
    typed = {"what": "Vasovagal episode", "severity": "moderate", "serious": "on", "action": ""}
    refused = _post(nurse, session, "adverse-event", typed)
    body = refused.content.decode()
    assert refused.status_code == 422 and not session.adverse_events.exists()
    assert '<details class="card" id="adverse" open>' in body
    assert 'value="Vasovagal episode">' in body and '<option value="moderate" selected>' in body
    assert 'name="serious" checked>' in body
    assert 'name="action" required value=""><p class="field-error">Say what was done.</p>' in body
    # The alert panel is swapped in by htmx, which swaps only a 200: the panel comes back with the message.
    vital = VitalSign.objects.create(
        session=session, measured_at=timezone.now(), systolic=186, diastolic=100, recorded_by=personas["nurse"]
    )
    alert = session.alerts.create(vital=vital, code="bp_systolic_high", level="alert", message="BP high", source="t")
    panel = nurse.post(
        f"/dosing/sessions/{session.pk}/acknowledge/",
        {"alert": alert.pk, "action_taken": "ok"},
        HTTP_HX_REQUEST="true",
    )
    assert panel.status_code == 200 and 'id="alerts"' in panel.content.decode()
    assert 'value="ok"><p class="field-error">Say what was done' in panel.content.decode()


@pytest.mark.parametrize(
    ("state", "offered"),
    [
        ("scheduled", {"check-in"}),
        ("checked_in", {"vitals", "stop", "adverse-event"}),
        ("held", {"vitals", "stop", "adverse-event"}),
        ("cleared", {"stop", "adverse-event"}),  # the order is the prescriber's
        ("dosing", {"vitals", "event", "advance", "stop", "adverse-event"}),
        ("monitoring", {"vitals", "event", "advance", "discharge", "stop", "adverse-event"}),
        ("recovery", {"vitals", "event", "discharge", "stop", "adverse-event"}),
        ("discharged", {"sign", "adverse-event"}),
        ("cancelled", {"adverse-event"}),
    ],
)
def test_the_screen_offers_the_steps_the_state_table_allows(
    client_for: Any, nurse_world: World, team_patient: Patient, state: str, offered: set[str]
) -> None:
    session = _session(nurse_world, team_patient, state)
    page = client_for("nurse").get(f"/dosing/sessions/{session.pk}/").content.decode()
    steps = {"check-in", "vitals", "event", "advance", "discharge", "stop", "sign", "adverse-event"}
    shown = {step for step in steps if f'action="/dosing/sessions/{session.pk}/{step}/"' in page}
    assert shown == offered


def test_the_events_form_offers_every_in_session_scale_and_a_score_reads_by_its_name(
    client_for: Any, nurse_world: World, personas: dict[str, User], team_patient: Patient
) -> None:
    """The scales come from the instrument registry's in-session use (issue 14, item 3), not a list in the
    template; a recorded score is named as the instrument is published ("CADSS-6"), not by its code."""
    session = _session(nurse_world, team_patient, "monitoring")
    event_record(
        ctx=AuditContext(user=personas["nurse"], channel="test"),
        session_id=session.pk,
        kind="score",
        code="cadss6",
        value="6",
    )
    page = client_for("nurse").get(f"/dosing/sessions/{session.pk}/").content.decode()
    for code in ("dissociation_nrs", "cadss6", "moaas", "rass"):
        assert f'<option value="{code}">' in page
    assert "Score: <strong>CADSS-6</strong> — 6" in page

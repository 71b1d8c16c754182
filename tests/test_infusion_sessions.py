"""IV infusion duration through the pages and the API (issue 13, rule 5): the planned minutes are part of the
order; an infusion ended far sooner (a bolus) is refused without a reason, and the reason is recorded."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import Administration, DoseOrder, DosingSession, SessionState
from tests.conftest import PASSWORD
from tests.probes.world import World
from tests.test_sessions import scheduled, vitals
from tests.test_sessions import stock as ketamine_stock


@pytest.fixture
def ketamine(personas: dict[str, User]) -> Any:
    """Ketamine 10 mg/mL, 20 mL in the safe (the session tests' stock)."""
    return ketamine_stock.__wrapped__(personas)  # type: ignore[attr-defined]


def _cleared(w: World) -> DosingSession:
    session = scheduled(w)
    checked = w.page.post(
        f"/dosing/sessions/{session.pk}/check-in/",
        {
            "version": session.version,
            "identity_confirmed": "on",
            "checklist_confirmed": "on",
            "pregnancy_test": "not_applicable",
            "weight_kg": "80",
        },
    )
    assert checked.status_code == 302
    session.refresh_from_db()
    reading = vitals(w.api, session, systolic=124, diastolic=80, heart_rate=70, spo2=98, respiratory_rate=14)
    assert reading.json()["clearance"] == "clear"
    session.refresh_from_db()
    return session


def _order(api: Any, session: DosingSession, product_id: int, **extra: Any) -> Any:
    return api.post(
        f"/api/v1/dosing-sessions/{session.pk}/orders",
        {"product": product_id, **extra},
        content_type="application/json",
    )


def _give(api: Any, session: DosingSession, lot_id: int, location_id: int, started_at: Any) -> Any:
    return api.post(
        f"/api/v1/dosing-sessions/{session.pk}/administration",
        {
            "lot": lot_id,
            "location": location_id,
            "started_at": started_at.isoformat(),
            "drawn": "4.2",
            "given": "4",
            "infusion_rate_ml_per_h": "75",
            "witness_username": "prescriber",
            "witness_password": PASSWORD,
        },
        content_type="application/json",
    )


def test_the_order_carries_the_planned_minutes(
    client_for: Any, api_for: Any, nurse_world: World, ketamine: Any
) -> None:
    product, _, _ = ketamine
    session = _cleared(nurse_world)
    prescriber = api_for("prescriber")
    for minutes in (1, 101, 0):
        refused = _order(prescriber, session, product.pk, infusion_minutes=minutes)
        assert refused.status_code == 422 and "2-100 minutes" in refused.content.decode(), refused.content
    assert not DoseOrder.objects.exists()
    signed = _order(prescriber, session, product.pk, infusion_minutes=60)
    assert signed.status_code == 201, signed.content
    assert signed.json()["infusion_minutes"] == 60
    assert any("over 40 min" in line and "Sanacora 2017" in line for line in signed.json()["working"])
    page = client_for("nurse").get(f"/dosing/sessions/{session.pk}/").content.decode()
    assert "infused over 60 min" in page


def test_the_page_order_defaults_to_40_minutes(client_for: Any, nurse_world: World, ketamine: Any) -> None:
    product, _, _ = ketamine
    session = _cleared(nurse_world)
    prescriber = client_for("prescriber")
    page = prescriber.get(f"/dosing/sessions/{session.pk}/", {"product": product.pk}).content.decode()
    assert 'name="infusion_minutes"' in page and 'value="40"' in page
    posted = prescriber.post(
        f"/dosing/sessions/{session.pk}/order/",
        {"version": session.version, "product": product.pk, "escalate": "0", "infusion_minutes": "40"},
    )
    assert posted.status_code == 302
    assert DoseOrder.objects.get(session=session).infusion_minutes == 40


def test_an_infusion_ended_far_sooner_needs_a_reason_which_is_kept(
    nurse_world: World, api_for: Any, ketamine: Any
) -> None:
    product, lot, safe = ketamine
    nurse = api_for("nurse")
    with time_machine.travel(timezone.now() - timedelta(minutes=8, seconds=30)):
        session = _cleared(nurse_world)
        assert _order(api_for("prescriber"), session, product.pk).status_code == 201  # the standard 40 minutes
        assert _give(nurse, session, lot.pk, safe.pk, timezone.now()).status_code == 200
    url = f"/api/v1/dosing-sessions/{session.pk}/advance"
    refused = nurse.post(url, {"to": "monitoring"}, content_type="application/json")
    assert refused.status_code == 422
    assert "ran 8 min of the 40 planned: given as a bolus" in refused.content.decode()
    assert AccessEvent.objects.filter(action="session.infusion_end", outcome="denied").exists()
    session.refresh_from_db()
    assert session.state == SessionState.DOSING
    ended = nurse.post(
        url,
        {"to": "monitoring", "reason": "Patient asked to stop: distressing dissociation."},
        content_type="application/json",
    )
    assert ended.status_code == 200, ended.content
    transition = session.transitions.get(to_state="monitoring")
    assert "given as a bolus" in transition.reason and "distressing dissociation" in transition.reason
    assert AccessEvent.objects.filter(action="session.monitoring", detail__short_infusion="bolus").exists()


@pytest.mark.parametrize(("minutes_ago", "needs_reason"), [(42, False), (25, False), (15, True)])
def test_an_infusion_that_ran_about_as_planned_needs_no_reason(
    nurse_world: World, api_for: Any, ketamine: Any, minutes_ago: int, needs_reason: bool
) -> None:
    product, lot, safe = ketamine
    nurse = api_for("nurse")
    with time_machine.travel(timezone.now() - timedelta(minutes=minutes_ago, seconds=30)):
        session = _cleared(nurse_world)
        assert _order(api_for("prescriber"), session, product.pk).status_code == 201
        assert _give(nurse, session, lot.pk, safe.pk, timezone.now()).status_code == 200
    ended = nurse.post(
        f"/api/v1/dosing-sessions/{session.pk}/advance", {"to": "monitoring"}, content_type="application/json"
    )
    assert ended.status_code == (422 if needs_reason else 200), ended.content
    if needs_reason:
        assert "far shorter than ordered" in ended.content.decode()
    assert Administration.objects.get(session=session).given_mg == Decimal("40")

"""A MOAA/S scored during or after the dose raises the monitoring alert on its own (monitoring.md section 3;
instruments.md MOAA/S: <= 3 sedated, <= 1 emergency), as a reading carrying the score would. Before this, a
score recorded as a session event raised nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.monitoring import DEFAULT_POLICY, AlertLevel, VitalReading, reading_alerts, sedation_alerts
from kapclinic.dosing.models import MonitoringAlert
from kapclinic.dosing.selectors import open_alerts_for
from kapclinic.dosing.session_services import event_record
from kapclinic.patients.models import Patient
from tests.probes.dosing import _session
from tests.probes.world import World


@pytest.mark.parametrize(
    ("moaas", "expected"),
    [
        (5, []),
        (4, []),
        (3, [("sedation_deep", AlertLevel.ALERT)]),
        (2, [("sedation_deep", AlertLevel.ALERT)]),
        (1, [("sedation_critical", AlertLevel.CRITICAL)]),
        (0, [("sedation_critical", AlertLevel.CRITICAL)]),
    ],
)
def test_sedation_alerts_follow_the_moaas_rows(moaas: int, expected: list[tuple[str, AlertLevel]]) -> None:
    assert [(a.code, a.level) for a in sedation_alerts(moaas)] == expected
    # The same alert a reading with that score meets.
    with_reading = reading_alerts(VitalReading(heart_rate=80), moaas=moaas)
    assert [(a.code, a.level) for a in with_reading] == expected


def test_sedation_alerts_take_the_clinics_policy_and_refuse_a_score_off_the_scale() -> None:
    stricter = replace(DEFAULT_POLICY, version="clinic-sedation-1", alert_moaas_at_or_below=4)
    assert [a.code for a in sedation_alerts(4, policy=stricter)] == ["sedation_deep"]
    with pytest.raises(ValueError, match="MOAA/S is scored 0-5"):
        sedation_alerts(6)


def _nurse(personas: dict[str, User]) -> AuditContext:
    return AuditContext(user=personas["nurse"], channel="test")


def test_a_moaas_scored_after_the_dose_raises_an_alert_for_the_prescriber_and_the_nurse(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    w = World(client_for("nurse"), api_for("nurse"), team_patient, other_patient, personas)
    session = _session(w, team_patient, "monitoring")
    event = event_record(ctx=_nurse(personas), session_id=session.pk, kind="score", code="moaas", value="1")
    alert = MonitoringAlert.objects.get(session=session)
    assert (alert.event_id, alert.vital_id, alert.code, alert.level) == (
        event.pk,
        None,
        "sedation_critical",
        "critical",
    )
    assert alert in open_alerts_for(personas["prescriber"])
    # The prescriber's home loads its alert panel from /dosing/alerts/; the session screen lists it to acknowledge.
    panel = client_for("prescriber").get("/dosing/alerts/").content.decode()
    assert "MOAA/S 1 (at or below 1): emergency" in panel
    screen = client_for("nurse").get(f"/dosing/sessions/{session.pk}/").content.decode()
    assert "MOAA/S 1 (at or below 1): emergency" in screen and "Acknowledge" in screen
    # A score that is not sedation, or a MOAA/S that is not low, raises nothing more.
    event_record(ctx=_nurse(personas), session_id=session.pk, kind="score", code="cadss6", value="20")
    event_record(ctx=_nurse(personas), session_id=session.pk, kind="score", code="moaas", value="5")
    assert MonitoringAlert.objects.filter(session=session).count() == 1


def test_a_moaas_before_the_dose_is_for_clearance_not_an_alert(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    w = World(client_for("nurse"), api_for("nurse"), team_patient, other_patient, personas)
    session = _session(w, team_patient, "checked_in")
    event_record(ctx=_nurse(personas), session_id=session.pk, kind="score", code="moaas", value="2")
    assert not MonitoringAlert.objects.exists()


def test_an_alert_is_raised_by_a_reading_or_a_score_never_neither(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    w = World(client_for("nurse"), api_for("nurse"), team_patient, other_patient, personas)
    session = _session(w, team_patient, "monitoring")
    with pytest.raises(IntegrityError), transaction.atomic():
        MonitoringAlert.objects.create(session=session, code="x", level="alert", message="m", source="s")

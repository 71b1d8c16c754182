"""The demo clinic holds what the issues' "done when" lines promise, loaded through the services."""

from __future__ import annotations

from datetime import datetime, time

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.dosing.models import AdverseEvent, DosingSession, MonitoringAlert, SessionState
from kapclinic.intake.eligibility import eligibility_for_patient
from kapclinic.intake.models import EligibilityDecision, Evaluation


@pytest.mark.django_db
@pytest.mark.parametrize("loaded_at", [time(9, 0), time(21, 30)])
def test_the_demo_has_todays_sessions_in_several_states_and_both_kinds_of_contraindication(loaded_at: time) -> None:
    """Loaded in the morning or late in the evening, today's board shows every state (a later session stays today)."""
    moment = timezone.make_aware(datetime.combine(timezone.localdate(), loaded_at))
    with time_machine.travel(moment, tick=True):
        _demo_has_todays_sessions_in_several_states_and_both_kinds_of_contraindication()


def _demo_has_todays_sessions_in_several_states_and_both_kinds_of_contraindication() -> None:
    call_command("demo_load", "--quiet")
    today = timezone.localdate()
    states = set(
        DosingSession.objects.filter(scheduled_for__date=today)
        .exclude(state="proposed")
        .values_list("state", flat=True)
    )
    assert {SessionState.DOSING, SessionState.HELD, SessionState.RECOVERY, SessionState.SCHEDULED} <= states
    assert MonitoringAlert.objects.filter(acknowledgement__isnull=True, code__startswith="bp_").exists()
    assert AdverseEvent.objects.filter(review__isnull=True).exists()
    prescriber = User.objects.get(username="prescriber")
    severities = {}
    for evaluation in Evaluation.objects.select_related("patient"):
        findings, _ = eligibility_for_patient(
            ctx=AuditContext(user=prescriber, channel="test"), patient_id=evaluation.patient_id
        )
        severities[evaluation.patient.mrn] = {f.severity for f in findings}
    assert any("absolute" in found for found in severities.values())
    assert any("relative" in found and "absolute" not in found for found in severities.values())
    assert EligibilityDecision.objects.exists()
    # Loading again adds nothing.
    sessions = DosingSession.objects.count()
    call_command("demo_load", "--quiet")
    assert DosingSession.objects.count() == sessions

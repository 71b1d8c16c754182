"""The demo clinic holds what the issues' "done when" lines promise, loaded through the services."""

from __future__ import annotations

import contextlib
import io
import socket
from datetime import datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment
from kapclinic.audit.context import AuditContext
from kapclinic.billing.models import ChargeLine, Decision, SourceKind
from kapclinic.clinical.availability import crowded
from kapclinic.dosing.models import AdverseEvent, CheckIn, Clearance, DosingSession, MonitoringAlert, SessionState
from kapclinic.intake.models import EligibilityDecision, Evaluation
from kapclinic.intake.selectors import eligibility_for_patient
from kapclinic.reminders import sms
from kapclinic.reminders.models import ReminderSent
from kapclinic.signing import Signed
from kapclinic.therapy.models import TherapyNote


@pytest.mark.django_db
@pytest.mark.parametrize("loaded_at", [time(9, 0), time(21, 30)])
def test_the_demo_has_todays_sessions_in_several_states_and_both_kinds_of_contraindication(loaded_at: time) -> None:
    """Loaded in the morning or late in the evening, today's board shows every state (a later session stays today)."""
    moment = timezone.make_aware(datetime.combine(timezone.localdate(), loaded_at))
    with time_machine.travel(moment, tick=True):
        _demo_has_todays_sessions_in_several_states_and_both_kinds_of_contraindication()


def _demo_has_todays_sessions_in_several_states_and_both_kinds_of_contraindication() -> None:
    _demo_loads_under_production_mail_and_text_settings_and_sends_the_clinic_nothing()
    # Every record the demo signed verifies, read back from the database (issue 14, item 6).
    for model in (m for m in apps.get_models() if issubclass(m, Signed)):
        broken = [r.pk for r in model._default_manager.all() if r.is_signed and not r.signature_intact]
        assert not broken, f"{model.__name__} {broken}"
    today = timezone.localdate()
    states = set(
        DosingSession.objects.filter(scheduled_for__date=today)
        .exclude(state="proposed")
        .values_list("state", flat=True)
    )
    assert {SessionState.DOSING, SessionState.HELD, SessionState.RECOVERY, SessionState.SCHEDULED} <= states
    assert MonitoringAlert.objects.filter(acknowledgement__isnull=True, code__startswith="bp_").exists()
    assert AdverseEvent.objects.filter(review__isnull=True).exists()
    # Check-in records fasting, escort and substances (issue 13, rule 6): the held session also asks about food.
    held = Clearance.objects.get(session__state=SessionState.HELD, session__scheduled_for__date=today)
    assert {"bp_systolic_hold", "fasting_food"} <= {f["code"] for f in held.findings}
    assert not CheckIn.objects.filter(session__scheduled_for__date=today, escort_confirmed__isnull=True).exists()
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


@pytest.mark.django_db
def test_the_demo_therapist_has_an_integration_session_due() -> None:
    """Issue 13, defect 3, in the demo: a patient discharged from a dosing session yesterday, with no integration
    session since, is on the demo therapist's "Integration sessions due"; her session record is complete (every
    discharge criterion met, the dose drawn from the ledger when it was given)."""
    call_command("demo_load", "--quiet")
    therapist = Client()
    therapist.force_login(User.objects.get(username="therapist"))
    page = therapist.get("/").content.decode()
    assert "No integration sessions due" not in page
    assert "EXAMPLE, Iris" in page and "Dosing session 1 discharged" in page
    session = DosingSession.objects.select_related("discharge", "administration__ledger_entry").get(
        patient__given_name="Iris", patient__family_name="Example", number=1
    )
    assert session.state == SessionState.DISCHARGED
    assert timezone.localdate(session.discharge.at) == timezone.localdate() - timedelta(days=1)
    assert session.discharge.criteria and all(c["met"] for c in session.discharge.criteria)
    entry = session.administration.ledger_entry
    assert entry.patient_id == session.patient_id and entry.occurred_at == session.administration.started_at
    assert not TherapyNote.objects.filter(patient_id=session.patient_id, kind="integration").exists()
    sessions = DosingSession.objects.count()
    call_command("demo_load", "--quiet")
    assert DosingSession.objects.count() == sessions


@pytest.mark.django_db
def test_the_demo_prescriber_and_therapist_each_see_their_upcoming_appointments() -> None:
    """Issue 13, defect 4, in the demo: an integration session booked with the therapist and an evaluation with the
    prescriber, each on that clinician's home page and on nobody else's."""
    call_command("demo_load", "--quiet")
    pages = {}
    for username in ("prescriber", "therapist", "nurse"):
        client = Client()
        client.force_login(User.objects.get(username=username))
        pages[username] = client.get("/").content.decode()
    assert "Integration session</a> · EXAMPLE, Iris" in pages["therapist"]
    assert "Medical and psychiatric evaluation</a>" in pages["prescriber"]
    assert "Integration session</a>" not in pages["prescriber"]
    assert "No appointments booked with you" not in pages["therapist"] + pages["prescriber"]
    # Issue 16: two rooms, three chairs in the second, the clinicians' hours; Iris's session holds the Garden room.
    from kapclinic.appointments.models import Place, WorkingHours

    assert sorted(Place.objects.filter(kind="room").values_list("name", flat=True)) == ["Garden room", "Infusion suite"]
    assert Place.objects.filter(kind="chair", in_room__name="Infusion suite").count() == 3
    for username in ("prescriber", "nurse", "therapist"):
        assert WorkingHours.objects.filter(user__username=username).exists()
    held = Appointment.objects.get(kind="integration", patient__given_name="Iris").place
    assert held is not None and held.name == "Garden room"
    # A week of bookings of every kind, today's and the coming sessions held as dosing bookings, and no clash.
    booked = list(Appointment.objects.filter(status="booked"))
    assert {a.kind for a in booked} == {"consultation", "evaluation", "preparation", "integration", "dosing"}
    assert DosingSession.objects.filter(booking__isnull=False).count() >= 6
    for one in booked:
        overlapping = [b for b in booked if b.pk != one.pk and b.starts_at < one.ends_at and one.starts_at < b.ends_at]
        assert not [b for b in overlapping if b.place_id is not None and b.place_id == one.place_id], one
        assert not [b for b in overlapping if b.patient_id is not None and b.patient_id == one.patient_id], one
        same_holder = [b for b in overlapping if b.with_user_id == one.with_user_id]
        if one.kind == "dosing":  # a nurse watches up to three at once (clinical.availability KIND_NEEDS)
            assert all(b.kind == "dosing" for b in same_holder), one
            assert not crowded([(b.starts_at, b.ends_at) for b in [one, *same_holder]], 4), one
        else:
            assert not same_holder, one
    count = Appointment.objects.count()
    call_command("demo_load", "--quiet")  # again: nothing twice
    assert Place.objects.count() == 5 and WorkingHours.objects.filter(place__isnull=False).count() == 5
    assert Appointment.objects.count() == count


def test_the_demo_questionnaire_courses_are_scored_in_one_batch_as_score_scores_them() -> None:
    from kapclinic.clinical.instruments import GAD7, PHQ9, score, score_many
    from kapclinic.demo.measures import GAD7_COURSE, PHQ9_COURSE

    for instrument, course in ((PHQ9, PHQ9_COURSE), (GAD7, GAD7_COURSE)):
        answers = [list(week) for week in course]
        assert score_many(instrument, answers) == [score(instrument, week) for week in answers]


@pytest.mark.django_db
def test_the_demo_has_payments_a_balance_a_package_counting_down_and_a_superbill() -> None:
    """Issue 18 items 6, 4 and 2 in the demo: the portal patient paid part of a visit (a balance left) and downloads
    a superbill; a package of six has one signed session counted down; loading again adds nothing."""
    from kapclinic.billing import balances
    from kapclinic.billing.models import MoneyEntry

    call_command("demo_load", "--quiet")
    user = User.objects.get(username="patient")
    patient = user.patient_record
    owed = balances.balance_of(patient.pk)
    assert owed.paid_cents > 0 and owed.balance_cents > 0
    client = Client()
    client.force_login(user)
    page = client.get("/portal/billing/").content.decode()
    assert "You owe" in page
    first = balances.billed_lines(patient.pk).order_by("date_of_service").values_list("date_of_service", flat=True)[0]
    pdf = client.get(
        "/portal/billing/superbill.pdf", {"from": first.isoformat(), "to": timezone.localdate().isoformat()}
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    countdowns = [
        c
        for p in MoneyEntry.objects.values_list("patient_id", flat=True).distinct()
        for c in balances.package_countdowns(p)
    ]
    assert [(c.purchase.sessions, c.sessions_left) for c in countdowns] == [(6, 5)]
    entries = MoneyEntry.objects.count()
    call_command("demo_load", "--quiet")
    assert MoneyEntry.objects.count() == entries


@pytest.mark.django_db
@pytest.mark.demo_scale
def test_the_demo_outcomes_dashboard_has_responders_remitters_non_responders_and_a_relapse(settings: Any) -> None:
    """Issue 19 "Done when": a few hundred synthetic courses make the dashboard meaningful; loading twice adds none."""
    from kapclinic.outcomes.cohorts import CohortFilter, course_rows, figures
    from kapclinic.outcomes.models import OutcomePrompt
    from kapclinic.plans.models import TreatmentPlan

    settings.KAPCLINIC_DEMO_COHORT = 240  # the demo's own size (the suite's default is smaller: tests/conftest.py)
    call_command("demo_load", "--quiet")
    director = User.objects.get(username="director")
    rows = course_rows(ctx=AuditContext(user=director, channel="page"), where=CohortFilter())
    overall = figures("Every course", rows)
    assert overall.started >= 240
    assert overall.response_completers.count >= 50  # responders
    assert overall.remission_completers.count >= 30  # remitters
    assert overall.completers - overall.response_completers.count >= 50  # non-responders
    assert overall.relapsed.count >= 1  # a relapse among the responders
    assert overall.not_evaluable > 0 and overall.with_baseline < overall.started  # some with no baseline
    assert all(overall.durability[months].of > 0 for months in (1, 3, 6))  # follow-ups at 1, 3 and 6 months
    # The prompts came from the rules; the older ones were answered, a few wait for the prescriber.
    assert OutcomePrompt.objects.filter(cleared_at__isnull=True).exists()
    assert OutcomePrompt.objects.filter(cleared_at__isnull=False).count() > 20
    page = Client()
    page.force_login(director)
    body = page.get("/outcomes/").content.decode()
    assert "Relapsed, of responders" in body and f"{overall.started}</td>" in body
    plans = TreatmentPlan.objects.count()
    call_command("demo_load", "--quiet")  # again: nothing twice
    assert TreatmentPlan.objects.count() == plans


@pytest.mark.django_db
def test_the_demo_bills_a_signed_iv_session_and_its_integration_note() -> None:
    """Issue 18, "Done when": a signed IV session with integration therapy has reviewed charge lines with their
    justification (96365 infusion, J3490 ketamine, 90834 integration psychotherapy); loading again adds none."""
    call_command("demo_load", "--quiet")
    approved = ChargeLine.objects.filter(review__decision=Decision.APPROVED).exclude(justification="")
    by_patient: dict[int, dict[str, ChargeLine]] = {}
    for line in approved:
        by_patient.setdefault(line.patient_id, {})[line.code] = line
    billed = [codes for codes in by_patient.values() if {"96365", "J3490", "90834"} <= codes.keys()]
    assert billed, "no patient has approved 96365, J3490 and 90834 lines"
    codes = billed[0]
    infusion = codes["96365"]
    assert infusion.source_kind == SourceKind.DOSING_SESSION and "documented minutes" in infusion.justification
    session = DosingSession.objects.select_related("administration").get(pk=infusion.source_id)
    assert session.signed_at is not None and session.signature_intact
    assert session.administration.route == "iv"
    drug = codes["J3490"]
    assert drug.source_id == session.pk and drug.ndc and drug.ndc_unit == "ML" and drug.ndc_quantity
    therapy = codes["90834"]
    assert therapy.source_kind == SourceKind.THERAPY_NOTE
    note = TherapyNote.objects.get(pk=therapy.source_id)
    assert note.kind == "integration" and note.signed_at is not None and note.minutes == 50
    assert session.ended_at is not None and note.occurred_at > session.ended_at
    lines = ChargeLine.objects.count()
    call_command("demo_load", "--quiet")
    assert ChargeLine.objects.count() == lines


def _demo_loads_under_production_mail_and_text_settings_and_sends_the_clinic_nothing() -> None:
    """`make serve DEMO=1`: the clinic's SMTP server (here none listens: the load failed outright) and text provider
    are never handed the synthetic patients' reminders; they are printed and recorded, and the load completes.
    (Within the test above, which loads the demo anyway: a load costs some 20 s.)"""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    printed = io.StringIO()
    with (
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=closed_port,
            EMAIL_TIMEOUT=2,
            KAPCLINIC_SMS_BACKEND="kapclinic.reminders.sms.LocmemSmsBackend",
        ),
        contextlib.redirect_stdout(printed),
    ):
        sms.outbox.clear()
        call_command("demo_load", "--quiet")
        assert sms.outbox == []
    sent = list(ReminderSent.objects.values_list("to", flat=True))
    assert sent and all(to.endswith(".test") for to in sent if "@" in to)
    assert all(to in printed.getvalue() for to in sent)

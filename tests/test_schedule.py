"""Measurement schedules: due and overdue measures, fulfilment by a response, idempotent reminders."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from kapclinic.clinical.schedule import add_months, follow_up_label, standard_schedule, status_on
from kapclinic.dosing.models import DosingSession, SessionState
from kapclinic.measures.models import ReminderSent, ScheduledMeasure
from kapclinic.measures.tasks import send_measure_reminders
from kapclinic.patients.models import Patient
from tests.probes.records import MODERATE, plan_make


def test_standard_schedule_and_month_ends() -> None:
    milestones = standard_schedule(baseline_on=date(2026, 1, 5), course_end_on=date(2026, 1, 31))
    assert [(m.label, m.due_on) for m in milestones] == [
        ("Baseline", date(2026, 1, 5)),
        ("End of course", date(2026, 1, 31)),
        ("1 month after the course", date(2026, 2, 28)),
        ("3 months after the course", date(2026, 4, 30)),
        ("6 months after the course", date(2026, 7, 31)),
    ]
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    with pytest.raises(ValueError, match="cannot end before its baseline"):
        standard_schedule(baseline_on=date(2026, 2, 1), course_end_on=date(2026, 1, 1))


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (date(2026, 3, 1), "upcoming"),
        (date(2026, 3, 7), "due"),
        (date(2026, 3, 17), "due"),
        (date(2026, 3, 18), "overdue"),
    ],
)
def test_status_edges(today: date, status: str) -> None:
    assert status_on(date(2026, 3, 10), today, completed=False) == status
    assert status_on(date(2026, 3, 10), today, completed=True) == "done"


def _schedule(client: Any, patient: Patient, end: date) -> Any:
    return client.post(
        f"/measures/patients/{patient.pk}/schedule/",
        {
            "instruments": ["phq9", "gad7"],
            "baseline_on": timezone.localdate().isoformat(),
            "course_end_on": end.isoformat(),
        },
    )


def test_schedule_from_the_chart_then_answer_in_the_portal(client_for: Any, team_patient: Patient) -> None:
    _schedule(client_for("coordinator"), team_patient, timezone.localdate() + timedelta(days=21))
    assert ScheduledMeasure.objects.filter(patient=team_patient).count() == 10
    _schedule(client_for("coordinator"), team_patient, timezone.localdate() + timedelta(days=21))
    assert ScheduledMeasure.objects.filter(patient=team_patient).count() == 10  # nothing twice
    portal = client_for("patient_user")
    home = portal.get("/portal/").content.decode()
    assert "Answer: PHQ-9" in home and "Baseline: due" in home
    answers = {str(n): "0" for n in range(1, 11)}
    portal.post("/portal/questionnaires/phq9/", {**answers, "client_token": "5a0c7c4e-1d55-4a8d-9a57-0f7c1d0e6b11"})
    baseline = ScheduledMeasure.objects.get(patient=team_patient, instrument="phq9", label="Baseline")
    assert baseline.response is not None
    end = ScheduledMeasure.objects.get(patient=team_patient, instrument="phq9", label="End of course")
    assert end.response is None  # one response fulfils one measure


def test_a_refused_schedule_shows_the_form_again_with_the_reasons_beside_the_dates(
    client_for: Any, team_patient: Patient
) -> None:
    url = f"/measures/patients/{team_patient.pk}/schedule/"
    refused = client_for("coordinator").post(url, {"instruments": ["pcl5"], "baseline_on": "2026-01-05"})
    page = refused.content.decode()
    assert refused.status_code == 422 and "Enter the end-of-course date." in page
    assert 'id="id_course_end_on_error"' in page  # beside its field
    assert 'value="2026-01-05"' in page and 'value="pcl5" id="id_instruments_2" checked' in page  # what was typed
    nothing = client_for("coordinator").post(url, {"baseline_on": "2026-01-05", "course_end_on": "2026-02-05"})
    assert nothing.status_code == 422 and "Choose at least one questionnaire." in nothing.content.decode()
    assert not ScheduledMeasure.objects.exists()
    assert client_for("outsider_nurse").post(url, {"baseline_on": "2026-01-05"}).status_code == 403


def test_overdue_on_the_coordinators_list(client_for: Any, team_patient: Patient, personas: Any) -> None:
    ScheduledMeasure.objects.create(
        patient=team_patient,
        instrument="gad7",
        label="Baseline",
        due_on=timezone.localdate() - timedelta(days=10),
        created_by=personas["coordinator"],
    )
    body = client_for("coordinator").get("/").content.decode()
    assert "GAD-7, baseline" in body and "overdue" in body and team_patient.mrn in body


def test_reminders_are_sent_once_each_due_then_overdue(team_patient: Patient, personas: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    team_patient.email = "alder@example.test"
    team_patient.save(update_fields=["email"])
    today = timezone.localdate()
    ScheduledMeasure.objects.create(
        patient=team_patient, instrument="phq9", label="Baseline", due_on=today, created_by=personas["coordinator"]
    )
    ScheduledMeasure.objects.create(
        patient=team_patient,
        instrument="gad7",
        label="Later",
        due_on=today + timedelta(days=30),
        created_by=personas["coordinator"],
    )
    ScheduledMeasure.objects.create(
        patient=team_patient, instrument="gad7", label="Baseline", due_on=today, created_by=personas["coordinator"]
    )
    assert send_measure_reminders.call() == 1  # one email for both measures due today
    assert send_measure_reminders.call() == 0  # run again: nothing sent twice
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alder@example.test"]
    assert "PHQ" not in mail.outbox[0].body  # no clinical content by email
    with time_machine.travel(timezone.now() + timedelta(days=9)):
        assert send_measure_reminders.call() == 1  # now overdue: one more, once
        assert send_measure_reminders.call() == 0
    assert sorted(ReminderSent.objects.values_list("kind", flat=True)) == ["due", "due", "overdue", "overdue"]


def test_a_follow_up_is_not_reminded_in_the_middle_of_the_course(
    team_patient: Patient, personas: Any, settings: Any
) -> None:
    """Issue 13, defect 8: the reminders use the portal's and the chart's due date (clinical.schedule.follow_up_due_on,
    outcomes.md section 1: "1 month after course"). A 1-month follow-up dated yesterday, while the patient is in
    the middle of a course (a session 3 days ago, the next in 4 days), is not emailed; a month after the course's
    last session it is, once."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    team_patient.email = "alder@example.test"
    team_patient.save(update_fields=["email"])
    coordinator, prescriber = personas["coordinator"], personas["prescriber"]
    today = timezone.localdate()
    plan = plan_make(
        team_patient,
        personas,
        session_count=2,
        interval_days=7,
        first_session_on=today - timedelta(days=3),
        goals=["Sleep through"],
        measures=["phq9"],
        signed_at=timezone.now(),
        signed_by=prescriber,
        **MODERATE,
    )
    last = timezone.now() + timedelta(days=4)
    for number, when, state in (
        (1, timezone.now() - timedelta(days=3), SessionState.DISCHARGED),
        (2, last, SessionState.SCHEDULED),
    ):
        DosingSession.objects.create(patient=team_patient, plan=plan, number=number, scheduled_for=when, state=state)
    follow_up = ScheduledMeasure.objects.create(
        patient=team_patient,
        instrument="phq9",
        label=follow_up_label(1),
        due_on=today - timedelta(days=1),
        created_by=coordinator,
    )
    assert send_measure_reminders.call() == 0  # mid-course: the follow-up is not due, whatever its stored date
    assert mail.outbox == [] and not ReminderSent.objects.exists()
    really_due = add_months(timezone.localdate(last), 1)
    with time_machine.travel(timezone.make_aware(datetime.combine(really_due, time(12, 0)))):
        assert send_measure_reminders.call() == 1
        assert send_measure_reminders.call() == 0
    assert [(r.scheduled_id, r.kind) for r in ReminderSent.objects.all()] == [(follow_up.pk, "due")]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alder@example.test"]


def test_course_dates_follow_the_frequency_pattern() -> None:
    """dosing.md section 7: twice weekly (Mon/Thu) alternates 3 and 4 days; three times weekly is 2, 2, 3."""
    from kapclinic.clinical.schedule import FREQUENCIES, session_dates

    monday = date(2026, 11, 30)
    assert [d.strftime("%a") for d in session_dates(monday, 4, 3)] == ["Mon", "Thu", "Mon", "Thu"]
    assert [d.strftime("%a") for d in session_dates(monday, 4, 2)] == ["Mon", "Wed", "Fri", "Mon"]
    assert session_dates(monday, 2, 14)[1] == date(2026, 12, 14)
    assert FREQUENCIES[3].per_week == 2  # the Spravato twice-weekly limit holds for this pattern


def test_a_follow_up_counts_from_the_courses_real_end() -> None:
    """outcomes.md section 1: follow-ups are 1, 3 and 6 months "after course". Worked example: a course planned to
    end Nov 4 gave a 1-month follow-up on Dec 4; sessions then run Dec 4 to Dec 21 (a new course), so the
    follow-up is due Jan 21, a month after the last session, not in the middle of the course (issue 13, defect 8)."""
    from kapclinic.clinical.schedule import follow_up_due_on, follow_up_label

    course = [date(2026, 12, 4), date(2026, 12, 7), date(2026, 12, 21)]
    label = follow_up_label(1)
    assert follow_up_due_on(label=label, due_on=date(2026, 12, 4), session_days=course) == date(2027, 1, 21)
    assert follow_up_due_on(label=follow_up_label(3), due_on=date(2027, 2, 4), session_days=course) == date(2027, 3, 21)
    # Sessions all before the planned end: the date stands; so does any measure that is not a follow-up.
    earlier = [date(2026, 10, 20), date(2026, 11, 4)]
    assert follow_up_due_on(label=label, due_on=date(2026, 12, 4), session_days=earlier) == date(2026, 12, 4)
    assert follow_up_due_on(label="Before dosing session 2", due_on=date(2026, 12, 7), session_days=course) == date(
        2026, 12, 7
    )
    assert follow_up_due_on(label="End of course", due_on=date(2026, 11, 4), session_days=course) == date(2026, 11, 4)

"""Background jobs of the measures app, run by Django's task interface (django-tasks, database worker)."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from kapclinic.clinical.schedule import EARLY_WINDOW_DAYS, status_on
from kapclinic.measures.models import ReminderKind, ReminderSent, ScheduledMeasure

REMINDER_SUBJECT = "A questionnaire from your clinic is ready"
# No clinical content in an email: only that something is waiting behind the sign-in.
REMINDER_BODY = (
    "Hello {name},\n\nA short questionnaire from your care team is {state}. Please sign in to your page at the "
    "clinic to answer it.\n\nIf you are in crisis, call or text 988 now.\n"
)


@task()
def send_measure_reminders() -> int:
    """Email each patient about measures that became due or overdue; return how many emails were sent.

    Idempotent: one ReminderSent row per measure and kind, under a unique constraint, written in
    the same transaction as the patient's email; a second run (or a second worker) finds the rows
    and sends nothing again. If sending fails, the rows are rolled back and a later run retries.
    One email per patient per run, whatever the number of measures.
    """
    today = timezone.localdate()
    open_measures = (
        ScheduledMeasure.objects.filter(response__isnull=True, due_on__lte=today + timedelta(days=EARLY_WINDOW_DAYS))
        .exclude(patient__email="")
        .select_related("patient")
        .order_by("patient_id", "due_on")
    )
    by_patient: dict[int, list[ScheduledMeasure]] = {}
    for scheduled in open_measures:
        by_patient.setdefault(scheduled.patient_id, []).append(scheduled)
    emails = 0
    for measures in by_patient.values():
        if _remind(measures, today):
            emails += 1
    return emails


def _remind(measures: list[ScheduledMeasure], today: date) -> bool:
    patient = measures[0].patient
    with transaction.atomic():
        new_kinds = []
        for scheduled in measures:
            overdue = status_on(scheduled.due_on, today, completed=False) == "overdue"
            kind = ReminderKind.OVERDUE if overdue else ReminderKind.DUE
            try:
                with transaction.atomic():  # a savepoint: an existing reminder leaves the rest untouched
                    ReminderSent.objects.create(scheduled=scheduled, kind=kind, to=patient.email)
            except IntegrityError:
                continue  # this reminder was already sent
            new_kinds.append(kind)
        if not new_kinds:
            return False
        send_mail(
            REMINDER_SUBJECT,
            REMINDER_BODY.format(
                name=patient.preferred_name or patient.given_name,
                state="overdue" if ReminderKind.OVERDUE in new_kinds else "due",
            ),
            settings.DEFAULT_FROM_EMAIL,
            [patient.email],
        )
    return True

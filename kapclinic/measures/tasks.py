"""Background jobs of the measures app, run by Django's task interface (django-tasks, database worker)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from kapclinic.measures.models import ReminderKind, ReminderSent
from kapclinic.measures.selectors import DueMeasure, measures_to_remind

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
    One email per patient per run, whatever the number of measures. Due and overdue are decided as the portal
    and the chart decide them (`measures_to_remind`): a follow-up counts from the course's real end.
    """
    by_patient: dict[int, list[DueMeasure]] = {}
    for due in measures_to_remind(today=timezone.localdate()):
        by_patient.setdefault(due.scheduled.patient_id, []).append(due)
    emails = 0
    for measures in by_patient.values():
        if _remind(measures):
            emails += 1
    return emails


def _remind(measures: list[DueMeasure]) -> bool:
    patient = measures[0].scheduled.patient
    with transaction.atomic():
        new_kinds = []
        for due in measures:
            kind = ReminderKind.OVERDUE if due.status == "overdue" else ReminderKind.DUE
            try:
                with transaction.atomic():  # a savepoint: an existing reminder leaves the rest untouched
                    ReminderSent.objects.create(scheduled=due.scheduled, kind=kind, to=patient.email)
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

"""Background jobs of the measures app, run by Django's task interface (django-tasks, database worker)."""

from __future__ import annotations

from datetime import timedelta

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
    """Email each patient once when a measure is due and once more when it is overdue; return how many were sent.

    Idempotent: the reminder row is written before the email, under a unique constraint, in one
    transaction; a second run (or a second worker) finds the row and sends nothing. If sending
    fails, the row is rolled back and a later run tries again.
    """
    today = timezone.localdate()
    open_measures = (
        ScheduledMeasure.objects.filter(response__isnull=True, due_on__lte=today + timedelta(days=EARLY_WINDOW_DAYS))
        .exclude(patient__email="")
        .select_related("patient")
    )
    sent = 0
    for scheduled in open_measures.iterator():
        state = status_on(scheduled.due_on, today, completed=False)
        kind = ReminderKind.OVERDUE if state == "overdue" else ReminderKind.DUE
        try:
            with transaction.atomic():
                ReminderSent.objects.create(scheduled=scheduled, kind=kind, to=scheduled.patient.email)
                send_mail(
                    REMINDER_SUBJECT,
                    REMINDER_BODY.format(
                        name=scheduled.patient.preferred_name or scheduled.patient.given_name,
                        state="overdue" if kind == ReminderKind.OVERDUE else "due",
                    ),
                    settings.DEFAULT_FROM_EMAIL,
                    [scheduled.patient.email],
                )
        except IntegrityError:
            continue  # this reminder was already sent
        sent += 1
    return sent

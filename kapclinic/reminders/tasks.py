"""Background job of the reminders app, run by Django's task interface (django-tasks, database worker)."""

from __future__ import annotations

from django_tasks import task

from kapclinic.reminders.services import reminders_send_due


@task()
def send_booking_reminders() -> int:
    """Send the booking reminders due now (the day before, on the day); return how many were sent. Queued every
    hour by `manage.py reminders_send` (a systemd timer); safe to run twice at once (services.reminder_send)."""
    return reminders_send_due()

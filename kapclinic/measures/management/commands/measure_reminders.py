"""Queue the reminder job (run from cron or a timer; `manage.py db_worker` runs the queue)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from kapclinic.measures.tasks import send_measure_reminders


class Command(BaseCommand):
    help = "Queue the questionnaire reminder job; with --now, run it here and say how many were sent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--now", action="store_true", help="Run the job in this process instead of queueing it.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["now"]:
            self.stdout.write(f"Reminders sent: {send_measure_reminders.call()}")
        else:
            result = send_measure_reminders.enqueue()
            self.stdout.write(f"Reminder job queued: {result.id}")

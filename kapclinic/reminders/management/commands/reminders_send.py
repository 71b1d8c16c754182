"""Queue the booking-reminder job (run hourly from a timer; `manage.py db_worker` runs the queue)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from kapclinic.reminders.tasks import send_booking_reminders


class Command(BaseCommand):
    help = "Queue the booking reminder job; with --now, run it here and say how many were sent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--now", action="store_true", help="Run the job in this process instead of queueing it.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["now"]:
            self.stdout.write(f"Booking reminders sent: {send_booking_reminders.call()}")
        else:
            result = send_booking_reminders.enqueue()
            self.stdout.write(f"Booking reminder job queued: {result.id}")

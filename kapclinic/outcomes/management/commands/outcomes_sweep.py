"""Evaluate the outcome rules for every patient with a signed plan (run daily from cron or a timer).

Scores raise their prompts as they are stored; the sweep catches what time alone brings (a follow-up window that
closes, a course that ends) and is safe to run twice (the prompts are idempotent).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from kapclinic.outcomes.services import prompts_sweep


class Command(BaseCommand):
    help = "Evaluate the outcome rules for every patient with a signed plan and raise the prompts that fire."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Outcome prompts raised: {prompts_sweep()}")

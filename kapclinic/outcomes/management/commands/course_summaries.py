"""Summarise again the courses the cohort figures read (issue 19 item 8; kapclinic/outcomes/course_summaries.py).

Without `--all`: the courses of the patients whose records changed since (the figures do this themselves before
they read; run after an upgrade, it spares the first reader the wait). With `--all`: every course, which a change
of the outcome rules or of an instrument's definitions needs (docs/deploy.md, upgrade steps).
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from kapclinic.outcomes.course_summaries import course_summaries_refresh
from kapclinic.outcomes.models import StoredCourseSummary


class Command(BaseCommand):
    help = "Summarise again the courses of the patients whose records changed (--all: every course)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--all", action="store_true", help="every course, after a change of the outcome rules")

    def handle(self, *args: Any, **options: Any) -> None:
        began = time.monotonic()
        marked = course_summaries_refresh(every_course=options["all"])
        stored = StoredCourseSummary.objects.count()
        which = "every course" if options["all"] else f"the courses whose records changed ({marked} marks)"
        self.stdout.write(f"Summarised {which} in {time.monotonic() - began:.1f} s; {stored} course summaries stored.")

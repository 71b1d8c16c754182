"""Synthetic questionnaire history for the demo: a PHQ-9 course that reaches response and remission,
schedules with something due and something overdue."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.clinical.instruments import INSTRUMENTS, score_many
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.clinical.schedule import standard_schedule
from kapclinic.measures.models import QuestionnaireResponse, ResponseItem, ResponseSource, ScheduledMeasure
from kapclinic.measures.services import schedule_fulfil
from kapclinic.patients.models import Patient

# PHQ-9 answers (items 1-9) week by week for the demo patient: 20 -> 16 -> 11 -> 8 -> 4.
PHQ9_COURSE = (
    (3, 3, 2, 3, 2, 2, 2, 2, 1),
    (2, 2, 2, 2, 2, 2, 2, 2, 0),
    (2, 1, 2, 1, 1, 1, 1, 2, 0),
    (1, 1, 1, 1, 1, 1, 1, 1, 0),
    (1, 0, 1, 1, 0, 1, 0, 0, 0),
)
GAD7_COURSE = ((3, 2, 2, 2, 1, 2, 2), (2, 2, 1, 2, 1, 1, 1), (1, 1, 1, 1, 0, 1, 1))


@transaction.atomic
def measures_demo_ensure(staff: dict[str, User]) -> int:
    """Create the demo questionnaire history once; return how many responses were written."""
    patient = Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + 1))
    if QuestionnaireResponse.objects.filter(patient=patient).exists():
        return 0
    now = timezone.now()
    today = timezone.localdate()
    # The course ended a month ago: the 1-month follow-up is due today.
    for m in standard_schedule(baseline_on=today - timedelta(days=36), course_end_on=today - timedelta(days=30)):
        for code in ("phq9", "gad7"):
            ScheduledMeasure.objects.get_or_create(
                patient=patient,
                instrument=code,
                due_on=m.due_on,
                defaults={"label": m.label, "created_by": staff["coordinator"]},
            )
    written = 0
    for code, course in (("phq9", PHQ9_COURSE), ("gad7", GAD7_COURSE)):
        instrument = INSTRUMENTS[code]
        weeks = len(course)
        # The whole course scored at once: the batch path gives what score() gives, response by response.
        results = score_many(instrument, [list(answers) for answers in course])
        for week, (answers, result) in enumerate(zip(course, results, strict=True)):
            response = QuestionnaireResponse.objects.create(
                patient=patient,
                instrument=code,
                version=instrument.version,
                total=result.total,
                severity=result.severity or "",
                flags=list(result.flags),
                complete=result.complete,
                source=ResponseSource.PORTAL,
                entered_by=patient.user or staff["coordinator"],
                submitted_at=now - timedelta(days=7 * (weeks - week) + 1),
            )
            ResponseItem.objects.bulk_create(
                ResponseItem(response=response, item=item.id, value=value)
                for item, value in zip(instrument.items, answers, strict=False)
            )
            schedule_fulfil(patient.pk, code, response)
            written += 1
    # Two other patients have not answered their baseline PHQ-9: overdue on the coordinator's list.
    for serial in (5, 7):
        other = Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + serial))
        ScheduledMeasure.objects.get_or_create(
            patient=other,
            instrument="phq9",
            due_on=today - timedelta(days=12),
            defaults={"label": "Baseline", "created_by": staff["coordinator"]},
        )
    return written

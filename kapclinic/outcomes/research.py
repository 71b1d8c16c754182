"""The de-identified research export (issue 19 item 6): one CSV row per patient-course with derived outcomes and no
direct identifiers, for the director alone, audited.

De-identification, after HIPAA Safe Harbor (45 CFR 164.514(b)(2)), as the file's header lines say:
- no name, MRN, address, phone, email, insurance id or any other of the 18 identifiers; each patient gets a random
  research id made for this file only (not stored: two exports cannot be linked);
- dates are shifted per patient by a random offset of up to 182 days either way, kept nowhere (not in the file,
  not in the database): intervals within a patient's course stay true. Safe Harbor itself removes every date
  element but the year, so the file says plainly that shifted dates are a departure from it;
- ages over 89 are given as "90+" (164.514(b)(2)(i)(C));
- ZIP codes are dropped: three digits are allowed only where the three-digit area holds more than 20,000 people
  (164.514(b)(2)(i)(B)), and the clinic keeps no census population table to check it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date, timedelta

from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.errors import AccessDenied
from kapclinic.outcomes.cohorts import FOLLOW_UP_MONTHS, CohortFilter, course_rows
from kapclinic.patients.models import Patient
from kapclinic.roles import Action, Scope, scope_for

SHIFT_DAYS = 182
AGE_TOP = 90  # 164.514(b)(2)(i)(C): ages over 89 aggregated into one category of 90 or older

HEADER = (
    "De-identified research export of course outcomes (kapclinic, issue 19 item 6); one row per patient-course.",
    "Method, after HIPAA Safe Harbor 45 CFR 164.514(b)(2): no names, MRNs, addresses, phone numbers, emails, "
    "insurance or other identifiers; research_id is random and made for this file only.",
    f"Dates are shifted per patient by a secret random offset of up to {SHIFT_DAYS} days either way, kept nowhere; "
    "intervals within a patient are true. Safe Harbor itself keeps only years: shifted dates depart from it.",
    f"Ages over 89 are given as {AGE_TOP}+. ZIP codes are dropped: the clinic keeps no census population table to "
    "show a three-digit area holds more than 20,000 people.",
    "Outcomes on the PHQ-9: baseline within 14 days before the first dose, end within 7 days after the last; "
    "blank = not measured (nothing imputed).",
)

COLUMNS = (
    "research_id",
    "age_at_start",
    "sex_at_birth",
    "indication",
    "route",
    "first_dose_shifted",
    "days_first_to_last_dose",
    "finished",
    "phq9_baseline",
    "phq9_end",
    "response",
    "remission",
    "worsened",
    "relapsed",
    "days_to_response",
    *(f"responding_{months}m" for months in FOLLOW_UP_MONTHS),
)


def _age(birth: date, on: date) -> str:
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return f"{AGE_TOP}+" if years >= AGE_TOP else str(years)


def _flag(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def research_rows(*, ctx: AuditContext) -> Iterator[list[object]]:
    """The export's rows (director only: anyone else refused with 403, audited); the export itself is audited."""
    if scope_for(ctx.user.role, Action.OUTCOME_RESEARCH_EXPORT) is not Scope.ALL:
        access_event_record(ctx=ctx, action=Action.OUTCOME_RESEARCH_EXPORT, outcome=Outcome.DENIED)
        raise AccessDenied("Only the clinic director exports the de-identified research file.")
    rows = course_rows(ctx=ctx, where=CohortFilter())
    people = Patient.objects.in_bulk({row.patient_id for row in rows})
    rng = secrets.SystemRandom()
    shifts: dict[int, timedelta] = {}
    ids: dict[int, str] = {}
    access_event_record(ctx=ctx, action=Action.OUTCOME_RESEARCH_EXPORT, detail={"rows": len(rows)})
    for row in sorted(rows, key=lambda r: rng.random()):  # no order that follows the record's
        shift = shifts.setdefault(row.patient_id, timedelta(days=rng.randint(-SHIFT_DAYS, SHIFT_DAYS)))
        research_id = ids.setdefault(row.patient_id, secrets.token_hex(6))
        person = people[row.patient_id]
        outcome = row.outcome
        start = timezone.localdate(row.start)
        yield [
            research_id,
            _age(person.birth_date, start) if person.birth_date else "",
            person.sex_at_birth,
            row.indication,
            row.route,
            (start + shift).isoformat(),
            row.course_days,
            _flag(row.finished),
            "" if outcome.baseline is None else outcome.baseline[1],
            "" if outcome.end is None else outcome.end[1],
            _flag(outcome.response),
            _flag(outcome.remission),
            _flag(outcome.worsened),
            _flag(row.relapsed),
            "" if row.days_to_response is None else row.days_to_response,
            *(_flag(None if p.status not in ("responding", "not responding") else p.status == "responding")
              for p in row.follow_ups),
        ]  # fmt: skip

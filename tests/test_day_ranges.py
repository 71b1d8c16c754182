"""A day's sessions as a range of instants in the clinic's time zone (issue 15, item 3): right across a
daylight-saving change and late in the evening, read without a per-row date function, so an index answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.days import day_range, day_start
from kapclinic.dosing.models import DosingSession, SessionState
from kapclinic.dosing.selectors import sessions_between, sessions_on
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan

NEW_YORK = ZoneInfo("America/New_York")
SPRING = date(2026, 3, 8)  # 23 hours long in New York
AUTUMN = date(2026, 11, 1)  # 25 hours long


def test_day_range_is_local_midnight_to_local_midnight_across_daylight_saving() -> None:
    start, end = day_range(SPRING, zone=NEW_YORK)
    assert (start.hour, start.utcoffset()) == (0, timedelta(hours=-5))
    assert (end.hour, end.utcoffset()) == (0, timedelta(hours=-4))
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
    start, end = day_range(AUTUMN, zone=NEW_YORK)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)
    first, after = day_range(date(2026, 3, 7), date(2026, 3, 9), zone=NEW_YORK)
    assert after.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=71)


def test_a_zone_whose_clocks_jump_at_midnight_starts_the_day_at_its_first_real_minute() -> None:
    santiago = ZoneInfo("America/Santiago")  # 2026-09-06 00:00 does not exist: 00:00 -> 01:00
    start = day_start(date(2026, 9, 6), santiago)
    assert start.astimezone(UTC) == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert start.astimezone(UTC).astimezone(santiago).hour == 1  # 01:00 -03, the day's first real minute


def _plan(personas: dict[str, User], patient: Patient) -> TreatmentPlan:
    prescriber = personas["prescriber"]
    return TreatmentPlan.objects.create(
        patient=patient,
        indication_code="F33.1",
        indication_text="Major depressive disorder, recurrent, moderate",
        route="iv",
        starting_dose_mg_per_kg=Decimal("0.5"),
        session_count=6,
        interval_days=1,
        first_session_on=SPRING,
        session_time=time(9, 0),
        therapist=personas["therapist"],
        goals=["Sleep through"],
        measures=["phq9"],
        dosing_policy_version="test",
        created_by=prescriber,
        signed_at=timezone.now(),
        signed_by=prescriber,
    )


@pytest.mark.django_db
def test_sessions_fall_on_their_local_day_late_in_the_evening_and_on_a_daylight_saving_day(
    personas: dict[str, User], team_patient: Patient, settings: Any
) -> None:
    settings.TIME_ZONE = "America/New_York"
    plan = _plan(personas, team_patient)
    times = {
        1: datetime(2026, 3, 7, 23, 30, tzinfo=NEW_YORK),  # the evening before the change
        2: datetime(2026, 3, 8, 0, 0, tzinfo=NEW_YORK),  # the first instant of the short day
        3: datetime(2026, 3, 8, 23, 30, tzinfo=NEW_YORK),  # 03:30 UTC on the 9th: still the 8th here
        4: datetime(2026, 3, 9, 0, 0, tzinfo=NEW_YORK),
        5: datetime(2026, 11, 1, 23, 30, tzinfo=NEW_YORK),  # the long day's last half hour
        6: datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK),  # the repeated hour, second time round
    }
    for number, when in times.items():
        DosingSession.objects.create(
            patient=team_patient, plan=plan, number=number, scheduled_for=when, state=SessionState.SCHEDULED
        )

    def numbers(first: date, last: date) -> list[int]:
        return [s.number for s in sessions_between(first, last)]

    assert numbers(date(2026, 3, 7), date(2026, 3, 7)) == [1]
    assert numbers(SPRING, SPRING) == [2, 3]
    assert numbers(date(2026, 3, 9), date(2026, 3, 9)) == [4]
    assert numbers(date(2026, 3, 7), date(2026, 3, 9)) == [1, 2, 3, 4]
    assert numbers(AUTUMN, AUTUMN) == [6, 5]
    assert numbers(date(2026, 11, 2), date(2026, 11, 2)) == []
    ctx = AuditContext(user=personas["nurse"], channel="page")
    assert [s.number for s in sessions_on(SPRING, ctx=ctx)] == [2, 3]


@pytest.mark.django_db
def test_the_day_filter_is_a_range_on_the_column_not_a_date_function_per_row(personas: dict[str, User]) -> None:
    with CaptureQueriesContext(connection) as queries:
        sessions_on(SPRING, ctx=AuditContext(user=personas["nurse"], channel="page"))
    sql = next(q["sql"] for q in queries.captured_queries if "dosing_dosingsession" in q["sql"])
    lowered = sql.lower()
    assert "django_datetime_cast_date" not in lowered  # SQLite's Python function per row
    assert "at time zone" not in lowered and "::date" not in lowered  # PostgreSQL's cast per row
    assert '"scheduled_for" >=' in sql and '"scheduled_for" <' in sql


@pytest.mark.django_db
def test_the_day_query_is_answered_by_the_index_on_scheduled_for() -> None:
    start, end = day_range(SPRING)
    plan = DosingSession.objects.filter(scheduled_for__gte=start, scheduled_for__lt=end).explain()
    if connection.vendor == "sqlite":
        assert "USING INDEX" in plan and "scheduled_for" in plan
    else:  # an empty table may be read whole; what matters here is that the planner is allowed the index
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = DosingSession.objects.filter(scheduled_for__gte=start, scheduled_for__lt=end).explain()
        assert "Index" in plan and "scheduled_for" in plan

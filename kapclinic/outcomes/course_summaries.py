"""Each course of the cohort figures summarised in the database (issue 19 item 8): one query, however many courses
and scores, hands back per course only the few scores the outcome rules judge, instead of every score.

Per course (a signed plan with a dose given) the query picks, by the windows of `kapclinic.clinical.outcomes`:
the first and last dose and the sessions still to come; the baseline (`baseline_score`: the latest score in the
14 days up to the first dose, the lowest id among scores of the same instant); the end-of-course score
(`end_of_course_score`); the score nearest each follow-up's target (`durability`: the earliest among equally near
ones); the first score after the first dose that meets the response definition against the latest score up to
the first dose (`days_to_first_response`); and whether, after a first response, the response was lost on
`RELAPSE_CONSECUTIVE` assessments in a row (`relapse`). The rules' constants and the instrument's response
definition are passed in, never restated; the Python rules then build the outcome from these scores
(`outcome_from_scores`, `durability_from_scores`). tests/test_outcome_cohort_summaries.py holds the query to
the per-score rules on generated cohorts.

The summaries are stored (`StoredCourseSummary`, one row per course and instrument) and kept by database triggers
that mark a patient whose scores, sessions, doses or plans change (`StaleCourses`, kapclinic/dbtriggers.py
STALE_MARKING): the figures read the stored rows (`stored_course_summaries`) after summarising the marked patients
again (`course_summaries_refresh`), so their query count and their cost in the database do not grow with the scores.

Scores and doses are compared in the database's own timestamps (text on SQLite, timestamptz on PostgreSQL), so a
score exactly on a window's edge counts as the rules count it; distances to a follow-up's target are whole
microseconds. The dialect's few date expressions are in `_SQLITE` and `_POSTGRESQL`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import QuerySet

from kapclinic.clinical import outcomes as rules
from kapclinic.clinical.instruments import INSTRUMENTS, Instrument
from kapclinic.dosing.selectors import dose_spans, patients_of_sessions, sessions_to_come
from kapclinic.measures.selectors import scored_responses
from kapclinic.outcomes.courses import JUDGED
from kapclinic.outcomes.models import StaleCourses, StoredCourseSummary
from kapclinic.plans.models import TreatmentPlan
from kapclinic.plans.selectors import signed_plans


class CourseSummary(NamedTuple):
    """One course as the query summarises it: what the outcome rules need, nothing more (a named tuple: made tens
    of thousands of times per figure, twice as fast as a frozen dataclass)."""

    plan_id: int
    patient_id: int
    route: str
    indication: str
    prescriber_id: int | None
    therapist_id: int
    first_dose: datetime
    last_dose: datetime
    sessions_to_come: int
    baseline: rules.Score | None
    end: rules.Score | None
    follow_ups: tuple[rules.Score | None, ...]  # one per rules.DURABILITY_WINDOWS
    first_response: datetime | None  # against the latest score up to the first dose (days_to_first_response)
    relapsed: bool  # lost the response on RELAPSE_CONSECUTIVE assessments in a row after a first response


@dataclass(frozen=True)
class _Dialect:
    shift: Callable[[str, int], str]  # a timestamp moved by whole seconds
    add_months: Callable[[str, int], str]  # the same UTC time `months` later, clamped to the month's end
    microseconds: Callable[[str], str]  # the timestamp as whole microseconds since the epoch
    moment: Callable[[Any], datetime]  # the driver's value as an aware datetime


def _sqlite_moment(value: Any) -> datetime:
    # Django stores an aware datetime on SQLite as naive UTC text ("YYYY-MM-DD HH:MM:SS[.ffffff]"); a column declared
    # datetime comes back through Django's converter, still naive.
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


_SQLITE = _Dialect(
    # Seconds and the fraction apart: SQLite's date functions keep milliseconds only.
    shift=lambda x, seconds: f"(datetime(substr({x}, 1, 19), '{seconds:+d} seconds') || substr({x}, 20))",
    # "+1 months" on 31 January gives 3 March: the smaller of it and the target month's last day is
    # schedule.add_months's day.
    add_months=lambda x, months: (
        f"(min(date(substr({x}, 1, 10), '+{months} months'),"
        f" date(substr({x}, 1, 10), 'start of month', '+{months + 1} months', '-1 day')) || substr({x}, 11))"
    ),
    microseconds=lambda x: (
        f"(CAST(strftime('%%s', substr({x}, 1, 19)) AS INTEGER) * 1000000"
        f" + CASE WHEN length({x}) > 19 THEN CAST(substr({x}, 21) AS INTEGER) ELSE 0 END)"
    ),
    moment=_sqlite_moment,
)

_POSTGRESQL = _Dialect(
    # Seconds, not days: a day of the session's time zone is not always 24 hours.
    shift=lambda x, seconds: f"({x} + interval '{seconds:d} seconds')",
    # PostgreSQL clamps to the month's end like schedule.add_months; the calendar is UTC's, as in the rules.
    add_months=lambda x, months: f"((({x}) AT TIME ZONE 'UTC' + interval '{months:d} months') AT TIME ZONE 'UTC')",
    microseconds=lambda x: f"CAST(EXTRACT(EPOCH FROM {x}) * 1000000 AS BIGINT)",
    moment=lambda value: value,
)


def _responding(instrument: Instrument, baseline: str, current: str) -> str:
    """`instruments.response(baseline, current, instrument)` as a 0/1 SQL expression (0 without a definition)."""
    rule = instrument.response_rule
    if rule is None:
        return "0"
    if rule.percent is not None:  # as instruments.response: a zero baseline cannot halve
        condition = f"{baseline} > 0 AND ({baseline} - {current}) * 100 >= {int(rule.percent)} * {baseline}"
    else:
        assert rule.points is not None
        condition = f"{baseline} - {current} >= {int(rule.points)}"
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def _sql(dialect: _Dialect, instrument: Instrument) -> str:
    us = dialect.microseconds
    windows = rules.DURABILITY_WINDOWS
    targets = ", ".join(
        f"{dialect.add_months('s.last_at', months)} AS target{n}" for n, (months, _) in enumerate(windows)
    )
    bounds = ", ".join(
        f"{dialect.shift(f'target{n}', -days * 86400)} AS from{n}, {dialect.shift(f'target{n}', days * 86400)} AS to{n}"
        for n, (_, days) in enumerate(windows)
    )
    # Roles of a score for a course: 0 baseline window, 1 end-of-course window, 2+n the n-th follow-up window
    # (the windows do not overlap); k1 orders a role's candidates, the first wins as in the rules.
    role = " ".join(f"WHEN p.at >= p.from{n} AND p.at <= p.to{n} THEN {2 + n}" for n in range(len(windows)))
    distance = " ".join(f"WHEN {2 + n} THEN abs({us('c.at')} - {us(f'c.target{n}')})" for n in range(len(windows)))
    picked = ", ".join(
        f"MAX(CASE WHEN role = {r} AND first_rank = 1 THEN at END) AS at{r},"
        f" MAX(CASE WHEN role = {r} AND first_rank = 1 THEN total END) AS total{r}"
        for r in range(2 + len(windows))
    )
    picked_columns = ", ".join(f"k.at{r}, k.total{r}" for r in range(2 + len(windows)))
    return f"""
WITH plan (id, patient_id, route, indication, prescriber_id, therapist_id, created_at) AS ({{plans}}),
span (plan_id, first_at, last_at) AS ({{spans}}),
to_come (plan_id, n) AS ({{to_come}}),
score (id, patient_id, at, total) AS NOT MATERIALIZED ({{scores}}),
course_end AS MATERIALIZED (
  SELECT s.plan_id, p.patient_id, s.first_at, s.last_at,
    {dialect.shift("s.first_at", -_seconds(rules.BASELINE_WINDOW))} AS baseline_from,
    {dialect.shift("s.last_at", _seconds(rules.END_OF_COURSE_WINDOW))} AS end_to,
    {targets}
  FROM span s JOIN plan p ON p.id = s.plan_id
),
course AS MATERIALIZED (SELECT c.*, {bounds} FROM course_end c),
candidate AS MATERIALIZED (
  SELECT c.plan_id, c.role, c.at, c.total, c.id, CASE c.role
      WHEN 0 THEN {us("c.first_at")} - {us("c.at")}
      WHEN 1 THEN {us("c.at")} - {us("c.last_at")}
      {distance} END AS k1
  FROM (
    SELECT p.*, CASE WHEN p.at <= p.first_at THEN 0 WHEN p.at > p.last_at AND p.at <= p.end_to THEN 1 {role} END AS role
    FROM (
      SELECT c.*, sc.id, sc.at, sc.total
      FROM course c JOIN score sc ON sc.patient_id = c.patient_id AND sc.at >= c.baseline_from
    ) p
  ) c
  WHERE c.role IS NOT NULL
),
ranked AS (
  SELECT plan_id, role, at, total,
    ROW_NUMBER() OVER (PARTITION BY plan_id, role ORDER BY k1, at, id) AS first_rank,
    ROW_NUMBER() OVER (PARTITION BY plan_id, role ORDER BY k1, at, id DESC) AS last_rank
  FROM candidate
),
picks AS MATERIALIZED (
  SELECT plan_id, {picked}, MAX(CASE WHEN role = 0 AND last_rank = 1 THEN total END) AS latest_total
  FROM ranked WHERE first_rank = 1 OR (role = 0 AND last_rank = 1) GROUP BY plan_id
),
with_baseline AS MATERIALIZED (
  SELECT c.plan_id, c.patient_id, c.first_at, k.total0 AS baseline, k.latest_total
  FROM course c JOIN picks k ON k.plan_id = c.plan_id
  WHERE k.total0 IS NOT NULL
),
judged AS (
  SELECT c.plan_id, sc.at, sc.id,
    {_responding(instrument, "c.baseline", "sc.total")} AS responding,
    {_responding(instrument, "c.latest_total", "sc.total")} AS responding_to_latest
  FROM with_baseline c JOIN score sc ON sc.patient_id = c.patient_id AND sc.at > c.first_at
),
run AS (
  SELECT plan_id, responses_so_far, SUM(1 - responding) AS lost_in_a_row,
    MIN(CASE WHEN responding_to_latest = 1 THEN at END) AS first_response
  FROM (
    SELECT j.*, SUM(responding) OVER (PARTITION BY plan_id ORDER BY at, id ROWS UNBOUNDED PRECEDING) AS responses_so_far
    FROM judged j
  ) counted
  GROUP BY plan_id, responses_so_far
),
sequence AS (
  SELECT plan_id, MIN(first_response) AS first_response,
    MAX(CASE WHEN responses_so_far > 0 AND lost_in_a_row >= {int(rules.RELAPSE_CONSECUTIVE)} THEN 1 ELSE 0 END)
      AS relapsed
  FROM run GROUP BY plan_id
)
SELECT c.plan_id, p.patient_id, p.route, p.indication, p.prescriber_id, p.therapist_id, c.first_at, c.last_at,
  COALESCE(t.n, 0) AS to_come, {picked_columns}, q.first_response, COALESCE(q.relapsed, 0) AS relapsed
FROM course c
JOIN plan p ON p.id = c.plan_id
LEFT JOIN picks k ON k.plan_id = c.plan_id
LEFT JOIN to_come t ON t.plan_id = c.plan_id
LEFT JOIN sequence q ON q.plan_id = c.plan_id
ORDER BY p.created_at DESC, c.plan_id DESC
"""  # noqa: S608 - SQL from code; the rules' numbers go through int()


def _compiled(query: QuerySet[Any, Any]) -> tuple[str, tuple[Any, ...]]:
    sql, params = query.query.sql_with_params()
    return sql, tuple(params)


def _summaries_sql(plans: QuerySet[TreatmentPlan], instrument: Instrument) -> tuple[str, list[Any]]:
    dialect = _POSTGRESQL if connection.vendor == "postgresql" else _SQLITE
    ids = plans.order_by().values("pk")
    parts = {
        "plans": _compiled(
            plans.order_by().values_list(
                "pk", "patient_id", "route", "indication_code", "signed_by_id", "therapist_id", "created_at"
            )
        ),
        "spans": _compiled(dose_spans(ids)),
        "to_come": _compiled(sessions_to_come(ids)),
        "scores": _compiled(
            scored_responses(plans.order_by().values("patient_id"), [instrument.code]).values_list(
                "id", "patient_id", "submitted_at", "total"
            )
        ),
    }
    sql = _sql(dialect, instrument).format(**{name: part[0] for name, part in parts.items()})
    return sql, [param for _, part_params in parts.values() for param in part_params]


def _summary(row: tuple[Any, ...], moment: Callable[[Any], datetime]) -> CourseSummary:
    """A row of the query (or of the stored summaries, whose columns are in the same order) as a CourseSummary."""
    plan_id, patient_id, route, indication, prescriber_id, therapist_id, first, last, to_come = row[:9]
    at = row[9:_PICKED_END:2]
    totals = row[10:_PICKED_END:2]
    scores = [None if at[r] is None else (moment(at[r]), totals[r]) for r in _PICKED]
    first_response, relapsed = row[_PICKED_END:]
    return CourseSummary(
        plan_id,
        patient_id,
        route,
        indication,
        prescriber_id,
        therapist_id,
        moment(first),
        moment(last),
        to_come,
        scores[0],
        scores[1],
        tuple(scores[2:]),
        None if first_response is None else moment(first_response),
        bool(relapsed),
    )


_PICKED = range(2 + len(rules.DURABILITY_WINDOWS))  # the baseline, the end and each follow-up: (at, total) each
_PICKED_END = 9 + 2 * len(_PICKED)


def course_summaries(plans: QuerySet[TreatmentPlan], instrument: Instrument) -> list[CourseSummary]:
    """Each course among `plans` (a query of signed plans, already filtered to what the reader may count) with a
    dose given, summarised for `instrument`, newest plan first, in one query. Callers have checked access."""
    dialect = _POSTGRESQL if connection.vendor == "postgresql" else _SQLITE
    sql, params = _summaries_sql(plans, instrument)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_summary(row, dialect.moment) for row in cursor.fetchall()]


# --- The summaries stored (issue 19 item 8) ---------------------------------------------------------------------
#
# Summarising every course takes seconds at 50,000 courses; a course's summary changes only when its patient's
# scores, sessions, doses or plan do. So the summaries are stored (StoredCourseSummary), the database's triggers
# mark the patient whose records changed (StaleCourses; kapclinic/dbtriggers.py STALE_MARKING), and the figures
# summarise only the marked patients again before they read: a fixed number of queries whatever the data.

SUMMARISED = JUDGED  # the instruments the figures offer: each course is stored summarised for each of them

# The stored columns, in the order of the query's columns (`_summary` reads both alike).
_STORED_COLUMNS = (
    "plan_id", "patient_id", "route", "indication", "prescriber_id", "therapist_id", "first_dose", "last_dose",
    "sessions_to_come", "baseline_at", "baseline_total", "end_at", "end_total",
    *(f"follow_up{n + 1}_{part}" for n in range(len(rules.DURABILITY_WINDOWS)) for part in ("at", "total")),
    "first_response", "relapsed",
)  # fmt: skip
_QUERY_COLUMNS = (
    "plan_id", "patient_id", "route", "indication", "prescriber_id", "therapist_id", "first_at", "last_at", "to_come",
    *(f"{part}{r}" for r in range(2 + len(rules.DURABILITY_WINDOWS)) for part in ("at", "total")),
    "first_response", "relapsed",
)  # fmt: skip
assert len(_STORED_COLUMNS) == len(_QUERY_COLUMNS), "a follow-up window without its stored columns"

# Any constant: the refreshes of the summaries take turns on it (PostgreSQL; SQLite's write lock does it there).
_REFRESH_LOCK = 190_008


def _store_sql(plans: QuerySet[TreatmentPlan], instrument: Instrument) -> tuple[str, list[Any]]:
    """INSERT ... SELECT of the summaries of `plans` for `instrument`: the rows never come into Python."""
    sql, params = _summaries_sql(plans, instrument)
    table = StoredCourseSummary._meta.db_table
    named = ", ".join(f"summary.{name}" for name in _QUERY_COLUMNS[:-1])
    insert = (
        f"INSERT INTO {table} (instrument, {', '.join(_STORED_COLUMNS)}) "  # noqa: S608 - names from code
        f"SELECT %s, {named}, (summary.relapsed = 1) FROM ({sql}) AS summary"
    )
    return insert, [instrument.code, *params]


def course_summaries_refresh(*, every_course: bool = False) -> int:
    """Summarise again, for each instrument of SUMMARISED, the courses of the patients marked stale (or every
    course), and clear their marks, in one transaction; return the number of marks cleared (a patient, or a
    session whose doses changed). Safe when two requests refresh at once: they take turns, and a change committed
    meanwhile leaves its mark for the next."""
    marks = StaleCourses.objects.all()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REFRESH_LOCK])
        # A dose marks its session: its patient marked instead, so that one list says whose courses go.
        sessions, params = _compiled(patients_of_sessions(marks.filter(session__isnull=False).values("session_id")))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {StaleCourses._meta.db_table} (patient_id, claimed) "  # noqa: S608 - names from code
                f"SELECT DISTINCT patient_id, %s FROM ({sessions}) AS dosed WHERE true ON CONFLICT DO NOTHING",
                [False, *params],
            )
        # Claimed, not deleted: the marks also say whose summaries go. On PostgreSQL the claim locks each mark, so
        # a change to a claimed patient committed now waits for this commit and then marks the patient afresh.
        marked = marks.filter(claimed=False).update(claimed=True)
        plans = signed_plans()
        if every_course or marked > _EVERY_COURSE_FROM:
            StoredCourseSummary.objects.all().delete()
        else:
            whose = marks.filter(claimed=True, patient__isnull=False).values("patient_id")
            plans = plans.filter(patient_id__in=whose)
            StoredCourseSummary.objects.filter(patient_id__in=whose).delete()
        with connection.cursor() as cursor:
            for code in SUMMARISED:
                cursor.execute(*_store_sql(plans, INSTRUMENTS[code]))
        marks.filter(claimed=True).delete()
    return marked


# Beyond this many marks (after a load, an import, an upgrade) one pass over every score summarises every course
# faster than the per-patient probes, whose plans both databases misjudge at tens of thousands of patients
# (bench/outcomes.py: 18 s for 5,000 marked courses on PostgreSQL, against 1 s for all of them in one pass).
_EVERY_COURSE_FROM = 500


def stored_course_summaries(plans: QuerySet[TreatmentPlan], instrument: Instrument) -> list[CourseSummary]:
    """`course_summaries(plans, instrument)` read from the stored summaries, after summarising again the courses
    of the patients marked stale: what the cohort figures read. A fixed number of queries whatever the data."""
    if instrument.code not in SUMMARISED:  # not stored: summarised on the spot
        return course_summaries(plans, instrument)
    if StaleCourses.objects.exists():
        course_summaries_refresh()
    table, plan_table = StoredCourseSummary._meta.db_table, TreatmentPlan._meta.db_table
    ids, params = _compiled(plans.order_by().values("pk"))
    # Each timestamp as ISO text with its zone, which datetime.fromisoformat reads in one call: not the column
    # itself, which Django's converter (SQLite) or loader (PostgreSQL, psycopg's Python date parser) reads ten
    # times slower. Tens of thousands of rows, seven timestamps each.
    if connection.vendor == "postgresql":
        as_text = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    else:
        as_text = "({} || '+00:00')"  # Django keeps an aware datetime on SQLite as naive UTC text
    columns = ", ".join(
        as_text.format(f"s.{name}") if name in _STORED_MOMENTS else f"s.{name}" for name in _STORED_COLUMNS
    )
    moment = datetime.fromisoformat
    sql = (
        f"SELECT {columns} FROM {table} s JOIN {plan_table} p ON p.id = s.plan_id "  # noqa: S608 - names from code
        f"WHERE s.instrument = %s AND s.plan_id IN ({ids}) ORDER BY p.created_at DESC, s.plan_id DESC"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [instrument.code, *params])
        return [_summary(row, moment) for row in cursor.fetchall()]


_STORED_MOMENTS = frozenset(
    field.column for field in StoredCourseSummary._meta.concrete_fields if field.get_internal_type() == "DateTimeField"
)

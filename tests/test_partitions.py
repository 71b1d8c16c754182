"""The audit log and the vitals partitioned by month on PostgreSQL (kapclinic/dbpartitions.py; issue 15, item 4);
the foreign keys to a vital kept by trigger (kapclinic/dbtriggers.py REFERENCES_CHECKED), on both backends."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.chain import chain_append
from kapclinic.audit.models import AccessEvent, Channel
from kapclinic.dbpartitions import (
    PARTITIONED,
    default_partition_name,
    month_after,
    month_partition_name,
    month_partitions_create,
    month_start,
)
from kapclinic.dbtriggers import triggers_present
from kapclinic.dosing.models import Clearance, DosingSession, MonitoringAlert, SessionState, VitalSign
from kapclinic.dosing.selectors import session_vitals
from kapclinic.plans.models import TreatmentPlan
from tests.probes.records import check_in_make

TABLE = "audit_accessevent"
VITALS = "dosing_vitalsign"
TWO_ROLES = "owner" in settings.DATABASES

F = Callable[..., None]


def postgres_committed(test: F) -> F:
    databases = ["default", "owner"] if TWO_ROLES else ["default"]
    marked: F = pytest.mark.postgres_only(pytest.mark.django_db(transaction=True, databases=databases)(test))
    return marked


def _owner() -> Any:
    return connections["owner"] if TWO_ROLES else connection


def _partition_of(row_id: int, table: str = TABLE) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [row_id])  # noqa: S608
        return str(cursor.fetchone()[0])


def _partitions(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass", [table])
        return {row[0] for row in cursor.fetchall()}


def _event(user: User, at: datetime) -> AccessEvent:
    row = AccessEvent(
        occurred_at=at, user=user, username=user.username, role=user.role, action="test.read", channel=Channel.SYSTEM
    )
    with transaction.atomic():
        chain_append([row])
    return row


@pytest.fixture
def checked_in(plan: TreatmentPlan, personas: dict[str, User]) -> DosingSession:
    """A session of the team patient under way: checked in twenty minutes ago."""
    session = DosingSession.objects.create(
        patient=plan.patient, plan=plan, number=1, scheduled_for=timezone.now(), state=SessionState.CHECKED_IN
    )
    check_in_make(session, personas["nurse"], at=timezone.now() - timedelta(minutes=20))
    return session


def _vital(session: DosingSession, nurse: User, at: datetime, **fields: Any) -> VitalSign:
    return VitalSign.objects.create(
        session=session, measured_at=at, systolic=120, diastolic=80, heart_rate=70, spo2=98, recorded_by=nurse, **fields
    )


@pytest.fixture
def row_at(personas: dict[str, User], checked_in: DosingSession) -> Callable[[str, datetime], int]:
    """Add a row to a partitioned table (an audit event or a vital) timed `at`; return its id."""

    def make(table: str, at: datetime) -> int:
        if table == TABLE:
            return int(_event(personas["director"], at).pk)
        return int(_vital(checked_in, personas["nurse"], at).pk)

    return make


@postgres_committed
@pytest.mark.parametrize(("table", "key"), PARTITIONED.items())
def test_each_table_is_partitioned_by_month_with_a_default(personas: dict[str, User], table: str, key: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partstrat, a.attname FROM pg_partitioned_table p JOIN pg_attribute a "
            "ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] WHERE partrelid = %s::regclass",
            [table],
        )
        assert cursor.fetchone() == ("r", key)
        cursor.execute(
            "SELECT a.attname FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid "
            "AND a.attnum = ANY(x.indkey) WHERE x.indrelid = %s::regclass AND x.indisprimary ORDER BY a.attname",
            [table],
        )
        assert [row[0] for row in cursor.fetchall()] == sorted(["id", key])
        cursor.execute("SELECT count(*) FROM pg_constraint WHERE confrelid = %s::regclass", [table])
        assert cursor.fetchone() == (0,)  # nothing can point at it by foreign key: REFERENCES_CHECKED does
    partitions = _partitions(table)
    this_month = month_start(timezone.now().date())
    assert default_partition_name(table) in partitions
    assert month_partition_name(table, this_month) in partitions
    for model in (AccessEvent, VitalSign):
        assert model._meta.pk is not None and model._meta.pk.name == "id"  # Django's pk is unchanged


@postgres_committed
def test_a_row_lands_in_its_months_partition_and_a_far_one_in_default(personas: dict[str, User]) -> None:
    now = timezone.now()
    here = _event(personas["director"], now)
    far = _event(personas["director"], datetime(2090, 1, 1, tzinfo=UTC))
    assert _partition_of(here.pk) == month_partition_name(TABLE, month_start(now.astimezone(UTC).date()))
    assert _partition_of(far.pk) == default_partition_name(TABLE)
    assert far.pk > here.pk  # one sequence for every partition
    out = io.StringIO()
    call_command("verify_audit", "--chain", "audit", stdout=out)  # the chain runs across partitions
    assert "audit" in out.getvalue()


@postgres_committed
def test_a_vital_lands_in_the_month_it_was_measured(
    personas: dict[str, User], checked_in: DosingSession, row_at: Callable[[str, datetime], int]
) -> None:
    now = timezone.now()
    here = row_at(VITALS, now)
    long_ago = row_at(VITALS, datetime(2001, 1, 1, tzinfo=UTC))  # no month of its own: DEFAULT
    assert _partition_of(here, VITALS) == month_partition_name(VITALS, month_start(now.astimezone(UTC).date()))
    assert _partition_of(long_ago, VITALS) == default_partition_name(VITALS)
    assert long_ago > here  # one sequence for every partition
    assert VitalSign.objects.get(pk=here).session_id == checked_in.pk  # read by id alone, through the parent


@postgres_committed
@pytest.mark.parametrize("table", PARTITIONED)
def test_the_partitions_refuse_update_delete_and_truncate_even_to_the_owner(
    row_at: Callable[[str, datetime], int], table: str
) -> None:
    # For the vitals this is why a trigger checking a reference at insert is enough: an id once there stays.
    row = row_at(table, timezone.now())
    partition = _partition_of(row, table)
    assert triggers_present(connection, table)
    owner = _owner()
    # Table names and ids from this test, not input.
    for sql in (
        f"UPDATE {partition} SET id = id WHERE id = {row}",  # noqa: S608
        f"DELETE FROM {partition} WHERE id = {row}",  # noqa: S608
        f"TRUNCATE {partition}",
        f"TRUNCATE {default_partition_name(table)}",
        f"UPDATE {table} SET id = id + 1000",  # noqa: S608
        f"DELETE FROM {table}",  # noqa: S608
    ):
        with pytest.raises(DatabaseError, match=r"append-only: \w+ refused"), transaction.atomic(using=owner.alias):
            owner.cursor().execute(sql)
    if TWO_ROLES:  # the application role has no privilege on a partition at all
        for sql in (f"SELECT 1 FROM {partition}", f"INSERT INTO {partition} (id) VALUES (1)"):  # noqa: S608
            with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                connection.cursor().execute(sql)


@postgres_committed
def test_partitions_ahead_creates_the_coming_months_once(row_at: Callable[[str, datetime], int]) -> None:
    out = io.StringIO()
    call_command("partitions_ahead", "--months", "6", stdout=out)
    months = [month_start(timezone.now().date())]
    for _ in range(6):
        months.append(month_after(months[-1]))
    for table in PARTITIONED:
        names = [month_partition_name(table, month) for month in months]
        assert set(names) <= _partitions(table)
        # Rows reach a new partition through the partitioned table.
        last_day = datetime(months[-1].year, months[-1].month, 28, tzinfo=UTC)
        assert _partition_of(row_at(table, last_day), table) == names[-1]
    again = io.StringIO()
    call_command("partitions_ahead", "--months", "6", stdout=again)
    for table in PARTITIONED:
        assert f"{table}: every month already has its partition" in again.getvalue()


def _missing_vital_id() -> int:
    return (VitalSign.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1000


def _references(session: DosingSession, nurse: User, vital_id: int) -> list[Callable[[], object]]:
    """The three ways a row points at a vital: a clearance, an alert, a correction."""
    return [
        lambda: Clearance.objects.create(
            session=session, vital_id=vital_id, status="clear", policy_version="t", by=nurse
        ),
        lambda: MonitoringAlert.objects.create(
            session=session, vital_id=vital_id, code="bp_high", level="warning", message="m", source="s"
        ),
        lambda: _vital(session, nurse, timezone.now(), corrects_id=vital_id, correction_reason="typo"),
    ]


@pytest.mark.django_db
def test_a_reference_to_a_vital_that_is_not_there_is_refused(
    personas: dict[str, User], checked_in: DosingSession
) -> None:
    """Both backends: on PostgreSQL the check waits for the commit, as Django's foreign keys do, unless asked now."""
    nurse = personas["nurse"]
    for write in _references(checked_in, nurse, _missing_vital_id()):
        with pytest.raises(IntegrityError, match="no dosing_vitalsign row has that id"), transaction.atomic():
            if connection.vendor == "postgresql":
                connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")
            write()
    vital = _vital(checked_in, nurse, timezone.now())
    with transaction.atomic():
        if connection.vendor == "postgresql":
            connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")
        made = [write() for write in _references(checked_in, nurse, vital.pk)]
    assert len(made) == 3 and Clearance.objects.get(vital=vital).vital == vital


@postgres_committed
def test_a_missing_vital_is_refused_at_commit_and_the_pathway_commits(
    personas: dict[str, User], checked_in: DosingSession
) -> None:
    nurse = personas["nurse"]
    for write in _references(checked_in, nurse, _missing_vital_id()):
        with pytest.raises(IntegrityError, match="no dosing_vitalsign row has that id"), transaction.atomic():
            write()  # refused when the transaction commits
    with transaction.atomic():  # a reading and what points at it, in one transaction as vital_record writes them
        vital = _vital(checked_in, nurse, timezone.now(), predose=True)
        for write in _references(checked_in, nurse, vital.pk):
            write()
    assert Clearance.objects.filter(vital=vital).count() == MonitoringAlert.objects.filter(vital=vital).count() == 1
    assert VitalSign.objects.filter(corrects=vital).count() == 1


@postgres_committed
def test_a_sessions_vitals_skip_the_months_before_its_check_in(
    personas: dict[str, User], checked_in: DosingSession
) -> None:
    """EXPLAIN of the session record's query (selectors.session_vitals): an earlier month is never read."""
    last_year = month_start(month_start(timezone.now().date()) - timedelta(days=330))
    earlier = month_partition_name(VITALS, last_year)
    owner = _owner()
    with transaction.atomic(using=owner.alias):
        assert month_partitions_create(owner, VITALS, last_year, last_year) == [earlier]
    try:
        _vital(checked_in, personas["nurse"], timezone.now())
        vitals = session_vitals(checked_in, checked_in.check_in)
        plan = vitals.explain()
        assert month_partition_name(VITALS, month_start(timezone.now().date())) in plan
        assert earlier not in plan
        assert earlier in VitalSign.objects.filter(session=checked_in).explain()  # without the floor: every month
        assert len(vitals) == 1
    finally:
        with transaction.atomic(using=owner.alias), owner.cursor() as cursor:
            cursor.execute(f'DROP TABLE "{earlier}"')

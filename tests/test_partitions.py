"""The audit log partitioned by month on PostgreSQL (kapclinic/dbpartitions.py; issue 15, item 4)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.chain import chain_append
from kapclinic.audit.models import AccessEvent, Channel
from kapclinic.dbpartitions import default_partition_name, month_partition_name, month_start
from kapclinic.dbtriggers import triggers_present

TABLE = "audit_accessevent"
TWO_ROLES = "owner" in settings.DATABASES

F = Callable[..., None]


def postgres_committed(test: F) -> F:
    databases = ["default", "owner"] if TWO_ROLES else ["default"]
    marked: F = pytest.mark.postgres_only(pytest.mark.django_db(transaction=True, databases=databases)(test))
    return marked


def _owner() -> Any:
    return connections["owner"] if TWO_ROLES else connection


def _partition_of(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {TABLE} WHERE id = %s", [event_id])  # noqa: S608
        return str(cursor.fetchone()[0])


def _event(user: User, at: datetime) -> AccessEvent:
    row = AccessEvent(
        occurred_at=at, user=user, username=user.username, role=user.role, action="test.read", channel=Channel.SYSTEM
    )
    with transaction.atomic():
        chain_append([row])
    return row


@postgres_committed
def test_the_audit_log_is_partitioned_by_month_with_a_default(personas: dict[str, User]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT partstrat FROM pg_partitioned_table WHERE partrelid = %s::regclass", [TABLE])
        assert cursor.fetchone() == ("r",)
        cursor.execute("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass", [TABLE])
        partitions = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT a.attname FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid "
            "AND a.attnum = ANY(x.indkey) WHERE x.indrelid = %s::regclass AND x.indisprimary ORDER BY a.attname",
            [TABLE],
        )
        assert [row[0] for row in cursor.fetchall()] == ["id", "occurred_at"]
    this_month = month_start(timezone.now().date())
    assert default_partition_name(TABLE) in partitions
    assert month_partition_name(TABLE, this_month) in partitions
    assert AccessEvent._meta.pk is not None and AccessEvent._meta.pk.name == "id"  # Django's pk is unchanged


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
def test_the_partitions_refuse_update_delete_and_truncate_even_to_the_owner(personas: dict[str, User]) -> None:
    event = _event(personas["director"], timezone.now())
    partition = _partition_of(event.pk)
    assert triggers_present(connection, TABLE)
    owner = _owner()
    # Table names and ids from this test, not input.
    for sql in (
        f"UPDATE {partition} SET action = 'edited' WHERE id = {event.pk}",  # noqa: S608
        f"DELETE FROM {partition} WHERE id = {event.pk}",  # noqa: S608
        f"TRUNCATE {partition}",
        f"TRUNCATE {default_partition_name(TABLE)}",
        f"UPDATE {TABLE} SET action = 'edited'",  # noqa: S608
    ):
        with pytest.raises(DatabaseError, match=r"append-only: \w+ refused"), transaction.atomic(using=owner.alias):
            owner.cursor().execute(sql)
    if TWO_ROLES:  # the application role has no privilege on a partition at all
        for sql in (f"SELECT 1 FROM {partition}", f"INSERT INTO {partition} (id) VALUES (1)"):  # noqa: S608
            with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                connection.cursor().execute(sql)


@postgres_committed
def test_partitions_ahead_creates_the_coming_months_once(personas: dict[str, User]) -> None:
    out = io.StringIO()
    call_command("partitions_ahead", "--months", "6", stdout=out)
    first = month_start(timezone.now().date())
    month = first
    names = []
    for _ in range(7):
        names.append(month_partition_name(TABLE, month))
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass", [TABLE])
        assert set(names) <= {row[0] for row in cursor.fetchall()}
    again = io.StringIO()
    call_command("partitions_ahead", "--months", "6", stdout=again)
    assert "every month already has its partition" in again.getvalue()
    # A new partition refuses TRUNCATE too, and rows reach it through the partitioned table.
    row = _event(personas["director"], datetime(month.year, month.month, 1, tzinfo=UTC) - timedelta(days=1))
    assert _partition_of(row.pk) == names[-1]

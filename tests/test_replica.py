"""The read replica's router and the read-your-writes pin (kapclinic/replica.py; issue 15, item 4).

The `replica` alias of the test run mirrors the test database (tests/db_roles.py), so no second database is
needed; KAPCLINIC_READ_REPLICA is off for every other test, as in a deployment without DATABASE_REPLICA_URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connections, router, transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.ledger.models import LedgerEntry
from kapclinic.patients.models import Patient
from kapclinic.replica import WROTE_COOKIE, ReadYourWritesMiddleware, primary_pinned, replica_reads

ROOT = Path(__file__).resolve().parent.parent
REPORT_MODELS = (LedgerEntry, Patient, AccessEvent)


@pytest.fixture
def replica_on(settings: Any) -> None:
    settings.KAPCLINIC_READ_REPLICA = "replica"


def test_without_a_replica_every_choice_is_djangos_own(settings: Any) -> None:
    settings.KAPCLINIC_READ_REPLICA = ""
    with replica_reads():
        for model in REPORT_MODELS:
            assert router.db_for_read(model) == "default"
            assert router.db_for_write(model) == "default"
    assert router.allow_migrate("default", "audit") is True


@pytest.mark.usefixtures("replica_on")
def test_a_report_read_goes_to_the_replica_and_every_other_read_and_every_write_to_the_primary() -> None:
    with replica_reads():
        for model in REPORT_MODELS:
            assert router.db_for_read(model) == "replica"
            assert router.db_for_write(model) == "default"  # the audit insert of the same report
    for model in REPORT_MODELS:
        assert router.db_for_read(model) == "default"  # not opted in


@pytest.mark.usefixtures("replica_on")
def test_a_row_read_from_the_replica_is_saved_to_and_followed_on_the_primary() -> None:
    row = Patient(pk=1)
    row._state.db = "replica"
    assert router.db_for_write(Patient, instance=row) == "default"
    assert router.db_for_read(Patient, instance=row) == "default"
    with replica_reads():
        assert router.db_for_read(Patient, instance=row) == "replica"


@pytest.mark.usefixtures("replica_on")
def test_the_replica_is_never_migrated() -> None:
    assert router.allow_migrate("replica", "audit", model_name="accessevent") is False
    assert router.allow_migrate("default", "audit", model_name="accessevent") is True


@pytest.mark.usefixtures("replica_on")
def test_reads_after_a_write_stay_on_the_primary() -> None:
    with replica_reads(), primary_pinned():
        assert router.db_for_read(LedgerEntry) == "default"


@pytest.mark.django_db
@pytest.mark.usefixtures("replica_on")
def test_reads_inside_a_transaction_stay_on_the_primary() -> None:
    with transaction.atomic(), replica_reads():
        assert router.db_for_read(LedgerEntry) == "default"


def _answer_where_reports_read(request: HttpRequest) -> HttpResponse:
    with replica_reads():
        return HttpResponse(router.db_for_read(LedgerEntry))


@pytest.mark.usefixtures("replica_on")
def test_a_write_pins_that_request_and_that_browsers_next_requests_to_the_primary(settings: Any) -> None:
    settings.KAPCLINIC_REPLICA_STICKY_SECONDS = 7
    middleware = ReadYourWritesMiddleware(_answer_where_reports_read)
    factory = RequestFactory()
    assert middleware(factory.get("/ledger/reports/")).content == b"replica"
    wrote = middleware(factory.post("/ledger/receive/"))
    assert wrote.content == b"default"
    cookie = wrote.cookies[WROTE_COOKIE]
    assert cookie["max-age"] == 7 and cookie["httponly"] and cookie["samesite"] == "Lax"
    after = factory.get("/ledger/reports/")
    after.COOKIES[WROTE_COOKIE] = "1"
    assert middleware(after).content == b"default"
    assert WROTE_COOKIE not in middleware(after).cookies  # the window runs from the write, not the last read


def test_without_a_replica_a_write_leaves_no_cookie(settings: Any) -> None:
    settings.KAPCLINIC_READ_REPLICA = ""
    answer = ReadYourWritesMiddleware(_answer_where_reports_read)(RequestFactory().post("/ledger/receive/"))
    assert answer.content == b"default" and WROTE_COOKIE not in answer.cookies


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"].lstrip().split(None, 1)[0].upper() for q in captured.captured_queries]


# Committed rows (a mirror is a second connection: it sees no uncommitted row), so PostgreSQL only: flushing
# the append-only tables between such tests needs tests/db_roles.py's PostgreSQL flush.
@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
@pytest.mark.usefixtures("replica_on")
@pytest.mark.parametrize("path", ["/", "/ledger/reports/dispensing-log/", "/ledger/reports/inventory.csv"])
def test_the_dashboard_and_reports_read_the_replica_and_audit_to_the_primary(
    personas: dict[str, User], path: str
) -> None:
    client = Client()
    client.force_login(personas["director"])
    before = AccessEvent.objects.count()
    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        answer = client.get(path)
        assert answer.status_code == 200
        if answer.streaming:
            b"".join(answer.streaming_content)  # type: ignore[attr-defined]  # a streamed export reads as it streams
    assert "SELECT" in _statements(on_replica)
    assert set(_statements(on_replica)) <= {"SELECT"}, on_replica.captured_queries
    assert "INSERT" in _statements(on_primary)
    assert AccessEvent.objects.count() > before


# Committed rows (a mirror is a second connection: it sees no uncommitted row), so PostgreSQL only: flushing
# the append-only tables between such tests needs tests/db_roles.py's PostgreSQL flush.
@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
@pytest.mark.usefixtures("replica_on")
def test_after_a_post_the_same_browser_reads_the_dashboard_from_the_primary(personas: dict[str, User]) -> None:
    client = Client()
    client.force_login(personas["director"])
    client.cookies[WROTE_COOKIE] = "1"  # left by the director's last POST
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert client.get("/").status_code == 200
    assert on_replica.captured_queries == []


def _settings_from(**env: str) -> dict[str, Any]:
    """kapclinic/settings.py's DATABASES and replica alias under this environment (a fresh interpreter)."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("KAPCLINIC_", "DATABASE_"))}
    code = (
        "import json, kapclinic.settings as s; "
        "print(json.dumps({'DATABASES': s.DATABASES, 'replica': s.KAPCLINIC_READ_REPLICA, 'CACHES': s.CACHES}, "
        "default=str))"
    )
    result = subprocess.run(  # noqa: S603 - our own settings module, fixed arguments
        [sys.executable, "-c", code],
        env={**clean, "KAPCLINIC_DEBUG": "true", "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_without_replica_or_pool_settings_the_databases_are_as_before() -> None:
    found = _settings_from(DATABASE_URL="postgres://app@db/kapclinic")
    assert set(found["DATABASES"]) == {"default"} and found["replica"] == ""
    assert "pool" not in found["DATABASES"]["default"].get("OPTIONS", {})
    assert found["DATABASES"]["default"]["CONN_MAX_AGE"] == 60


def test_the_replica_url_makes_a_mirrored_replica_alias() -> None:
    found = _settings_from(
        DATABASE_URL="postgres://app@db/kapclinic", DATABASE_REPLICA_URL="postgres://app@ro/kapclinic"
    )
    replica = found["DATABASES"]["replica"]
    assert found["replica"] == "replica" and replica["HOST"] == "ro" and replica["TEST"] == {"MIRROR": "default"}


def test_the_pool_settings_give_each_postgresql_alias_a_pool_and_no_persistent_connections() -> None:
    found = _settings_from(
        DATABASE_URL="postgres://app@db/kapclinic",
        DATABASE_REPLICA_URL="postgres://app@ro/kapclinic",
        DATABASE_POOL_MIN="2",
        DATABASE_POOL_MAX="4",
        DATABASE_POOL_TIMEOUT="5",
    )
    for alias in ("default", "replica"):
        assert found["DATABASES"][alias]["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 4, "timeout": 5}
        assert found["DATABASES"][alias]["CONN_MAX_AGE"] == 0


def test_postgresql_statements_are_prepared_unless_turned_off() -> None:
    found = _settings_from(DATABASE_URL="postgres://app@db/kapclinic", DATABASE_REPLICA_URL="postgres://app@ro/k")
    for alias in ("default", "replica"):
        options = found["DATABASES"][alias]["OPTIONS"]
        assert options["server_side_binding"] is True and options["prepare_threshold"] == 5
    # PgBouncer in transaction mode before 1.21 cannot keep them.
    off = _settings_from(DATABASE_URL="postgres://app@bouncer/kapclinic", DATABASE_PREPARED_STATEMENTS="false")
    options = off["DATABASES"]["default"].get("OPTIONS", {})
    assert "server_side_binding" not in options and "prepare_threshold" not in options
    # SQLite has no such options (its connect() would refuse them).
    sqlite = _settings_from(DATABASE_URL="sqlite:////tmp/k.sqlite3")["DATABASES"]["default"]["OPTIONS"]
    assert "server_side_binding" not in sqlite and "prepare_threshold" not in sqlite


def test_the_page_parts_kept_are_sized_for_a_clinic_day_and_can_be_turned_off() -> None:
    default = _settings_from()["CACHES"]["default"]
    assert default["BACKEND"].endswith("LocMemCache") and default["OPTIONS"]["MAX_ENTRIES"] == 5000
    assert _settings_from(KAPCLINIC_PAGE_PARTS_KEPT="800")["CACHES"]["default"]["OPTIONS"]["MAX_ENTRIES"] == 800
    assert _settings_from(KAPCLINIC_PAGE_PARTS_KEPT="0")["CACHES"]["default"]["BACKEND"].endswith("DummyCache")


@pytest.mark.django_db
@pytest.mark.postgres_only
def test_a_statement_run_again_on_postgresql_runs_prepared() -> None:
    for _ in range(6):  # psycopg prepares a statement the fifth time a connection runs it (prepare_threshold)
        list(Patient.objects.filter(pk=-1).values_list("mrn", flat=True))
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('"patients_patient"."mrn"' in statement and "$1" in statement for statement in prepared), prepared


def test_server_side_cursors_can_be_turned_off_for_pgbouncer() -> None:
    found = _settings_from(DATABASE_URL="postgres://app@bouncer/kapclinic", DATABASE_SERVER_SIDE_CURSORS="false")
    assert found["DATABASES"]["default"]["DISABLE_SERVER_SIDE_CURSORS"] is True
    default = _settings_from(DATABASE_URL="postgres://app@db/k")["DATABASES"]["default"]
    assert not default.get("DISABLE_SERVER_SIDE_CURSORS")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_POOL_MAX": "4"}, "needs PostgreSQL"),
        ({"DATABASE_URL": "postgres://app@db/k", "DATABASE_POOL_MIN": "5", "DATABASE_POOL_MAX": "4"}, "must not"),
    ],
)
def test_pool_settings_that_cannot_work_are_refused(env: dict[str, str], message: str) -> None:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("KAPCLINIC_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, "-c", "import kapclinic.settings"],
        env={**clean, "KAPCLINIC_DEBUG": "true", "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and message in result.stderr

"""The PostgreSQL test run with two roles, as in production (docs/operations.md; scripts/with-postgres).

With DATABASE_OWNER_URL set (an `owner` alias), the test database is created and migrated by the owner
role, the application role gets exactly its grants (kapclinic/dbroles.py), and then the whole suite
runs as the application role through `default`: a missing grant fails a test, and tests that need
the owner (tests/test_chain_tamper.py) ask for the `owner` alias.

Resetting the database between transactional tests is the one thing the application role may not
do (TRUNCATE is refused by privilege and by trigger): here, and only here, the flush runs as the
owner with session_replication_role = replica, which switches the append-only triggers off for
that session. scripts/with-postgres grants the owner that setting; in production nobody but a
superuser has it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.backends.postgresql.operations import DatabaseOperations

from kapclinic.dbroles import grants_apply

_app_login: dict[str, Any] = {}


def _login(alias: str) -> dict[str, Any]:
    found = connections[alias].settings_dict
    return {"USER": found["USER"], "PASSWORD": found["PASSWORD"]}


def _two_roles() -> bool:
    return "owner" in settings.DATABASES and connections["default"].vendor == "postgresql"


def _flush_with_triggers_off(self: BaseDatabaseOperations, sql_list: Iterable[str]) -> None:
    if "owner" not in settings.DATABASES:
        with transaction.atomic(using=self.connection.alias), self.connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            for sql in sql_list:
                cursor.execute(sql)
        return
    # A connection of its own as the owner, to the database being flushed (the test database).
    owner: BaseDatabaseWrapper = type(self.connection)(
        {**connections["owner"].settings_dict, "NAME": self.connection.settings_dict["NAME"]}, alias="owner_flush"
    )
    try:
        with owner.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            for sql in sql_list:
                cursor.execute(sql)
    finally:
        owner.close()


def _replica_mirror_add() -> None:
    """A `replica` alias that mirrors the test database (Django docs, "Testing primary/replica configurations").

    Only tests/test_replica.py reads through it, turning KAPCLINIC_READ_REPLICA on; for every other test no
    replica is configured and the router leaves every choice to Django. A mirror shares the primary's settings
    (and so its login, switched to the application role below).
    """
    if "replica" in settings.DATABASES:
        return  # DATABASE_REPLICA_URL was set: kapclinic/settings.py made it a mirror already
    mirror = copy.deepcopy(connections.settings["default"])
    mirror["TEST"]["MIRROR"] = "default"
    settings.DATABASES["replica"] = mirror
    connections.settings["replica"] = mirror


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> Iterator[None]:
    original = DatabaseOperations.execute_sql_flush
    DatabaseOperations.execute_sql_flush = _flush_with_triggers_off  # type: ignore[method-assign]
    _replica_mirror_add()
    if _two_roles():
        # Create and migrate the test database as the owner; django_db_setup below switches to the app role.
        _app_login.update(_login("default"))
        connections["default"].settings_dict.update(_login("owner"))
    yield
    DatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    if not _two_roles():
        yield
        return
    default = connections["default"]
    with django_db_blocker.unblock():
        with transaction.atomic():
            grants_apply(default, _app_login["USER"])
        default.close()
    owner_login = _login("default")
    default.settings_dict.update(_app_login)
    yield
    # The owner drops the test database: close the application role's connections first.
    with django_db_blocker.unblock():
        connections.close_all()
    default.settings_dict.update(owner_login)


# What a refused change to an append-only table says: the trigger's message, or on PostgreSQL with two
# roles the privilege check, which refuses the application role before the trigger runs (the trigger,
# the second wall, is tried as the owner in tests/test_chain_tamper.py).
REFUSED = "refused|permission denied"

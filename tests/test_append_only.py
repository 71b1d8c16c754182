"""Every append-only table keeps its triggers after all migrations, on this backend."""

from __future__ import annotations

import pytest
from django.db import connection

from kapclinic.dbtriggers import APPEND_ONLY_TABLES, triggers_present


@pytest.mark.django_db
@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_append_only_triggers_survive_the_migrations(table: str) -> None:
    assert triggers_present(connection, table), f"{table} lost its append-only triggers"

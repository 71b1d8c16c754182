"""Every append-only table keeps its triggers after all migrations, on this backend; so does every foreign key
kept by trigger."""

from __future__ import annotations

import pytest
from django.db import connection

from kapclinic.dbtriggers import (
    APPEND_ONLY_TABLES,
    FROZEN_ONCE_SIGNED_TABLES,
    REFERENCES_CHECKED,
    frozen_triggers_present,
    reference_check_present,
    triggers_present,
)


@pytest.mark.django_db
@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_append_only_triggers_survive_the_migrations(table: str) -> None:
    assert triggers_present(connection, table), f"{table} lost its append-only triggers"


@pytest.mark.django_db
@pytest.mark.parametrize("table", FROZEN_ONCE_SIGNED_TABLES)
def test_signed_rows_stay_frozen_after_the_migrations(table: str) -> None:
    assert frozen_triggers_present(connection, table), f"{table} lost its signed-row triggers"


@pytest.mark.django_db
@pytest.mark.parametrize(("table", "column", "target"), REFERENCES_CHECKED)
def test_references_kept_by_trigger_survive_the_migrations(table: str, column: str, target: str) -> None:
    assert reference_check_present(connection, table, column), f"{table}.{column} lost its reference trigger"

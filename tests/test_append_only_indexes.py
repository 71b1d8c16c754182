"""The append-only tables that grow every day carry no index another index already covers (issue 15, item 4).

Every row of the audit log, the vitals, the controlled-substance ledger and the questionnaire answers is written
once and read through a handful of indexes; a foreign key's own one-column index beside a composite index that
starts with the same column is one more index to write for each of 500 M audit rows (docs/sizing.md) and is never
the better path. Checked on the database itself, SQLite and PostgreSQL alike (a partitioned table's indexes are
read from its parent).
"""

from __future__ import annotations

import pytest
from django.db import connection, models

from kapclinic.audit.models import AccessEvent
from kapclinic.dosing.models import VitalSign
from kapclinic.ledger.models import LedgerEntry
from kapclinic.measures.models import QuestionnaireResponse, ResponseItem

GROWING = [AccessEvent, VitalSign, LedgerEntry, QuestionnaireResponse, ResponseItem]


def _indexes(table: str) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name: list(found["columns"])
        for name, found in constraints.items()
        if (found["index"] or found["unique"]) and not found["primary_key"] and found["columns"]
    }


@pytest.mark.django_db
@pytest.mark.parametrize("model", GROWING, ids=lambda m: m.__name__)
def test_no_index_is_the_first_column_of_another(model: type[models.Model]) -> None:
    indexes = _indexes(model._meta.db_table)
    covered = [
        (name, other)
        for name, columns in indexes.items()
        for other, longer in indexes.items()
        if other != name and len(columns) < len(longer) and longer[: len(columns)] == columns
    ]
    assert covered == [], f"{model.__name__}: indexes covered by a longer one (name, by): {covered}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "column", "index"),
    [
        (AccessEvent, "patient_id", "accessevent_patient_time"),
        (AccessEvent, "user_id", "accessevent_user_time"),
        (VitalSign, "session_id", "vital_session_time"),
        (LedgerEntry, "lot_id", "ledger_lot_location_latest"),
        (QuestionnaireResponse, "patient_id", "response_patient_instrument"),
        (ResponseItem, "response_id", "response_item_once"),
    ],
)
def test_each_foreign_key_left_without_its_own_index_leads_a_composite_one(
    model: type[models.Model], column: str, index: str
) -> None:
    indexes = _indexes(model._meta.db_table)
    assert indexes[index][0] == column
    assert [column] not in indexes.values()

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from kapclinic.dbtriggers import append_only, frozen_once_signed

# Full-text search indexes on PostgreSQL only; the expressions match kapclinic.therapy.selectors.Document,
# so the planner can use them. SQLite searches with a plain LIKE fallback.
_INDEXES = (
    ("therapynote_search", "therapy_therapynote", "search_text"),
    ("reflection_search", "therapy_reflection", "body"),
)


def _create_search_indexes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, column in _INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin (to_tsvector('english'::regconfig, COALESCE({column}, '')))"
        )


def _drop_search_indexes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in _INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("therapy", "0001_initial")]

    operations = [
        frozen_once_signed("therapy_therapynote"),
        append_only("therapy_noteaddendum"),
        append_only("therapy_notecosignature"),
        append_only("therapy_noteshare"),
        append_only("therapy_goalprogress"),
        migrations.RunPython(_create_search_indexes, _drop_search_indexes, elidable=False),
    ]

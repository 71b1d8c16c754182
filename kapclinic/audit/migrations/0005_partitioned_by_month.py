"""PostgreSQL: the audit log becomes partitioned by month of occurred_at (issue 15, item 4).

kapclinic/dbpartitions.py says how and what integrity costs. Nothing to do on SQLite. Run as the owner
(as every migration); `manage.py db_grants` afterwards, as always, re-grants exactly (the grants the table had
are copied too). Reversing leaves the table partitioned: the earlier schema works on it unchanged.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.utils import timezone

from kapclinic.dbpartitions import is_partitioned, partition_by_month

MONTHS_AHEAD = 3


def partition(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    # This table only, named here: PARTITIONED lists the vitals too, which dosing 0010 converts.
    table, key = "audit_accessevent", "occurred_at"
    if not is_partitioned(connection, table):
        partition_by_month(connection, table, key, today=timezone.now().date(), months_ahead=MONTHS_AHEAD)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_truncate_refused")]

    operations = [migrations.RunPython(partition, migrations.RunPython.noop, elidable=False)]

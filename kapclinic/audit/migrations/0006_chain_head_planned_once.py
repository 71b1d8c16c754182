"""PostgreSQL: kapclinic_chain_head with the audit log's and the drug ledger's statements written out, so that
PL/pgSQL keeps their plans instead of parsing and planning an EXECUTE on every chained write (issue 15, item 3).
Same arguments, same result, same lock; nothing to do on SQLite. Reversing keeps the new body (it answers alike).
"""

from django.db import migrations

from kapclinic.audit.chain import chain_head_function


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_partitioned_by_month")]

    operations = [migrations.RunPython(chain_head_function, migrations.RunPython.noop, elidable=False)]

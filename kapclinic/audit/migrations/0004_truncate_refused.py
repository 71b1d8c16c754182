"""PostgreSQL: every append-only table refuses TRUNCATE too (issue 12, fault 3: the ledger was emptied with it).

The tables made append-only before `append_only` created the TRUNCATE trigger get it here; tables
made append-only later get it from `append_only` itself. Nothing to do on SQLite.
"""

from django.db import migrations

from kapclinic.dbtriggers import truncate_refused

# The append-only and signed-frozen tables as they stood (frozen here: a table added later gets its
# TRUNCATE trigger from append_only() in its own migration).
TABLES = (
    "audit_accessevent",
    "audit_chaincheckpoint",
    "inventory_ledgerentry",
    "inventory_inventorycount",
    "inventory_countline",
    "measures_questionnaireresponse",
    "measures_responseitem",
    "intake_eligibilitydecision",
    "consent_consentversion",
    "consent_consentsignature",
    "consent_consentwitness",
    "consent_consentwithdrawal",
    "dosing_sessiontransition",
    "therapy_noteaddendum",
    "therapy_notecosignature",
    "therapy_noteshare",
    "therapy_goalprogress",
    "plans_treatmentplan",
    "dosing_dosingsession",
    "therapy_therapynote",
)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_hash_chain"),
        ("consent", "0002_append_only"),
        ("dosing", "0004_session_records"),
        ("intake", "0003_decisions_append_only"),
        ("inventory", "0005_hash_chain"),
        ("measures", "0005_schedules"),
        ("plans", "0002_frozen_once_signed"),
        ("therapy", "0002_append_only_and_search"),
    ]

    operations = [truncate_refused(TABLES)]

"""`manage.py verify_ledger`: verify_audit for the controlled-substance ledger's chain only."""

from __future__ import annotations

from kapclinic.audit.management.commands.verify_audit import Command as VerifyAudit


class Command(VerifyAudit):
    help = "Check the ledger's hash chain, its checkpoints and the append-only triggers; exit 1 on any break."
    chain_default = "ledger"

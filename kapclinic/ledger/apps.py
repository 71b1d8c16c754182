"""The controlled-substance ledger: DEA Schedule III stock, every receipt, administration, waste, transfer,
count and loss, and the reports and deadlines that come with them."""

from __future__ import annotations

from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "kapclinic.ledger"
    # The tables and migrations keep the label they were created under ("inventory_ledgerentry" ...): renaming
    # append-only tables guarded by triggers would gain the clinic nothing.
    label = "inventory"
    verbose_name = "Controlled-substance ledger"

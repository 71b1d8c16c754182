"""Concurrent draws from one lot: the lot row lock lets exactly the draws that fit succeed.

Real threads, each with its own database connection, so this runs on PostgreSQL only
(`make test-postgres`); SQLite serialises writers at the file level anyway.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.ledger.models import LedgerEntry, Product, StorageLocation
from kapclinic.ledger.services import Quantity, ledger_entry_record
from kapclinic.patients.models import Patient
from kapclinic.roles import Role
from tests.probes.records import receive_make

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

DRAWS = 8


def test_simultaneous_draws_never_overdraw_the_lot() -> None:
    assert connection.vendor == "postgresql"
    nurse = User.objects.create(username="concurrent-nurse", role=Role.NURSE, licence_number="RN-C")
    patient = Patient.objects.create(
        mrn="K00000018", given_name="Ash", family_name="Threadtest", birth_date="1980-01-01"
    )
    product = Product.objects.create(
        name="Ketamine HCl injection", form="vial", mg_per_unit=Decimal("50"), unit="mL", units_per_container=10
    )
    safe = StorageLocation.objects.create(name="Safe")
    ctx = AuditContext(user=nurse, channel="system")
    receive_make(ctx, product, safe, "C1", Quantity("1000", "mg"), days=90, invoice_reference="INV-C")
    lot_id = LedgerEntry.objects.get().lot_id
    barrier = threading.Barrier(DRAWS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def draw() -> None:
        try:
            barrier.wait()
            ledger_entry_record(
                ctx=ctx,
                kind="administration",
                lot_id=lot_id,
                location_id=safe.pk,
                quantity=Quantity("300", "mg"),
                patient_id=patient.pk,
            )
            result = "ok"
        except ValidationError as exc:
            result = "refused: " + " ".join(exc.messages)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=draw) for _ in range(DRAWS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(o[:7] for o in outcomes) == ["ok"] * 3 + ["refused"] * 5
    assert all("would overdraw" in o for o in outcomes if o != "ok")
    balances = list(
        LedgerEntry.objects.filter(kind="administration").order_by("id").values_list("balance_after_mg", flat=True)
    )
    assert balances == [Decimal("700"), Decimal("400"), Decimal("100")]

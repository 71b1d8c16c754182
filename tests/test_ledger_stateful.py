"""Random sequences of ledger operations (hypothesis, stateful): after every step the balances
in the database equal the replayed sum of the entries, and none is below zero."""

from __future__ import annotations

from decimal import Decimal
from itertools import count
from typing import Any

from django.core.exceptions import ValidationError
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.ledger import EntryKind, Movement, reconcile
from kapclinic.ledger.models import LedgerEntry, Product, StorageLocation
from kapclinic.ledger.services import (
    Quantity,
    WitnessCredentials,
    ledger_entry_record,
    ledger_transfer,
)
from kapclinic.patients.models import Patient
from tests.conftest import PASSWORD
from tests.probes.records import receive_make

AMOUNTS = st.decimals(min_value=Decimal("0.5"), max_value=Decimal("600"), places=1)
_serial = count(1)


def test_random_ledger_operations_keep_the_books(personas: dict[str, User], team_patient: Patient) -> None:
    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            n = next(_serial)
            self.ctx = AuditContext(user=personas["nurse"], channel="system")
            self.product = Product.objects.create(
                name=f"Ketamine {n}", form="vial", mg_per_unit=Decimal("50"), unit="mL", units_per_container=10
            )
            self.locations = [
                StorageLocation.objects.create(name=f"Safe {n}"),
                StorageLocation.objects.create(name=f"Cart {n}"),
            ]
            self.lots: list[int] = []
            self.model: dict[tuple[int, int], Decimal] = {}

        def _try(self, key: tuple[int, int], change: Decimal, call: Any) -> None:
            try:
                call()
            except ValidationError:
                # Refused: the model must agree that it would have gone below zero (or was 0).
                assert self.model.get(key, Decimal(0)) + change < 0 or change == 0
            else:
                self.model[key] = self.model.get(key, Decimal(0)) + change

        @rule(amount=AMOUNTS, where=st.integers(0, 1))
        def receive(self, amount: Decimal, where: int) -> None:
            location = self.locations[where]
            lot = f"L{next(_serial)}"
            entry = receive_make(
                self.ctx, self.product, location, lot, Quantity(amount, "mg"), days=100, invoice_reference="INV"
            )
            self.lots.append(entry.lot_id)
            self.model[(entry.lot_id, location.pk)] = amount

        @rule(data=st.data(), amount=AMOUNTS, kind=st.sampled_from(["administration", "waste", "loss"]))
        def take(self, data: st.DataObject, amount: Decimal, kind: str) -> None:
            if not self.lots:
                return
            lot = data.draw(st.sampled_from(self.lots))
            location = data.draw(st.sampled_from(self.locations))
            self._try(
                (lot, location.pk),
                -amount,
                lambda: ledger_entry_record(
                    ctx=self.ctx,
                    kind=kind,
                    lot_id=lot,
                    location_id=location.pk,
                    quantity=Quantity(amount, "mg"),
                    patient_id=team_patient.pk,
                    reason="r",
                    reference="DEA-106-X",
                    witness=WitnessCredentials("prescriber", PASSWORD),
                ),
            )

        @rule(data=st.data(), amount=AMOUNTS)
        def transfer(self, data: st.DataObject, amount: Decimal) -> None:
            if not self.lots:
                return
            lot = data.draw(st.sampled_from(self.lots))
            source, target = data.draw(st.permutations(self.locations))
            try:
                ledger_transfer(
                    ctx=self.ctx,
                    lot_id=lot,
                    from_location_id=source.pk,
                    to_location_id=target.pk,
                    quantity=Quantity(amount, "mg"),
                )
            except ValidationError:
                assert self.model.get((lot, source.pk), Decimal(0)) < amount
            else:
                self.model[(lot, source.pk)] = self.model.get((lot, source.pk), Decimal(0)) - amount
                self.model[(lot, target.pk)] = self.model.get((lot, target.pk), Decimal(0)) + amount

        @invariant()
        def books_balance(self) -> None:
            rows = LedgerEntry.objects.filter(lot__product=self.product).order_by("id")
            movements = [
                Movement(e.lot_id, e.location_id, EntryKind(e.kind), e.quantity_mg, e.balance_after_mg) for e in rows
            ]
            recs = reconcile(movements)
            assert all(r.balanced for r in recs), [r.problems for r in recs]
            assert {(r.lot, r.location): r.expected_mg for r in recs} == {
                k: v for k, v in self.model.items() if (k[0], k[1]) in {(r.lot, r.location) for r in recs}
            }
            assert all(r.recorded_mg >= 0 for r in recs)

    run_state_machine_as_test(LedgerMachine, settings=settings(max_examples=15, stateful_step_count=12, deadline=None))

"""Synthetic controlled-substance stock for the demo: deliveries, doses given and wasted, a transfer,
and a daily count with a small discrepancy under investigation. Written through the services, so every
entry is what a nurse would have recorded."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.ledger.models import ClinicRegistration, LedgerEntry, Lot, Product, StorageLocation
from kapclinic.ledger.selectors import lots_at
from kapclinic.ledger.services import (
    CountedLot,
    Quantity,
    WitnessCredentials,
    inventory_count_record,
    ledger_entry_record,
    ledger_receive,
    ledger_transfer,
    loss_report_record,
)
from kapclinic.patients.models import CareTeamMember

# Product facts from ../shared/domain/dosing.md and codes.md (NDCs from openFDA).
PRODUCTS = (
    ("Ketamine HCl injection", "5 mL multi-dose vial", Decimal("100"), "mL", Decimal("5"), "0409-2051-05"),
    ("Ketalar (ketamine HCl) injection", "20 mL vial", Decimal("10"), "mL", Decimal("20"), "42023-113-10"),
    ("Spravato (esketamine) nasal spray", "28 mg device", Decimal("28"), "device", Decimal("1"), "50458-028-00"),
)

# (mL drawn, mL given) of 100 mg/mL for demo doses; the rest is wasted with a witness.
DOSES = ((Decimal("0.50"), Decimal("0.39")), (Decimal("0.50"), Decimal("0.42")), (Decimal("0.40"), Decimal("0.35")))


@transaction.atomic
def ledger_demo_ensure(staff: dict[str, User], password: str) -> int:
    """Create the demo stock once; return how many ledger entries were written."""
    if LedgerEntry.objects.exists():
        return 0
    if not ClinicRegistration.objects.exists():
        ClinicRegistration.objects.create(
            registrant_name="Synthetic KAP Clinic (demo)",
            dea_number="ZZ0000000",
            address="100 Example Street, Sampletown, NY 10001",
            expires_on=timezone.localdate() + timedelta(days=400),
        )
    products = [
        Product.objects.get_or_create(
            name=name, form=form, defaults={"mg_per_unit": mg, "unit": unit, "units_per_container": size, "ndc": ndc}
        )[0]
        for name, form, mg, unit, size, ndc in PRODUCTS
    ]
    safe = StorageLocation.objects.get_or_create(name="Safe (medication room)")[0]
    cart = StorageLocation.objects.get_or_create(name="Crash cart")[0]
    nurse = AuditContext(user=staff["nurse"], channel="system")
    witness = WitnessCredentials("prescriber", password)
    today = timezone.localdate()
    deliveries = (
        (products[0], "DEMO-K100-A", Quantity("50", "mL"), 300),  # 10 vials
        (products[1], "DEMO-K10-B", Quantity("40", "mL"), 200),  # 2 vials
        (products[2], "DEMO-SPR-1", Quantity("12", "device"), 45),  # expires soon: shows the warning
    )
    for product, number, quantity, shelf_days in deliveries:
        ledger_receive(
            ctx=nurse,
            product_id=product.pk,
            lot_number=number,
            expires_on=today + timedelta(days=shelf_days),
            supplier_name="Example Wholesale (synthetic)",
            supplier_dea_number="ZZ1111111",
            invoice_reference=f"INV-{number}",
            received_on=today - timedelta(days=7),
            location_id=safe.pk,
            quantity=quantity,
        )
    k100 = Lot.objects.get(lot_number="DEMO-K100-A")
    patients = [m.patient_id for m in CareTeamMember.objects.filter(role="nurse", user=staff["nurse"])[: len(DOSES)]]
    for patient_id, (drawn, given) in zip(patients, DOSES, strict=False):
        ledger_entry_record(
            ctx=nurse,
            kind="administration",
            lot_id=k100.pk,
            location_id=safe.pk,
            quantity=Quantity(given, "mL"),
            patient_id=patient_id,
        )
        ledger_entry_record(
            ctx=nurse,
            kind="waste",
            lot_id=k100.pk,
            location_id=safe.pk,
            quantity=Quantity(drawn - given, "mL"),
            witness=witness,
            reason="Remainder of the drawn dose, into the drug-waste container",
        )
    k10 = Lot.objects.get(lot_number="DEMO-K10-B")
    ledger_transfer(
        ctx=nurse,
        lot_id=k10.pk,
        from_location_id=safe.pk,
        to_location_id=cart.pk,
        quantity=Quantity("20", "mL"),
        reason="Stock the crash cart",
    )
    # The crash cart's initial inventory when it was stocked (21 CFR 1304.11(b)): its biennial clock starts here.
    inventory_count_record(
        ctx=nurse,
        location_id=cart.pk,
        kind="initial",
        business_time="opening",
        lines=[CountedLot(k10.pk, Quantity("20", "mL"))],
        witness=witness,
    )
    # A vial missing from the safe: a theft or loss; its written notice to the DEA is filed, Form 106 still due
    # (the director's dashboard shows both clocks).
    loss = ledger_entry_record(
        ctx=nurse,
        kind="loss",
        lot_id=k100.pk,
        location_id=safe.pk,
        quantity=Quantity("5", "mL"),
        reason="One 5 mL vial missing from the safe at the morning check; not found",
        reference="DEA Field Division notified in writing; Form 106 to follow",
    )
    loss_report_record(
        ctx=AuditContext(user=staff["director"], channel="system"),
        loss_entry_id=loss.pk,
        kind="written_notice",
        filed_on=today,
        reference="Letter to the Field Division",
    )
    # Today's close-of-business count at the safe: the opened Ketalar vial reads 0.2 mL short.
    counted = {"DEMO-K10-B": Quantity("19.8", "mL")}
    lines = []
    for lot in lots_at(safe.pk):
        balance = LedgerEntry.objects.filter(lot=lot, location=safe).order_by("-id").first()
        on_hand = balance.balance_after_mg if balance else Decimal(0)
        lines.append(CountedLot(lot.pk, counted.get(lot.lot_number, Quantity(on_hand, "mg"))))
    inventory_count_record(
        ctx=nurse, location_id=safe.pk, kind="daily", business_time="close", lines=lines, witness=witness
    )
    return LedgerEntry.objects.count()

"""A dose ordered and given, made straight in the database (the dose order signed as the order page signs it, the
administration drawn from a lot received through the ledger's service), for the FHIR medication tests and the
route walk."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.dosing.models import Administration, DoseOrder, DosingSession
from kapclinic.ledger.models import Product, StorageLocation
from kapclinic.ledger.services import Quantity
from tests.probes.records import receive_make


def dose_order_make(session: DosingSession, prescriber: User, product: Product, dose_mg: str = "35") -> DoseOrder:
    order = DoseOrder(
        session=session,
        route=session.plan.route,
        dose_mg=Decimal(dose_mg),
        product=product,
        infusion_minutes=40 if session.plan.route == "iv" else None,
        policy_version="t",
    )
    order.signature_stamp(prescriber.pk)
    order.save(force_insert=True)
    return order


def dose_given_make(
    session: DosingSession,
    people: dict[str, User],
    *,
    ndc: str = "0409-2051-05",
    dose_mg: str = "35",
    started: datetime | None = None,
    infusion_ended: bool = True,
) -> tuple[DoseOrder, Administration]:
    """The prescriber's order for the session's dose and the nurse's administration of it, from a fresh lot,
    started at `started` (20 minutes after the session's time unless given)."""
    nurse = people["nurse"]
    product = Product.objects.create(
        name="Ketamine HCl injection 100 mg/mL" if session.plan.route != "intranasal" else "Spravato 28 mg device",
        form="vial",
        mg_per_unit=Decimal("100"),
        unit="mL",
        units_per_container=5,
        ndc=ndc,
    )
    shelf, _ = StorageLocation.objects.get_or_create(name="FHIR test shelf")
    lot_number = f"L{session.pk}-{Product.objects.count()}"
    entry = receive_make(AuditContext(user=nurse, channel="page"), product, shelf, lot_number, Quantity("5", "mL"))
    order = dose_order_make(session, people["prescriber"], product, dose_mg)
    started = started or session.scheduled_for + timedelta(minutes=20)
    administration = Administration.objects.create(
        session=session,
        order=order,
        route=order.route,
        lot=entry.lot,
        location=shelf,
        started_at=started,
        ended_at=started + timedelta(minutes=40) if order.route == "iv" and infusion_ended else None,
        drawn_mg=Decimal(dose_mg),
        given_mg=Decimal(dose_mg),
        ledger_entry=entry,
        by=nurse,
        at=timezone.now(),
    )
    return order, administration

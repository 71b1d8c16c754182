"""Money in the demo (issue 18 item 6): the clinic's self-pay packages; the portal demo patient paid part of an
approved visit by card (a balance left, and a superbill to download); the discharged demo patient bought a package
of six sessions, paid the first part, and one signed session has counted down. Every amount is made up."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.billing import balances
from kapclinic.billing.models import MoneyEntry, SelfPayPackage
from kapclinic.billing.payments import MoneyEntryInput, PackageInput, money_entry_record, package_define, package_sell
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.dosing.models import DosingSession
from kapclinic.patients.models import Patient

# (name, what it includes, sessions, price in cents): made-up cash prices.
PACKAGES = (
    ("Six IV ketamine sessions with integration (demo)", "Six infusions, each with an integration session", 6, 450_000),
    ("Three booster IV sessions (demo)", "Three infusions for a returning patient", 3, 240_000),
)


def money_demo_ensure(staff: dict[str, User]) -> int:
    """Make the demo's money once (after billing_demo_ensure); return how many entries were recorded."""
    if SelfPayPackage.objects.exists():
        return 0
    ctx = AuditContext(user=staff["biller"], channel="system")
    today = timezone.localdate()
    with transaction.atomic():
        offered = [
            package_define(
                ctx=ctx,
                given=PackageInput(
                    name=name,
                    description=words,
                    sessions=sessions,
                    price_cents=cents,
                    effective_from=date(today.year, 1, 1) - timedelta(days=365),
                ),
            )
            for name, words, sessions, cents in PACKAGES
        ]
        _portal_patient_pays(ctx, today)
        _package_bought(ctx, offered[0], today)
    return MoneyEntry.objects.count()


def _portal_patient_pays(ctx: AuditContext, today: date) -> None:
    """The portal demo patient (serial 1) paid part of their approved visit by card: a balance is left."""
    patient = Patient.objects.filter(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + 1)).first()
    if patient is None:
        return
    line = balances.billed_lines(patient.pk).order_by("date_of_service").first()
    if line is None or not line.amount_cents:
        return
    money_entry_record(
        ctx=ctx,
        given=MoneyEntryInput(
            patient_id=patient.pk,
            kind="payment",
            amount_cents=min(10_000, line.amount_cents),
            method="card",
            reference="DEMO-TERM-0001",
            line_id=line.pk,
            received_on=min(today, line.date_of_service + timedelta(days=1)),
        ),
    )


def _package_bought(ctx: AuditContext, package: SelfPayPackage, today: date) -> None:
    """The patient with a signed dosing session bought the six-session package before it and paid the first half
    (a check); the signed session has counted one session down."""
    session = DosingSession.objects.filter(signed_at__isnull=False).order_by("scheduled_for").first()
    if session is None:
        return
    first_day = min(timezone.localdate(session.scheduled_for), today) - timedelta(days=7)
    purchase = package_sell(ctx=ctx, patient_id=session.patient_id, package_id=package.pk, bought_on=first_day)
    money_entry_record(
        ctx=ctx,
        given=MoneyEntryInput(
            patient_id=session.patient_id,
            kind="payment",
            amount_cents=package.price_cents // 2,
            method="check",
            reference="1001",
            purchase_id=purchase.pk,
            received_on=first_day,
        ),
    )

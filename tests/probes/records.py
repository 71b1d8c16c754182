"""Records the tests make straight in the database, where many tests need one and only a few fields differ."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.dosing.models import CheckIn, DosingSession
from kapclinic.ledger.models import CountLine, InventoryCount, Investigation, LedgerEntry, Lot, Product, StorageLocation
from kapclinic.ledger.services import Quantity, ledger_receive
from kapclinic.measures.models import QuestionnaireResponse, SafetyFlag
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan

# What a test's plan says unless the test says otherwise.
PLAN_FIELDS: dict[str, Any] = {
    "indication_code": "F33.2",
    "indication_text": "Major depressive disorder, recurrent, severe",
    "route": "iv",
    "starting_dose_mg_per_kg": Decimal("0.5"),
    "session_count": 6,
    "interval_days": 3,
    "session_time": time(9, 0),
    "dosing_policy_version": "test",
}
# The indication some tests' plans are for instead.
MODERATE: dict[str, Any] = {
    "indication_code": "F33.1",
    "indication_text": "Major depressive disorder, recurrent, moderate",
}


def plan_make(patient: Patient, people: dict[str, User], *, stamp: bool = False, **fields: Any) -> TreatmentPlan:
    """A saved plan by people["prescriber"] with people["therapist"], its first session today, PLAN_FIELDS where
    `fields` does not say otherwise; with `stamp`, signed by the prescriber (stamped before the save, as the plan
    page and the demo do)."""
    prescriber = people["prescriber"]
    plan = TreatmentPlan(
        patient=patient,
        **{
            "therapist": people["therapist"],
            "created_by": prescriber,
            "first_session_on": timezone.localdate(),
            **PLAN_FIELDS,
            **fields,
        },
    )
    if stamp:
        plan.signature_stamp(prescriber.pk)
    plan.save()
    return plan


def check_in_make(session: DosingSession, nurse: User, weight_kg: str = "70", **fields: Any) -> CheckIn:
    """The session's check-in by the nurse: identity and checklist confirmed, no pregnancy test needed."""
    return CheckIn.objects.create(
        session=session,
        identity_confirmed=True,
        checklist_confirmed=True,
        pregnancy_test="not_applicable",
        weight_kg=Decimal(weight_kg),
        by=nurse,
        **fields,
    )


def response_make(
    patient: Patient, entered_by: User, total: int | None, *, source: str = "paper", **fields: Any
) -> QuestionnaireResponse:
    """A PHQ-9 response (version 1) stored straight, complete unless `fields` says otherwise."""
    return QuestionnaireResponse.objects.create(
        patient=patient,
        **{"instrument": "phq9", "version": "1", "complete": True, **fields},
        total=total,
        source=source,
        entered_by=entered_by,
    )


def suicide_risk_flag_make(patient: Patient, entered_by: User, total: int) -> SafetyFlag:
    """An open suicide-risk flag raised by a paper PHQ-9."""
    response = response_make(patient, entered_by, total, flags=["suicide_risk"])
    return SafetyFlag.objects.create(patient=patient, response=response, code="suicide_risk")


def receive_make(
    ctx: AuditContext,
    product: Product,
    location: StorageLocation,
    lot_number: str,
    quantity: Quantity,
    *,
    days: int = 300,
    **fields: Any,
) -> LedgerEntry:
    """A delivery received through the service (ledger rows are hash-chained): the lot expiring in `days` days,
    received today from a synthetic supplier on invoice INV-<lot number>, unless `fields` says otherwise."""
    today = timezone.localdate()
    return ledger_receive(
        ctx=ctx,
        product_id=product.pk,
        lot_number=lot_number,
        location_id=location.pk,
        quantity=quantity,
        **{
            "expires_on": today + timedelta(days=days),
            "supplier_name": "Synthetic supplier",
            "invoice_reference": f"INV-{lot_number}",
            "received_on": today,
            **fields,
        },
    )


def plan_body(therapist: User) -> dict[str, object]:
    """A plan the API's POST /patients/{id}/plans accepts: two IV sessions a week apart from the day after tomorrow."""
    return {
        "indication_code": "F33.2",
        "indication_text": "MDD",
        "route": "iv",
        "dose": "0.5",
        "session_count": 2,
        "interval_days": 7,
        "first_session_on": (timezone.localdate() + timedelta(days=2)).isoformat(),
        "session_time": "10:00",
        "therapist": therapist.pk,
        "goals": ["Sleep better"],
    }


def investigation_make(
    product: Product, location: StorageLocation, lot_number: str, invoice: str, nurse: User, witness: User
) -> Investigation:
    """An open investigation: the nurse's daily count at close found none of a lot received today (made directly,
    without ledger entries), expiring in 90 days."""
    lot = Lot.objects.create(
        product=product,
        lot_number=lot_number,
        expires_on=timezone.localdate() + timedelta(days=90),
        supplier_name="Synthetic supplier",
        invoice_reference=invoice,
        received_on=timezone.localdate(),
        received_by=nurse,
    )
    count = InventoryCount.objects.create(
        kind="daily", business_time="close", location=location, counted_by=nurse, witness=witness
    )
    line = CountLine.objects.create(count=count, lot=lot, counted_mg=Decimal("0"), expected_mg=Decimal("0"))
    return Investigation.objects.create(line=line)


def vials_safe_and_cart(**product: Any) -> dict[str, Any]:
    """Ketamine 50 mg/mL in 10 mL multi-dose vials (`product` changes the product's fields), a safe and a crash
    cart, by "product", "safe" and "cart"."""
    fields = {"name": "Ketamine HCl injection", "form": "multi-dose vial", "mg_per_unit": Decimal("50"), "unit": "mL"}
    return {
        "product": Product.objects.create(**{**fields, "units_per_container": 10, **product}),
        "safe": StorageLocation.objects.create(name="Safe"),
        "cart": StorageLocation.objects.create(name="Crash cart"),
    }

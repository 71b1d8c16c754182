"""The controlled-substance ledger through its services and API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.ledger.models import LedgerEntry, Lot, StorageLocation
from kapclinic.patients.models import Patient
from tests.conftest import PASSWORD
from tests.db_roles import REFUSED
from tests.probes.records import vials_safe_and_cart

D = Decimal


@pytest.fixture
def stock(personas: dict[str, User]) -> dict[str, Any]:
    """Ketamine 50 mg/mL, 10 mL vials; a safe and a crash cart; lot A with 2 vials (1000 mg) in the safe."""
    return vials_safe_and_cart()


def _receive(api: Any, stock: dict[str, Any], **change: Any) -> Any:
    body = {
        "product": stock["product"].pk,
        "lot_number": "A100",
        "expires_on": (timezone.localdate() + timedelta(days=300)).isoformat(),
        "supplier_name": "Example Wholesale (synthetic)",
        "supplier_dea_number": "RX0000000",
        "invoice_reference": "INV-1",
        "received_on": timezone.localdate().isoformat(),
        "location": stock["safe"].pk,
        "quantity": "20",
        "unit": "mL",
        **change,
    }
    return api.post("/api/v1/ledger/lots", body, content_type="application/json")


def _post(api: Any, **body: Any) -> Any:
    return api.post("/api/v1/ledger/entries", body, content_type="application/json")


@pytest.fixture
def lot(api_for: Any, stock: dict[str, Any]) -> Lot:
    response = _receive(api_for("nurse"), stock)
    assert response.status_code == 201, response.content
    return Lot.objects.get(lot_number="A100")


def test_receipt_books_the_lot_in_mg_and_ml(lot: Lot) -> None:
    entry = LedgerEntry.objects.get()
    assert entry.kind == "receipt" and entry.quantity_mg == D("1000") and entry.units == D("20")
    assert entry.balance_after_mg == D("1000") and entry.reference == "INV-1"


def test_administration_waste_with_witness_and_balances(
    api_for: Any, lot: Lot, stock: dict[str, Any], team_patient: Patient
) -> None:
    nurse = api_for("nurse")
    given = _post(
        nurse,
        kind="administration",
        lot=lot.pk,
        location=stock["safe"].pk,
        quantity="0.78",
        unit="mL",
        patient=team_patient.pk,
    )
    assert given.status_code == 201, given.content
    assert given.json()["quantity_mg"] == "-39.000" and given.json()["balance_after_mg"] == "961.000"
    waste = _post(
        nurse,
        kind="waste",
        lot=lot.pk,
        location=stock["safe"].pk,
        quantity="11",
        unit="mg",
        witness_username="prescriber",
        witness_password=PASSWORD,
    )
    assert waste.status_code == 201, waste.content
    assert waste.json()["witness"] == "prescriber"
    balances = api_for("auditor").get("/api/v1/ledger/balances").json()
    assert balances == [
        {
            "lot": lot.pk,
            "lot_number": "A100",
            "product": "Ketamine HCl injection 50 mg/mL (multi-dose vial)",
            "location": stock["safe"].pk,
            "location_name": "Safe",
            "mg": "950.000",
            "units": "19.000",
            "unit": "mL",
            "expires_on": lot.expires_on.isoformat(),
            "expired": False,
        }
    ]
    rec = api_for("director").get("/api/v1/ledger/reconciliation").json()
    assert rec[0]["balanced"] and rec[0]["totals_mg"] == {
        "receipt": "1000.000",
        "administration": "-39.000",
        "waste": "-11.000",
    }


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"quantity": "0"}, "quantity", "Enter a quantity above 0."),
        ({"quantity": "-3"}, "quantity", "Enter a quantity above 0."),
        ({"quantity": "abc"}, "quantity", "Enter the quantity as a number"),
        ({"quantity": "1000.001", "unit": "mg"}, "quantity", "Only 1000.000 mg is on hand here"),
        ({"unit": "device"}, "unit", "counted in mL or mg, not device"),
        ({"witness_username": ""}, "witness", "needs a second licensed person"),
        ({"witness_username": "nurse"}, "witness", "someone other than you"),
        ({"witness_username": "therapist"}, "witness", "witness could not be confirmed"),
        ({"witness_password": "wrong"}, "witness", "witness could not be confirmed"),
        ({"witness_username": "nobody"}, "witness", "witness could not be confirmed"),
        ({"location": "CART"}, "quantity", "Only 0.000 mg is on hand here"),
    ],
)
def test_bad_waste_is_refused_and_writes_nothing(
    api_for: Any, lot: Lot, stock: dict[str, Any], body: dict[str, str], field: str, message: str
) -> None:
    request = {
        "kind": "waste",
        "lot": lot.pk,
        "location": stock["safe"].pk,
        "quantity": "1",
        "unit": "mL",
        "witness_username": "prescriber",
        "witness_password": PASSWORD,
        **body,
    }
    if request["location"] == "CART":
        request["location"] = stock["cart"].pk
    response = _post(api_for("nurse"), **request)
    assert response.status_code == 422
    assert any(e["loc"][-1] == field and message in e["msg"] for e in response.json()["detail"]), response.json()
    assert LedgerEntry.objects.count() == 1


def test_expired_lot_cannot_be_received_or_given(api_for: Any, stock: dict[str, Any], lot: Lot) -> None:
    expired = _receive(api_for("nurse"), stock, lot_number="OLD", expires_on=timezone.localdate().isoformat())
    assert expired.status_code == 422 and "has expired" in expired.json()["detail"][0]["msg"]
    Lot.objects.filter(pk=lot.pk).update(expires_on=timezone.localdate() - timedelta(days=1))
    given = _post(
        api_for("nurse"),
        kind="administration",
        lot=lot.pk,
        location=stock["safe"].pk,
        quantity="10",
        patient=Patient.objects.create(mrn="K00000018", given_name="A", family_name="B", birth_date="1980-01-01").pk,
    )
    assert given.status_code == 422 and "expired on" in given.json()["detail"][0]["msg"]
    # Expired stock still leaves the books by return or destruction.
    returned = _post(
        api_for("nurse"),
        kind="return",
        lot=lot.pk,
        location=stock["safe"].pk,
        quantity="1000",
        reason="expired",
        reference="RD-1",
    )
    assert returned.status_code == 201


def test_transfer_moves_stock_between_locations(api_for: Any, lot: Lot, stock: dict[str, Any]) -> None:
    response = _post(
        api_for("prescriber"),
        kind="transfer",
        lot=lot.pk,
        location=stock["safe"].pk,
        to_location=stock["cart"].pk,
        quantity="2",
        unit="mL",
    )
    assert response.status_code == 201
    into = LedgerEntry.objects.get(kind="transfer_in")
    assert into.counterpart_id == response.json()["id"] and into.balance_after_mg == D("100")
    by_location = {b["location_name"]: b["mg"] for b in api_for("director").get("/api/v1/ledger/balances").json()}
    assert by_location == {"Safe": "900.000", "Crash cart": "100.000"}


def test_loss_needs_report_reference_and_correction_points_back(api_for: Any, lot: Lot, stock: dict[str, Any]) -> None:
    nurse = api_for("nurse")
    common = {"lot": lot.pk, "location": stock["safe"].pk}
    no_ref = _post(nurse, kind="loss", quantity="5", reason="vial broke", **common)
    assert no_ref.status_code == 422 and "Form 106" in no_ref.json()["detail"][0]["msg"]
    missing = _post(nurse, kind="correction", quantity="5", reason="typo", corrects=999999, **common)
    assert missing.status_code == 422 and "none has that id" in missing.json()["detail"][0]["msg"]
    receipt = LedgerEntry.objects.get(kind="receipt")
    fixed = _post(nurse, kind="correction", quantity="-50", reason="invoice said 19 mL", corrects=receipt.pk, **common)
    assert fixed.status_code == 201 and fixed.json()["corrects"] == receipt.pk
    assert fixed.json()["balance_after_mg"] == "950.000"


def test_roles_that_may_not_record(api_for: Any, lot: Lot, stock: dict[str, Any]) -> None:
    for name in ("coordinator", "therapist", "director", "auditor", "patient_user"):
        response = _post(
            api_for(name), kind="loss", lot=lot.pk, location=stock["safe"].pk, quantity="1", reason="x", reference="y"
        )
        assert response.status_code == 403, name
    for name in ("coordinator", "therapist", "patient_user"):
        assert api_for(name).get("/api/v1/ledger/balances").status_code == 403
    assert LedgerEntry.objects.count() == 1


def test_ledger_rows_are_append_only_in_the_database(lot: Lot) -> None:
    entry = LedgerEntry.objects.get()
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(quantity_mg=D("1"))
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert LedgerEntry.objects.get().quantity_mg == D("1000")


def test_schema_refuses_a_negative_balance_or_wrong_sign(lot: Lot, personas: dict[str, User]) -> None:
    base = {
        "lot": lot,
        "location": StorageLocation.objects.get(name="Safe"),
        "units": D("1"),
        "occurred_at": timezone.now(),
        "actor": personas["nurse"],
    }
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.create(kind="waste", quantity_mg=D("5"), balance_after_mg=D("995"), **base)
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.create(kind="receipt", quantity_mg=D("5"), balance_after_mg=D("-1"), **base)
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.create(
            kind="waste", quantity_mg=D("-5"), balance_after_mg=D("995"), witness=personas["nurse"], **base
        )

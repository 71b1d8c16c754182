"""The controlled-substance reports: dispensing log, inventory, reconciliation; as pages, CSV, PDF and JSON.

A small ledger is built through the services with the clock frozen, in the clinic's time zone
(America/New_York, EST in February):

    Feb 2 09:00  receipt        A100  1000 mg (20 mL)  Safe   invoice INV-1
    Feb 2 09:05  receipt        B200   500 mg (10 mL)  Safe   invoice INV-2 (expires Mar 15: within 60 days)
    Feb 3 10:00  administration A100    39 mg (0.78 mL) Safe  to Alder Teampatient
    Feb 3 23:30  waste          A100    11 mg           Safe  witnessed by the prescriber
    Feb 5 08:00  transfer       A100   100 mg (2 mL)   Safe -> Crash cart
    Feb 9 12:00  loss           A100     5 mg           Crash cart  (reason looks like a spreadsheet formula)
    Feb 9 13:00  correction     A100    +1 mg           Crash cart  of the loss: it was 4 mg
    now: Feb 10 15:00
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.ledger import reports, services
from kapclinic.ledger.models import ClinicRegistration, LedgerEntry, Lot
from kapclinic.patients.models import Patient
from tests.conftest import PASSWORD
from tests.probes.records import vials_safe_and_cart

D = Decimal
NY = ZoneInfo("America/New_York")
FORMULA = '=HYPERLINK("http://example.invalid","click")'

LOG = "/ledger/reports/dispensing-log/"
INVENTORY = "/ledger/reports/inventory/"
RECONCILIATION = "/ledger/reports/reconciliation/"
API = "/api/v1/ledger/reports"


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


@pytest.fixture
def ledger(settings: Any, personas: dict[str, User], team_patient: Patient) -> Iterator[dict[str, Any]]:
    """Build the ledger above and keep the clock at Feb 10 15:00 for the test."""
    settings.TIME_ZONE = "America/New_York"
    Patient.objects.filter(pk=team_patient.pk).update(
        address_line1="12 Elm Street", address_line2="Apt 3", city="Springfield", region="NY", postal_code="10001"
    )
    ClinicRegistration.objects.create(
        registrant_name="Example KAP Clinic (synthetic)",
        dea_number="AB1234563",
        address="1 Main Street\nSpringfield, NY 10001",
        expires_on=date(2027, 6, 30),
    )
    places = vials_safe_and_cart(units_per_container=D("10"), ndc="0000-0000-00")
    product, safe, cart = places["product"], places["safe"], places["cart"]
    nurse = AuditContext(user=personas["nurse"], channel="system")
    with time_machine.travel(at(2, 2, 9), tick=False) as clock:

        def receive(lot_number: str, expires_on: date, invoice: str, ml: str) -> Lot:
            entry = services.ledger_receive(
                ctx=nurse,
                product_id=product.pk,
                lot_number=lot_number,
                expires_on=expires_on,
                supplier_name="Example Wholesale (synthetic)",
                supplier_address="9 Dock Road, Newark, NJ",
                supplier_dea_number="RX0000000",
                invoice_reference=invoice,
                received_on=timezone.localdate(),
                location_id=safe.pk,
                quantity=services.Quantity(ml, "mL"),
            )
            return entry.lot

        lot_a = receive("A100", date(2026, 12, 31), "INV-1", "20")
        clock.move_to(at(2, 2, 9, 5))
        lot_b = receive("B200", date(2026, 3, 15), "INV-2", "10")
        clock.move_to(at(2, 3, 10))
        services.ledger_entry_record(
            ctx=nurse,
            kind="administration",
            lot_id=lot_a.pk,
            location_id=safe.pk,
            quantity=services.Quantity("0.78", "mL"),
            patient_id=team_patient.pk,
        )
        clock.move_to(at(2, 3, 23, 30))
        services.ledger_entry_record(
            ctx=nurse,
            kind="waste",
            lot_id=lot_a.pk,
            location_id=safe.pk,
            quantity=services.Quantity("11", "mg"),
            witness=services.WitnessCredentials("prescriber", PASSWORD),
            patient_id=team_patient.pk,
            reason="left in the syringe",
        )
        clock.move_to(at(2, 5, 8))
        services.ledger_transfer(
            ctx=nurse,
            lot_id=lot_a.pk,
            from_location_id=safe.pk,
            to_location_id=cart.pk,
            quantity=services.Quantity("2", "mL"),
            reason="restock the cart",
        )
        clock.move_to(at(2, 9, 12))
        loss = services.ledger_entry_record(
            ctx=nurse,
            kind="loss",
            lot_id=lot_a.pk,
            location_id=cart.pk,
            quantity=services.Quantity("5", "mg"),
            reason=FORMULA,
            reference="DEA-106-0001",
        )
        clock.move_to(at(2, 9, 13))
        services.ledger_entry_record(
            ctx=nurse,
            kind="correction",
            lot_id=lot_a.pk,
            location_id=cart.pk,
            quantity=services.Quantity("1", "mg"),
            reason="the loss was 4 mg",
            corrects_id=loss.pk,
        )
        clock.move_to(at(2, 10, 15))
        yield {"product": product, "safe": safe, "cart": cart, "a": lot_a, "b": lot_b, "patient": team_patient}


def _events(action: str) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(action=action).order_by("id"))


def _csv(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


# --- Dispensing log -------------------------------------------------------------------------------


def test_dispensing_log_page_has_the_1304_22_fields(client_for: Any, ledger: dict[str, Any]) -> None:
    response = client_for("director").get(LOG, {"from": "2026-02-01", "to": "2026-02-10"})
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        "Example KAP Clinic (synthetic)",  # registrant
        "AB1234563",  # DEA number
        "America/New_York",  # the time zone, stated
        "Feb 3, 2026, 10:00 EST",  # date and time of the administration
        "Ketamine HCl injection 50 mg/mL",  # drug and strength
        "0000-0000-00",  # NDC
        "A100",  # lot
        "-39.000",  # mg given
        "-0.780 mL",  # volume given
        "Alder Teampatient",  # patient name ...
        "12 Elm Street, Apt 3, Springfield, NY 10001",  # ... and address
        "Nurse Persona, RN",  # who administered
        "Prescriber Persona, MD",  # witness of the waste
        "left in the syringe",
        "To Crash cart",  # where a transfer went
        "From Safe",
        "DEA-106-0001",  # loss report reference
        "Example Wholesale (synthetic); 9 Dock Road, Newark, NJ; DEA RX0000000; received Feb 2, 2026",
        "INV-1",
    ):
        assert text in page, text
    assert page.count('<th scope="col"') >= 13
    assert (
        "8 entries from Feb 1, 2026 to Feb 10, 2026" in page
    )  # 2 receipts, given, waste, 2 transfer legs, loss, correction
    assert "Download CSV" in page and "Download PDF" in page


def test_an_administration_without_the_patients_address_is_flagged(client_for: Any, ledger: dict[str, Any]) -> None:
    Patient.objects.filter(pk=ledger["patient"].pk).update(
        address_line1="", address_line2="", city="", region="", postal_code=""
    )
    page = client_for("auditor").get(LOG, {"from": "2026-02-03", "to": "2026-02-03"}).content.decode()
    assert page.count("⚠ No address on file") == 1  # the administration; the waste does not need one


def test_dispensing_log_days_run_midnight_to_midnight_in_the_clinic_time_zone(
    api_for: Any, ledger: dict[str, Any]
) -> None:
    auditor = api_for("auditor")
    feb3 = auditor.get(f"{API}/dispensing-log", {"from": "2026-02-03", "to": "2026-02-03"}).json()
    # The waste at 23:30 EST is 04:30 UTC on Feb 4, and still on Feb 3's log.
    assert [e["kind"] for e in feb3["entries"]] == ["administration", "waste"]
    feb4 = auditor.get(f"{API}/dispensing-log", {"from": "2026-02-04", "to": "2026-02-05"}).json()
    assert [e["kind"] for e in feb4["entries"]] == ["transfer_out", "transfer_in"]
    default = auditor.get(f"{API}/dispensing-log").json()
    assert (default["date_from"], default["date_to"]) == ("2026-01-12", "2026-02-10")  # the last 30 days
    assert len(default["entries"]) == 8


def test_dispensing_log_api_returns_every_field(api_for: Any, ledger: dict[str, Any]) -> None:
    body = api_for("director").get(f"{API}/dispensing-log", {"from": "2026-02-03", "to": "2026-02-03"}).json()
    assert body["time_zone"] == "America/New_York"
    assert body["registrant"] == {
        "name": "Example KAP Clinic (synthetic)",
        "dea_number": "AB1234563",
        "address": "1 Main Street\nSpringfield, NY 10001",
        "schedules": "3N",
        "expires_on": "2027-06-30",
    }
    given = body["entries"][0]
    assert given | {"id": 0} == {
        "id": 0,
        "kind": "administration",
        "occurred_at": "2026-02-03T10:00:00-05:00",
        "recorded_at": "2026-02-03T10:00:00-05:00",
        "location": "Safe",
        "drug": "Ketamine HCl injection",
        "form": "multi-dose vial",
        "ndc": "0000-0000-00",
        "strength": "50 mg/mL",
        "container": "10 mL",
        "lot_number": "A100",
        "lot_expires_on": "2026-12-31",
        "quantity_mg": "-39.000",
        "units": "-0.780",
        "unit": "mL",
        "balance_after_mg": "961.000",
        "patient": {
            "name": "Alder Teampatient",
            "mrn": ledger["patient"].mrn,
            "address": "12 Elm Street, Apt 3, Springfield, NY 10001",
        },
        "by": "Nurse Persona, RN",
        "witness": "",
        "supplier": "",
        "reference": "",
        "reason": "",
        "link": "",
    }
    assert body["entries"][1]["witness"] == "Prescriber Persona, MD"
    assert body["totals"] == [
        {
            "drug": "Ketamine HCl injection 50 mg/mL",
            "kind": "administration",
            "entries": 1,
            "mg": "-39.000",
            "units": "-0.780",
            "unit": "mL",
        },
        {
            "drug": "Ketamine HCl injection 50 mg/mL",
            "kind": "waste",
            "entries": 1,
            "mg": "-11.000",
            "units": "-0.220",
            "unit": "mL",
        },
    ]


def test_dispensing_log_csv_is_complete_and_formula_safe(client_for: Any, ledger: dict[str, Any]) -> None:
    response = client_for("auditor").get(
        "/ledger/reports/dispensing-log.csv", {"from": "2026-02-01", "to": "2026-02-10"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="kapclinic-dispensing-log-20260201-20260210.csv"'
    rows = _csv(response)
    assert [r["kind"] for r in rows] == [
        "receipt",
        "receipt",
        "administration",
        "waste",
        "transfer_out",
        "transfer_in",
        "loss",
        "correction",
    ]
    given = rows[2]
    assert given["occurred_at"] == "2026-02-03T10:00:00-05:00"
    assert given["quantity_mg"] == "-39.000"  # a number stays a number, not '-39.000
    assert given["patient_address"] == "12 Elm Street, Apt 3, Springfield, NY 10001"
    assert given["administered_or_recorded_by"] == "Nurse Persona, RN"
    loss, correction = rows[-2:]
    assert loss["kind"] == "loss" and loss["reference"] == "DEA-106-0001"
    assert correction["link"] == f"corrects entry {loss['entry_id']}" and correction["quantity_mg"] == "1.000"
    assert loss["reason"] == "'" + FORMULA  # text that would run as a formula is defused
    assert len(rows) == 8


def test_dispensing_log_refuses_bad_dates_and_reads_nothing(client_for: Any, ledger: dict[str, Any]) -> None:
    director = client_for("director")
    backwards = director.get(LOG, {"from": "2026-02-10", "to": "2026-02-01"})
    assert backwards.status_code == 400 and "The start date is after the end date." in backwards.content.decode()
    garbage = director.get("/ledger/reports/dispensing-log.csv", {"from": "yesterday"})
    assert garbage.status_code == 400 and garbage.content.decode() == "The start date is not a date (YYYY-MM-DD)."
    assert _events("ledger.report.dispensing_log") == []


def test_a_pdf_too_long_is_refused_with_the_way_out(
    client_for: Any, ledger: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "PDF_MAX_ROWS", 3)
    response = client_for("director").get("/ledger/reports/dispensing-log.pdf", {"from": "2026-02-01"})
    assert response.status_code == 400
    assert "8 entries are too many for one PDF (at most 3)" in response.content.decode()
    assert "download the CSV" in response.content.decode()


def test_dispensing_log_reads_in_a_fixed_number_of_queries(
    personas: dict[str, User], ledger: dict[str, Any], django_assert_num_queries: Any
) -> None:
    ctx = AuditContext(user=personas["auditor"], channel="system")
    # 1 entries with lot, product, location, people, patient, transfer source; 2 where each transfer went;
    # 3-4 the audit event (the chain's head, the INSERT); 5-6 one audit event per patient named (the head, one
    # INSERT); 7 the DEA registration.
    with django_assert_num_queries(7):
        log = reports.dispensing_log(ctx=ctx, date_from=date(2026, 2, 1), date_to=date(2026, 2, 10))
    assert len(log.rows) == 8


# --- Inventory ------------------------------------------------------------------------------------


def test_inventory_at_close_of_business_in_containers(api_for: Any, ledger: dict[str, Any]) -> None:
    body = api_for("auditor").get(f"{API}/inventory", {"as_of": "2026-02-04", "timing": "close"}).json()
    assert body["timing"] == "close" and body["time_zone"] == "America/New_York"
    assert body["as_of"] == "2026-02-04T23:59:59-05:00"
    assert body["registrant"]["dea_number"] == "AB1234563" and not body["zero_inventory"]
    lines = [
        (
            ln["location"],
            ln["lot_number"],
            ln["on_hand_mg"],
            ln["on_hand_units"],
            ln["full_containers"],
            ln["opened_container_units"],
        )
        for ln in body["lines"]
    ]
    # Per location, the lot expiring first first. A100: 1000 - 39 - 11 = 950 mg = 19 mL: one full
    # 10 mL vial and 9 mL in the opened one.
    assert lines == [
        ("Safe", "B200", "500.000", "10.000", 1, "0.000"),
        ("Safe", "A100", "950.000", "19.000", 1, "9.000"),
    ]
    assert body["lines"][1]["strength"] == "50 mg/mL" and body["lines"][0]["units_per_container"] == "10.000"
    after_transfer = (
        api_for("auditor").get(f"{API}/inventory", {"as_of": "2026-02-05T12:00", "timing": "opening"}).json()
    )
    by_place = {(ln["location"], ln["lot_number"]): ln["on_hand_mg"] for ln in after_transfer["lines"]}
    assert by_place == {("Crash cart", "A100"): "100.000", ("Safe", "A100"): "850.000", ("Safe", "B200"): "500.000"}


def test_inventory_before_anything_arrived_is_a_zero_inventory(
    client_for: Any, api_for: Any, ledger: dict[str, Any]
) -> None:
    body = api_for("director").get(f"{API}/inventory", {"as_of": "2026-02-02", "timing": "opening"}).json()
    assert body["zero_inventory"] and body["lines"] == [] and body["as_of"] == "2026-02-02T00:00:00-05:00"
    page = client_for("director").get(INVENTORY, {"date": "2026-02-02", "timing": "opening"}).content.decode()
    assert "Zero ledger:" in page and "Opening of business" in page


def test_inventory_page_csv_and_bad_moments(client_for: Any, ledger: dict[str, Any]) -> None:
    director = client_for("director")
    page = director.get(INVENTORY, {"date": "2026-02-05", "timing": "close"})
    assert page.status_code == 200
    text = page.content.decode()
    for fragment in (
        "Close of business",
        "Feb 5, 2026, 23:59 EST",
        "Crash cart",
        "AB1234563",
        '<label for="f-timing">',
    ):
        assert fragment in text, fragment
    assert "inventory.csv?date=2026-02-05&amp;timing=close" in text
    # Without a date the page shows now, and its downloads are pinned to that moment, not a later now.
    now = director.get(INVENTORY).content.decode()
    assert "inventory.pdf?date=2026-02-10&amp;time=15%3A00%3A00&amp;timing=close" in now
    rows = _csv(director.get("/ledger/reports/inventory.csv", {"date": "2026-02-05", "timing": "close"}))
    assert [
        (r["location"], r["lot_number"], r["on_hand_mg"], r["full_containers"], r["opened_container_units"])
        for r in rows
    ] == [
        ("Crash cart", "A100", "100.000", "0", "2.000"),
        ("Safe", "B200", "500.000", "1", "0.000"),
        ("Safe", "A100", "850.000", "1", "7.000"),
    ]
    assert rows[0]["taken_at"] == "Close of business" and rows[0]["dea_number"] == "AB1234563"
    future = director.get(INVENTORY, {"date": "2026-02-11"})
    assert future.status_code == 400 and "An inventory cannot be taken in the future." in future.content.decode()
    odd = director.get(INVENTORY, {"date": "2026-02-05", "timing": "during"})
    assert odd.status_code == 400 and "opening or close of business" in odd.content.decode()


def test_inventory_api_refuses_a_bad_moment(api_for: Any, ledger: dict[str, Any]) -> None:
    response = api_for("auditor").get(f"{API}/inventory", {"as_of": "next tuesday"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "as_of"


# --- Reconciliation -------------------------------------------------------------------------------


def test_reconciliation_balances_and_warns_of_expiry(client_for: Any, ledger: dict[str, Any]) -> None:
    page = client_for("auditor").get(RECONCILIATION).content.decode()
    assert "✓ Every lot and location balances to the milligram." in page
    assert "⚠ Expires in 33 days" in page  # B200 expires Mar 15, still 500 mg in the safe
    assert "Per lot and location" in page and "Per lot" in page
    rows = _csv(client_for("auditor").get("/ledger/reports/reconciliation.csv"))
    a_safe = next(
        r for r in rows if r["scope"] == "lot and location" and r["lot_number"] == "A100" and r["location"] == "Safe"
    )
    assert (a_safe["receipt_mg"], a_safe["administration_mg"], a_safe["waste_mg"], a_safe["transfer_out_mg"]) == (
        "1000.000",
        "-39.000",
        "-11.000",
        "-100.000",
    )
    assert a_safe["sum_of_entries_mg"] == a_safe["recorded_balance_mg"] == "850.000" and a_safe["state"] == "balances"
    a_lot = next(r for r in rows if r["scope"] == "lot" and r["lot_number"] == "A100")
    # Over both locations the transfer nets out: 1000 - 39 - 11 - 5 + 1 = 946.
    assert a_lot["location"] == "all locations" and a_lot["sum_of_entries_mg"] == "946.000"
    assert (a_lot["transfer_in_mg"], a_lot["transfer_out_mg"], a_lot["correction_mg"]) == (
        "100.000",
        "-100.000",
        "1.000",
    )
    b_safe = next(r for r in rows if r["lot_number"] == "B200" and r["scope"] == "lot and location")
    assert b_safe["expiry_warning"] == "expires in 33 days"


def test_reconciliation_flags_a_mismatch_and_an_expired_lot(
    client_for: Any, ledger: dict[str, Any], personas: dict[str, User]
) -> None:
    # A row written behind the services' back, with a balance that does not follow from the entries.
    LedgerEntry.objects.create(
        kind="administration",
        lot=ledger["b"],
        location=ledger["safe"],
        quantity_mg=D("-10"),
        units=D("-0.2"),
        balance_after_mg=D("495"),
        occurred_at=timezone.now(),
        actor=personas["nurse"],
    )
    Lot.objects.filter(pk=ledger["b"].pk).update(expires_on=date(2026, 2, 1))
    page = client_for("director").get(RECONCILIATION).content.decode()
    assert "✕ 1 lot and location does not balance." in page
    assert "records 495.000 mg on hand; the entries add up to 490.000 mg" in page
    assert "✕ Expired</strong>: return or destroy it" in page


# --- PDF ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "filename"),
    [
        (
            "/ledger/reports/dispensing-log.pdf",
            {"from": "2026-02-01", "to": "2026-02-10"},
            "kapclinic-dispensing-log-20260201-20260210.pdf",
        ),
        (
            "/ledger/reports/inventory.pdf",
            {"date": "2026-02-05", "timing": "close"},
            "kapclinic-inventory-20260205-2359-close.pdf",
        ),
        ("/ledger/reports/reconciliation.pdf", {}, "kapclinic-reconciliation-20260210-1500.pdf"),
    ],
)
def test_each_report_prints_as_pdf(
    client_for: Any, ledger: dict[str, Any], path: str, query: dict[str, str], filename: str
) -> None:
    response = client_for("auditor").get(path, query)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response.content.startswith(b"%PDF")


# --- Who may read them, and the audit trail -------------------------------------------------------

ALL_PATHS = [
    "/ledger/reports/",
    LOG,
    "/ledger/reports/dispensing-log.csv",
    "/ledger/reports/dispensing-log.pdf",
    INVENTORY,
    "/ledger/reports/inventory.csv",
    "/ledger/reports/inventory.pdf",
    RECONCILIATION,
    "/ledger/reports/reconciliation.csv",
    "/ledger/reports/reconciliation.pdf",
]


@pytest.mark.parametrize("persona", ["coordinator", "therapist", "patient_user"])
def test_roles_without_the_ledger_are_refused_and_the_refusal_audited(
    client_for: Any, api_for: Any, ledger: dict[str, Any], persona: str
) -> None:
    client = client_for(persona)
    for path in ALL_PATHS:
        assert client.get(path).status_code == 403, path
    # Bad filters do not tell them anything either.
    assert client.get(LOG, {"from": "nonsense"}).status_code == 403
    assert client.get(INVENTORY, {"date": "nonsense"}).status_code == 403
    api = api_for(persona)
    assert api.get(f"{API}/dispensing-log").status_code == 403
    assert api.get(f"{API}/inventory", {"as_of": "nonsense"}).status_code == 403
    denied = AccessEvent.objects.filter(username=persona, outcome="denied").values_list("action", flat=True)
    assert set(denied) == {"ledger.report.dispensing_log", "ledger.report.inventory", "ledger.report.reconciliation"}


@pytest.mark.parametrize("persona", ["auditor", "director"])
def test_auditor_and_director_read_every_report(
    client_for: Any, api_for: Any, ledger: dict[str, Any], persona: str
) -> None:
    client = client_for(persona)
    for path in ALL_PATHS:
        assert client.get(path).status_code == 200, path
    api = api_for(persona)
    assert api.get(f"{API}/dispensing-log").status_code == 200
    assert api.get(f"{API}/inventory").status_code == 200


def test_reading_a_report_is_audited(client_for: Any, api_for: Any, ledger: dict[str, Any]) -> None:
    client_for("auditor").get("/ledger/reports/dispensing-log.csv", {"from": "2026-02-03", "to": "2026-02-03"})
    log_events = _events("ledger.report.dispensing_log")
    summary = [e for e in log_events if e.patient_id is None]
    per_patient = [e for e in log_events if e.patient_id is not None]
    assert len(summary) == 1 and summary[0].username == "auditor" and summary[0].channel == "page"
    assert summary[0].detail == {"from": "2026-02-03", "to": "2026-02-03", "output": "csv", "entries": 2}
    # The log names the patient; their own audit trail shows who read it.
    assert [e.patient_id for e in per_patient] == [ledger["patient"].pk]
    api_for("director").get(f"{API}/inventory", {"as_of": "2026-02-04"})
    inventory = _events("ledger.report.inventory")
    assert len(inventory) == 1 and inventory[0].channel == "api"
    assert inventory[0].detail == {"as_of": "2026-02-04T23:59:59-05:00", "timing": "close", "output": "api"}
    client_for("director").get("/ledger/reports/reconciliation.pdf")
    (reconciliation,) = _events("ledger.report.reconciliation")
    assert reconciliation.detail == {"output": "pdf", "mismatches": 0, "expiring": 1}

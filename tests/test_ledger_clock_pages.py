"""The ledger's regulatory clocks on the director's dashboard and the API; recording a loss's DEA filings
(issue 13, rule 8). The date rules themselves are worked through in test_ledger_clocks.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import DatabaseError, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.clinical.ledger import next_business_day
from kapclinic.ledger.models import LedgerEntry, LossReport, Lot, Product, StorageLocation


@pytest.fixture
def loss(api_for: Any, personas: dict[str, User]) -> LedgerEntry:
    product = Product.objects.create(
        name="Ketamine HCl injection",
        form="multi-dose vial",
        mg_per_unit=Decimal("50"),
        unit="mL",
        units_per_container=10,
    )
    safe = StorageLocation.objects.create(name="Safe")
    nurse = api_for("nurse")
    received = nurse.post(
        "/api/v1/ledger/lots",
        {
            "product": product.pk,
            "lot_number": "A100",
            "expires_on": (timezone.localdate() + timedelta(days=300)).isoformat(),
            "supplier_name": "Example Wholesale (synthetic)",
            "invoice_reference": "INV-1",
            "received_on": timezone.localdate().isoformat(),
            "location": safe.pk,
            "quantity": "20",
            "unit": "mL",
        },
        content_type="application/json",
    )
    assert received.status_code == 201, received.content
    lot = Lot.objects.get(lot_number="A100")
    lost = nurse.post(
        "/api/v1/ledger/entries",
        {
            "kind": "loss",
            "lot": lot.pk,
            "location": safe.pk,
            "quantity": "2",
            "unit": "mL",
            "reason": "Vial missing at the evening count",
            "reference": "DEA notice pending",
        },
        content_type="application/json",
    )
    assert lost.status_code == 201, lost.content
    return LedgerEntry.objects.get(kind="loss")


def test_the_dashboard_shows_each_clock_with_its_source(client_for: Any, loss: LedgerEntry) -> None:
    page = client_for("director").get("/").content.decode()
    assert "Controlled-substance deadlines" in page
    # Stock but no initial ledger: overdue since the first receipt (21 CFR 1304.11(b)).
    assert "Initial inventory at Safe" in page and "1304.11(b)" in page
    notice_due = next_business_day(timezone.localdate())
    assert "Written notice to the DEA Field Division Office" in page and "1301.76(b)" in page
    assert f"due by {notice_due:%b} {notice_due.day}, {notice_due.year}" in page
    assert "DEA Form 106 submitted" in page and "record it" in page
    assert "none may be destroyed before" in page and "1304.04(a)" in page


def test_the_director_records_the_filings_and_the_clocks_stop(client_for: Any, api_for: Any, loss: LedgerEntry) -> None:
    director = client_for("director")
    url = f"/ledger/losses/{loss.pk}/reports/"
    assert director.get(url + "?kind=written_notice").status_code == 200
    # Bad input: a clear error next to the field, the typed values kept, nothing stored.
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    bad = director.post(url, {"kind": "written_notice", "filed_on": future, "reference": "Fax to field office"})
    assert bad.status_code == 422 and "cannot be dated in the future" in bad.content.decode()
    assert 'value="Fax to field office"' in bad.content.decode() and not LossReport.objects.exists()
    today = timezone.localdate().isoformat()
    assert director.post(url, {"kind": "written_notice", "filed_on": today}).status_code == 302
    twice = director.post(url, {"kind": "written_notice", "filed_on": today})
    assert twice.status_code == 409 and "already recorded" in twice.content.decode()
    api = api_for("director")
    no_ref = api.post(
        f"/api/v1/ledger/losses/{loss.pk}/reports",
        {"kind": "form_106", "filed_on": today},
        content_type="application/json",
    )
    assert no_ref.status_code == 422 and "confirmation number" in no_ref.content.decode()
    filed = api.post(
        f"/api/v1/ledger/losses/{loss.pk}/reports",
        {"kind": "form_106", "filed_on": today, "reference": "F106-2026-0001"},
        content_type="application/json",
    )
    assert filed.status_code == 201 and filed.json()["by"] == "director"
    clocks = api.get("/api/v1/ledger/clocks").json()
    (shown,) = clocks["losses"]
    assert shown["notice"]["state"] == shown["form_106"]["state"] == "done"
    assert "✓ Done" in director.get("/").content.decode()
    # Filings are append-only in the database.
    with pytest.raises(DatabaseError), transaction.atomic():
        LossReport.objects.filter(loss=loss).update(reference="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        LossReport.objects.filter(loss=loss).delete()


def test_an_unfiled_notice_turns_overdue_after_one_business_day(api_for: Any, loss: LedgerEntry) -> None:
    later = next_business_day(timezone.localdate()) + timedelta(days=1)
    with time_machine.travel(datetime(later.year, later.month, later.day, 17, tzinfo=UTC)):
        clocks = api_for("director").get("/api/v1/ledger/clocks").json()
    (shown,) = clocks["losses"]
    assert shown["notice"]["state"] == "overdue" and shown["notice"]["days_left"] < 0
    assert shown["form_106"]["state"] == "due"


def test_only_the_director_records_filings_and_only_report_roles_read_the_clocks(
    client_for: Any, api_for: Any, loss: LedgerEntry
) -> None:
    body = {"kind": "written_notice", "filed_on": timezone.localdate().isoformat()}
    for name in ("nurse", "prescriber", "auditor"):
        assert (
            api_for(name)
            .post(f"/api/v1/ledger/losses/{loss.pk}/reports", body, content_type="application/json")
            .status_code
            == 403
        )
        assert client_for(name).post(f"/ledger/losses/{loss.pk}/reports/", body).status_code == 403
    assert api_for("auditor").get("/api/v1/ledger/clocks").status_code == 200
    assert api_for("nurse").get("/api/v1/ledger/clocks").status_code == 403
    receipt = LedgerEntry.objects.get(kind="receipt")
    not_a_loss = api_for("director").post(
        f"/api/v1/ledger/losses/{receipt.pk}/reports", body, content_type="application/json"
    )
    assert not_a_loss.status_code == 404 and not LossReport.objects.exists()

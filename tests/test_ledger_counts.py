"""Blind, witnessed counts; discrepancies open investigations the director resolves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, transaction

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.ledger.models import CountLine, Investigation, LedgerEntry, Lot
from kapclinic.ledger.services import Quantity
from tests.conftest import PASSWORD
from tests.db_roles import REFUSED
from tests.probes.records import receive_make, vials_safe_and_cart

D = Decimal


@pytest.fixture
def stocked(personas: dict[str, User]) -> dict[str, Any]:
    places = vials_safe_and_cart()
    product, safe, cart = places["product"], places["safe"], places["cart"]
    ctx = AuditContext(user=personas["nurse"], channel="system")
    lots = []
    for number, ml in (("A1", "20"), ("B2", "10")):
        receive_make(ctx, product, safe, number, Quantity(ml, "mL"), days=200)
        lots.append(Lot.objects.get(lot_number=number))
    return {"product": product, "safe": safe, "cart": cart, "a": lots[0], "b": lots[1]}


def _count(api: Any, stocked: dict[str, Any], a: str, b: str, **change: Any) -> Any:
    body = {
        "location": stocked["safe"].pk,
        "kind": "daily",
        "business_time": "close",
        "lines": [
            {"lot": stocked["a"].pk, "quantity": a, "unit": "mL"},
            {"lot": stocked["b"].pk, "quantity": b, "unit": "mL"},
        ],
        "witness_username": "prescriber",
        "witness_password": PASSWORD,
        **change,
    }
    return api.post("/api/v1/ledger/counts", body, content_type="application/json")


def test_matching_count_opens_nothing(api_for: Any, stocked: dict[str, Any]) -> None:
    response = _count(api_for("nurse"), stocked, "20", "10")
    assert response.status_code == 201, response.content
    assert [line["investigation"] for line in response.json()["lines"]] == [None, None]
    assert not Investigation.objects.exists()


def test_discrepancy_opens_an_investigation_shown_until_resolved(
    api_for: Any, client_for: Any, stocked: dict[str, Any]
) -> None:
    response = _count(api_for("nurse"), stocked, "19.9", "10")  # 5 mg short in lot A1
    assert response.status_code == 201
    line = CountLine.objects.get(lot=stocked["a"])
    assert line.counted_mg == D("995") and line.expected_mg == D("1000")
    investigation = Investigation.objects.get()

    director = client_for("director")
    assert "counted 995 mg, ledger 1000 mg" in director.get("/").content.decode()
    rec = {r["lot"]: r for r in api_for("auditor").get("/api/v1/ledger/reconciliation").json()}
    assert not rec[stocked["a"].pk]["balanced"] and "investigation open" in rec[stocked["a"].pk]["problems"][0]
    assert rec[stocked["b"].pk]["balanced"]

    refused = api_for("nurse").post(
        f"/api/v1/ledger/investigations/{investigation.pk}/resolve",
        {"resolution": "spill", "adjust_ledger": True},
        content_type="application/json",
    )
    assert refused.status_code == 403
    resolved = api_for("director").post(
        f"/api/v1/ledger/investigations/{investigation.pk}/resolve",
        {"resolution": "Overfill estimate at receipt; confirmed with the supplier.", "adjust_ledger": True},
        content_type="application/json",
    )
    assert resolved.status_code == 200, resolved.content
    adjustment = LedgerEntry.objects.get(kind="count_adjustment")
    assert adjustment.quantity_mg == D("-5") and adjustment.balance_after_mg == D("995")
    assert adjustment.count_line == line
    rec = api_for("auditor").get("/api/v1/ledger/reconciliation").json()
    assert all(r["balanced"] for r in rec)
    assert "No open investigations." in director.get("/").content.decode()
    again = api_for("director").post(
        f"/api/v1/ledger/investigations/{investigation.pk}/resolve",
        {"resolution": "twice"},
        content_type="application/json",
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lines": []}, "Enter what you counted of each lot."),
        ({"kind": "weekly"}, "Choose the kind of count."),
        ({"witness_username": "nurse"}, "someone other than you"),
        ({"witness_password": "nope"}, "witness could not be confirmed"),
    ],
)
def test_bad_counts_write_nothing(api_for: Any, stocked: dict[str, Any], change: dict[str, Any], message: str) -> None:
    response = _count(api_for("nurse"), stocked, "20", "10", **change)
    assert response.status_code == 422 and message in str(response.json())
    assert not CountLine.objects.exists()


def test_every_lot_on_hand_must_be_counted_and_only_lots_kept_here(api_for: Any, stocked: dict[str, Any]) -> None:
    nurse = api_for("nurse")
    only_a = _count(nurse, stocked, "20", "10", lines=[{"lot": stocked["a"].pk, "quantity": "20", "unit": "mL"}])
    assert only_a.status_code == 422 and "not counted: B2" in str(only_a.json())
    elsewhere = _count(nurse, stocked, "20", "10", location=stocked["cart"].pk)
    assert elsewhere.status_code == 422 and "has never been at Crash cart" in str(elsewhere.json())
    assert not CountLine.objects.exists()


def test_blind_count_page_never_shows_the_expected_figure(client_for: Any, stocked: dict[str, Any]) -> None:
    client = client_for("nurse")
    page = client.get(f"/ledger/counts/new/{stocked['safe'].pk}/").content.decode()
    assert "lot A1" in page and "lot B2" in page
    assert "1000" not in page and "20.000" not in page
    response = client.post(
        f"/ledger/counts/new/{stocked['safe'].pk}/",
        {
            "kind": "daily",
            "business_time": "close",
            f"lot_{stocked['a'].pk}": "20",
            f"unit_{stocked['a'].pk}": "mL",
            f"lot_{stocked['b'].pk}": "9",
            f"unit_{stocked['b'].pk}": "mL",
            "witness_username": "prescriber",
            "witness_password": PASSWORD,
        },
    )
    assert response.status_code == 302
    detail = client.get(response["Location"]).content.decode()
    assert "under investigation" in detail and "-50<" in detail  # amounts without trailing zeros


def test_counts_are_append_only(api_for: Any, stocked: dict[str, Any]) -> None:
    _count(api_for("nurse"), stocked, "20", "10")
    with pytest.raises(DatabaseError, match=REFUSED), transaction.atomic():
        CountLine.objects.update(counted_mg=D("1"))


def test_director_sets_the_dea_registration(client_for: Any, personas: dict[str, User]) -> None:
    director = client_for("director")
    data = {
        "registrant_name": "Synthetic Clinic",
        "dea_number": "ab12",
        "address": "1 Example St",
        "schedules": "3N",
        "expires_on": "2030-01-01",
    }
    bad = director.post("/ledger/registration/", data)
    assert "two letters and seven digits" in bad.content.decode()
    director.post("/ledger/registration/", {**data, "dea_number": "zz0000000"})
    assert "ZZ0000000" in client_for("auditor").get("/ledger/registration/").content.decode()
    assert client_for("nurse").post("/ledger/registration/", data).status_code == 403

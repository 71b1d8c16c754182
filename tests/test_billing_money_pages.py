"""Money pages and API (issue 18 items 6, 4, 2): the biller records a payment, refund or write-off (errors next to
fields, typed values kept, refunds and write-offs confirmed); POST /api/v1/payments and GET .../balance; the
statement and the superbill PDFs (what a superbill says, checked on its data and in its text); the patient's own
balance and superbill in the portal, audited; who may do what."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.billing import payments, superbills
from kapclinic.billing.models import Coverage, MoneyEntry, PackagePurchase, Payer, SelfPayPackage
from kapclinic.clinical import superbill as rules
from kapclinic.patients.models import Patient
from tests.test_billing_money import approved_line
from tests.test_printing import _pdf_text as pdf_text

JSON = "application/json"
pytestmark = pytest.mark.django_db


def _ctx(user: User) -> AuditContext:
    return AuditContext(user=user, channel="page")


@pytest.fixture
def biller(client_for: Any) -> Any:
    return client_for("biller")


def test_the_biller_records_a_payment_on_a_line(biller: Any, personas: dict[str, User], team_patient: Patient) -> None:
    line = approved_line(team_patient, personas, cents=25_000)
    url = f"/patients/{team_patient.pk}/billing/record/"
    form = biller.get(url).content.decode()
    assert f'value="line:{line.pk}"' in form and "owes $250.00" in form
    answer = biller.post(
        url,
        {
            "kind": "payment",
            "amount": "$1,00.50",  # typed oddly: still dollars and cents
            "method": "card",
            "reference": "TERM-7",
            "apply_to": f"line:{line.pk}",
            "received_on": timezone.localdate().isoformat(),
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    entry = MoneyEntry.objects.get()
    assert (entry.amount_cents, entry.line_id, entry.reference, entry.recorded_by) == (
        10_050,
        line.pk,
        "TERM-7",
        personas["biller"],
    )
    page = biller.get(f"/patients/{team_patient.pk}/billing/").content.decode()
    assert "Balance owed: <strong>$149.50</strong>" in page and "TERM-7" in page


def test_an_overpayment_is_refused_next_to_the_amount_with_what_was_typed_kept(
    biller: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    approved_line(team_patient, personas, cents=10_000)
    url = f"/patients/{team_patient.pk}/billing/record/"
    typed = {
        "kind": "payment",
        "amount": "150.00",
        "method": "check",
        "reference": "CHK-5531",
        "received_on": timezone.localdate().isoformat(),
    }
    answer = biller.post(url, typed)
    page = answer.content.decode()
    assert answer.status_code == 422
    assert "more than the balance of $100.00" in page and 'value="150.00"' in page and 'value="CHK-5531"' in page
    assert 'aria-invalid="true"' in page
    assert not MoneyEntry.objects.exists()
    assert biller.post(url, {**typed, "keep_as_credit": "on"}).status_code == 302
    assert MoneyEntry.objects.get().keep_as_credit


def test_a_refund_and_a_write_off_are_confirmed_and_a_write_off_says_why(
    biller: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    approved_line(team_patient, personas, cents=10_000)
    payments.money_entry_record(
        ctx=_ctx(personas["biller"]),
        given=payments.MoneyEntryInput(team_patient.pk, "payment", 8_000, method="cash"),
    )
    url = f"/patients/{team_patient.pk}/billing/record/"
    today = timezone.localdate().isoformat()
    refund = {"kind": "refund", "amount": "30", "method": "cash", "received_on": today}
    answer = biller.post(url, refund)
    assert answer.status_code == 422 and "Tick the box to confirm" in answer.content.decode()
    assert biller.post(url, {**refund, "confirm": "on"}).status_code == 302
    write_off = {"kind": "write_off", "amount": "20", "received_on": today, "confirm": "on"}
    answer = biller.post(url, write_off)
    assert answer.status_code == 422 and "Say why this is written off" in answer.content.decode()
    assert biller.post(url, {**write_off, "reason": "Hardship, approved by the director"}).status_code == 302
    assert sorted(MoneyEntry.objects.values_list("kind", "amount_cents")) == [
        ("payment", 8_000),
        ("refund", 3_000),
        ("write_off", 2_000),
    ]


@pytest.mark.parametrize("typed", ["-5", "abc", "1.234", "99999999999"])
def test_an_amount_that_is_not_money_is_refused_on_the_page(
    biller: Any, personas: dict[str, User], team_patient: Patient, typed: str
) -> None:
    approved_line(team_patient, personas)
    answer = biller.post(
        f"/patients/{team_patient.pk}/billing/record/",
        {"kind": "payment", "amount": typed, "method": "cash", "received_on": timezone.localdate().isoformat()},
    )
    assert answer.status_code == 422 and not MoneyEntry.objects.exists()


def test_the_api_records_a_payment_and_an_insurance_adjustment_and_refuses_bad_ones(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    api = api_for("biller")
    line = approved_line(team_patient, personas, cents=20_000)
    theirs = approved_line(other_patient, personas, cents=20_000)
    payer = Payer.objects.create(name="Synthetic Mutual", created_by=personas["biller"])
    paid = api.post(
        "/api/v1/payments",
        {
            "patient": team_patient.pk,
            "kind": "payment",
            "amount_cents": 12_000,
            "method": "insurance",
            "payer": payer.pk,
            "claim_reference": "CLM-9",
            "line": line.pk,
        },
        content_type=JSON,
    )
    assert paid.status_code == 201, paid.content
    assert paid.json()["balance_cents"] == 8_000
    adjusted = api.post(
        "/api/v1/payments",
        {
            "patient": team_patient.pk,
            "kind": "adjustment",
            "amount_cents": 8_000,
            "payer": payer.pk,
            "adjustment_group": "CO",
            "adjustment_reason": "45",
            "line": line.pk,
        },
        content_type=JSON,
    )
    assert adjusted.status_code == 201 and adjusted.json()["balance_cents"] == 0
    bad = [
        ({"kind": "payment", "amount_cents": 1, "method": "cash"}, 422),  # nothing owed now
        ({"kind": "payment", "amount_cents": -100, "method": "cash", "keep_as_credit": True}, 422),
        ({"kind": "payment", "amount_cents": 10**15, "method": "cash"}, 422),
        ({"kind": "payment", "amount_cents": 100, "method": "cash", "line": theirs.pk}, 422),
        ({"kind": "payment", "amount_cents": 100, "method": "cash", "line": 10**9}, 422),
        ({"kind": "payment", "amount_cents": 100, "method": "cash", "patient": 10**9}, 404),
    ]
    for body, status in bad:
        answer = api.post("/api/v1/payments", {"patient": team_patient.pk, **body}, content_type=JSON)
        assert answer.status_code == status, (body, answer.content)
    assert MoneyEntry.objects.count() == 2
    # The four that reached the service are audited (a number too large for the schema never does).
    assert AccessEvent.objects.filter(action="money.record", outcome="invalid", patient=team_patient).count() == 4
    balance = api.get(f"/api/v1/patients/{team_patient.pk}/balance").json()
    assert (balance["balance_cents"], balance["paid_cents"], balance["adjusted_cents"]) == (0, 12_000, 8_000)
    assert balance["lines"] == [
        {
            "line": line.pk,
            "date_of_service": line.date_of_service.isoformat(),
            "code": "90837",
            "charged_cents": 20_000,
            "paid_net_cents": 12_000,
            "balance_cents": 0,
        }
    ]


def test_clinicians_see_no_money_and_the_patient_only_their_own(
    client_for: Any, api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    approved_line(team_patient, personas, cents=5_000)
    for name in ("therapist", "prescriber", "nurse", "coordinator"):
        assert client_for(name).get(f"/patients/{team_patient.pk}/billing/").status_code == 403
        assert api_for(name).get(f"/api/v1/patients/{team_patient.pk}/balance").status_code == 403
    patient = api_for("patient_user")
    assert patient.get(f"/api/v1/patients/{team_patient.pk}/balance").json()["balance_cents"] == 5_000
    assert patient.get(f"/api/v1/patients/{other_patient.pk}/balance").status_code == 404
    assert client_for("auditor").get(f"/patients/{team_patient.pk}/billing/").status_code == 200
    assert client_for("auditor").get(f"/patients/{team_patient.pk}/billing/record/").status_code == 403


def test_the_account_page_costs_the_same_queries_for_2_or_20_lines_and_entries(
    biller: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    url = f"/patients/{team_patient.pk}/billing/"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert biller.get(url).status_code == 200
        return len(queries)

    def add(n: int) -> None:
        for _ in range(n):
            line = approved_line(team_patient, personas, cents=1_000)
            payments.money_entry_record(
                ctx=_ctx(personas["biller"]),
                given=payments.MoneyEntryInput(team_patient.pk, "payment", 500, method="cash", line_id=line.pk),
            )

    add(2)
    few = count()
    add(18)
    assert count() == few


# --- superbill -----------------------------------------------------------------------------------------------------


def test_npi_check_digit_and_taxonomy_by_licence() -> None:
    assert rules.npi_valid("1234567893")  # CMS's worked example
    assert not rules.npi_valid("1234567890") and not rules.npi_valid("TEST-MD-1")
    assert rules.taxonomy_for_licence("M.D.") == "2084P0800X" and rules.taxonomy_for_licence("lcsw") == "1041C0700X"
    assert rules.taxonomy_for_licence("Reiki") == ""
    assert rules.pointers(["F33.1", "F43.10"], ["F43.10", "F33.1"]) == "BA"
    assert rules.diagnoses_in_order([["F33.2"], ["F33.2", "F43.10"], ["F41.1"]]) == ["F33.2", "F43.10", "F41.1"]


def _superbill_world(personas: dict[str, User], patient: Patient) -> tuple[Any, Any]:
    therapist = personas["therapist"]
    therapist.licence_type, therapist.licence_number = "LCSW", "1234567893"
    therapist.save()
    payer = Payer.objects.create(name="Synthetic Bluebonnet", payer_id="SYN01", created_by=personas["biller"])
    Coverage.objects.create(
        patient=patient,
        payer=payer,
        member_id="MEM-77",
        group_number="GRP-1",
        relationship="spouse",
        subscriber_name="Rowan Example",
        effective_from=date(2026, 1, 1),
        recorded_by=personas["biller"],
    )
    day = timezone.localdate() - timedelta(days=5)
    first = approved_line(patient, personas, cents=22_500, day=day)
    second = approved_line(patient, personas, cents=17_500, code="90834", day=day + timedelta(days=2))
    payments.money_entry_record(
        ctx=_ctx(personas["biller"]),
        given=payments.MoneyEntryInput(patient.pk, "payment", 22_500, method="card", reference="T-9", line_id=first.pk),
    )
    return first, second


def test_a_superbill_says_what_an_insurer_asks_for(personas: dict[str, User], team_patient: Patient) -> None:
    first, second = _superbill_world(personas, team_patient)
    bill = superbills.superbill(
        ctx=_ctx(personas["patient_user"]),
        patient_id=team_patient.pk,
        first=first.date_of_service,
        last=second.date_of_service,
    )
    assert (bill.practice.npi, bill.practice.tax_id_shown, bill.practice.taxonomy) == (
        "1234567893",
        "99-0000001",
        "261QM0801X",
    )
    (provider,) = bill.providers
    assert (provider.npi, provider.taxonomy, provider.credential) == ("1234567893", "1041C0700X", "LCSW")
    assert bill.coverage is not None and bill.coverage.subscriber_name == "Rowan Example"
    assert [(r.line.code, r.place, r.pointers, r.paid_cents) for r in bill.rows] == [
        ("90837", "11 Office", "A", 22_500),
        ("90834", "11 Office", "A", 0),
    ]
    assert (bill.charged_cents, bill.paid_cents, bill.balance_cents) == (40_000, 22_500, 17_500)
    assert bill.lettered_diagnoses == [("A", "F33.2")]
    one_visit = superbills.superbill(
        ctx=_ctx(personas["biller"]),
        patient_id=team_patient.pk,
        first=first.date_of_service,
        last=first.date_of_service,
    )
    assert [r.line.pk for r in one_visit.rows] == [first.pk]


def test_the_patient_downloads_their_superbill_in_the_portal_audited(
    client_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    first, second = _superbill_world(personas, team_patient)
    portal = client_for("patient_user")
    page = portal.get("/portal/billing/").content.decode()
    assert "You owe $175.00" in page and "Download my superbill" in page
    answer = portal.get(
        "/portal/billing/superbill.pdf",
        {"from": first.date_of_service.isoformat(), "to": second.date_of_service.isoformat()},
    )
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    text = pdf_text(answer.content)
    for fact in ("SUPERBILL", "1234567893", "99-0000001", "261QM0801X", "1041C0700X", "MEM-77", "Rowan Example"):
        assert fact in text, fact
    for fact in ("90837", "90834", "F33.2", "11 Office", "$225.00", "$175.00", "T-9"):
        assert fact in text, fact
    audited = AccessEvent.objects.filter(user=personas["patient_user"], patient=team_patient)
    assert audited.filter(action="money.view", detail__superbill__isnull=False).exists()
    assert audited.filter(action="record.print", detail__what="superbill").exists()
    # A period back to front is refused next to its field, nothing printed.
    wrong = portal.get("/portal/billing/superbill.pdf", {"from": "2026-12-01", "to": "2026-11-01"})
    assert wrong.status_code == 422 and "cannot be before the first" in wrong.content.decode()


def test_the_superbill_api_gives_a_pdf_and_refuses_a_bad_period(
    api_for: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    first, _ = _superbill_world(personas, team_patient)
    api = api_for("biller")
    day = first.date_of_service.isoformat()
    answer = api.get(f"/api/v1/patients/{team_patient.pk}/superbill", {"from": day, "to": day})
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
    assert api.get(f"/api/v1/patients/{team_patient.pk}/superbill", {"from": day}).status_code == 422
    assert (
        api.get(f"/api/v1/patients/{team_patient.pk}/superbill", {"from": "2024-01-01", "to": day}).status_code == 422
    )
    patient = api_for("patient_user")
    assert patient.get(f"/api/v1/patients/{other_patient.pk}/superbill", {"from": day, "to": day}).status_code == 404
    assert (
        api_for("therapist").get(f"/api/v1/patients/{team_patient.pk}/superbill", {"from": day, "to": day}).status_code
        == 403
    )


def test_the_statement_pdf_lists_charges_payments_and_the_balance(
    biller: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    _superbill_world(personas, team_patient)
    answer = biller.get(f"/patients/{team_patient.pk}/billing/statement.pdf")
    assert answer.status_code == 200
    text = pdf_text(answer.content)
    assert "STATEMENT" in text and "$175.00" in text and "T-9" in text and "90834" in text


# --- packages --------------------------------------------------------------------------------------------------------


def test_packages_are_offered_sold_on_the_account_page_and_shown(
    biller: Any, client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    today = timezone.localdate().isoformat()
    offered = {"name": "Six IV sessions", "sessions": "6", "price": "4,500.00", "effective_from": "2026-01-01"}
    refused = biller.post("/billing/packages/", {**offered, "price": "-1"})
    assert refused.status_code == 422 and not SelfPayPackage.objects.exists()
    assert biller.post("/billing/packages/", offered).status_code == 302
    package = SelfPayPackage.objects.get()
    assert package.price_cents == 450_000
    assert client_for("therapist").get("/billing/packages/").status_code == 403
    url = f"/patients/{team_patient.pk}/billing/"
    assert biller.post(url, {"package": "", "bought_on": today}).status_code == 422
    assert biller.post(url, {"package": str(package.pk), "bought_on": today}).status_code == 302
    purchase = PackagePurchase.objects.get()
    assert (purchase.sessions, purchase.price_cents) == (6, 450_000)
    page = biller.get(url).content.decode()
    assert "Six IV sessions" in page and "<strong>6</strong> of 6" in page and "$4,500.00" in page
    portal = client_for("patient_user").get("/portal/billing/").content.decode()
    assert "6 of 6 sessions left" in portal and "$4,500.00 still to pay" in portal


def test_the_biller_corrects_an_entry_on_the_account_page(
    biller: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    approved_line(team_patient, personas, cents=10_000)
    entry = payments.money_entry_record(
        ctx=_ctx(personas["biller"]),
        given=payments.MoneyEntryInput(team_patient.pk, "payment", 9_000, method="check", reference="1042"),
    )
    url = f"/patients/{team_patient.pk}/billing/"
    fix = {"op": "correct", "correct-entry": str(entry.pk), "correct-amount": "0", "correct-reason": "Check bounced"}
    unconfirmed = biller.post(url, fix)
    assert unconfirmed.status_code == 422 and "Tick the box to confirm the correction" in unconfirmed.content.decode()
    assert 'value="Check bounced"' in unconfirmed.content.decode()
    assert biller.post(url, {**fix, "correct-confirm": "on"}).status_code == 302
    void = MoneyEntry.objects.get(corrects=entry)
    assert (void.amount_cents, void.reference, void.reason) == (0, "1042", "Check bounced")
    assert "Balance owed: <strong>$100.00</strong>" in biller.get(url).content.decode()


def test_a_line_of_another_patient_typed_into_the_form_is_refused_next_to_apply_to(
    biller: Any, personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    approved_line(team_patient, personas)
    theirs = approved_line(other_patient, personas)
    answer = biller.post(
        f"/patients/{team_patient.pk}/billing/record/",
        {
            "kind": "payment",
            "amount": "10",
            "method": "cash",
            "apply_to": f"line:{theirs.pk}",  # not offered: the choice refuses it first
            "received_on": timezone.localdate().isoformat(),
        },
    )
    assert answer.status_code == 422 and not MoneyEntry.objects.exists()
    assert 'id="id_apply_to_error"' in answer.content.decode()


def test_the_portal_page_costs_the_same_queries_for_2_or_20_lines(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    portal = client_for("patient_user")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert portal.get("/portal/billing/").status_code == 200
        return len(queries)

    def add(n: int) -> None:
        for _ in range(n):
            line = approved_line(team_patient, personas, cents=1_000)
            payments.money_entry_record(
                ctx=_ctx(personas["biller"]),
                given=payments.MoneyEntryInput(
                    team_patient.pk, "payment", 500, method="card", reference="T", line_id=line.pk
                ),
            )

    add(2)
    few = count()
    add(18)
    assert count() == few

"""835 remittances (issue 18 item 5): a payer's file posts payments and adjustments to the claimed lines through the
money ledger and moves each claim to paid, partly paid or denied (with the reason codes); all or nothing; the same
file twice posts nothing the second time; a malformed file or an unknown claim is refused, audited."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from kapclinic.accounts.models import User
from kapclinic.audit.models import AccessEvent
from kapclinic.billing import claims as service
from kapclinic.billing.models import Claim, ClaimEvent, MoneyEntry, Remittance
from kapclinic.billing.x12_835 import Adjustment, RemitClaimIn, RemitLineIn, read_835, remittance_text
from kapclinic.billing.x12_check import x12_errors
from kapclinic.patients.models import Patient
from kapclinic.roles import Action
from tests.test_claims import DAY, approved_line, billable, ctx_of

JSON = "application/json"
X12 = "application/edi-x12"
pytestmark = pytest.mark.django_db
CO_45 = Adjustment("CO", "45", 7_000)  # the contractual write-down


@pytest.fixture
def people(personas: dict[str, User]) -> dict[str, User]:
    return personas


def _sent_claims(people: dict[str, User], patient: Patient) -> tuple[Claim, Claim]:
    """Two submitted claims: a therapy line (to be paid) and an infusion with its drug (to be denied)."""
    billable(patient, people)
    ctx = ctx_of(people["biller"])
    therapy = service.claim_create(ctx=ctx, line_ids=[approved_line(patient, people).pk])
    infusion = service.claim_create(
        ctx=ctx,
        line_ids=[
            approved_line(patient, people, code="96365", cents=30_000).pk,
            approved_line(patient, people, code="J3490", cents=10_000).pk,
        ],
    )
    for claim in (therapy, infusion):
        service.claim_mark(ctx=ctx, claim_id=claim.pk, state="submitted")
    return therapy, infusion


def _file(therapy: Claim, infusion: Claim, *, trace: str = "CHK1001", therapy_number: str = "") -> str:
    return remittance_text(
        payer_name="Synthetic Mutual",
        payer_tax_id="990000002",
        payee_name="Synthetic KAP Clinic",
        payee_npi="1234567893",
        trace_number=trace,
        paid_on=date(2026, 12, 1),
        claims=[
            RemitClaimIn(
                therapy_number or therapy.number, "1", 25_000, 15_000, 3_000, "PCN-1", "Persona", "Team", "SYN-M-001",
                [RemitLineIn("90837", [], 25_000, 15_000, DAY, [CO_45, Adjustment("PR", "2", 3_000)])],
            ),
            RemitClaimIn(
                infusion.number, "4", 40_000, 0, 0, "PCN-2", "Persona", "Team", "SYN-M-001",
                [
                    RemitLineIn("96365", [], 30_000, 0, DAY, [Adjustment("CO", "50", 30_000)]),
                    RemitLineIn("J3490", [], 10_000, 0, DAY, [Adjustment("CO", "50", 10_000)]),
                ],
            ),
        ],
    )  # fmt: skip


def test_a_remittance_posts_a_payment_and_a_denial(
    people: dict[str, User], team_patient: Patient, api_for: Any
) -> None:
    therapy, infusion = _sent_claims(people, team_patient)
    text = _file(therapy, infusion)
    assert x12_errors(text) == []  # the synthetic payer's file is a valid 835
    answer = api_for("biller").post("/api/v1/remittances", text, content_type=X12)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["already_posted"] is False and body["trace_number"] == "CHK1001" and body["total_cents"] == 15_000
    states = {c["number"]: c for c in body["claims"]}
    assert states[therapy.number]["state"] == "partly_paid" and states[therapy.number]["patient_cents"] == 3_000
    assert states[infusion.number]["state"] == "denied" and states[infusion.number]["codes"] == ["CO-50"]
    therapy.refresh_from_db()
    infusion.refresh_from_db()
    assert therapy.state == "partly_paid" and therapy.payer_claim_number == "PCN-1"
    denial = ClaimEvent.objects.get(claim=infusion, state="denied")
    assert "CO-50" in denial.reason and denial.remittance_id == body["remittance"]
    money = MoneyEntry.objects.filter(patient=team_patient).order_by("id")
    got = [(m.kind, m.amount_cents, m.adjustment_group, m.adjustment_reason) for m in money]
    # The payment and the contractual write-down on the therapy line; the patient's 30.00 (PR-2) is not posted: it
    # stays on the line. The denial posts no money: the infusion lines stay owed, for a resubmission.
    assert got == [("payment", 15_000, "", ""), ("adjustment", 7_000, "CO", "45")]
    assert all(m.claim_reference == f"{therapy.number}/PCN-1" and m.payer_id == therapy.payer_id for m in money)
    assert {m.line_id for m in money} == {therapy.lines.get().line_id}


def test_the_same_file_twice_posts_nothing_the_second_time(
    people: dict[str, User], team_patient: Patient, api_for: Any
) -> None:
    therapy, infusion = _sent_claims(people, team_patient)
    text = _file(therapy, infusion)
    biller = api_for("biller")
    assert biller.post("/api/v1/remittances", {"x12": text}, content_type=JSON).status_code == 201
    entries, events = MoneyEntry.objects.count(), ClaimEvent.objects.count()
    again = biller.post("/api/v1/remittances", text, content_type=X12)
    assert again.status_code == 200 and again.json()["already_posted"] is True and again.json()["entries"] == 0
    assert (MoneyEntry.objects.count(), ClaimEvent.objects.count(), Remittance.objects.count()) == (entries, events, 1)


@pytest.mark.parametrize("case", ["unknown_claim", "malformed", "not_x12", "draft_claim", "unknown_line"])
def test_a_bad_remittance_is_refused_whole_and_audited(
    case: str, people: dict[str, User], team_patient: Patient, api_for: Any
) -> None:
    therapy, infusion = _sent_claims(people, team_patient)
    text = _file(therapy, infusion)
    expect = ""
    if case == "unknown_claim":
        text = _file(therapy, infusion, therapy_number="KC999999")
        expect = "'KC999999', which this clinic did not send"
    elif case == "malformed":
        text = text.replace("CLP*", "CLX*", 1)
        expect = "The 835 is malformed"
    elif case == "not_x12":
        text = "Dear clinic, we paid you. Regards."
        expect = "Not an X12 file"
    elif case == "draft_claim":
        Claim.objects.filter(pk=therapy.pk).update(state="draft")
        expect = "is a draft"
    elif case == "unknown_line":
        text = text.replace("SVC*HC:90837", "SVC*HC:90834")
        expect = "pays a 90834 line the claim does not have"
    answer = api_for("biller").post("/api/v1/remittances", text, content_type=X12)
    assert answer.status_code == 422, answer.content
    assert expect in answer.content.decode()
    # Nothing half-posted: not the payment of the first claim, not the denial of the second.
    assert MoneyEntry.objects.count() == 0 and Remittance.objects.count() == 0
    assert not ClaimEvent.objects.filter(state__in=["paid", "partly_paid", "denied"]).exists()
    refusal = AccessEvent.objects.filter(action=Action.CLAIM_MANAGE, outcome="invalid").last()
    assert refusal is not None and refusal.detail["op"] == "remittance"


def test_a_ledger_refusal_leaves_nothing_posted(people: dict[str, User], team_patient: Patient) -> None:
    from kapclinic.billing import remittances

    therapy, infusion = _sent_claims(people, team_patient)
    # The payer pays more than the line's balance: the ledger refuses that entry, so nothing of the file stays.
    text = _file(therapy, infusion).replace("SVC*HC:90837*250*150", "SVC*HC:90837*250*260")
    with pytest.raises(Exception, match="nothing was posted"):
        remittances.remittance_post(ctx=ctx_of(people["biller"]), text=text)
    assert MoneyEntry.objects.count() == 0 and Remittance.objects.count() == 0
    therapy.refresh_from_db()
    assert therapy.state == "submitted"


def test_only_who_records_money_posts_remittances(people: dict[str, User], team_patient: Patient, api_for: Any) -> None:
    therapy, infusion = _sent_claims(people, team_patient)
    text = _file(therapy, infusion)
    assert api_for("auditor").post("/api/v1/remittances", text, content_type=X12).status_code == 403
    assert api_for("therapist").post("/api/v1/remittances", text, content_type=X12).status_code == 403
    assert api_for("director").post("/api/v1/remittances", text, content_type=X12).status_code == 201


def test_reading_an_835_gives_claims_lines_and_reasons() -> None:
    text = remittance_text(
        payer_name="Synthetic Mutual",
        payer_tax_id="990000002",
        payee_name="Synthetic KAP Clinic",
        payee_npi="1234567893",
        trace_number="EFT77",
        paid_on=date(2026, 12, 2),
        claims=[
            RemitClaimIn(
                "KC5", "1", 20_050, 12_025, 0, "P5", "Doe", "Sam", "M5",
                [RemitLineIn("90837", ["95"], 20_050, 12_025, DAY, [Adjustment("CO", "45", 8_025)])],
            )
        ],
    )  # fmt: skip
    remit = read_835(text)
    assert (remit.trace_number, remit.paid_on, remit.total_cents) == ("EFT77", date(2026, 12, 2), 12_025)
    (claim,) = remit.claims
    assert (claim.number, claim.status, claim.charged_cents, claim.paid_cents) == ("KC5", "1", 20_050, 12_025)
    (svc,) = claim.services
    assert svc.code == "90837" and svc.modifiers == ("95",) and svc.adjustments == (Adjustment("CO", "45", 8_025),)

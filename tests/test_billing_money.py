"""The money ledger (issue 18 item 6): payments, refunds, write-offs and insurance adjustments in integer cents,
append-only with corrections pointing back; balances of an account and of a line; self-pay packages counting down;
bad input refused with nothing written and audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.billing import balances, payments
from kapclinic.billing.models import ChargeLine, ChargeReview, MoneyEntry, PackagePurchase, Payer
from kapclinic.billing.payments import MoneyEntryInput
from kapclinic.billing.services import charges_propose
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.patients.models import Patient
from tests.probes.world import World
from tests.test_billing import _signed_session

pytestmark = pytest.mark.django_db


def _ctx(user: User) -> AuditContext:
    return AuditContext(user=user, channel="page")


def approved_line(
    patient: Patient, people: dict[str, User], *, cents: int = 25_000, code: str = "90837", day: date | None = None
) -> ChargeLine:
    """An approved charge line, as the biller's review leaves it (made directly: the proposal rules have their own
    tests in test_billing.py)."""
    line = ChargeLine.objects.create(
        patient=patient,
        source_kind="therapy_note",
        source_id=ChargeLine.objects.count() + 1,
        date_of_service=day or timezone.localdate() - timedelta(days=3),
        place_of_service="11",
        rendering_provider=people["therapist"],
        code=code,
        units=1,
        diagnoses=["F33.2"],
        amount_cents=cents,
        justification="Integration session note signed by Therapist Persona, 55 documented minutes.",
        rules_version="test",
        proposed_by=people["biller"],
    )
    ChargeReview.objects.create(line=line, decision="approved", by=people["biller"])
    return line


def _payer(people: dict[str, User]) -> Payer:
    return Payer.objects.create(name="Synthetic Mutual", payer_id="SYN01", in_network=True, created_by=people["biller"])


def test_payments_adjustments_and_write_offs_lower_the_balance_and_refunds_raise_it(
    personas: dict[str, User], team_patient: Patient
) -> None:
    biller = _ctx(personas["biller"])
    line = approved_line(team_patient, personas, cents=25_000)
    approved_line(team_patient, personas, cents=10_000, code="90834")
    assert balances.balance_of(team_patient.pk).balance_cents == 35_000
    payer = _payer(personas)
    pid = team_patient.pk
    payments.money_entries_record(
        ctx=biller,
        entries=[
            MoneyEntryInput(
                pid, "payment", 12_000, method="insurance", payer_id=payer.pk, claim_reference="CLM-1", line_id=line.pk
            ),
            MoneyEntryInput(
                pid,
                "adjustment",
                8_000,
                payer_id=payer.pk,
                claim_reference="CLM-1",
                adjustment_group="CO",
                adjustment_reason="45",
                line_id=line.pk,
            ),
        ],
    )
    assert balances.line_balance(line).balance_cents == 5_000
    payments.money_entry_record(
        ctx=biller, given=MoneyEntryInput(pid, "payment", 5_000, method="card", reference="TERM-0042", line_id=line.pk)
    )
    payments.money_entry_record(
        ctx=biller, given=MoneyEntryInput(pid, "write_off", 1_000, reason="Small balance, courtesy")
    )
    payments.money_entry_record(
        ctx=biller, given=MoneyEntryInput(pid, "refund", 500, method="card", reference="TERM-0043")
    )
    found = balances.balance_of(pid)
    assert (found.charged_cents, found.paid_cents, found.adjusted_cents) == (35_000, 17_000, 8_000)
    assert (found.written_off_cents, found.refunded_cents) == (1_000, 500)
    assert found.balance_cents == 35_000 - 17_000 - 8_000 - 1_000 + 500
    assert balances.line_balances(pid)[line.pk].balance_cents == 0
    adjustment = MoneyEntry.objects.get(kind="adjustment")
    assert (adjustment.adjustment_group, adjustment.adjustment_reason, adjustment.line_id) == ("CO", "45", line.pk)
    assert AccessEvent.objects.filter(action="money.record", outcome="allowed", patient=team_patient).count() == 5


def test_a_payment_over_the_balance_is_refused_unless_kept_as_credit(
    personas: dict[str, User], team_patient: Patient
) -> None:
    biller = _ctx(personas["biller"])
    approved_line(team_patient, personas, cents=10_000)
    over = MoneyEntryInput(team_patient.pk, "payment", 15_000, method="cash")
    with pytest.raises(ValidationError) as refused:
        payments.money_entry_record(ctx=biller, given=over)
    assert "more than the balance of $100.00" in refused.value.message_dict["amount"][0]
    assert not MoneyEntry.objects.exists()
    assert AccessEvent.objects.filter(action="money.record", outcome="invalid", patient=team_patient).exists()
    payments.money_entry_record(
        ctx=biller, given=MoneyEntryInput(team_patient.pk, "payment", 15_000, method="cash", keep_as_credit=True)
    )
    assert balances.balance_of(team_patient.pk).balance_cents == -5_000  # the patient's credit


@pytest.mark.parametrize(
    ("given", "field"),
    [
        (MoneyEntryInput(0, "payment", -100, method="cash"), "amount"),
        (MoneyEntryInput(0, "payment", 0, method="cash"), "amount"),
        (MoneyEntryInput(0, "payment", 10_000_001, method="cash", keep_as_credit=True), "amount"),
        (MoneyEntryInput(0, "payment", 100, method="card"), "reference"),
        (MoneyEntryInput(0, "payment", 100, method="barter"), "method"),
        (MoneyEntryInput(0, "payment", 100, method="insurance"), "payer"),
        (MoneyEntryInput(0, "write_off", 100), "reason"),
        (MoneyEntryInput(0, "adjustment", 100, adjustment_group="XX", adjustment_reason="45"), "adjustment_group"),
        (MoneyEntryInput(0, "adjustment", 100, adjustment_group="CO", adjustment_reason=""), "adjustment_reason"),
        (MoneyEntryInput(0, "refund", 100, method="cash"), "amount"),  # nothing was paid
        (MoneyEntryInput(0, "payment", 100, method="cash", line_id=999_999), "line"),
        (MoneyEntryInput(0, "gift", 100), "kind"),
    ],
)
def test_bad_entries_are_refused_with_the_field_and_nothing_written(
    personas: dict[str, User], team_patient: Patient, given: MoneyEntryInput, field: str
) -> None:
    approved_line(team_patient, personas, cents=10_000)
    with pytest.raises(ValidationError) as refused:
        payments.money_entry_record(
            ctx=_ctx(personas["biller"]),
            given=MoneyEntryInput(**{**given.__dict__, "patient_id": team_patient.pk}),
        )
    assert field in refused.value.message_dict
    assert not MoneyEntry.objects.exists()


def test_another_patients_line_is_refused(
    personas: dict[str, User], team_patient: Patient, other_patient: Patient
) -> None:
    theirs = approved_line(other_patient, personas)
    approved_line(team_patient, personas)
    with pytest.raises(ValidationError) as refused:
        payments.money_entry_record(
            ctx=_ctx(personas["biller"]),
            given=MoneyEntryInput(team_patient.pk, "payment", 100, method="cash", line_id=theirs.pk),
        )
    assert refused.value.message_dict["line"] == ["No such charge line on this patient's account."]
    assert not MoneyEntry.objects.exists()


def test_a_batch_is_all_or_nothing(personas: dict[str, User], team_patient: Patient) -> None:
    line = approved_line(team_patient, personas, cents=10_000)
    good = MoneyEntryInput(team_patient.pk, "payment", 6_000, method="cash", line_id=line.pk)
    with pytest.raises(ValidationError):
        payments.money_entries_record(ctx=_ctx(personas["biller"]), entries=[good, good])  # the second is over
    assert not MoneyEntry.objects.exists()


def test_clinicians_and_strangers_record_nothing(personas: dict[str, User], team_patient: Patient) -> None:
    approved_line(team_patient, personas)
    for name in ("therapist", "prescriber", "nurse", "coordinator", "auditor"):
        with pytest.raises(AccessDenied):
            payments.money_entry_record(
                ctx=_ctx(personas[name]), given=MoneyEntryInput(team_patient.pk, "payment", 100, method="cash")
            )
    with pytest.raises(NotFound):
        payments.money_entry_record(
            ctx=_ctx(personas["biller"]), given=MoneyEntryInput(987_654, "payment", 100, method="cash")
        )
    assert not MoneyEntry.objects.exists()
    assert AccessEvent.objects.filter(action="money.record", outcome="denied").count() == 5
    payments.money_entry_record(
        ctx=_ctx(personas["director"]), given=MoneyEntryInput(team_patient.pk, "payment", 100, method="cash")
    )


def test_the_ledger_is_append_only_and_a_correction_points_back(
    personas: dict[str, User], team_patient: Patient
) -> None:
    biller = _ctx(personas["biller"])
    approved_line(team_patient, personas, cents=10_000)
    entry = payments.money_entry_record(
        ctx=biller, given=MoneyEntryInput(team_patient.pk, "payment", 9_000, method="check", reference="1042")
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        MoneyEntry.objects.filter(pk=entry.pk).update(amount_cents=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        MoneyEntry.objects.filter(pk=entry.pk).delete()
    fixed = payments.money_entry_correct(
        ctx=biller, patient_id=team_patient.pk, entry_id=entry.pk, amount_cents=8_000, reason="Check was for $80"
    )
    assert (fixed.corrects_id, fixed.reference, fixed.amount_cents) == (entry.pk, "1042", 8_000)
    assert balances.balance_of(team_patient.pk).balance_cents == 2_000  # the first entry no longer counts
    with pytest.raises(ValidationError) as twice:
        payments.money_entry_correct(
            ctx=biller, patient_id=team_patient.pk, entry_id=entry.pk, amount_cents=0, reason="again"
        )
    assert "already corrected" in twice.value.message_dict["corrects"][0]
    payments.money_entry_correct(
        ctx=biller, patient_id=team_patient.pk, entry_id=fixed.pk, amount_cents=0, reason="Check bounced"
    )
    assert balances.balance_of(team_patient.pk).balance_cents == 10_000
    assert MoneyEntry.objects.count() == 3


def test_a_package_is_owed_paid_in_parts_and_counts_down_as_sessions_are_signed(
    personas: dict[str, User], team_patient: Patient
) -> None:
    biller = _ctx(personas["biller"])
    package = payments.package_define(
        ctx=biller,
        given=payments.PackageInput(
            name="Six IV sessions with integration",
            sessions=6,
            price_cents=450_000,
            effective_from=date(2026, 1, 1),
        ),
    )
    purchase = payments.package_sell(
        ctx=biller,
        patient_id=team_patient.pk,
        package_id=package.pk,
        bought_on=timezone.localdate() - timedelta(days=1),
    )
    assert balances.balance_of(team_patient.pk).balance_cents == 450_000
    payments.money_entry_record(
        ctx=biller,
        given=MoneyEntryInput(
            team_patient.pk, "payment", 200_000, method="card", reference="T-1", purchase_id=purchase.pk
        ),
    )
    with pytest.raises(ValidationError):  # more than is left on the package
        payments.money_entry_record(
            ctx=biller,
            given=MoneyEntryInput(
                team_patient.pk, "payment", 300_000, method="card", reference="T-2", purchase_id=purchase.pk
            ),
        )
    world = World(None, None, team_patient, team_patient, personas)  # type: ignore[arg-type]
    session = _signed_session(world, team_patient)
    (countdown,) = balances.package_countdowns(team_patient.pk)
    assert (countdown.sessions_left, countdown.balance.balance_cents) == (5, 250_000)
    # The session's proposed lines say the package paid for it, so the biller does not charge it twice.
    run = charges_propose(ctx=biller)
    lines = [line for line in run.lines if line.source_id == session.pk]
    assert lines and all(
        any("self-pay package paid for this session (Six IV sessions with integration" in c for c in line.caveats)
        for line in lines
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        PackagePurchase.objects.filter(pk=purchase.pk).delete()


def test_a_correction_upwards_is_checked_against_the_balance_like_the_entry(
    personas: dict[str, User], team_patient: Patient
) -> None:
    biller = _ctx(personas["biller"])
    approved_line(team_patient, personas, cents=10_000)
    entry = payments.money_entry_record(
        ctx=biller, given=MoneyEntryInput(team_patient.pk, "payment", 6_000, method="cash")
    )
    with pytest.raises(ValidationError) as refused:
        payments.money_entry_correct(
            ctx=biller, patient_id=team_patient.pk, entry_id=entry.pk, amount_cents=12_000, reason="Typo"
        )
    assert "more than the balance of $100.00" in refused.value.message_dict["amount"][0]
    fixed = payments.money_entry_correct(
        ctx=biller, patient_id=team_patient.pk, entry_id=entry.pk, amount_cents=10_000, reason="Typo: $100"
    )
    assert fixed.corrects_id == entry.pk and balances.balance_of(team_patient.pk).balance_cents == 0

"""Claims in the demo (issue 18 item 5): from the approved demo lines of covered patients, two claims marked
submitted (their 837P files can be downloaded); a made-up payer's 835 remittance, posted as the biller would upload
it, pays the first (with the contractual write-down, CO-45) and denies the second (CO-50); the biller resubmits the
denied one (frequency 7), which stays submitted. Everything is synthetic: the practice's NPI and tax id are the
demo settings, the clinicians' NPIs are made-up numbers that only pass the check digit, addresses are made up."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.billing import claims as service
from kapclinic.billing import remittances
from kapclinic.billing.balances import line_balance
from kapclinic.billing.models import ChargeLine, Claim, Coverage, PackagePurchase, Payer
from kapclinic.billing.selectors import LineStatus, charge_lines
from kapclinic.billing.services import CoverageInput, charge_approve, coverage_add
from kapclinic.billing.x12_835 import Adjustment, RemitClaimIn, RemitLineIn, remittance_text
from kapclinic.clinical.claims import npi_check_digit
from kapclinic.patients.models import Patient

DEMO_NPI_BASE = 199_000_000  # nine digits, then the check digit: made up


def _demo_npi(user: User) -> str:
    base = str(DEMO_NPI_BASE + user.pk)[:9]
    return base + npi_check_digit(base)


def _claimable_groups(ctx: AuditContext) -> list[list[ChargeLine]]:
    """Approved lines on no claim, of patients with a primary payer coverage, grouped as one claim each."""
    covered = set(Coverage.objects.filter(self_pay=False, rank="primary").values_list("patient_id", flat=True))
    groups: dict[tuple[int, int, str], list[ChargeLine]] = defaultdict(list)
    for line in charge_lines(ctx=ctx, status=LineStatus.APPROVED).exclude(claim_lines__released=False):
        if line.patient_id in covered and line.amount_cents:
            groups[(line.patient_id, line.rendering_provider_id, line.place_of_service)].append(line)
    found = [sorted(g, key=lambda x: x.pk) for g in groups.values()]
    # Two claims at least: a group of several lines is split when there are fewer groups than that.
    while len(found) < 2 and any(len(g) > 1 for g in found):
        big = max(found, key=len)
        found.remove(big)
        found += [big[: len(big) // 2], big[len(big) // 2 :]]
    return sorted(found, key=lambda g: g[0].pk)


def _queue_finish(ctx: AuditContext) -> None:
    """The biller finishes the queue before claiming: a proposed line with a diagnosis and a price is approved (the
    biller confirmed its caveat, e.g. that a video session's patient was at home), and the front desk records a
    made-up card for a patient with approved lines and no coverage (the IV session's patient)."""
    for line in charge_lines(ctx=ctx, status=LineStatus.PROPOSED):
        if line.diagnoses and line.amount_cents:
            charge_approve(ctx=ctx, line_id=line.pk)
    payer = Payer.objects.filter(in_network=True).order_by("pk").first()
    if payer is None:
        return
    approved = charge_lines(ctx=ctx, status=LineStatus.APPROVED)
    # A patient who bought a self-pay package pays the clinic, not an insurer: no card for them.
    on_packages = set(PackagePurchase.objects.values_list("patient_id", flat=True))
    for patient_id in sorted(set(approved.values_list("patient_id", flat=True)) - on_packages):
        if not Coverage.objects.filter(patient_id=patient_id).exists():
            start = min(approved.filter(patient_id=patient_id).values_list("date_of_service", flat=True))
            given = CoverageInput(
                payer_id=payer.pk,
                member_id=f"DEMO{patient_id:04d}IV",
                group_number="GRP-DEMO-1",
                effective_from=start.replace(month=1, day=1),
            )
            coverage_add(ctx=ctx, patient_id=patient_id, given=given)


def claims_demo_ensure(staff: dict[str, User]) -> int:
    """Make the demo's claims and remittance once; return how many claims there are."""
    if Claim.objects.exists():
        return Claim.objects.count()
    biller = staff["biller"]
    ctx = AuditContext(user=biller, channel="system")
    _queue_finish(ctx)
    groups = _claimable_groups(ctx)[:2]
    if not groups:
        return 0
    with transaction.atomic():
        for group in groups:
            patient = Patient.objects.get(pk=group[0].patient_id)
            if not patient.address_line1:
                Patient.objects.filter(pk=patient.pk).update(
                    address_line1=f"{100 + patient.pk} Example Lane",
                    city=patient.city or "Austin",
                    region=patient.region or "TX",
                    postal_code=patient.postal_code or "78701",
                )
            provider = User.objects.get(pk=group[0].rendering_provider_id)
            if not provider.licence_number.isdigit():
                User.objects.filter(pk=provider.pk).update(licence_number=_demo_npi(provider))
        made = [service.claim_create(ctx=ctx, line_ids=[line.pk for line in group]) for group in groups]
        for claim in made:
            service.claim_mark(ctx=ctx, claim_id=claim.pk, state="submitted")
    if len(made) < 2:
        return len(made)
    paid, denied = made
    remit_claims = [_remitted(paid, pays=True), _remitted(denied, pays=False)]
    text = remittance_text(
        payer_name=paid.payer.name,
        payer_tax_id="990000099",
        payee_name="Synthetic KAP Clinic",
        payee_npi="1234567893",
        trace_number=f"DEMO-EFT-{timezone.localdate():%Y%m%d}",
        paid_on=timezone.localdate(),
        claims=remit_claims,
    )
    remittances.remittance_post(ctx=ctx, text=text)
    # The biller corrects what the denial said and sends the claim again: a replacement (frequency 7) that names
    # the payer's claim number, left submitted.
    again = service.claim_resubmit(
        ctx=ctx, claim_id=denied.pk, reason="Demo: the plan's diagnosis confirmed with the payer; sent again."
    )
    service.claim_mark(ctx=ctx, claim_id=again.pk, state="submitted")
    return Claim.objects.count()


def _remitted(claim: Claim, *, pays: bool) -> RemitClaimIn:
    """What the made-up payer says of `claim`: 80% paid and the rest written down by contract (CO-45), or denied
    (CO-50, not medically necessary); never more than each line still owes (the patient may have paid part)."""
    remit_lines = []
    for cl in service.claim_lines(claim):
        owed = line_balance(cl.line).balance_cents
        payment = min(cl.amount_cents * 8 // 10, owed) if pays else 0
        written = min(cl.amount_cents - payment, owed - payment)
        reasons = [Adjustment("CO", "45" if pays else "50", written)] if written > 0 else []
        remit_lines.append(
            RemitLineIn(cl.line.code, cl.line.modifiers, cl.amount_cents, payment, cl.line.date_of_service, reasons)
        )
    return RemitClaimIn(
        number=claim.number,
        status="1" if pays else "4",
        charged_cents=claim.total_cents,
        paid_cents=sum(r.paid_cents for r in remit_lines),
        patient_cents=0,
        payer_claim_number=f"DEMO-PCN-{claim.pk:05d}",
        patient_last=claim.patient.family_name,
        patient_first=claim.patient.given_name,
        member_id=claim.coverage.member_id,
        lines=remit_lines,
    )

"""Billing in the demo (issue 18): three made-up payers (one in network), the clinic's fees, a coverage for the
first demo patients (in network, out of network, self-pay), and the charge lines the demo's signed sessions and
notes support, proposed by the biller; a few approved, one rejected with its reason. Every name is made up; payer
ids are not real ones."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.billing.models import ChargeLine, Coverage, FeeScheduleEntry, Payer
from kapclinic.billing.services import (
    CoverageInput,
    charge_approve,
    charge_reject,
    charges_propose,
    coverage_add,
    fee_set,
    payer_create,
)
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.demo.billing_codes import prior_authorisations_demo_ensure
from kapclinic.dosing.models import DosingSession
from kapclinic.patients.models import Patient

# (name, payer id, in network, how it pays a Spravato session)
PAYERS = (
    ("Synthetic Bluebonnet Health (demo)", "DEMO01", True, "visit_code"),
    ("Example Mutual Insurance (demo)", "DEMO02", False, "drug_per_mg"),
    ("Made-Up Care Network (demo)", "DEMO03", False, "visit_code"),
)
# The clinic's cash prices per unit, in cents, from the start of the year (made up).
FEES = {
    "90832": 12_000,
    "90834": 17_500,
    "90837": 22_500,
    "96365": 45_000,
    "96366": 15_000,
    "J3490": 5_000,
    "G2082": 85_000,
    "G2083": 110_000,
    "J0013": 1_500,
    "0820T": 30_000,
    "99214": 20_000,
    "99204": 30_000,
    "90836": 16_000,
}
# Demo patient serial -> payer index (None: self-pay).
COVERED = {1: 0, 2: 1, 3: None, 4: 2}


def _discharged_session_sign(staff: dict[str, User]) -> None:
    """The nurse signs yesterday's finished session of the discharged demo patient (kapclinic/demo/discharged.py),
    ten minutes after the discharge, as the session screen's last step would: the demo's signed dosing session
    that billing proposes lines from."""
    session = (
        DosingSession.objects.filter(signed_at__isnull=True, discharge__isnull=False, administration__isnull=False)
        .select_related("discharge")
        .order_by("scheduled_for")
        .first()
    )
    if session is not None:
        session.signature_stamp(staff["nurse"].pk, at=session.discharge.at + timedelta(minutes=10))
        session.save()


def billing_demo_ensure(staff: dict[str, User]) -> int:
    """Make the demo's billing once; return how many charge lines were proposed."""
    if Payer.objects.exists():
        return 0
    biller = staff["biller"]
    ctx = AuditContext(user=biller, channel="system")
    year_start = date(timezone.localdate().year, 1, 1)
    with transaction.atomic():
        payers = [
            payer_create(ctx=ctx, name=name, payer_id=pid, in_network=net, esketamine_scheme=scheme)
            for name, pid, net, scheme in PAYERS
        ]
        for code, cents in FEES.items():
            if not FeeScheduleEntry.objects.filter(code=code).exists():
                fee_set(ctx=ctx, code=code, price_cents=cents, effective_from=year_start - timedelta(days=365))
        for serial, index in COVERED.items():
            patient = Patient.objects.filter(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + serial)).first()
            if patient is None or Coverage.objects.filter(patient=patient).exists():
                continue
            given = (
                CoverageInput(self_pay=True, effective_from=year_start - timedelta(days=365))
                if index is None
                else CoverageInput(
                    payer_id=payers[index].pk,
                    member_id=f"DEMO{serial:04d}X",
                    group_number="GRP-DEMO-1",
                    effective_from=year_start - timedelta(days=365),
                )
            )
            coverage_add(ctx=ctx, patient_id=patient.pk, given=given)
        _discharged_session_sign(staff)
        run = charges_propose(ctx=ctx, since=timezone.localdate() - timedelta(days=400))
        # The biller has worked through part of the queue: lines with nothing to check approved (the oldest first),
        # one rejected; a line with something to check stays proposed for the biller to look at.
        reviewable = [
            line
            for line in sorted(run.lines, key=lambda x: (x.date_of_service, x.pk))
            if line.diagnoses and not line.caveats
        ]
        for line in reviewable[:6]:
            charge_approve(ctx=ctx, line_id=line.pk)
        if len(reviewable) > 6:
            charge_reject(ctx=ctx, line_id=reviewable[6].pk, reason="Demo: the session was part of a prepaid package.")
        prior_authorisations_demo_ensure(staff, payers)  # issue 18 item 7
    return ChargeLine.objects.count()

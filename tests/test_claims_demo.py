"""Issue 18 item 5 in the demo: a submitted claim whose 837P pyx12 accepts, and a posted 835 remittance with a payment
and a denial; loading again adds nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.billing import claims as service
from kapclinic.billing.models import Claim, ClaimEvent, MoneyEntry, Remittance
from kapclinic.billing.x12_check import x12_errors


@pytest.mark.django_db
def test_the_demo_has_a_submitted_claim_and_a_remittance_with_a_payment_and_a_denial() -> None:
    call_command("demo_load", "--quiet")
    submitted = Claim.objects.filter(state="submitted").first()
    assert submitted is not None
    ctx = AuditContext(user=User.objects.get(username="biller"), channel="system")
    text = service.claim_file_for(ctx=ctx, claim_ids=[submitted.pk])
    assert x12_errors(text) == []
    remittance = Remittance.objects.get()
    states = set(ClaimEvent.objects.filter(remittance=remittance).values_list("state", flat=True))
    assert states == {"paid", "denied"}
    assert MoneyEntry.objects.filter(claim_reference__startswith="KC", kind="payment").exists()
    claims, entries = Claim.objects.count(), MoneyEntry.objects.count()
    call_command("demo_load", "--quiet")
    assert (Claim.objects.count(), MoneyEntry.objects.count(), Remittance.objects.count()) == (claims, entries, 1)

"""Prior authorisations in the demo (issue 18 item 7): the esketamine patient's payer approved eight Spravato
sessions; an IV patient's authorisation ends within the notice days, so it shows on the coordinator's home and
inbox. Numbers and payers are made up."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.billing.authorisations import AuthorisationInput, prior_authorisation_add
from kapclinic.billing.models import Coverage, Payer, PriorAuthorisation
from kapclinic.billing.services import CoverageInput, coverage_add
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.patients.models import Patient

ESKETAMINE_SERIAL = 7  # kapclinic/demo/dosing.py: the intranasal course
IV_SERIAL = 1


def prior_authorisations_demo_ensure(staff: dict[str, User], payers: list[Payer]) -> None:
    if PriorAuthorisation.objects.exists() or not payers:
        return
    ctx = AuditContext(user=staff["coordinator"], channel="system")
    today = timezone.localdate()
    esketamine = Patient.objects.filter(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + ESKETAMINE_SERIAL)).first()
    if esketamine is not None:
        if not Coverage.objects.filter(patient=esketamine).exists():
            coverage_add(
                ctx=AuditContext(user=staff["biller"], channel="system"),
                patient_id=esketamine.pk,
                given=CoverageInput(
                    payer_id=payers[0].pk,
                    member_id=f"DEMO{ESKETAMINE_SERIAL:04d}X",
                    group_number="GRP-DEMO-1",
                    effective_from=today - timedelta(days=365),
                ),
            )
        prior_authorisation_add(
            ctx=ctx,
            patient_id=esketamine.pk,
            given=AuthorisationInput(
                payer_id=payers[0].pk,
                covers="esketamine",
                number="DEMO-PA-ESK-0007",
                approved_units=8,
                effective_from=today - timedelta(days=30),
                effective_to=today + timedelta(days=60),
                note="Demo: induction phase, twice weekly for four weeks.",
            ),
        )
    iv = Patient.objects.filter(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + IV_SERIAL)).first()
    if iv is not None:
        prior_authorisation_add(
            ctx=ctx,
            patient_id=iv.pk,
            given=AuthorisationInput(
                payer_id=payers[0].pk,
                covers="iv_ketamine",
                number="DEMO-PA-IV-0001",
                approved_units=6,
                effective_from=today - timedelta(days=50),
                effective_to=today + timedelta(days=9),  # within the 14 days' notice: on the coordinator's home
            ),
        )

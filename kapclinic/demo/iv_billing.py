"""A signed IV session with its integration therapy, billed (issue 18): the outcome cohort's newest finished IV
infusion (kapclinic/demo/outcomes.py) is signed by its nurse, the patient gets an in-network coverage and a signed
50-minute integration note two days later, and the demo biller proposes and approves the lines they support
(96365 infusion, J3490 ketamine, 90834 psychotherapy). Every name is made up."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.billing.models import Coverage, Payer, SourceKind
from kapclinic.billing.services import CoverageInput, charge_approve, charges_propose, coverage_add
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.demo.outcomes import COHORT_FIRST_SERIAL
from kapclinic.demo.therapy import _note
from kapclinic.dosing.models import Administration, Route, SessionState
from kapclinic.therapy.kinds import NoteKind

MEMBER_ID = "DEMO-IV-0001"  # the coverage this step adds: its presence says the step ran
LOOKBACK_DAYS = 90  # the biller's window here (the proposal run's default lookback)
INFUSION_MINUTES_AT_LEAST = 40  # the cohort's ordered infusion time


@transaction.atomic
def iv_session_billing_demo_ensure(staff: dict[str, User]) -> int:
    """Sign, document and bill one cohort IV session once; return how many charge lines were approved."""
    if Coverage.objects.filter(member_id=MEMBER_ID).exists():
        return 0
    payer = Payer.objects.filter(in_network=True).order_by("pk").first()
    since = timezone.localdate() - timedelta(days=LOOKBACK_DAYS)
    cohort_first = mrn_from_number(SYNTHETIC_MRN_BASE + COHORT_FIRST_SERIAL)
    candidates = (
        Administration.objects.filter(
            route=Route.IV,
            ended_at__isnull=False,
            started_at__date__gte=since,
            session__state=SessionState.DISCHARGED,
            session__signed_at__isnull=True,
            session__patient__mrn__gte=cohort_first,  # MRNs are fixed width: the cohort serials and on
        )
        .select_related("session__patient", "session__therapist")
        .order_by("-started_at", "pk")
    )
    given = next(
        (
            a
            for a in candidates[:20]
            if a.ended_at is not None and a.ended_at - a.started_at >= timedelta(minutes=INFUSION_MINUTES_AT_LEAST)
        ),
        None,
    )
    if payer is None or given is None:
        return 0
    session = given.session
    patient = session.patient
    # The cohort's sessions are rows written with their past times (no discharge record, no session screen), so
    # the signing service's checks have nothing to read: stamp the signature as the other demo modules do.
    assert session.ended_at is not None
    session.signature_stamp(staff["nurse2"].pk, at=session.ended_at + timedelta(minutes=10))
    session.save()
    biller = AuditContext(user=staff["biller"], channel="system")
    coverage_add(
        ctx=biller,
        patient_id=patient.pk,
        given=CoverageInput(
            payer_id=payer.pk,
            member_id=MEMBER_ID,
            group_number="GRP-DEMO-1",
            effective_from=timezone.localdate(given.started_at) - timedelta(days=365),
        ),
    )
    therapist = session.therapist or staff["therapist"]
    note_at = min(
        session.ended_at + timedelta(days=2),
        timezone.now().replace(second=0, microsecond=0) - timedelta(hours=3),
    )
    note = _note(
        patient,
        therapist,
        NoteKind.INTEGRATION,
        note_at,
        {
            "reported": "Felt 'quieter inside' for three days after the infusion; slept better.",
            "themes": "Letting go of being the one who holds everything together.",
            "insights": "'I can ask for help before it is an emergency.'",
            "coping": "A short walk after work; writing three lines in the evening.",
            "risk": "No suicidal ideation reported. Safety plan reviewed.",
            "plan": "Review at the end-of-course measures.",
        },
        "Synthetic demo note (outcome cohort, billed IV session).",
        minutes=50,
    )
    run = charges_propose(ctx=biller, since=since)
    ours = {(SourceKind.DOSING_SESSION, session.pk), (SourceKind.THERAPY_NOTE, note.pk)}
    approved = 0
    for line in sorted(run.lines, key=lambda x: x.pk):
        if (line.source_kind, line.source_id) in ours:
            charge_approve(ctx=biller, line_id=line.pk)
            approved += 1
    return approved

"""Synthetic consent for the demo: a sample treatment-consent text (not a real form) and the signatures of the
demo patients who are ready for treatment: one in the portal (witnessed later), one on the clinic tablet."""

from __future__ import annotations

from django.db import transaction

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.consent.models import ConsentSignature, ConsentVersion
from kapclinic.consent.selectors import consent_document, consent_version_latest
from kapclinic.consent.services import consent_sign, consent_version_publish, consent_witness
from kapclinic.intake.models import EligibilityDecision
from kapclinic.intake.selectors import ELIGIBLE
from kapclinic.patients.models import CareTeamMember, Patient

SAMPLE_TITLE = "Ketamine-assisted psychotherapy: informed consent (SAMPLE for the demo)"

SAMPLE_BODY = """\
SAMPLE TEXT FOR THE DEMO CLINIC. This is not a real consent form and has not been reviewed by a lawyer or \
an ethics board. A clinic must write and approve its own text before using this software with patients.

What the treatment is. Ketamine-assisted psychotherapy (KAP) combines a course of ketamine sessions with \
psychotherapy: preparation sessions before the first dose, support during each dosing session, and integration \
sessions afterwards. Ketamine is given at the clinic by a licensed clinician, by the route and dose in your \
treatment plan. You are monitored (blood pressure, heart rate, oxygen, alertness) before, during and after each \
dose, for at least two hours, and you go home only with an adult who takes you.

Why it is offered. Your prescriber found, after your evaluation, that you may benefit from this treatment. \
Ketamine can reduce symptoms of depression within hours to days for some people, but it does not help everyone, \
and the benefit may not last. Other treatments exist, including other medicines, psychotherapy alone, \
transcranial magnetic stimulation and electroconvulsive therapy; your prescriber can discuss them with you.

Your part. Tell us about every medicine, drug and alcohol you use, and about any change in your health. Follow \
the preparation checklist before each session (food and drink, medicines to hold, a ride home). Answer the \
questionnaires your care team sends, so that we can see whether the treatment helps.

Your choices. Taking part is voluntary. You may ask questions at any time, stop a session, and withdraw this \
consent at any time, in the patient portal or by telling your care team; your planned sessions are then \
cancelled, and your other care at the clinic continues. Your information is kept confidential as described in \
the clinic's privacy notice.

The key risks are listed below. Please tick each one to show that you have read and understood it.
"""

# The key risks of ketamine (shared domain notes: monitoring.md section 4, dosing.md, eligibility.md).
SAMPLE_RISKS = (
    (
        "dissociation",
        "Dissociation: during and shortly after a dose you may feel detached from your body or surroundings, and "
        "sights, sounds and time may seem changed. This is expected and usually passes within about two hours.",
    ),
    (
        "sedation",
        "Sedation: you may become very sleepy and, rarely, lose consciousness for a short time. Staff watch your "
        "breathing and alertness throughout.",
    ),
    (
        "blood-pressure",
        "Raised blood pressure and heart rate, mostly in the first one to two hours. A nurse checks them before, "
        "during and after the dose, and a session is held if they are too high.",
    ),
    (
        "nausea",
        "Nausea and vomiting are common. Follow the fasting instructions for your treatment: for ketamine, no solid "
        "food for 4 to 6 hours before; for esketamine nasal spray, no food for 2 hours and no drinks for 30 minutes.",
    ),
    (
        "abuse-potential",
        "Abuse and dependence: ketamine is a controlled substance (DEA Schedule III) that can be misused. It is "
        "given only at the clinic, never to take home, and your care team watches for signs of misuse.",
    ),
    (
        "no-driving",
        "No driving: do not drive, cycle or operate machinery until the next day, after a night's sleep. An adult "
        "must take you home after each session.",
    ),
    (
        "bladder",
        "Bladder problems: repeated or long-term use can irritate the bladder (cystitis). Tell us about pain, blood "
        "in the urine or needing to pass urine often.",
    ),
    (
        "off-label",
        "Off-label use: racemic ketamine is approved as an anaesthetic. Its use for depression and other mental "
        "health conditions is off-label, and there is little long-term research.",
    ),
    (
        "pregnancy",
        "Pregnancy: ketamine may harm an unborn baby and is not recommended in pregnancy. Tell us if you are or "
        "may become pregnant; a pregnancy test may be done before the course.",
    ),
)

# Demo patients ready to sign, by serial: 1 has the portal login "patient" and a finished course of
# questionnaires; 5 was evaluated with relative findings only (kapclinic/demo/intake.py).
READY_SERIALS = (1, 5)


def _ready_patients() -> list[Patient]:
    """The READY_SERIALS, and any synthetic patient whose latest eligibility decision is eligible."""
    ready = list(Patient.objects.filter(mrn__in=[mrn_from_number(SYNTHETIC_MRN_BASE + s) for s in READY_SERIALS]))
    latest: dict[int, str] = {}
    decisions = EligibilityDecision.objects.filter(patient__mrn__startswith="K9").order_by("patient_id", "-decided_at")
    for decision in decisions:
        latest.setdefault(decision.patient_id, decision.decision)
    eligible = [pk for pk, kind in latest.items() if kind in ELIGIBLE]
    return ready + list(Patient.objects.filter(pk__in=eligible).exclude(pk__in=[p.pk for p in ready]))


def _witness_for(patient: Patient, staff: dict[str, User]) -> User:
    """The demo nurse when on the patient's care team, else the coordinator (who may witness for anyone)."""
    on_team = CareTeamMember.objects.filter(patient=patient, user=staff["nurse"]).exists()
    return staff["nurse"] if on_team else staff["coordinator"]


@transaction.atomic
def load_consent(staff: dict[str, User]) -> int:
    """Publish the sample consent once and sign it for the demo patients who are ready; return signatures made."""
    director = AuditContext(user=staff["director"], channel="system")
    version: ConsentVersion | None = consent_version_latest(consent_document())
    if version is None:
        version = consent_version_publish(
            ctx=director,
            document=consent_document(),
            title=SAMPLE_TITLE,
            body=SAMPLE_BODY,
            risks=[{"code": code, "text": text} for code, text in SAMPLE_RISKS],
        )
    made = 0
    for patient in _ready_patients():
        if ConsentSignature.objects.filter(patient=patient).exists():
            continue
        name = f"{patient.given_name} {patient.family_name}"
        # In the portal, from the patient's own login (the nurse confirms it with them at the next visit); else on
        # the clinic tablet, handed over by the nurse, who is recorded as the witness.
        portal = patient.user is not None
        signer, address, device = (
            (patient.user, "192.0.2.10", "Demo phone browser (synthetic)")
            if patient.user is not None
            else (_witness_for(patient, staff), "192.0.2.20", "Clinic tablet (synthetic)")
        )
        signature = consent_sign(
            ctx=AuditContext(user=signer, channel="system", client_address=address),
            patient_id=patient.pk,
            version_id=version.pk,
            typed_name=name,
            risks_acknowledged=version.risk_codes,
            user_agent=device,
            channel="portal" if portal else "clinic",
        )
        if portal:
            consent_witness(
                ctx=AuditContext(user=_witness_for(patient, staff), channel="system"),
                signature_id=signature.pk,
                note="Confirmed with the patient at the preparation visit.",
            )
        made += 1
    return made

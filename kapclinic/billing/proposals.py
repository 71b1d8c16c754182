"""From signed records to proposed charge lines: read the facts each signed record holds and ask the pure rules
(kapclinic/clinical/billing.py) which codes they support. Reads only; `services.charges_propose` writes.

What is read, and only that: a therapy note's kind, signer, date, modality and documented minutes (never its
text; process notes are never read), and a signed dosing session's administration (route, start and stop, mg
given, the product's NDC) and dose order's signer. Diagnoses come from the signed treatment plan's indication.
Evaluations and consultations are not coded here: their E/M level is the clinician's choice, which the record
does not hold yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Exists, OuterRef
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment, AppointmentKind, AppointmentMode, AppointmentStatus
from kapclinic.billing.models import ChargeLine, Coverage, FeeScheduleEntry, PackagePurchase, SourceKind
from kapclinic.clinical import billing as rules
from kapclinic.clinical import money
from kapclinic.clinical.icd10 import is_icd10_cm
from kapclinic.days import day_start
from kapclinic.dosing.models import DosingSession, Route
from kapclinic.intake.models import EligibilityDecision
from kapclinic.plans.models import TreatmentPlan
from kapclinic.therapy.kinds import NoteKind
from kapclinic.therapy.models import TherapyNote

# Note kinds coded as psychotherapy by time; the in-session (guiding) note is coded as psychedelic monitoring.
PSYCHOTHERAPY_KINDS = (NoteKind.PREPARATION, NoteKind.INTEGRATION, NoteKind.THERAPY)


@dataclass(frozen=True)
class Proposal:
    """The lines one signed record supports."""

    patient_id: int
    source_kind: SourceKind
    source_id: int
    date_of_service: date
    rendering_provider: User
    diagnoses: tuple[str, ...]
    coding: rules.Coding
    caveats: tuple[str, ...] = ()  # for every line of the record, e.g. a session a self-pay package paid for


def _name(user: User | None) -> str:
    return user.display_name if user is not None else "an unknown user"


def _not_proposed_yet(source_kind: SourceKind) -> Exists:
    return Exists(ChargeLine.objects.filter(source_kind=source_kind, source_id=OuterRef("pk")))


def _plan_indications(patient_ids: set[int]) -> dict[int, str]:
    """Each patient's newest signed plan's indication (ICD-10-CM)."""
    found: dict[int, str] = {}
    plans = (
        TreatmentPlan.objects.filter(patient_id__in=patient_ids, signed_at__isnull=False)
        .order_by("patient_id", "-signed_at")
        .values_list("patient_id", "indication_code")
    )
    for patient_id, code in plans:
        found.setdefault(patient_id, code)
    return found


def _primary_coverages(patient_ids: set[int]) -> dict[int, list[Coverage]]:
    """Each patient's primary insured coverages, with their payers, in one query."""
    found: dict[int, list[Coverage]] = {}
    rows = Coverage.objects.filter(patient_id__in=patient_ids, rank="primary", self_pay=False).select_related("payer")
    for coverage in rows:
        found.setdefault(coverage.patient_id, []).append(coverage)
    return found


def _esketamine_scheme(coverages: list[Coverage], day: date) -> rules.EsketamineScheme:
    """The primary payer's way of paying a Spravato session on the day (the G-code when none is in force)."""
    for coverage in coverages:
        if coverage.in_force(day) and coverage.payer is not None:
            return rules.EsketamineScheme(coverage.payer.esketamine_scheme)
    return rules.EsketamineScheme.VISIT_CODE


DIAGNOSES_MAX = 12  # a claim carries up to 12 diagnosis codes (CMS-1500 box 21 A-L)

EmVisits = frozenset[tuple[int, int, date]]  # (clinician, patient, day) of each E/M chosen where signed


def em_visits(since: date) -> EmVisits:
    """Every E/M a clinician chose where they signed, from `since` (proposed already or not): the add-on rule
    asks whether one was billed by the same clinician for the same patient that day. One query."""
    rows = (
        EligibilityDecision.objects.filter(decided_at__gte=day_start(since))
        .exclude(em_code="")
        .exclude(digest="")
        .values_list("decided_by_id", "patient_id", "decided_at")
    )
    return frozenset((who, patient, timezone.localdate(at)) for who, patient, at in rows)


def _evaluation_modes(patient_ids: set[int], since: date) -> dict[tuple[int, date], str]:
    """How each patient's evaluation booking of a day was held (in person or video), in one query."""
    rows = (
        Appointment.objects.filter(
            patient_id__in=patient_ids, kind=AppointmentKind.EVALUATION, starts_at__gte=day_start(since)
        )
        .exclude(status=AppointmentStatus.CANCELLED)
        .values_list("patient_id", "starts_at", "mode")
    )
    return {(patient, timezone.localdate(at)): mode for patient, at, mode in rows}


def evaluation_proposals(since: date) -> Iterator[Proposal]:
    """Signed eligibility decisions with the E/M level the prescriber chose, not yet proposed, from `since`."""
    decisions = list(
        EligibilityDecision.objects.filter(decided_at__gte=day_start(since))
        .exclude(em_code="")
        .exclude(digest="")
        .exclude(_not_proposed_yet(SourceKind.EVALUATION))
        .select_related("decided_by")
        .defer("findings", "reason")  # billing reads the level and the diagnoses signed over, not the findings
        .order_by("decided_at", "id")
    )
    modes = _evaluation_modes({d.patient_id for d in decisions}, since)
    add_on_days = _add_on_days(since)
    for decision in decisions:
        day = timezone.localdate(decision.decided_at)
        mode = modes.get((decision.patient_id, day))
        if mode is None:
            setting = rules.Setting(
                rules.POS_OFFICE,
                (),
                ("No evaluation booking that day: in person at the clinic (POS 11) assumed; confirm it.",),
                "in person at the clinic (POS 11)",
            )
        else:
            modality = rules.Modality.VIDEO if mode == AppointmentMode.VIDEO else rules.Modality.IN_PERSON
            setting = rules.setting_for(modality, rules.PatientLocation.UNKNOWN, day)
        choice = rules.EmChoice(decision.em_code, rules.EmBasis(decision.em_basis), decision.em_minutes)
        coding = rules.evaluation_visit(
            choice=choice,
            day=day,
            setting=setting,
            who=f"Eligibility evaluation signed by {_name(decision.decided_by)}",
            with_add_on=(decision.decided_by_id, decision.patient_id, day) in add_on_days,
        )
        listed = decision.evaluation_data.get("diagnoses") or []
        diagnoses = tuple(c for c in listed if isinstance(c, str) and is_icd10_cm(c))[:DIAGNOSES_MAX]
        yield Proposal(
            decision.patient_id, SourceKind.EVALUATION, decision.pk, day, decision.decided_by, diagnoses, coding
        )


def _add_on_days(since: date) -> EmVisits:
    """(clinician, patient, day) of each signed psychotherapy note from `since`, one query: an E/M by time on such
    a day warns that the psychotherapy minutes do not count toward it."""
    rows = TherapyNote.objects.filter(
        signed_at__isnull=False, kind__in=PSYCHOTHERAPY_KINDS, occurred_at__gte=day_start(since)
    ).values_list("signed_by_id", "patient_id", "occurred_at")
    return frozenset((who, patient, timezone.localdate(at)) for who, patient, at in rows if who is not None)


def note_proposals(since: date) -> Iterator[Proposal]:
    """Signed, not yet proposed therapy notes (never process notes) from `since`; psychotherapy is the add-on
    when the note's signer chose an E/M for its patient on its day (signed, proposed or not)."""
    visits = em_visits(since)
    notes = list(
        TherapyNote.objects.filter(
            signed_at__isnull=False,
            kind__in=[*PSYCHOTHERAPY_KINDS, NoteKind.IN_SESSION],
            occurred_at__gte=day_start(since),
        )
        .exclude(_not_proposed_yet(SourceKind.THERAPY_NOTE))
        .select_related("signed_by", "dosing_session__plan")
        .defer("body", "sections", "search_text")  # the note's text is never read for billing
        .order_by("occurred_at", "id")
    )
    indications = _plan_indications({n.patient_id for n in notes})
    for note in notes:
        day = timezone.localdate(note.occurred_at)
        who = f"{NoteKind(note.kind).label} note signed by {_name(note.signed_by)}"
        if note.kind == NoteKind.IN_SESSION:
            session = note.dosing_session
            if session is not None and session.plan.route == Route.INTRANASAL:
                coding = rules.Coding(
                    not_proposed=("Monitoring: the esketamine visit code already includes the 2-hour observation.",)
                )
            else:
                coding = rules.psychedelic_monitoring(
                    minutes=note.minutes, day=day, monitor=rules.Monitor.FIRST_CLINICIAN, who=who
                )
        else:
            setting = rules.setting_for(rules.Modality(note.modality), rules.PatientLocation.UNKNOWN, day)
            assert note.signed_by_id is not None  # signed
            with_em = rules.psychotherapy_add_on_applies(
                clinician_id=note.signed_by_id, patient_id=note.patient_id, day=day, em_visits=visits
            )
            coding = rules.psychotherapy(minutes=note.minutes, day=day, with_em=with_em, setting=setting, who=who)
        assert note.signed_by is not None  # signed
        yield Proposal(
            note.patient_id,
            SourceKind.THERAPY_NOTE,
            note.pk,
            day,
            note.signed_by,
            tuple(c for c in [indications.get(note.patient_id, "")] if c),
            coding,
        )


def session_proposals(since: date) -> Iterator[Proposal]:
    """Signed, not yet proposed dosing sessions with an administration, from `since`."""
    sessions = list(
        DosingSession.objects.filter(signed_at__isnull=False, administration__started_at__gte=day_start(since))
        .exclude(_not_proposed_yet(SourceKind.DOSING_SESSION))
        .select_related("signed_by", "plan", "administration__order__product", "administration__order__signed_by")
        .order_by("started_at", "id")
    )
    coverages = _primary_coverages({s.patient_id for s in sessions if s.administration.route == Route.INTRANASAL})
    packaged = _package_cover({s.patient_id for s in sessions})
    for session in sessions:
        given = session.administration
        order = given.order
        product = order.product
        day = timezone.localdate(given.started_at)
        who = f"Dosing session {session.number} signed by {_name(session.signed_by)}"
        coding = rules.Coding()
        if given.route == Route.IV:
            minutes = None
            if given.ended_at is not None:
                minutes = int((given.ended_at - given.started_at).total_seconds() // 60)
            coding += rules.iv_infusion(minutes=minutes, day=day, who=who)
        elif given.route == Route.IM:
            coding += rules.Coding(not_proposed=("IM injection: the administration code is coded by hand.",))
        if given.route == Route.INTRANASAL:
            coding += rules.esketamine(
                given_mg=Decimal(given.given_mg),
                day=day,
                scheme=_esketamine_scheme(coverages.get(session.patient_id, []), day),
                ndc=product.ndc,
                who=who,
            )
        else:
            coding += rules.ketamine_drug(
                given_mg=Decimal(given.given_mg),
                mg_per_unit=Decimal(product.mg_per_unit),
                product_unit=product.unit,
                ndc=product.ndc,
                day=day,
                who=who,
            )
        yield Proposal(
            session.patient_id,
            SourceKind.DOSING_SESSION,
            session.pk,
            day,
            order.signed_by,  # the prescriber who ordered the dose renders the drug and its administration
            tuple(c for c in [session.plan.indication_code] if c),
            coding,
            tuple(c for c in [packaged.get(session.pk)] if c),
        )


def _package_cover(patient_ids: set[int]) -> dict[int, str]:
    """A caveat for each signed session a self-pay package covers, by session id [PKG] (clinical.money): the
    patient paid for it with the package, so a line billed for it would charge the session twice. Two queries."""
    purchases: dict[int, list[PackagePurchase]] = {}
    for purchase in PackagePurchase.objects.filter(patient_id__in=patient_ids).select_related("package"):
        purchases.setdefault(purchase.patient_id, []).append(purchase)
    if not purchases:
        return {}
    signed: dict[int, list[tuple[int, date]]] = {}
    first = min(p.bought_on for bought in purchases.values() for p in bought)
    for pk, patient_id, start in DosingSession.objects.filter(
        patient_id__in=purchases, signed_at__isnull=False, scheduled_for__gte=day_start(first)
    ).values_list("pk", "patient_id", "scheduled_for"):
        signed.setdefault(patient_id, []).append((pk, timezone.localdate(start)))
    caveats: dict[int, str] = {}
    for patient_id, bought in purchases.items():
        by_key = {p.pk: p for p in bought}
        keyed = [money.Purchase(p.pk, p.bought_on, p.sessions) for p in bought]
        for session_id, key in money.sessions_covered(keyed, signed.get(patient_id, [])).items():
            if key is not None:
                purchase = by_key[key]
                caveats[session_id] = (
                    f"A self-pay package paid for this session ({purchase.package.name}, bought "
                    f"{purchase.bought_on.isoformat()}): approving this line charges it again. Reject it as paid by "
                    "the package, unless the package is billed per session."
                )
    return caveats


def fee_cents(fees: list[FeeScheduleEntry], code: str, day: date) -> int | None:
    """The price of one unit of `code` on `day` from the loaded schedule, or None."""
    for fee in fees:
        if fee.code == code and fee.effective_from <= day and (fee.effective_to is None or day <= fee.effective_to):
            return fee.price_cents
    return None

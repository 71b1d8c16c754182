"""One signature shape (issue 14, item 6): every signed record signs and is checked by kapclinic.signing, and
every digest stored before (built by hand in the services) still verifies."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from kapclinic.accounts.models import ApiToken, CalendarFeedToken, SmartAccessToken, User
from kapclinic.audit.context import AuditContext
from kapclinic.billing.models import Remittance
from kapclinic.consent.models import ConsentSignature, ConsentVersion
from kapclinic.consent.services import consent_sign, consent_version_publish
from kapclinic.dosing.models import DoseOrder, DosingSession
from kapclinic.intake.models import EligibilityDecision
from kapclinic.intake.services import eligibility_decide
from kapclinic.ledger.models import Product
from kapclinic.outcomes.models import ReferrerReport
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.signing import Signed, SignedRecord, content_digest
from kapclinic.therapy import services as therapy
from kapclinic.therapy.models import NoteAddendum, NoteCosignature, TherapyNote

pytestmark = pytest.mark.django_db

SIGNED_RECORDS = {
    TreatmentPlan,
    DosingSession,
    TherapyNote,
    NoteAddendum,
    ConsentSignature,
    DoseOrder,
    EligibilityDecision,
    ReferrerReport,
}
# Digests that are not signatures, and why.
NOT_SIGNATURES = {
    ConsentVersion: "body_digest is the digest of a published text (checked by text_intact), signed by no one",
    NoteCosignature: "note_digest is the note's signature digest the supervisor saw, not a digest of its own",
    ApiToken: "digest is the hash of a bearer token",
    CalendarFeedToken: "digest is the hash of a calendar feed's secret address",
    SmartAccessToken: "digest is the hash of a SMART access token",
    Remittance: "digest is the sha256 of a received 835 file, kept so the same file never posts twice",
}
SignedT = TypeVar("SignedT", bound=Signed)
RISKS = [{"code": "dissociation", "text": "You may feel detached."}]


def ctx(user: User) -> AuditContext:
    return AuditContext(user=user, channel="test")


def carries_a_signature(model: type[models.Model]) -> bool:
    names = {f.name for f in model._meta.get_fields()}
    return bool(names & {"signed_by", "signed_at", "signed_digest"}) or any(n.endswith("digest") for n in names)


def test_every_signed_record_uses_the_shared_mechanism() -> None:
    found = {m for m in apps.get_models() if carries_a_signature(m)} - set(NOT_SIGNATURES)
    assert found == SIGNED_RECORDS
    for model in found:
        assert issubclass(model, Signed), model
        meta = model._meta
        assert model.SIGNED_FIELDS and all(meta.get_field(n) for n in model.SIGNED_FIELDS + model.SIGNED_WHEN_SET)
        signer = meta.get_field(model.SIGNER_FIELD)
        assert isinstance(signer, models.ForeignKey) and signer.related_model is User
        assert isinstance(meta.get_field(model.SIGNED_AT_FIELD), models.DateTimeField)
        digest = meta.get_field(model.DIGEST_FIELD)
        assert isinstance(digest, models.CharField) and digest.max_length == 64


def test_no_digest_is_built_by_hand_outside_the_signing_module() -> None:
    """content_digest is called only by kapclinic.signing and for a consent version's published text."""
    root = Path(__file__).resolve().parent.parent / "kapclinic"
    allowed = {"signing.py", "consent/models.py", "consent/services.py"}
    calls = {}
    for path in root.rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if "/migrations/" not in relative and re.search(r"content_digest\(", path.read_text()):
            calls[relative] = re.findall(r".*content_digest\(.*", path.read_text())
    assert set(calls) <= allowed, calls
    for relative in ("consent/models.py", "consent/services.py"):
        assert all("text_content()" in line for line in calls.get(relative, [])), calls[relative]


# --- Records ---------------------------------------------------------------------------------------------


@pytest.fixture
def session(plan: TreatmentPlan) -> DosingSession:
    return DosingSession.objects.create(patient=plan.patient, plan=plan, number=1, scheduled_for=timezone.now())


@pytest.fixture
def product() -> Product:
    return Product.objects.create(
        name="Ketamine HCl injection", form="vial", mg_per_unit=Decimal("10"), unit="mL", units_per_container=20
    )


def signed_session(personas: dict[str, User], session: DosingSession) -> DosingSession:
    session.state = "discharged"
    session.started_at = timezone.now() - timedelta(hours=2)
    session.ended_at = timezone.now()
    session.signature_stamp(personas["nurse"].pk)
    session.save()
    return session


def signed_note(personas: dict[str, User], patient: Patient) -> TherapyNote:
    therapist = personas["therapist"]
    note = therapy.note_draft_create(
        ctx=ctx(therapist), patient_id=patient.pk, kind="integration", values={"body": "Slept better."}
    )
    return therapy.note_sign(ctx=ctx(therapist), note_id=note.pk)


def addendum(personas: dict[str, User], patient: Patient) -> NoteAddendum:
    note = signed_note(personas, patient)
    return therapy.note_addendum_add(
        ctx=ctx(personas["therapist"]), note_id=note.pk, body="Phoned the next day.", reason="Late information"
    )


def consent(personas: dict[str, User], patient: Patient) -> ConsentSignature:
    version = consent_version_publish(ctx=ctx(personas["director"]), title="KAP consent", body="Text.", risks=RISKS)
    return consent_sign(
        ctx=ctx(personas["patient_user"]),
        patient_id=patient.pk,
        version_id=version.pk,
        typed_name=patient.full_name,
        risks_acknowledged=version.risk_codes,
    )


def order(personas: dict[str, User], session: DosingSession, product: Product) -> DoseOrder:
    made = DoseOrder(
        session=session,
        route="iv",
        dose_mg=Decimal("39"),
        volume_ml=Decimal("3.9"),
        product=product,
        infusion_minutes=40,
        working=["0.5 mg/kg x 78.0 kg = 39.0 mg."],
        policy_version="test",
    )
    made.signature_stamp(personas["prescriber"].pk)
    made.save(force_insert=True)
    return made


def decision(personas: dict[str, User], patient: Patient) -> EligibilityDecision:
    return eligibility_decide(
        ctx=ctx(personas["prescriber"]), patient_id=patient.pk, decision="not_eligible", reason="Not today."
    )


def reloaded(record: SignedT) -> SignedT:
    return type(record)._default_manager.get(pk=record.pk)


# Each record type, made as the services make it, with one change to a signed field.
TAMPERING: dict[str, tuple[Callable[..., Signed], str, Any]] = {
    "plan": (lambda p, s, pr: s.plan, "session_count", 12),
    "session": (lambda p, s, pr: signed_session(p, s), "state", "stopped_early"),
    "note": (lambda p, s, pr: signed_note(p, s.patient), "body", "Slept worse."),
    "addendum": (lambda p, s, pr: addendum(p, s.patient), "body", "Did not phone."),
    "consent": (lambda p, s, pr: consent(p, s.patient), "typed_name", "Someone Else"),
    "order": (lambda p, s, pr: order(p, s, pr), "dose_mg", Decimal("93")),
    "eligibility decision": (lambda p, s, pr: decision(p, s.patient), "decision", "eligible"),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_each_signed_record_verifies_as_saved_and_not_once_changed(
    kind: str, personas: dict[str, User], session: DosingSession, product: Product
) -> None:
    make, field, changed = TAMPERING[kind]
    record = reloaded(make(personas, session, product))
    assert record.is_signed and record.signature_intact
    setattr(record, field, changed)
    assert not record.signature_intact


def test_a_consent_signature_no_longer_verifies_when_its_version_text_changed(
    personas: dict[str, User], team_patient: Patient
) -> None:
    signature = reloaded(consent(personas, team_patient))
    assert isinstance(signature, ConsentSignature) and signature.signature_intact
    signature.version.body = "Other text."
    assert not signature.signature_intact


# --- Digests stored before the shared mechanism ----------------------------------------------------------


def old_order_digest(order: DoseOrder, dose_mg: str, volume_ml: str | None) -> str:
    """What dose_order_sign digested before (the calculator's decimals as text, optional keys when set)."""
    values: dict[str, Any] = {
        "session": order.session_id,
        "route": order.route,
        "dose_mg": dose_mg,
        "volume_ml": volume_ml,
        "product": order.product_id,
        "working": order.working,
        "signed_by": order.signed_by_id,
    }
    if order.infusion_minutes is not None:
        values["infusion_minutes"] = order.infusion_minutes
    if order.esketamine_indication:
        values["esketamine_indication"] = order.esketamine_indication
    return content_digest(values)


@pytest.mark.parametrize(
    ("route", "dose_mg", "volume_ml", "extra"),
    [
        ("iv", "39", "3.9", {"infusion_minutes": 40}),  # 1 mg and 0.1 mL rounding
        ("im", "42.5", "0.85", {}),  # 2.5 mg and 0.01 mL rounding
        ("intranasal", "56", None, {"esketamine_indication": "trd"}),
        ("intranasal", "84.0", None, {}),  # the plan's fixed dose, one place
        ("sublingual", "200.000", None, {}),  # troches x the product's strength, three places
    ],
)
def test_a_dose_order_signed_before_still_verifies(
    route: str,
    dose_mg: str,
    volume_ml: str | None,
    extra: dict[str, Any],
    personas: dict[str, User],
    session: DosingSession,
    product: Product,
) -> None:
    made = DoseOrder(
        session=session,
        route=route,
        dose_mg=Decimal(dose_mg),
        volume_ml=None if volume_ml is None else Decimal(volume_ml),
        product=product,
        working=["A line of working."],
        policy_version="test",
        signed_by=personas["prescriber"],
        **extra,
    )
    made.digest = old_order_digest(made, dose_mg, volume_ml)
    made.save(force_insert=True)
    stored = DoseOrder.objects.get(pk=made.pk)
    assert stored.dose_mg == Decimal(dose_mg) and stored.signature_intact
    stored.dose_mg += 1
    assert not stored.signature_intact


def test_an_addendum_is_digested_as_before(personas: dict[str, User], team_patient: Patient) -> None:
    added = addendum(personas, team_patient)
    before = {"note": added.note_id, "author": added.author_id, "at": added.written_at}
    assert added.digest == content_digest({**before, "reason": "Late information", "body": "Phoned the next day."})


def test_a_consent_signature_is_digested_as_before(personas: dict[str, User], team_patient: Patient) -> None:
    signature = consent(personas, team_patient)
    version = signature.version
    before = {
        "patient": team_patient.pk,
        "version": version.pk,
        "version_body_digest": version.body_digest,
        "risks": version.risks,
        "typed_name": team_patient.full_name,
        "risks_acknowledged": ["dissociation"],
        "signed_at": signature.signed_at.astimezone(UTC).isoformat(),
    }
    assert signature.digest == content_digest(before)


def test_a_plan_is_digested_as_before(plan: TreatmentPlan) -> None:
    """plan_sign reads the draft back before stamping: its digest was, and is, over SIGNED_FIELDS as stored
    (and no esketamine indication when the plan has none)."""
    stored = TreatmentPlan.objects.get(pk=plan.pk)
    fields = [f for f in TreatmentPlan._meta.concrete_fields if f.name in TreatmentPlan.SIGNED_FIELDS]
    before = {f.name: getattr(stored, f.attname) for f in fields}
    assert len(before) == len(TreatmentPlan.SIGNED_FIELDS)
    assert stored.signed_digest == content_digest(before) and stored.signature_intact
    assert "esketamine_indication" not in stored.signed_content()


def test_a_record_stamped_before_saving_verifies_when_read_back(plan: TreatmentPlan) -> None:
    """The digest takes a decimal as its column stores it: 0.5 typed, 0.500 read back, one digest."""
    assert TreatmentPlan.objects.get(pk=plan.pk).starting_dose_mg_per_kg == Decimal("0.500")
    assert reloaded(plan).signature_intact


def test_signed_record_keeps_its_nullable_columns_for_drafts() -> None:
    for model in (TreatmentPlan, DosingSession, TherapyNote):
        assert issubclass(model, SignedRecord) and model._meta.get_field("signed_at").null


def test_an_eligibility_decision_recorded_before_signing_stays_unsigned(
    personas: dict[str, User], team_patient: Patient
) -> None:
    """Decisions recorded before 2026-12 have no digest: unsigned, not altered, and never signed after the fact."""
    before = EligibilityDecision.objects.create(
        patient=team_patient, decision="eligible", decided_by=personas["prescriber"], rule_set_version="t"
    )
    stored = EligibilityDecision.objects.get(pk=before.pk)
    assert stored.digest == "" and not stored.is_signed and not stored.signature_intact
    assert decision(personas, team_patient).is_signed

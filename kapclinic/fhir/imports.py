"""Importing a referral's FHIR Bundle (issue 17 item 4): upload it for a patient, compare what it offers with what
the record holds, and take what the clinician chooses, item by item.

The bundle is kept as received (fhir.ReferralImport, append-only) with who uploaded it and when; each choice is a
row of its own (fhir.ReferralChoice, append-only: a later choice for the same item is a new row). What is taken is
written by the app that owns it: diagnoses, medications and allergies by the evaluation's service
(intake.services.evaluation_save), scores by measures.services.response_from_referral, dated when they were taken.
Where an item came from (the bundle, its sender, the item's own date) stays with its choice and is shown beside it.
What is left is not written anywhere but in the choice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.errors import NotFound
from kapclinic.fhir.imports_bundle import (
    BUNDLE_MAX_BYTES,
    SCORE_CODES,
    BundleProblem,
    Offer,
    ReadBundle,
    bundle_read,
    fhir_instant,
    person_mismatch,
)
from kapclinic.fhir.models import ReferralChoice, ReferralImport
from kapclinic.intake.models import Evaluation
from kapclinic.intake.services import evaluation_save
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.measures.services import response_from_referral
from kapclinic.patients.access import patient_get_for_user
from kapclinic.roles import Action

# Where each kind of item goes in the evaluation (intake/evaluation_fields.py LIST_FIELDS).
EVALUATION_FIELD = {"condition": "diagnoses", "medication": "medications", "allergy": "allergies"}
SECTIONS = (
    ("condition", "Conditions", "Diagnoses in the evaluation (ICD-10-CM)"),
    ("medication", "Medications", "Medications in the evaluation"),
    ("allergy", "Allergies", "Allergies in the evaluation"),
    ("score", "Questionnaire scores", "Scores in the record"),
)
KEYS_MAX = 5_000


def _refused(ctx: AuditContext, action: Action, patient_id: int, field: str, reason: str) -> ValidationError:
    access_event_record(
        ctx=ctx, action=action, patient_id=patient_id, outcome=Outcome.INVALID, detail={"reason": reason[:300]}
    )
    return ValidationError({field: reason})


def referral_upload(*, ctx: AuditContext, patient_id: int, raw: bytes) -> ReferralImport:
    """Keep a referral's bundle for the patient; refused (audited, nothing kept) when it cannot be read or names
    someone else."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.REFERRAL_UPLOAD, record_allowed=False)
    try:
        read = bundle_read(raw)
    except BundleProblem as exc:
        raise _refused(ctx, Action.REFERRAL_UPLOAD, patient_id, "bundle", str(exc)) from None
    patient = access.patient
    mismatch = person_mismatch(
        read.person, family=patient.family_name, given=patient.given_name, birth_date=patient.birth_date
    )
    if mismatch:
        raise _refused(ctx, Action.REFERRAL_UPLOAD, patient_id, "bundle", mismatch)
    with transaction.atomic():
        referral = ReferralImport.objects.create(
            patient_id=patient_id,
            uploaded_by=ctx.user,
            channel=ctx.channel[:10],
            bundle=raw.decode("utf-8-sig"),
            sha256=hashlib.sha256(raw).hexdigest(),
            bundle_type=read.bundle_type,
            bundle_identifier=read.identifier,
            source=read.source[:300],
            entries=read.entries,
        )
        access_event_record(
            ctx=ctx,
            action=Action.REFERRAL_UPLOAD,
            patient_id=patient_id,
            detail={"referral": referral.pk, "entries": read.entries, "offers": len(read.offers)},
        )
    return referral


def referrals_for_patient(*, ctx: AuditContext, patient_id: int) -> QuerySet[ReferralImport]:
    """The bundles uploaded for the patient, newest first (who and when: no clinical content)."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.REFERRAL_UPLOAD, record_allowed=False)
    access_event_record(ctx=ctx, action="referral.list", patient_id=patient_id)
    return ReferralImport.objects.filter(patient_id=patient_id).select_related("uploaded_by").defer("bundle")


@dataclass(frozen=True)
class OfferShown:
    """One offer with the latest choice made on it and whether the record already holds the same."""

    offer: Offer
    choice: ReferralChoice | None
    held: bool

    @property
    def dated(self) -> datetime | None:
        """The item's own date as an instant (None for a partial or missing one: the page shows it as written)."""
        return fhir_instant(self.offer.when)

    @property
    def state(self) -> str:
        if self.choice is not None:
            return "taken" if self.choice.taken else "left"
        if self.held:
            return "held"
        return "open" if self.offer.takeable else "not offered"


@dataclass(frozen=True)
class Section:
    kind: str
    title: str
    record_title: str
    offers: list[OfferShown]
    record: list[str]  # the evaluation's list (conditions, medications, allergies)
    responses: list[QuestionnaireResponse]  # the scores held (scores)

    @property
    def open_count(self) -> int:
        return sum(1 for shown in self.offers if shown.state == "open")

    @property
    def unoffered_count(self) -> int:
        return sum(1 for shown in self.offers if shown.state == "not offered")


@dataclass(frozen=True)
class Comparison:
    referral: ReferralImport
    read: ReadBundle
    sections: list[Section] = field(default_factory=list)


def _referral(referral_id: int) -> ReferralImport:
    referral = ReferralImport.objects.select_related("patient", "uploaded_by").filter(pk=referral_id).first()
    if referral is None:
        raise NotFound("No referral import with that id.")
    return referral


def _scores_held(patient_id: int) -> list[QuestionnaireResponse]:
    instruments = [i.code for i in SCORE_CODES.values()]
    return list(
        QuestionnaireResponse.objects.filter(patient_id=patient_id, instrument__in=instruments, total__isnull=False)
        .order_by("-submitted_at", "-id")
        .only("instrument", "total", "submitted_at", "source")[:200]
    )


def _latest_choices(referral: ReferralImport) -> dict[str, ReferralChoice]:
    latest: dict[str, ReferralChoice] = {}
    for choice in referral.choices.select_related("chosen_by").order_by("item", "-chosen_at", "-id"):
        latest.setdefault(choice.item, choice)
    return latest


def _listed(data: dict[str, Any], name: str) -> list[str]:
    found = data.get(name)
    return [item for item in found if isinstance(item, str)] if isinstance(found, list) else []


def referral_compare(*, ctx: AuditContext, referral_id: int) -> Comparison:
    """What the bundle offers beside what the record holds, section by section (an audited clinical read)."""
    referral = _referral(referral_id)
    patient_get_for_user(ctx=ctx, patient_id=referral.patient_id, action=Action.REFERRAL_REVIEW, record_allowed=False)
    access_event_record(
        ctx=ctx, action="referral.compare", patient_id=referral.patient_id, detail={"referral": referral.pk}
    )
    read = bundle_read(referral.bundle.encode())
    data = Evaluation.objects.filter(patient_id=referral.patient_id).values_list("data", flat=True).first() or {}
    scores = _scores_held(referral.patient_id)
    held_scores = {(r.instrument, r.total, r.submitted_at.date()) for r in scores}
    choices = _latest_choices(referral)
    sections = []
    for kind, title, record_title in SECTIONS:
        record = [] if kind == "score" else _listed(data, EVALUATION_FIELD[kind])
        folded = {item.casefold() for item in record}
        shown = []
        for offer in read.offers:
            if offer.kind != kind:
                continue
            if kind == "score":
                when = fhir_instant(offer.when)
                held = (
                    bool(offer.value)
                    and when is not None
                    and ((offer.instrument, int(offer.value), when.date()) in held_scores)
                )
            else:
                held = bool(offer.value) and offer.value.casefold() in folded
            shown.append(OfferShown(offer, choices.get(offer.key), held))
        sections.append(Section(kind, title, record_title, shown, record, scores if kind == "score" else []))
    return Comparison(referral, read, sections)


def referral_choose(
    *, ctx: AuditContext, referral_id: int, take: Collection[str], leave: Collection[str] = ()
) -> list[ReferralChoice]:
    """Take the items in `take` into the record (through their owners' services) and record `leave` as left.

    Refused as a whole, nothing written, when an item is unknown, not takeable, or already taken. An item left
    earlier may be taken now (the choice is revisited); one taken earlier stays taken: change the record itself.
    """
    referral = _referral(referral_id)
    patient_id = referral.patient_id
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.REFERRAL_REVIEW, record_allowed=False)
    take, leave = list(dict.fromkeys(take)), list(dict.fromkeys(leave))
    read = bundle_read(referral.bundle.encode())
    offers = {offer.key: offer for offer in read.offers}
    latest = _latest_choices(referral)
    problem = ""
    if not take and not leave:
        problem = "Choose at least one item to take or to leave."
    elif len(take) + len(leave) > KEYS_MAX:
        problem = f"At most {KEYS_MAX} items at once."
    elif set(take) & set(leave):
        problem = "An item cannot be both taken and left."
    else:
        for key in [*take, *leave]:
            offer = offers.get(key)
            earlier = latest.get(key)
            if offer is None:
                problem = f"The bundle has no item {key[:40]!r}."
            elif key in take and not offer.takeable:
                problem = f"{offer.label} cannot be taken: {offer.why_not}"
            elif earlier is not None and earlier.taken:
                problem = f"{offer.label} was already taken; change it in the record itself."
            if problem:
                break
    now = timezone.now()
    if not problem:
        for key in take:
            when = fhir_instant(offers[key].when)
            if offers[key].kind != "score":
                continue
            if when is None or when > now:
                problem = f"{offers[key].label} is dated in the future."
                break
            if QuestionnaireResponse.objects.filter(
                patient_id=patient_id,
                instrument=offers[key].instrument,
                total=int(offers[key].value),
                submitted_at=when,
            ).exists():
                problem = f"{offers[key].label} of that time is already in the record."
                break
    if problem:
        raise _refused(ctx, Action.REFERRAL_REVIEW, patient_id, "take", problem)
    taken = [offers[key] for key in take]
    to_evaluation = [offer for offer in taken if offer.kind in EVALUATION_FIELD]
    # Each owner checks its own row; asked here, before the transaction, so a refusal's audit row is kept.
    if to_evaluation:
        patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.EVALUATION_RECORD, record_allowed=False)
    if any(offer.kind == "score" for offer in taken):
        patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.MEASURE_ENTER, record_allowed=False)
    made: list[ReferralChoice] = []
    with transaction.atomic():
        if to_evaluation:
            evaluation = Evaluation.objects.select_for_update().filter(patient_id=patient_id).first()
            data = evaluation.data if evaluation is not None else {}
            values: dict[str, list[str]] = {}
            for offer in to_evaluation:
                name = EVALUATION_FIELD[offer.kind]
                current = values.setdefault(name, _listed(data, name))
                if offer.value.casefold() not in {item.casefold() for item in current}:
                    current.append(offer.value)
            evaluation_save(ctx=ctx, patient_id=patient_id, values=values)
        for key in [*take, *leave]:
            offer = offers[key]
            response = None
            if key in take and offer.kind == "score":
                when = fhir_instant(offer.when)
                assert when is not None
                response = response_from_referral(
                    ctx=ctx,
                    patient_id=patient_id,
                    instrument_code=offer.instrument,
                    total=int(offer.value),
                    taken_at=when,
                )
            made.append(
                ReferralChoice.objects.create(
                    referral=referral,
                    item=key,
                    kind=offer.kind,
                    taken=key in take,
                    label=offer.label[:300],
                    value=offer.value[:200],
                    original_date=offer.when[:40],
                    chosen_by=ctx.user,
                    chosen_at=now,
                    response=response,
                )
            )
        access_event_record(
            ctx=ctx,
            action=Action.REFERRAL_REVIEW,
            patient_id=patient_id,
            detail={"referral": referral.pk, "taken": take[:200], "left": leave[:200]},
        )
    return made


__all__ = [
    "BUNDLE_MAX_BYTES",
    "Comparison",
    "OfferShown",
    "Section",
    "referral_choose",
    "referral_compare",
    "referral_upload",
    "referrals_for_patient",
]

"""The referral import's API twin (issue 17 item 4): upload a bundle, read the comparison, post the choices. The
same services as the pages (kapclinic/fhir/imports.py); a refusal is a 422 with the reason, nothing changed."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId, Offset
from kapclinic.fhir.imports import (
    BUNDLE_MAX_BYTES,
    Comparison,
    referral_choose,
    referral_compare,
    referral_upload,
    referrals_for_patient,
)
from kapclinic.fhir.models import ReferralChoice, ReferralImport

router = Router(tags=["referral imports"])


class ReferralOut(Schema):
    id: int
    patient: int
    uploaded_at: datetime
    uploaded_by: str
    source: str = Field(description="the sending organisation(s) as the bundle names them")
    bundle_type: str
    bundle_identifier: str
    entries: int


def _referral_out(referral: ReferralImport) -> dict[str, object]:
    return {
        "id": referral.pk,
        "patient": referral.patient_id,
        "uploaded_at": referral.uploaded_at,
        "uploaded_by": referral.uploaded_by.username,
        "source": referral.source,
        "bundle_type": referral.bundle_type,
        "bundle_identifier": referral.bundle_identifier,
        "entries": referral.entries,
    }


class ReferralListOut(Schema):
    items: list[ReferralOut]
    count: int


class ReferralListParams(Schema):
    limit: int = Field(default=20, ge=1, le=100)
    offset: Offset = 0


class ChoiceOut(Schema):
    item: str
    kind: str
    taken: bool
    value: str = Field(description="what was written (or would have been)")
    original_date: str = Field(description="the item's own date as the bundle gives it")
    chosen_at: datetime
    chosen_by: str
    response: int | None = Field(description="the questionnaire response written for a score taken")


def _choice_out(choice: ReferralChoice) -> dict[str, object]:
    return {
        "item": choice.item,
        "kind": choice.kind,
        "taken": choice.taken,
        "value": choice.value,
        "original_date": choice.original_date,
        "chosen_at": choice.chosen_at,
        "chosen_by": choice.chosen_by.username,
        "response": choice.response_id,
    }


class OfferOut(Schema):
    key: str
    kind: str
    label: str
    system: str
    code: str
    value: str = Field(description="what the record would hold: an ICD-10-CM code, a name, a total")
    instrument: str
    date: str = Field(description="the item's own date as the bundle writes it")
    status: str
    recognised: bool
    takeable: bool
    why_not: str
    state: str = Field(description="open, taken, left, held (already in the record) or not offered")
    choice: ChoiceOut | None


class ScoreHeldOut(Schema):
    instrument: str
    total: int
    taken_at: datetime
    source: str


class SectionOut(Schema):
    kind: str
    offers: list[OfferOut]
    record: list[str] = Field(description="the evaluation's list for this kind (conditions, medications, allergies)")
    scores: list[ScoreHeldOut] = Field(description="the scores the record holds (scores)")


class PersonOut(Schema):
    family: str
    given: list[str]
    birth_date: str


class ComparisonOut(Schema):
    referral: ReferralOut
    patient_in_bundle: PersonOut
    sections: list[SectionOut]


def _comparison_out(comparison: Comparison) -> dict[str, object]:
    person = comparison.read.person
    return {
        "referral": _referral_out(comparison.referral),
        "patient_in_bundle": {"family": person.family, "given": list(person.given), "birth_date": person.birth_date},
        "sections": [
            {
                "kind": section.kind,
                "offers": [
                    {
                        "key": shown.offer.key,
                        "kind": shown.offer.kind,
                        "label": shown.offer.label,
                        "system": shown.offer.system,
                        "code": shown.offer.code,
                        "value": shown.offer.value,
                        "instrument": shown.offer.instrument,
                        "date": shown.offer.when,
                        "status": shown.offer.status,
                        "recognised": shown.offer.recognised,
                        "takeable": shown.offer.takeable,
                        "why_not": shown.offer.why_not,
                        "state": shown.state,
                        "choice": _choice_out(shown.choice) if shown.choice is not None else None,
                    }
                    for shown in section.offers
                ],
                "record": section.record,
                "scores": [
                    {"instrument": r.instrument, "total": r.total, "taken_at": r.submitted_at, "source": r.source}
                    for r in section.responses
                ],
            }
            for section in comparison.sections
        ],
    }


class ChoicesIn(Schema):
    model_config = ConfigDict(extra="forbid")

    take: list[str] = Field(default=[], max_length=5000, description="keys of the offers to write to the record")
    leave: list[str] = Field(default=[], max_length=5000, description="keys of the offers set aside (not written)")


class ChoicesOut(Schema):
    items: list[ChoiceOut]


@router.post(
    "/patients/{patient_id}/referral-imports",
    response={201: ReferralOut, **ERROR_ANSWERS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": f"The referral's FHIR R4 Bundle (transaction or collection), up to "
            f"{BUNDLE_MAX_BYTES // 1_048_576} MB",
            "content": {
                "application/fhir+json": {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
def referral_import_create(request: HttpRequest, patient_id: DbId) -> Status[dict[str, object]]:
    """Keep a referral's bundle for the patient (coordinator, prescriber). Refused with 422 and the reason when it
    is not JSON, not a Bundle of a referral's type, too large, or about someone else (name or date of birth)."""
    # Read straight from the stream, one byte past the cap: the service says a larger file is too large.
    raw = request.body if hasattr(request, "_body") else request.read(BUNDLE_MAX_BYTES + 1)
    referral = referral_upload(ctx=api_context(request), patient_id=patient_id, raw=raw)
    return Status(201, _referral_out(referral))


@router.get("/patients/{patient_id}/referral-imports", response={200: ReferralListOut, **ERROR_ANSWERS})
def referral_import_list(
    request: HttpRequest, patient_id: DbId, params: Query[ReferralListParams]
) -> dict[str, object]:
    """The bundles kept for the patient, newest first: who uploaded them, when, from whom."""
    found = referrals_for_patient(ctx=api_context(request), patient_id=patient_id)
    page = found[params.offset : params.offset + params.limit]
    return {"items": [_referral_out(r) for r in page], "count": found.count()}


@router.get("/referral-imports/{referral_id}", response={200: ComparisonOut, **ERROR_ANSWERS})
def referral_import_get(request: HttpRequest, referral_id: DbId) -> dict[str, object]:
    """What the bundle offers, section by section, beside what the record holds, with each item's latest choice."""
    return _comparison_out(referral_compare(ctx=api_context(request), referral_id=referral_id))


@router.post("/referral-imports/{referral_id}/choices", response={201: ChoicesOut, **ERROR_ANSWERS})
def referral_import_choose(request: HttpRequest, referral_id: DbId, payload: ChoicesIn) -> Status[dict[str, object]]:
    """Take (written to the record through the evaluation and measures services) or leave items, by key. Refused
    as a whole with 422 when a key is unknown, not takeable or already taken."""
    made = referral_choose(ctx=api_context(request), referral_id=referral_id, take=payload.take, leave=payload.leave)
    return Status(201, {"items": [_choice_out(choice) for choice in made]})

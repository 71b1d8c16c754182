from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from kapclinic.accounts.web import api_context
from kapclinic.apitypes import ERROR_ANSWERS, DbId, Offset
from kapclinic.clinical.instruments import INSTRUMENTS, Instrument
from kapclinic.measures import services
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.measures.selectors import responses_for_patient

router = Router(tags=["measures"])


class OptionOut(Schema):
    value: int
    text: str


class ItemOut(Schema):
    id: str
    text: str
    options: list[OptionOut]
    minimum: int | None
    maximum: int | None
    scored: bool
    required: bool


class InstrumentOut(Schema):
    code: str
    name: str
    version: str
    respondent: str
    recall_period: str
    items: list[ItemOut]
    loinc: str | None
    source: str


class ResponseIn(Schema):
    model_config = ConfigDict(extra="forbid")

    instrument: str = Field(max_length=30, description="e.g. phq9")
    answers: list[int | None] | dict[str, int | None] = Field(description="item values in order, or by item id")
    version: str | None = Field(default=None, max_length=20)
    client_token: uuid.UUID | None = Field(default=None, description="repeat it to make a retry safe")
    corrects: DbId | None = None
    correction_reason: str = Field(default="", max_length=2000)


class ResponseOut(Schema):
    id: int
    instrument: str
    version: str
    total: int | None
    severity: str
    flags: list[str]
    complete: bool
    prorated: bool
    source: str
    submitted_at: datetime
    corrects: int | None = Field(alias="corrects_id")
    answers: dict[str, int | None]

    @staticmethod
    def resolve_answers(obj: QuestionnaireResponse) -> dict[str, int | None]:
        return {item.item: item.value for item in obj.items.all()}


class ResponseListOut(Schema):
    items: list[ResponseOut]
    count: int


def _instrument_out(instrument: Instrument) -> dict[str, object]:
    return {
        "code": instrument.code,
        "name": instrument.name,
        "version": instrument.version,
        "respondent": instrument.respondent,
        "recall_period": instrument.recall_period,
        "items": [
            {
                "id": item.id,
                "text": item.text,
                "options": [{"value": o.value, "text": o.text} for o in item.options],
                "minimum": item.minimum,
                "maximum": item.maximum,
                "scored": item.scored,
                "required": item.required,
            }
            for item in instrument.items
        ],
        "loinc": instrument.loinc_panel.code if instrument.loinc_panel else None,
        "source": instrument.source,
    }


@router.get("/instruments", response={200: list[InstrumentOut], **ERROR_ANSWERS})
def instrument_list(request: HttpRequest) -> list[dict[str, object]]:
    """The questionnaires this clinic ships, with items, answer values and LOINC panel codes."""
    return [_instrument_out(i) for i in INSTRUMENTS.values()]


@router.post("/patients/{patient_id}/responses", response={200: ResponseOut, 201: ResponseOut, **ERROR_ANSWERS})
def response_create(request: HttpRequest, patient_id: DbId, payload: ResponseIn) -> Status[QuestionnaireResponse]:
    """Submit a response; it is scored at once and any safety flag is raised. A repeated client_token gives 200."""
    response, created = services.response_submit(
        ctx=api_context(request),
        patient_id=patient_id,
        instrument_code=payload.instrument,
        answers=payload.answers,
        version=payload.version,
        client_token=payload.client_token,
        corrects_id=payload.corrects,
        correction_reason=payload.correction_reason,
    )
    fresh = QuestionnaireResponse.objects.prefetch_related("items").get(pk=response.pk)
    return Status(201 if created else 200, fresh)


@router.get("/patients/{patient_id}/responses", response={200: ResponseListOut, **ERROR_ANSWERS})
def response_list(
    request: HttpRequest, patient_id: DbId, limit: Annotated[int, Field(ge=1, le=500)] = 100, offset: Offset = 0
) -> dict[str, object]:
    responses = responses_for_patient(ctx=api_context(request), patient_id=patient_id)
    return {"items": list(responses[offset : offset + limit]), "count": responses.count()}

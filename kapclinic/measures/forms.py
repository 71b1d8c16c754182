"""Reading a questionnaire form (one field per item, named by item id) into answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.http import QueryDict

from kapclinic.audit.context import AuditContext
from kapclinic.clinical.instruments import Instrument, Item
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.measures.services import response_submit


@dataclass(frozen=True)
class QuestionField:
    item: Item
    number: int
    value: int | None

    @property
    def name(self) -> str:
        return self.item.id

    @property
    def is_scale(self) -> bool:
        return not self.item.options


def answers_from(instrument: Instrument, data: QueryDict) -> dict[str, object]:
    """Return the posted answers by item id: a whole number, None when skipped, or the raw text (to refuse)."""
    answers: dict[str, object] = {}
    for item in instrument.items:
        raw = data.get(item.id, "").strip()
        answers[item.id] = None if raw == "" else int(raw) if raw.lstrip("-").isdigit() and len(raw) < 7 else raw
    return answers


def question_fields(instrument: Instrument, values: dict[str, object]) -> list[QuestionField]:
    return [
        QuestionField(item=item, number=n, value=v if isinstance(v := values.get(item.id), int) else None)
        for n, item in enumerate(instrument.items, start=1)
    ]


def token_from(data: QueryDict) -> uuid.UUID | None:
    try:
        return uuid.UUID(data.get("client_token", ""))
    except ValueError:
        return None


@dataclass(frozen=True)
class FormSubmission:
    """What posting a questionnaire form gave: the stored response, or the errors and the answers to show again."""

    response: QuestionnaireResponse | None
    errors: list[str]
    values: dict[str, object]


def submit_form(*, ctx: AuditContext, patient_id: int, instrument: Instrument, data: QueryDict) -> FormSubmission:
    """Read a posted questionnaire form and submit it through the service (the portal and staff entry share it)."""
    values = answers_from(instrument, data)
    try:
        response, _created = response_submit(
            ctx=ctx,
            patient_id=patient_id,
            instrument_code=instrument.code,
            answers=values,
            version=data.get("version") or None,
            client_token=token_from(data),
        )
    except ValidationError as exc:
        return FormSubmission(None, exc.messages, values)
    return FormSubmission(response, [], values)

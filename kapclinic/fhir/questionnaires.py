"""The clinic's instruments as FHIR Questionnaires and the patients' answers as QuestionnaireResponses (issue 17,
item 1): reads, searches and the bulk stream.

A Questionnaire is built from the instrument's data (kapclinic/clinical/instruments): its items with their LOINC
codes where codes.md/instruments.md give one, each answer a Coding (the LOINC answer code where one exists, else the
clinic's own code, the value as text) with its score as the ordinalValue. Items whose published wording may not be
reproduced carry the instrument's label for them (Item.text_is_label), never the wording. A response points at its
Questionnaire by canonical URL and version ("urn:kapclinic:questionnaire:phq9|1"); its answers are the stored items.
Reading answers is MEASURE_VIEW, as the measures pages (roles.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from kapclinic.audit.context import AuditContext
from kapclinic.clinical.instruments import INSTRUMENTS, Instrument, Item, Option
from kapclinic.errors import NotFound
from kapclinic.fhir.doors import patient_bound_search, read_door, record_pk, token_pks, token_q
from kapclinic.fhir.reads import Page, _date_q
from kapclinic.fhir.resources import Resource, instant
from kapclinic.fhir.search import Search, SearchError
from kapclinic.fhir.terminology import LOINC
from kapclinic.measures.models import QuestionnaireResponse, ResponseItem
from kapclinic.roles import Action

CANONICAL = "urn:kapclinic:questionnaire:"
ANSWERS = "urn:kapclinic:questionnaire-answer:"
SDC_QUESTIONNAIRE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"
SDC_RESPONSE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaireresponse"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
ACTION = Action.MEASURE_VIEW


def questionnaire_id(code: str) -> str:
    """A FHIR id for an instrument's code (ids allow no underscore: pcl5_week → pcl5-week)."""
    return code.replace("_", "-")


BY_ID = {questionnaire_id(code): code for code in INSTRUMENTS}


def canonical(code: str) -> str:
    return CANONICAL + questionnaire_id(code)


def _computable_name(instrument: Instrument) -> str:
    letters = "".join(ch for ch in instrument.name.title() if ch.isalnum())
    return letters if letters[:1].isalpha() else f"Q{letters}"


def answer_coding(instrument: Instrument, item: Item, option: Option) -> dict[str, str]:
    """One answer as a Coding: LOINC's answer code where the instrument has one, else the clinic's own."""
    if option.loinc:
        return {"system": LOINC, "code": option.loinc, "display": option.text}
    system = f"{ANSWERS}{questionnaire_id(instrument.code)}"
    return {"system": system, "code": f"{item.id}-{option.value}", "display": option.text}


def _question(instrument: Instrument, item: Item) -> dict[str, Any]:
    question: dict[str, Any] = {"linkId": item.id, "text": item.text, "required": item.required}
    if item.loinc:
        question["code"] = [{"system": LOINC, "code": item.loinc, "display": item.short}]
    if item.options:
        question["type"] = "choice"
        question["answerOption"] = [
            {
                "extension": [{"url": ORDINAL_VALUE, "valueDecimal": option.value}],
                "valueCoding": answer_coding(instrument, item, option),
            }
            for option in item.options
        ]
    else:
        question["type"] = "integer"
        bounds = [(MIN_VALUE, item.minimum), (MAX_VALUE, item.maximum)]
        question["extension"] = [{"url": url, "valueInteger": value} for url, value in bounds if value is not None]
        if not question["extension"]:
            del question["extension"]
    if item.asked_if is not None:
        asked, value = item.asked_if
        parent = instrument.item(asked)
        condition: dict[str, Any] = {"question": asked, "operator": "="}
        chosen = [o for o in parent.options if o.value == value]
        if chosen:
            condition["answerCoding"] = answer_coding(instrument, parent, chosen[0])
        else:
            condition["answerInteger"] = value
        question["enableWhen"] = [condition]
    return question


def questionnaire_resource(instrument: Instrument) -> Resource:
    """An instrument as an (SDC) Questionnaire: its items, LOINC codes where they exist, its source and licence."""
    resource: Resource = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(instrument.code),
        "meta": {"profile": [SDC_QUESTIONNAIRE]},
        "url": canonical(instrument.code),
        "version": instrument.version,
        "name": _computable_name(instrument),
        "title": instrument.name,
        "status": "active",
        "subjectType": ["Patient"],
        "description": f"{instrument.construct}; recall period: {instrument.recall_period}. "
        f"Source: {instrument.source}.",
        "copyright": instrument.licence,
        "item": [_question(instrument, item) for item in instrument.items],
    }
    if instrument.loinc_panel is not None:
        panel = instrument.loinc_panel
        resource["code"] = [{"system": LOINC, "code": panel.code, "display": panel.display}]
    if instrument.stem:
        resource["purpose"] = instrument.stem
    return resource


def questionnaire_read(*, questionnaire_id_: str) -> Resource:
    code = BY_ID.get(questionnaire_id_)
    if code is None:
        raise NotFound("No questionnaire with that id.")
    return questionnaire_resource(INSTRUMENTS[code])


def _instrument_codes(values: list[str]) -> set[str]:
    """The instruments a `questionnaire` or `url` value names: its canonical (with or without |version), or
    Questionnaire/<id>."""
    codes = set()
    for value in values:
        bare = value.split("|", 1)[0].removeprefix(CANONICAL).removeprefix("Questionnaire/")
        if bare in BY_ID:
            codes.add(BY_ID[bare])
    return codes


def questionnaire_search(*, search: Search) -> tuple[list[Resource], bool]:
    """The instruments (no patient data): by id, canonical url, name (prefix, any case), status, LOINC panel."""
    found = list(INSTRUMENTS.values())
    if (ids := search.tokens.get("_id")) is not None:
        wanted = {BY_ID.get(tk.code) for tk in ids}
        found = [i for i in found if i.code in wanted]
    if (urls := search.strings.get("url")) is not None:
        codes = _instrument_codes(urls)
        found = [i for i in found if i.code in codes]
    for name, values in search.strings.items():
        if name.partition(":")[0] != "name":
            continue
        exact = name.endswith(":exact")
        found = [
            i
            for i in found
            if any(
                (cand == v) if exact else cand.lower().startswith(v.lower())
                for v in values
                for cand in (i.name, _computable_name(i))
            )
        ]
    if (statuses := search.tokens.get("status")) is not None and "active" not in {tk.code for tk in statuses}:
        found = []
    if (code_tokens := search.tokens.get("code")) is not None:
        wanted_codes = {tk.code for tk in code_tokens if tk.system in (None, LOINC)}
        found = [
            i
            for i in found
            if (i.loinc_panel is not None and i.loinc_panel.code in wanted_codes)
            or any(item.loinc in wanted_codes for item in i.items if item.loinc)
        ]
    window = found[search.offset : search.offset + search.count + 1]
    return [questionnaire_resource(i) for i in window[: search.count]], len(window) > search.count


# --- QuestionnaireResponse ------------------------------------------------------------------------------------------


def response_status(response: QuestionnaireResponse) -> str:
    """entered-in-error once a correction replaced it; amended when it is a correction; completed otherwise (a
    stored response was submitted: an incomplete one is still the patient's submitted answers)."""
    if getattr(response, "replaced", False):
        return "entered-in-error"
    return "amended" if response.corrects_id else "completed"


def _answer(instrument: Instrument | None, item_id: str, value: int) -> dict[str, Any]:
    if instrument is not None and instrument.has_item(item_id):
        item = instrument.item(item_id)
        chosen = [o for o in item.options if o.value == value]
        if chosen:
            return {"valueCoding": answer_coding(instrument, item, chosen[0])}
    return {"valueInteger": value}


def questionnaire_response_resource(response: QuestionnaireResponse, items: list[ResponseItem]) -> Resource:
    """One submitted response: its questionnaire (canonical|version), who answered, when, and each answer."""
    instrument = INSTRUMENTS.get(response.instrument)
    who = (
        {"reference": f"Patient/{response.patient_id}"}
        if response.source == "portal"
        else {"reference": f"Practitioner/{response.entered_by_id}"}
    )
    answered = []
    for row in items:
        if row.value is None:
            continue
        question: dict[str, Any] = {"linkId": row.item}
        if instrument is not None and instrument.has_item(row.item):
            question["text"] = instrument.item(row.item).text
        question["answer"] = [_answer(instrument, row.item, row.value)]
        answered.append(question)
    resource: Resource = {
        "resourceType": "QuestionnaireResponse",
        "id": str(response.pk),
        "meta": {"profile": [SDC_RESPONSE]},
        "questionnaire": f"{canonical(response.instrument)}|{response.version}",
        "status": response_status(response),
        "subject": {"reference": f"Patient/{response.patient_id}"},
        "authored": instant(response.submitted_at),
        "author": who,
        "source": {"reference": f"Patient/{response.patient_id}"},
    }
    if answered:
        resource["item"] = answered
    return resource


def _responses() -> QuerySet[QuestionnaireResponse]:
    replaced = QuestionnaireResponse.objects.filter(corrects_id=OuterRef("pk"))
    return QuestionnaireResponse.objects.annotate(replaced=Exists(replaced)).prefetch_related(
        Prefetch("items", queryset=ResponseItem.objects.order_by("id"))
    )


def response_resource(response: QuestionnaireResponse) -> Resource:
    return questionnaire_response_resource(response, list(response.items.all()))


_RESPONSE_STATUS_Q = {
    "entered-in-error": Q(replaced=True),
    "amended": Q(replaced=False, corrects__isnull=False),
    "completed": Q(replaced=False, corrects__isnull=True),
}


def response_read(*, ctx: AuditContext, response_id: str) -> Resource:
    pk = record_pk(response_id)
    found = _responses().filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise NotFound("No questionnaire response with that id.")
    read_door(ctx=ctx, patient_id=found.patient_id, action=ACTION)
    return response_resource(found)


def response_search(*, ctx: AuditContext, search: Search) -> Page[QuestionnaireResponse]:
    """A patient's responses (US Core: patient, with questionnaire, authored), newest first."""
    rows = _responses()
    if (ids := search.tokens.get("_id")) is not None:
        rows = rows.filter(pk__in=token_pks(ids))
    if (named := search.references.get("questionnaire")) is not None:
        codes = _instrument_codes(named)
        if not codes:
            raise SearchError(
                "questionnaire must name one of this server's Questionnaires, e.g. "
                f"{canonical('phq9')} or Questionnaire/phq9."
            )
        rows = rows.filter(instrument__in=codes)
        versions = {v.split("|", 1)[1] for v in named if "|" in v}
        if versions:
            rows = rows.filter(version__in=versions)
    if (status := token_q(search.tokens.get("status"), _RESPONSE_STATUS_Q)) is not None:
        rows = rows.filter(status)
    for bound in search.dates.get("authored", []):
        rows = rows.filter(_date_q("submitted_at", bound))
    return patient_bound_search(
        ctx=ctx,
        search=search,
        action=ACTION,
        rows=rows,
        patient_field="patient_id",
        patient_of=lambda r: r.patient_id,
        order=("-submitted_at", "-id"),
    )


def response_resources_for(patient_ids: list[int], since: datetime | None) -> Iterator[Resource]:
    """Every response of these patients (submitted, or replaced by a correction, since `since`), streamed."""
    rows = _responses().filter(patient_id__in=patient_ids)
    if since is not None:
        rows = rows.filter(Q(submitted_at__gte=since) | Q(corrections__submitted_at__gte=since)).distinct()
    for response in rows.order_by("id").iterator(chunk_size=2000):
        yield response_resource(response)

"""The published OpenAPI document tells the truth (issue 12, fault 9).

- one name, one schema: ninja files every model under its class name, so two models of the same name
  silently share one description (/api/v1/patients was described with the ledger report's patient);
- every operation documents the error answers the API gives (400, 401, 403, 404, 409, 422, 429);
- real answers validate against their documented schema, formats included (a clock time was "format: time",
  which requires an offset the API never sends).
"""

from __future__ import annotations

import inspect
import json
import typing
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
from django.test import Client
from pydantic import BaseModel

from kapclinic.accounts.models import User
from kapclinic.api import api
from kapclinic.patients.models import Patient
from tests.test_plans import plan_body, post_plan

ERROR_CODES = ("400", "401", "403", "404", "409", "422", "429")


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/v1/")))
    return document


def _models_in(annotation: Any, seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    """Every pydantic model an annotation names, nested ones included."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        # ninja wraps each operation's parameters and answers in models of its own, never named in the document.
        if annotation.__module__.startswith("kapclinic."):
            yield annotation
        for field in annotation.model_fields.values():
            yield from _models_in(field.annotation, seen)
        return
    for argument in typing.get_args(annotation):
        yield from _models_in(argument, seen)


def _operation_models() -> Iterator[tuple[str, type[BaseModel]]]:
    seen: set[type[BaseModel]] = set()
    for prefix, router in api._routers:  # ninja keeps the mounted routers there
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                where = f"{'/'.join(operation.methods)} {prefix}{path}"
                for model in [*operation.models, *operation.response_models.values()]:
                    for found in _models_in(model, seen):
                        yield where, found


def test_every_schema_name_in_the_document_is_one_model() -> None:
    by_name: dict[str, set[type[BaseModel]]] = defaultdict(set)
    used_by: dict[type[BaseModel], str] = {}
    for where, model in _operation_models():
        by_name[model.__name__].add(model)
        used_by.setdefault(model, where)
    shared = {
        name: sorted(f"{m.__module__}.{m.__qualname__} (in {used_by[m]})" for m in models)
        for name, models in by_name.items()
        if len(models) > 1
    }
    assert not shared, f"schema names used by more than one model: {shared}"
    assert len(by_name) > 50  # the walk reached the models (nested ones too)


def test_every_operation_documents_its_error_answers() -> None:
    document = _document()
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            missing += [f"{method.upper()} {path}: {code}" for code in ERROR_CODES if code not in documented]
            body = operation["responses"].get("422", {}).get("content", {}).get("application/json", {})
            assert body.get("schema") == {"$ref": "#/components/schemas/ValidationErrorOut"}, f"{method} {path}"
    assert not missing, missing
    field_error = document["components"]["schemas"]["FieldErrorOut"]
    assert set(field_error["required"]) == {"loc", "msg", "type"}


def _validator(document: dict[str, Any], path: str, method: str, status: int) -> Any:
    content = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]
    schema = {**content["schema"], "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def _assert_valid(validator: Any, answer: Any) -> None:
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(answer)]
    assert not errors, errors


def test_the_patient_list_is_described_with_the_patient_fields(
    api_for: Any, team_patient: Patient, other_patient: Patient
) -> None:
    document = _document()
    answer = api_for("coordinator").get("/api/v1/patients").json()
    assert answer["items"] and "given_name" in answer["items"][0]
    _assert_valid(_validator(document, "/api/v1/patients", "get", 200), answer)
    ledger_patient = document["components"]["schemas"]["LedgerPatientOut"]
    assert set(ledger_patient["properties"]) == {"name", "mrn", "address"}


def test_a_plan_validates_against_its_schema_clock_time_included(
    api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    document = _document()
    created = post_plan(api_for("prescriber"), team_patient, plan_body(personas["therapist"]))
    assert created.status_code == 201, created.content
    assert created.json()["session_time"] == "09:30:00"
    _assert_valid(_validator(document, "/api/v1/patients/{patient_id}/plans", "post", 201), created.json())
    read = api_for("prescriber").get(f"/api/v1/plans/{created.json()['id']}")
    _assert_valid(_validator(document, "/api/v1/plans/{plan_id}", "get", 200), read.json())


def test_a_clock_time_with_an_offset_is_refused_not_misread(
    api_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    answer = post_plan(api_for("prescriber"), team_patient, plan_body(personas["therapist"], session_time="09:30Z"))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][-1] == "session_time"


def test_error_answers_match_their_documented_schemas(api_for: Any, team_patient: Patient) -> None:
    document = _document()
    path = "/api/v1/patients/{patient_id}"
    cases = [
        (Client(), f"/api/v1/patients/{team_patient.pk}", 401),
        (api_for("outsider_nurse"), f"/api/v1/patients/{team_patient.pk}", 403),
        (api_for("coordinator"), "/api/v1/patients/999999", 404),
        (api_for("coordinator"), "/api/v1/patients/0", 422),
        (api_for("coordinator"), f"/api/v1/patients/{2**64}", 422),
    ]
    for client, url, status in cases:
        answer = client.get(url)
        assert answer.status_code == status, (url, answer.content)
        _assert_valid(_validator(document, path, "get", status), answer.json())


def test_the_consent_pdf_is_documented_as_a_pdf() -> None:
    answer = _document()["paths"]["/api/v1/consents/{signature_id}/pdf"]["get"]["responses"]["200"]
    assert set(answer["content"]) == {"application/pdf"}


def test_the_document_is_built_once_and_is_what_building_it_gives() -> None:
    """openapi.json answers from the document built once per process (about a second each time otherwise)."""
    from ninja import NinjaAPI

    first = api.get_openapi_schema(path_prefix="/api/v1/")
    assert api.get_openapi_schema(path_prefix="/api/v1/") is first
    fresh = NinjaAPI.get_openapi_schema(api, path_prefix="/api/v1/")  # the uncached build
    assert json.loads(json.dumps(first)) == json.loads(json.dumps(fresh))
    served = Client().get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(fresh))

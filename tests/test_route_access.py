"""Every route proves its access rule (issue 12).

The URLconf and the OpenAPI document are read at test time. Every named page route and every API
operation must have an entry in kapclinic/accounts/routes.py (a row of the role x action table, or
an explicit mark with a reason), and every entry must name a route that exists.

Then each route is walked as every role and as nobody, on the patient whose care team the
clinicians are on (for the patient role: their own record), on the patient with no care team, and
with ids that do not exist: a GET and a POST for a page, the operation for the API (with a token).
What each answer may be follows from the entry and `scope_for`: a role without the row is refused
(401/403/404/405, or a redirect that wrote nothing); a team-scoped role is refused on the other
patient and the patient on anyone else's record; an allowed role is not refused; nothing answers
500; and no answer that the role's scope does not cover names the other patient.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from types import ModuleType
from typing import Any

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls import path as url_path
from django.utils import timezone

from kapclinic.accounts.models import ApiToken
from kapclinic.accounts.routes import API_RULES, PAGE_RULES, ROUTE_RULES, SESSION_STEPS, Audience, RouteRule
from kapclinic.api import api
from kapclinic.audit.models import AccessEvent, EmergencyAccess
from kapclinic.dosing.session_views import STEP_DONE
from kapclinic.roles import Role, Scope
from tests.probes.records import plan_body
from tests.probes.route_world import PATIENT_PARAMETERS, PatientObjects, RouteWorld, route_world_build

# --- The routes, as the running code declares them ----------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # the key in ROUTE_RULES
    api: bool
    method: str  # the API operation's method; "" for a page
    path: str  # with {parameter} placeholders
    parameters: tuple[str, ...]
    operation: dict[str, Any] | None = None
    page_methods: tuple[str, ...] = ("GET", "POST")  # what a page's view answers besides 405


_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _url_patterns(
    patterns: list[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str | None, Callable[..., Any]]]:
    """Yield (path with {placeholders}, full name or None, view) of every URL pattern, includes included."""
    for pattern in patterns:
        route = _PARAMETER.sub(r"{\2}", str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            inner = ":".join(n for n in (namespace, pattern.namespace or "") if n)
            yield from _url_patterns(pattern.url_patterns, prefix + route, inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield "/" + prefix + route, name, pattern.callback


_CALL_WITH_REQUEST = re.compile(r"\b(\w+)\(\s*request\b")


def _reads_a_post(function: Callable[..., Any], depth: int = 0) -> bool:
    """Whether the view (or a helper of its module it hands the request to) looks at a POST."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return True  # cannot tell: walk the POST too
    if "POST" in source or "request.method" in source:
        return True
    helpers = (getattr(function, "__globals__", {}).get(name) for name in _CALL_WITH_REQUEST.findall(source))
    return depth < 2 and any(
        inspect.isfunction(h) and h.__module__ == function.__module__ and _reads_a_post(h, depth + 1) for h in helpers
    )


def _page_methods(view: Callable[..., Any]) -> tuple[str, ...]:
    """GET and POST, or only the one the view answers: a POST to a page that never reads one is its GET again."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return ("GET", "POST") if hasattr(view_class, "post") else ("GET",)
    layer: Callable[..., Any] | None = view
    while layer is not None:
        for cell in getattr(layer, "__closure__", None) or ():
            allowed = cell.cell_contents
            if isinstance(allowed, list) and allowed and all(isinstance(m, str) and m.isupper() for m in allowed):
                return tuple(m for m in ("GET", "POST") if m in allowed)  # require_POST / require_http_methods
        if _reads_a_post(layer):
            return ("GET", "POST")
        layer = getattr(layer, "__wrapped__", None)
    return ("GET",)


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document as the running code publishes it (built once per run: it takes a while)."""
    document: dict[str, Any] = api.get_openapi_schema()
    return document


def api_operations() -> dict[str, Route]:
    operations = {}
    for path, methods in openapi_document()["paths"].items():
        for method, operation in methods.items():
            key = f"{method.upper()} {path}"
            names = tuple(_PARAMETER.findall(path.replace("{", "<").replace("}", ">")))
            operations[key] = Route(key, True, method.upper(), path, tuple(n for _, n in names), operation)
    return operations


def page_routes(urlconf: str | None = None) -> tuple[dict[str, Route], list[str]]:
    """Return the page routes by URL name (dosing steps one by one), and the paths of unnamed patterns."""
    api_paths = set(openapi_document()["paths"])
    pages: dict[str, Route] = {}
    unnamed = []
    for path, name, view in _url_patterns(get_resolver(urlconf).url_patterns):
        if path in api_paths:
            continue  # an API operation: walked from the OpenAPI document
        if name is None:
            unnamed.append(path)
            continue
        parameters = tuple(n for _, n in _PARAMETER.findall(path.replace("{", "<").replace("}", ">")))
        if name == "dosing:step":
            for step in STEP_DONE:
                key = f"dosing:step/{step}"
                others = tuple(p for p in parameters if p != "step")
                pages[key] = Route(key, False, "", path.replace("{step}", step), others, None, _page_methods(view))
        else:
            pages[name] = Route(name, False, "", path, parameters, None, _page_methods(view))
    return pages, unnamed


PAGES, UNNAMED = page_routes()
OPERATIONS = api_operations()
ROUTES: dict[str, Route] = {**PAGES, **OPERATIONS}


# --- Coverage: every route has an entry, every entry a route -------------------------------------------


def test_every_page_route_has_a_rule() -> None:
    missing = sorted(set(PAGES) - set(PAGE_RULES))
    assert not missing, f"Page routes with no entry in kapclinic/accounts/routes.py PAGE_RULES: {missing}"


def test_every_api_operation_has_a_rule() -> None:
    missing = sorted(set(OPERATIONS) - set(API_RULES))
    assert not missing, f"API operations with no entry in kapclinic/accounts/routes.py API_RULES: {missing}"


def test_every_rule_names_a_route() -> None:
    stale = sorted(set(ROUTE_RULES) - set(ROUTES))
    assert not stale, f"Entries in kapclinic/accounts/routes.py for routes that no longer exist: {stale}"


def test_every_page_route_is_named() -> None:
    # The table is keyed by URL name: an unnamed route could not be in it.
    assert not UNNAMED, f"Unnamed URL patterns (name them so the route table can list them): {UNNAMED}"


def test_every_session_step_has_a_rule() -> None:
    assert set(SESSION_STEPS) == set(STEP_DONE)


def test_an_open_route_says_why() -> None:
    for key, rule in ROUTE_RULES.items():
        assert (rule.action is None) == (rule.audience is not Audience.ROLE), key
        if rule.action is None:
            assert rule.reason.strip(), f"{key} is open without a reason"


def test_the_coverage_test_catches_a_new_route() -> None:
    """A route added without an entry (like the one that leaked a patient's name) is found missing."""
    import kapclinic.urls

    leaking = url_path("patients/<int:patient_id>/name/", lambda request, patient_id: HttpResponse(), name="leak")
    urlconf = ModuleType("urls_with_a_new_route")
    urlconf.urlpatterns = [*kapclinic.urls.urlpatterns, leaking]  # type: ignore[attr-defined]
    pages, _ = page_routes(urlconf)  # type: ignore[arg-type]  # get_resolver takes a module too
    assert "leak" in set(pages) - set(PAGE_RULES)


# --- The walk -------------------------------------------------------------------------------------------

WHO: dict[str, Role | None] = {
    "anonymous": None,
    "coordinator": Role.COORDINATOR,
    "prescriber": Role.PRESCRIBER,
    "nurse": Role.NURSE,
    "therapist": Role.THERAPIST,
    "director": Role.DIRECTOR,
    "auditor": Role.AUDITOR,
    "patient_user": Role.PATIENT,
}
MISSING_ID = 999_999_999
HUGE_ID = 2**63
SLUG_PARAMETERS = {"code", "step", "what", "token"}
REFUSED = {401, 403, 404, 405}

# Routes whose body or query string, not their path, names the patient: walked on both patients too.
BODY_NAMES_PATIENT = {"POST /api/v1/appointments"}
QUERY_NAMES_PATIENT = {"appointments:book": "patient"}


def _bodies(world: RouteWorld, patient: PatientObjects) -> dict[str, dict[str, object]]:
    """Valid bodies where the minimal one would be refused as bad input before the access rule is asked.

    A page's form fields for a POST, the JSON for an API operation. The rest get an empty form, or the
    smallest body the OpenAPI document accepts.
    """
    people, shared = world.people, world.shared
    now = timezone.now()
    soon = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    plan = plan_body(people["therapist"])
    vitals: dict[str, object] = {"systolic": 128, "diastolic": 80, "heart_rate": 72, "spo2": 98}
    check_in = {"identity_confirmed": True, "checklist_confirmed": True, "pregnancy_test": "not_applicable"}
    api = "/api/v1"
    steps = "dosing:step"
    return {
        "patients:emergency_access": {"reason": "Patient unwell in the waiting room"},
        "outcomes:prompt": {"choice": "continue", "reason": "Walk: one more session before deciding."},
        "outcomes:report": {"addressed_to": "Dr Walk, Example Practice", "plan_ahead": "A booster next month."},
        f"POST {api}/prompts/{{prompt_id}}/action": {"choice": "continue", "reason": "Walk."},
        "therapy:note_autosave": {
            "version": patient.ids["note_version"],
            "occurred_at": timezone.localtime(now).strftime("%Y-%m-%dT%H:%M"),
            "modality": "in_person",
            "body": "Walk edit.",
        },
        f"{steps}/check-in": {**check_in, "identity_confirmed": "on", "checklist_confirmed": "on", "weight_kg": "70"},
        f"{steps}/vitals": vitals,
        f"{steps}/override": {"reason": "Rechecked: white-coat, asymptomatic."},
        f"{steps}/order": {"product": shared["product_id"]},
        f"{steps}/advance": {"to": "recovery"},
        f"{steps}/event": {"kind": "side_effect", "code": "nausea"},
        f"{steps}/acknowledge": {"alert": patient.ids["alert_id"], "action_taken": "Rechecked"},
        f"{steps}/stop": {"outcome": "stopped_early", "reason": "The patient asked to stop."},
        f"{steps}/adverse-event": {"what": "Vomiting", "severity": "mild", "action": "Ondansetron 4 mg ODT"},
        f"{steps}/rems-enrollment": {"enrolled_on": timezone.localdate().isoformat(), "reference": "REMS-1"},
        f"{steps}/discharge": {"driver_name": "A. Driver"},
        f"PATCH {api}/patients/{{patient_id}}": {"phone": "(212) 555-0188"},
        f"POST {api}/ledger/entries": {
            "kind": "waste",
            "lot": shared["lot_id"],
            "location": shared["location_id"],
            "quantity": "1",
            "unit": "mL",
        },
        f"POST {api}/ledger/lots": {
            "product": shared["product_id"],
            "lot_number": "W2",
            "expires_on": (timezone.localdate() + timedelta(days=90)).isoformat(),
            "supplier_name": "Synthetic supplier",
            "invoice_reference": "INV-W2",
            "received_on": timezone.localdate().isoformat(),
            "location": shared["location_id"],
            "quantity": "10",
            "unit": "mL",
        },
        f"POST {api}/ledger/counts": {
            "location": shared["location_id"],
            "kind": "daily",
            "business_time": "close",
            "lines": [],
        },
        f"POST {api}/patients/{{patient_id}}/responses": {"instrument": "phq9", "answers": [0] * 9},
        f"POST {api}/ledger/losses/{{entry_id}}/reports": {
            "kind": "written_notice",
            "filed_on": timezone.localdate().isoformat(),
        },
        f"POST {api}/patients/{{patient_id}}/eligibility-decisions": {"decision": "not_eligible", "reason": "Walk."},
        f"POST {api}/inquiries/{{inquiry_id}}/status": {"status": "contacted"},
        f"POST {api}/appointments": {
            "kind": "evaluation",
            "with_user": people["prescriber"].pk,
            "starts_at": soon.isoformat(),
            "mode": "in_person",
            "patient": patient.patient.pk,
        },
        # The world's patient, not an id the database may not hold (PostgreSQL's ids do not restart per test).
        f"POST {api}/payments": {
            "patient": patient.patient.pk,
            "kind": "payment",
            "method": "cash",
            "amount_cents": 100,
            "keep_as_credit": True,
        },
        f"POST {api}/appointments/{{appointment_id}}/outcome": {"outcome": "declined"},
        f"POST {api}/appointments/{{appointment_id}}/cancel": {"reason": "The patient is unwell."},
        f"POST {api}/appointments/{{appointment_id}}/no-show": {"reason": "Did not come."},
        "appointments:change": {"cancel-reason": "The patient is unwell."},
        f"POST {api}/consent-versions": {
            "title": "Walk consent",
            "body": "Walk text.",
            "risks": [{"code": "nausea", "text": "Nausea is common."}],
        },
        f"POST {api}/patients/{{patient_id}}/consents": {
            "version_id": shared["version_id"],
            "typed_name": patient.patient.full_name,
            "risks_acknowledged": [],
        },
        f"POST {api}/patients/{{patient_id}}/plans": plan,
        f"PUT {api}/plans/{{plan_id}}": plan,
        f"PUT {api}/dosing-sessions/{{session_id}}/checklist": {"ride_name": "A. Driver"},
        f"POST {api}/dosing-sessions/{{session_id}}/vitals": vitals,
        f"POST {api}/patients/{{patient_id}}/adverse-events": {
            "what": "Vomiting",
            "severity": "mild",
            "action": "Ondansetron 4 mg ODT",
            "occurred_at": now.isoformat(),
        },
        f"POST {api}/dosing-sessions/{{session_id}}/check-in": {**check_in, "weight_kg": "70"},
        f"POST {api}/dosing-sessions/{{session_id}}/clearance-override": {
            "reason": "Rechecked: white-coat, asymptomatic."
        },
        f"POST {api}/dosing-sessions/{{session_id}}/orders": {"product": shared["product_id"]},
        f"POST {api}/dosing-sessions/{{session_id}}/administration": {
            "lot": shared["lot_id"],
            "location": shared["location_id"],
            "started_at": now.isoformat(),
            "drawn": "1",
            "given": "1",
        },
        f"POST {api}/dosing-sessions/{{session_id}}/advance": {"to": "recovery"},
        f"POST {api}/dosing-sessions/{{session_id}}/events": {"kind": "side_effect", "code": "nausea"},
        f"POST {api}/dosing-sessions/{{session_id}}/discharge": {"driver_name": "A. Driver"},
        f"POST {api}/dosing-sessions/{{session_id}}/stop": {
            "outcome": "stopped_early",
            "reason": "The patient asked to stop.",
        },
        f"POST {api}/patients/{{patient_id}}/notes": {"kind": "integration", "body": "Walk."},
        f"PATCH {api}/notes/{{note_id}}": {"body": "Walk edit."},
        f"POST {api}/notes/{{note_id}}/addenda": {"body": "Walk addendum.", "reason": "Walk reason."},
        f"POST {api}/notes/{{note_id}}/shares": {"user": people["outsider_nurse"].pk},
        f"POST {api}/patients/{{patient_id}}/reflections": {"body": "Walk entry."},
        f"POST {api}/patients/{{patient_id}}/goals/{{goal_index}}/progress": {"level": "some"},
    }


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[RouteWorld]:
    """One world for the whole module, rolled back at its end; each test rolls back its own changes."""
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        # Printing takes a third of a second and comes after the access check: the walk gets the print template's
        # HTML instead of the PDF (so the leak check reads it). The charts are written as SVG text in a few
        # milliseconds, so the walk writes them.
        patch.setattr("kapclinic.pdf.pdf_from_html", lambda html: html.encode())
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = route_world_build()
            started, cpu = time.monotonic(), time.process_time()
            yield built
            FIGURES["seconds"] = round(time.monotonic() - started, 1)
            FIGURES["cpu_seconds"] = round(time.process_time() - cpu, 1)
            print(f"\nRoute walk: {FIGURES}")
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


FIGURES: dict[str, float] = {"requests": 0}


def _bookkeeping_tables() -> set[str]:
    """Tables a refused request may still write: the audit trail, sessions, tokens' last use, sign-in throttling."""
    tables = {Session._meta.db_table, ApiToken._meta.db_table}
    for model in apps.get_app_config("audit").get_models():
        if model is not EmergencyAccess:
            tables.add(model._meta.db_table)
    for config in apps.get_app_configs():
        if config.label == "axes":
            tables.update(m._meta.db_table for m in config.get_models())
    return tables


_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


class WriteWatch:
    """Note the tables a request writes to, besides the bookkeeping ones (cheaper than capturing every query)."""

    def __init__(self, bookkeeping: set[str]):
        self.bookkeeping = bookkeeping
        self.tables: list[str] = []

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        found = _WRITE.match(sql)
        if found and found.group(1) not in self.bookkeeping:
            self.tables.append(found.group(1))
        return execute(sql, params, many, context)


def _needles(world: RouteWorld) -> list[bytes]:
    """What would name the other patient: family name, MRN, date of birth as pages and the API write it."""
    patient = world.other.patient
    born: date = patient.birth_date
    forms = [
        patient.family_name,
        patient.mrn,
        born.isoformat(),
        born.strftime("%m/%d/%Y"),
        f"{born.strftime('%B')} {born.day}, {born.year}",
        f"{born.strftime('%b')}. {born.day}, {born.year}",
    ]
    return [f.lower().encode() for f in forms]


def _minimal(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """The smallest value a JSON schema accepts (so the operation reaches its access rule)."""
    if "$ref" in schema:
        return _minimal(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "default" in schema:
        return schema["default"]
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            choices = [c for c in schema[combined] if c.get("type") != "null"]
            return _minimal(choices[0], components) if choices else None
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _minimal(properties.get(name, {}), components) for name in schema.get("required", [])}
    if kind == "array":
        return [_minimal(schema.get("items", {}), components)] * schema.get("minItems", 0)
    if kind == "string":
        formats = {
            "date": timezone.localdate().isoformat(),
            "date-time": timezone.now().isoformat(),
            "time": "09:00:00",
            "uri": "https://example.org/",
            "email": "walk@example.org",
        }
        return formats.get(schema.get("format", ""), "Walk." + "x" * max(0, schema.get("minLength", 1) - 5))
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    return None


def _api_body(route: Route, bodies: dict[str, dict[str, object]]) -> str | None:
    assert route.operation is not None
    if route.key in bodies:
        return json.dumps(bodies[route.key])
    content = route.operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    components = openapi_document().get("components", {}).get("schemas", {})
    return json.dumps(_minimal(content["application/json"]["schema"], components))


# Staff on no patient's care team: the team's patient and the other are the same to them, so the walk asks about the
# other one only (where a leak would show). Clinicians on the team, and the patient, are walked on both.
OFF_TEAM = {"coordinator", "director", "auditor"}


def _variants(route: Route, who: str) -> list[str]:
    named_elsewhere = route.key in BODY_NAMES_PATIENT or route.key in QUERY_NAMES_PATIENT
    about_a_patient = named_elsewhere or any(p in PATIENT_PARAMETERS for p in route.parameters)
    variants = ["team", "other"] if about_a_patient else ["none"]
    if who == "anonymous":
        return variants[:1]  # nobody signed in: one answer says whether the route asks for a sign-in
    if who in OFF_TEAM and about_a_patient:
        variants = ["other"]
    if any(p not in SLUG_PARAMETERS for p in route.parameters):
        variants += ["missing", "huge"]
    return variants


def _fill(world: RouteWorld, route: Route, variant: str, who: str) -> str:
    values: dict[str, object] = {}
    for name in route.parameters:
        if variant in ("missing", "huge") and name not in SLUG_PARAMETERS:
            values[name] = MISSING_ID if variant == "missing" else HUGE_ID
        elif name == "observation_id":  # a FHIR Observation id: the patient's set of vital signs, its BP
            values[name] = f"vs-{(world.other if variant == 'other' else world.team).ids['vital_id']}-bp"
        elif name == "encounter_id":  # a FHIR Encounter id: the patient's dosing session
            values[name] = f"ds-{(world.other if variant == 'other' else world.team).ids['session_id']}"
        elif name == "provenance_id":  # a FHIR Provenance id: who signed the patient's dose order
            values[name] = f"mr-{(world.other if variant == 'other' else world.team).ids['order_id']}"
        elif name == "questionnaire_id":  # a FHIR Questionnaire: an instrument, no one's data
            values[name] = "phq9"
        elif name == "audit_event_id":  # a FHIR AuditEvent: the oldest row of the audit trail
            values[name] = AccessEvent.objects.order_by("pk").values_list("pk", flat=True).first() or MISSING_ID
        elif name == "careplan_id":  # a FHIR CarePlan id: the patient's signed plan
            values[name] = (world.other if variant == "other" else world.team).ids["signed_plan_id"]
        elif name == "condition_id":  # a FHIR Condition id: the indication of the patient's signed plan
            values[name] = f"pl-{(world.other if variant == 'other' else world.team).ids['signed_plan_id']}"
        elif name == "allergy_id":  # a FHIR AllergyIntolerance id: the evaluation's "no known drug allergy"
            values[name] = f"ev-{(world.other if variant == 'other' else world.team).ids['evaluation_id']}-nka"
        elif name in PATIENT_PARAMETERS:
            values[name] = (world.other if variant == "other" else world.team).ids[name]
        elif name in world.shared:
            values[name] = world.shared[name]
        elif name == "token_id":
            values[name] = world.token_ids["auditor" if who == "anonymous" else who]
        elif name == "user_id":
            values[name] = world.people["outsider_therapist"].pk
        elif name == "group_id":  # a FHIR Group: a clinician's caseload, the team nurse's
            values[name] = world.people["nurse"].pk
        elif name == "job_id":  # a bulk export job: no one's here, so every caller gets "not found"
            values[name] = "00000000-0000-4000-8000-000000000000"
        elif name == "file_name":
            values[name] = "Patient.ndjson"
        elif name == "practitioner_id":
            values[name] = world.people["prescriber"].pk
        elif name == "code":
            values[name] = "phq9"
        elif name == "what":
            values[name] = "cancel"  # every change of an appointment has the booking rule
        elif name == "goal_index":
            values[name] = 0
        elif name == "token":
            values[name] = "not-a-feed-address"  # a calendar feed's secret: every caller gets "not found"
        else:
            raise AssertionError(f"The walk does not know how to fill {{{name}}} of {route.key}: add it to _fill")
    url = route.path.format(**values)
    if route.key in QUERY_NAMES_PATIENT:
        patient = (world.other if variant == "other" else world.team).patient
        url += f"?{QUERY_NAMES_PATIENT[route.key]}={patient.pk}"
    return url


@dataclass
class Answer:
    status: int
    headers: bytes
    body: bytes
    wrote: list[str]

    def names(self, needles: list[bytes]) -> list[str]:
        """Which of `needles` the answer contains, in its headers (a file name) or its body."""
        text = (self.headers + b"\n" + self.body).lower()
        return [n.decode() for n in needles if n in text]

    def excerpt(self) -> str:
        return self.body.decode(errors="replace").strip()[:160]


def _content(response: HttpResponse | StreamingHttpResponse) -> tuple[bytes, bytes]:
    streamed = isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content) if streamed else response.content  # type: ignore[union-attr,arg-type]
    return "\n".join(f"{k}: {v}" for k, v in response.items()).encode(), body


def _request(
    world: RouteWorld, route: Route, who: str, variant: str, method: str, bookkeeping: set[str]
) -> tuple[str, Answer]:
    persona = None if who == "anonymous" else who
    client = world.client(persona, api=route.api)
    url = _fill(world, route, variant, who)
    bodies = _bodies(world, world.other if variant == "other" else world.team)
    watch = WriteWatch(bookkeeping)
    with transaction.atomic():  # each request starts from the same world
        with connection.execute_wrapper(watch):
            if route.api:
                payload = _api_body(route, bodies)
                response = client.generic(method, url, payload or "", content_type="application/json")
            elif method == "POST":
                response = client.post(url, bodies.get(route.key, {}))
            else:
                response = client.get(url)
            headers, body = _content(response)  # type: ignore[arg-type]  # the test client's response
        transaction.set_rollback(True)
    FIGURES["requests"] += 1
    return url, Answer(response.status_code, headers, body, watch.tables)


def _expected(rule: RouteRule, role: Role | None, method: str) -> Scope:
    if role is None:
        return Scope.ALL if rule.audience is Audience.PUBLIC else Scope.NONE
    return rule.scope(role, method=method)


def _allowed(scope: Scope, variant: str) -> bool:
    if scope is Scope.ALL:
        return True
    if scope is Scope.NONE:
        return False
    return variant in ("team", "none")  # TEAM: the team's patient; OWN: the patient user's own record


def _judge(rule: RouteRule, role: Role | None, variant: str, method: str, answer: Answer, needles: list[bytes]) -> str:
    """Return what is wrong with one answer ('' when nothing)."""
    status = answer.status
    if status >= 500:
        return f"answered {status}"
    may_name = Scope.ALL if role is None and rule.audience is Audience.PUBLIC else Scope.NONE
    if role is not None:
        may_name = rule.may_name(role)
    if may_name is not Scope.ALL:
        named = answer.names(needles)
        if named:
            return f"answered {status} naming the other patient ({', '.join(named)})"
    if variant in ("missing", "huge"):
        return ""
    expected = _expected(rule, role, method)
    if _allowed(expected, variant):
        # A public route may answer 401 (a wrong password) or 404 (nothing there): only 403 refuses.
        refusals = {403} if rule.audience is Audience.PUBLIC else {401, 403, 404}
        if status in refusals and not rule.object_rule:
            return f"refused ({status}) a role the table allows ({expected})"
        return ""
    if answer.wrote:
        return f"answered {status} and wrote to {sorted(set(answer.wrote))} without the table's leave"
    if status in REFUSED or 300 <= status < 400:
        return ""
    readable = role is not None and method == "POST" and _allowed(_expected(rule, role, "GET"), variant)
    if readable and status < 300:
        return ""  # the page a role may read, shown again after a POST it may not make (nothing written)
    return f"answered {status} though the table refuses ({expected})"


@pytest.mark.parametrize("key", sorted(ROUTES))
def test_route_walk(key: str, world: RouteWorld, db: None) -> None:
    """Walk one route as every role and as nobody; the failure lists each route x role x patient that is wrong.

    One test per route, not per role: the walk makes thousands of requests and a test's own set-up costs as much as
    a request. Each request runs in its own savepoint, so no request sees another's writes.
    """
    route = ROUTES[key]
    rule = ROUTE_RULES.get(key)
    assert rule is not None, f"{key} has no entry in kapclinic/accounts/routes.py"
    bookkeeping = _bookkeeping_tables()
    needles = _needles(world)
    problems = []
    for who, role in WHO.items():
        for variant in _variants(route, who):
            for method in [route.method] if route.api else route.page_methods:
                url, answer = _request(world, route, who, variant, method, bookkeeping)
                problem = _judge(rule, role, variant, method, answer, needles)
                if problem:
                    patient = {"team": "own/team patient", "other": "other patient"}.get(variant, variant)
                    problems.append(f"{key} as {who} on the {patient}: {method} {url} {problem} -- {answer.excerpt()}")
    assert not problems, "\n".join(problems)


def test_a_patient_reads_no_draft_plan(world: RouteWorld, db: None) -> None:
    """A draft plan is the prescriber's work in progress: the patient sees none, on the page or over the API.

    The page hid drafts but the API showed them (GET /plans/{id} and the list): the rule is now in the selector.
    """
    draft_id = world.team.ids["plan_id"]
    api, page = world.client("patient_user", api=True), world.client("patient_user", api=False)
    assert api.get(f"/api/v1/plans/{draft_id}").status_code == 404
    listed = api.get(f"/api/v1/patients/{world.team.patient.pk}/plans")
    assert listed.status_code == 200
    assert draft_id not in {p["id"] for p in listed.json()}
    assert page.get(f"/plans/{draft_id}/").status_code == 404
    prescriber = world.client("prescriber", api=True)
    assert prescriber.get(f"/api/v1/plans/{draft_id}").status_code == 200

"""FHIR search parameters as this server understands them (R4 3.1.1.x "Search"): which each resource type takes,
and their values parsed. A parameter the server does not support is an error (a 400 OperationOutcome), never
silently ignored: a client filtering by it would otherwise take every record for a match. Plain Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

DEFAULT_COUNT = 20
MAX_COUNT = 100
# Paging is the server's: `next` links carry the offset ("_offset" is this server's own, like HAPI's
# _getpagesoffset; a client follows the link rather than building it).
RESULT_PARAMETERS = ("_count", "_offset", "_format")

# The search parameters each resource type supports (US Core 6.1 requires these of the server, or they are
# the SHALL/SHOULD combinations: Patient _id, identifier, name, birthdate+name...; Observation patient+category,
# patient+code, patient+category+date). The CapabilityStatement lists exactly these.
SUPPORTED: dict[str, dict[str, str]] = {
    "Patient": {
        "_id": "token",
        "identifier": "token",
        "name": "string",
        "family": "string",
        "given": "string",
        "birthdate": "date",
    },
    "Practitioner": {"_id": "token", "name": "string", "identifier": "token"},
    "Observation": {"_id": "token", "patient": "reference", "category": "token", "code": "token", "date": "date"},
    "MedicationAdministration": {"_id": "token", "patient": "reference", "status": "token", "effective-time": "date"},
    "MedicationRequest": {
        "_id": "token",
        "patient": "reference",
        "status": "token",
        "intent": "token",
        "authoredon": "date",
    },
    "Encounter": {"_id": "token", "patient": "reference", "date": "date", "status": "token", "class": "token"},
    "Condition": {"_id": "token", "patient": "reference", "category": "token", "clinical-status": "token"},
    "AllergyIntolerance": {"_id": "token", "patient": "reference", "clinical-status": "token"},
    "CarePlan": {"_id": "token", "patient": "reference", "category": "token", "status": "token"},
    "Consent": {"_id": "token", "patient": "reference", "status": "token"},
    "Appointment": {"_id": "token", "patient": "reference", "status": "token", "date": "date"},
    # Issue 17, second part (kapclinic/fhir/questionnaires.py, provenance.py, audit_events.py).
    "Questionnaire": {"_id": "token", "url": "uri", "name": "string", "status": "token", "code": "token"},
    "QuestionnaireResponse": {
        "_id": "token",
        "patient": "reference",
        "questionnaire": "reference",
        "authored": "date",
        "status": "token",
    },
    "Provenance": {"_id": "token", "patient": "reference", "target": "reference"},
    "AuditEvent": {"_id": "token", "date": "date", "agent": "reference", "entity": "reference", "patient": "reference"},
}

# What `_include` and `_revinclude` may name (R4 3.1.1.5.4): US Core 6.1 asks every server to support
# _revinclude=Provenance:target on each US Core type it serves, and _include=MedicationRequest:medication (this
# server codes the drug in the request itself, so that include adds no resource: nothing is referenced). Anything
# else is a 400, never ignored.
PROVENANCE_TARGETS = (
    "Patient",
    "Practitioner",
    "Observation",
    "MedicationAdministration",
    "MedicationRequest",
    "Encounter",
    "Condition",
    "AllergyIntolerance",
    "CarePlan",
    "Consent",
    "QuestionnaireResponse",
)
INCLUDES: dict[str, tuple[str, ...]] = {"MedicationRequest": ("MedicationRequest:medication",)}
REVINCLUDES: dict[str, tuple[str, ...]] = dict.fromkeys(PROVENANCE_TARGETS, ("Provenance:target",))

DATE_PREFIXES = ("eq", "gt", "lt", "ge", "le")


class SearchError(ValueError):
    """A request the server cannot answer as asked: the OperationOutcome's diagnostics."""


@dataclass(frozen=True)
class Token:
    system: str | None  # None: any system; "": no system
    code: str


@dataclass(frozen=True)
class DateBound:
    """A half-open range [start, end) of instants a date parameter's value covers, with its prefix."""

    prefix: str
    start: datetime
    end: datetime


@dataclass
class Search:
    resource_type: str
    count: int = DEFAULT_COUNT
    offset: int = 0
    strings: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, list[Token]] = field(default_factory=dict)
    dates: dict[str, list[DateBound]] = field(default_factory=dict)
    references: dict[str, list[str]] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)
    revincludes: list[str] = field(default_factory=list)


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _date_bound(raw: str, zone: tzinfo) -> DateBound:
    prefix = raw[:2] if raw[:2] in DATE_PREFIXES else "eq"
    value = raw[2:] if raw[:2] in DATE_PREFIXES else raw
    if raw[:2].isalpha() and raw[:2] not in DATE_PREFIXES:
        raise SearchError(f"Date prefix {raw[:2]!r} is not supported here; use one of {', '.join(DATE_PREFIXES)}.")
    found = _DATE.match(value)
    try:
        if found:
            year, month, day = int(found[1]), int(found[2] or 1), int(found[3] or 1)
            start_day = date(year, month, day)
            if found[3]:
                end_day = start_day + timedelta(days=1)
            elif found[2]:
                end_day = date(year + (month == 12), month % 12 + 1, 1)
            else:
                end_day = date(year + 1, 1, 1)
            start = datetime.combine(start_day, datetime.min.time(), tzinfo=zone)
            return DateBound(prefix, start, datetime.combine(end_day, datetime.min.time(), tzinfo=zone))
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise SearchError(f"Not a FHIR date or dateTime: {value!r}.") from error
    if instant.tzinfo is None:
        raise SearchError(f"A dateTime needs its time zone: {value!r}.")
    return DateBound(prefix, instant, instant + timedelta(seconds=1))


def _token(raw: str) -> Token:
    if "|" in raw:
        system, code = raw.split("|", 1)
        return Token(system, code)
    return Token(None, raw)


def _whole(raw: str, name: str, low: int, high: int) -> int:
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SearchError(f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def search_parse(resource_type: str, pairs: Iterable[tuple[str, str]], zone: tzinfo) -> Search:
    """Parse the query's (name, value) pairs for `resource_type`; SearchError for anything not supported."""
    supported = SUPPORTED.get(resource_type)
    if supported is None:
        raise SearchError(f"Searching {resource_type} is not supported.")
    search = Search(resource_type)
    for name, raw in pairs:
        if name in RESULT_PARAMETERS:
            if name == "_count":
                search.count = _whole(raw, "_count", 1, MAX_COUNT)
            elif name == "_offset":
                search.offset = _whole(raw, "_offset", 0, 10**9)
            elif raw not in ("json", "application/json", "application/fhir+json"):
                raise SearchError("This server answers JSON only (_format=json).")
            continue
        if name in ("_include", "_revinclude"):
            allowed = (INCLUDES if name == "_include" else REVINCLUDES).get(resource_type, ())
            if raw not in allowed:
                raise SearchError(
                    f"{name}={raw!r} is not supported for {resource_type}; supported: {', '.join(allowed) or 'none'}."
                )
            (search.includes if name == "_include" else search.revincludes).append(raw)
            continue
        base, _, modifier = name.partition(":")
        kind = supported.get(base)
        if kind is None:
            raise SearchError(
                f"Unknown or unsupported search parameter {name!r} for {resource_type}; supported: "
                + ", ".join(sorted(supported))
                + "."
            )
        if modifier and not (kind == "string" and modifier == "exact"):
            raise SearchError(f"The modifier :{modifier} is not supported on {base!r}.")
        values = raw.split(",")  # a comma is OR (R4 3.1.1.5.4)
        if any(not v.strip() for v in values):
            raise SearchError(f"Parameter {name!r} has an empty value.")
        if kind == "string":
            search.strings.setdefault(name, []).extend(values)
        elif kind == "token":
            search.tokens.setdefault(base, []).extend(_token(v) for v in values)
        elif kind == "uri":
            search.strings.setdefault(base, []).extend(values)
        elif kind == "date":
            if len(values) > 1:
                raise SearchError(f"Give {base!r} once per bound, not as a list.")
            search.dates.setdefault(base, []).append(_date_bound(values[0], zone))
        else:
            prefix = "Patient/" if base == "patient" else ""  # other references keep their type (target, agent...)
            search.references.setdefault(base, []).extend(v.removeprefix(prefix) for v in values)
    return search

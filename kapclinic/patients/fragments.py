"""Parts of patient pages drawn once per version of the record and kept in the cache (issue 15, item 3).

Used by the chart and the banner (the chart app) and the dosing session screen (the dosing app, beneath the chart
in the house: hence here, in the patients app). The version itself is kept by the chart app's triggers
(kapclinic/chart/record_version.py); this module reads it by its table's name only.

The key is the content's: the patient, their record version (chart/record_version.py, moved by database triggers
in the writer's transaction), the day (ages, "due" and "overdue" change at midnight), the page's address, and who
is looking (what the caller passes: the role where the part is the same for a role, the user where it differs by
user). Anything per request stays out: a form's CSRF token is drawn as a stand-in and put in on the way out, and the
page still audits its read of the patient on every request (a part from the cache is still a read). Django's cache
(per process by default): keys by content, so workers agree without talking to each other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.safestring import SafeString

from kapclinic.patients.models import Patient

ValueT = TypeVar("ValueT")

# What a cached part holds where a form's CSRF token goes: {% csrf_token %} draws it as the value.
CSRF_STAND_IN = "csrf-stand-in-3c9f0d6e"
KEPT_SECONDS = 24 * 60 * 60  # the day is in the key: nothing older is ever asked for


@dataclass(frozen=True)
class RecordFacts:
    version: int
    # The evaluation's data, for the banner's allergies when it is drawn (a 1-tuple; None: no evaluation).
    evaluation: tuple[dict[str, Any] | None]


# The version and the evaluation's data in one statement, built once (issue 15, item 3): the banner drawn anew
# then reads no more than before the cache.
_FACTS = (
    "SELECT (SELECT COALESCE(SUM(version), 0) FROM chart_recordversion WHERE patient_id IN (%s, 0)), "
    "(SELECT data FROM intake_evaluation WHERE patient_id = %s ORDER BY id LIMIT 1)"
)


def facts_of(request: HttpRequest, patient_id: int) -> RecordFacts:
    """The patient's record version and evaluation data, read once a request (the banner and the chart share it)."""
    read: dict[int, RecordFacts] = request.__dict__.setdefault("_kapclinic_record_facts", {})
    if patient_id not in read:
        with connection.cursor() as cursor:
            cursor.execute(_FACTS, [patient_id, patient_id])
            version, data = cursor.fetchone()
        # JSON comes back as text from both databases here (Django loads PostgreSQL's jsonb as text too).
        read[patient_id] = RecordFacts(int(version), (json.loads(data) if isinstance(data, str | bytes) else data,))
    return read[patient_id]


def fragment_key(part: str, request: HttpRequest, patient: Patient, *viewer: object) -> str:
    """The cache key of `part` of a page about `patient` as `viewer` sees it (role, user id, what they may see)."""
    # created_at: a restored or test database reusing an id and MRN still names another record.
    content = repr(
        (
            part,
            patient.pk,
            patient.mrn,
            patient.created_at.isoformat(),
            facts_of(request, patient.pk).version,
            timezone.localdate().isoformat(),
            request.get_full_path(),
            viewer,
        )
    )
    return "kapclinic:part:" + hashlib.sha256(content.encode()).hexdigest()


def cached_part(request: HttpRequest, key: str, draw: Callable[[str], str]) -> SafeString:
    """Return the part under `key`, drawn by `draw(csrf_token)` on a miss with the stand-in as its CSRF token."""
    html, _ = cached_part_with(request, key, lambda csrf_token: (draw(csrf_token), None))
    return html


def cached_part_with(
    request: HttpRequest, key: str, draw: Callable[[str], tuple[str, ValueT]]
) -> tuple[SafeString, ValueT]:
    """cached_part, with a value drawn with the part and kept beside it (what the page needs to draw its live
    parts around the kept one, e.g. when the next reading is due, for the minutes it is overdue now)."""
    kept = cache.get(key)
    if kept is None:
        drawn, value = draw(CSRF_STAND_IN)
        kept = (str(drawn), value)
        cache.set(key, kept, KEPT_SECONDS)
    html, value = kept
    if CSRF_STAND_IN in html:
        html = html.replace(CSRF_STAND_IN, get_token(request))
    return SafeString(html), value  # drawn by our templates, autoescaped

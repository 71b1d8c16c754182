"""FHIR reads and searches through the same access doors and audit as the pages (issue 17, item 2): a Patient or
Observation read is an audited read of that patient; a search audits each patient it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db.models import Model, Q, QuerySet

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record, access_events_record_many
from kapclinic.clinical.registry import search_fold
from kapclinic.dosing.models import VitalSign
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.fhir import terminology as t
from kapclinic.fhir.search import DateBound, Search, SearchError, Token
from kapclinic.patients.access import patient_get_for_user, patients_visible_to
from kapclinic.patients.models import Patient
from kapclinic.roles import Action, Role, Scope, scope_for

T = TypeVar("T", bound=Model)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    more: bool  # a next page may hold more


def _page(rows: QuerySet[T], search: Search, size: int | None = None) -> Page[T]:
    size = size or search.count
    found = list(rows[search.offset : search.offset + size + 1])
    return Page(found[:size], len(found) > size)


def _date_q(field: str, bound: DateBound, *, days: bool = False) -> Q:
    """The rows whose `field` falls as the prefix asks against the bound's range (R4 3.1.1.4.6: a value's range is
    its precision; gt means after the range, le up to its end). `days`: the field is a date, not an instant."""
    start: object = bound.start.date() if days else bound.start
    end: object = bound.end.date() if days else bound.end
    return {
        "eq": Q(**{f"{field}__gte": start, f"{field}__lt": end}),
        "gt": Q(**{f"{field}__gte": end}),
        "ge": Q(**{f"{field}__gte": start}),
        "lt": Q(**{f"{field}__lt": start}),
        "le": Q(**{f"{field}__lt": end}),
    }[bound.prefix]


def _ids(tokens: list[Token]) -> list[int]:
    return [int(token.code) for token in tokens if token.code.isdigit()]


# --- Patient -------------------------------------------------------------------------------------------------


def patient_read(*, ctx: AuditContext, patient_id: int) -> Patient:
    return patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PATIENT_VIEW).patient


def patient_search(*, ctx: AuditContext, search: Search, mrn_system: str) -> Page[Patient]:
    """The patients the user may list matching every parameter (names by prefix, case and accents folded, as the
    patient search does); each returned is an audited read."""
    rows = patients_visible_to(ctx=ctx)
    if (ids := search.tokens.get("_id")) is not None:
        rows = rows.filter(pk__in=_ids(ids))
    if (identifiers := search.tokens.get("identifier")) is not None:
        mrns = [tk.code for tk in identifiers if tk.system in (None, mrn_system)]
        rows = rows.filter(mrn__in=mrns)
    for name, values in search.strings.items():
        base, _, modifier = name.partition(":")
        either = Q()
        for value in values:
            if modifier == "exact":
                either |= _exact_name_q(base, value)
            else:
                either |= _name_q(base, search_fold(value))
        rows = rows.filter(either)
    for bound in search.dates.get("birthdate", []):
        rows = rows.filter(_date_q("birth_date", bound, days=True))
    page = _page(rows.order_by("family_name", "given_name", "id"), search)
    access_events_record_many(ctx=ctx, action="fhir.patient.search", patient_ids=[p.pk for p in page.items])
    return page


def _name_q(base: str, folded: str) -> Q:
    if base == "family":
        return Q(search_family__startswith=folded)
    if base == "given":
        return Q(search_given__startswith=folded) | Q(search_preferred__startswith=folded)
    return (
        Q(search_family__startswith=folded)
        | Q(search_given__startswith=folded)
        | Q(search_preferred__startswith=folded)
    )


def _exact_name_q(base: str, value: str) -> Q:
    if base == "family":
        return Q(family_name=value)
    if base == "given":
        return Q(given_name=value) | Q(preferred_name=value)
    return Q(family_name=value) | Q(given_name=value) | Q(preferred_name=value)


# --- Practitioner (staff: names and licences, no patient data) --------------------------------------------------


def _staff() -> QuerySet[User]:
    return User.objects.exclude(role=Role.PATIENT)


def practitioner_read(*, practitioner_id: int) -> User:
    user = _staff().filter(pk=practitioner_id).first()
    if user is None:
        raise NotFound("No practitioner with that id.")
    return user


def practitioner_search(*, search: Search) -> Page[User]:
    rows = _staff()
    if (ids := search.tokens.get("_id")) is not None:
        rows = rows.filter(pk__in=_ids(ids))
    if (identifiers := search.tokens.get("identifier")) is not None:
        rows = rows.filter(licence_number__in=[tk.code for tk in identifiers])
    for values in search.strings.values():
        either = Q()
        for value in values:
            either |= Q(first_name__istartswith=value) | Q(last_name__istartswith=value)
        rows = rows.filter(either)
    return _page(rows.order_by("last_name", "first_name", "id"), search)


# --- Observation: vital signs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VitalsPage:
    vitals: list[VitalSign]
    keys: set[str] | None  # which vital signs of each set (None: all)
    superseded: set[int]  # sets a later correction replaced
    more: bool


def _vital_keys(codes: list[Token] | None) -> set[str] | None:
    """The vital signs the `code` tokens name (any LOINC code of a vital sign, the BP components included)."""
    if codes is None:
        return None
    keys: set[str] = set()
    for token in codes:
        if token.system not in (None, t.LOINC):
            continue
        for key, vital in t.VITALS.items():
            if token.code in {c for c, _ in vital.codes} or (
                key == "bp" and token.code in (t.SYSTOLIC[0], t.DIASTOLIC[0])
            ):
                keys.add(key)
    return keys


def observation_search(*, ctx: AuditContext, search: Search) -> VitalsPage:
    """A patient's vital signs as observations (US Core: patient with category, code or date). The patient is an
    audited clinical read through the access door; categories other than vital-signs find nothing here yet."""
    if scope_for(ctx.user.role, Action.PATIENT_VIEW_CLINICAL) is Scope.NONE:
        access_event_record(ctx=ctx, action=Action.PATIENT_VIEW_CLINICAL, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not see clinical records.")
    patients = search.references.get("patient")
    ids = search.tokens.get("_id")
    if not patients and ids is None:
        raise SearchError("Search Observation by patient (US Core): e.g. ?patient=123&category=vital-signs.")
    rows = VitalSign.objects.select_related("session")
    if ids is not None:
        wanted = [_vital_id(tk.code) for tk in ids]
        rows = rows.filter(pk__in=[pk for pk, _ in wanted if pk is not None])
    if patients:
        allowed = []
        for raw in patients:
            if not raw.isdigit():
                raise SearchError(f"patient must be a Patient id: {raw!r}.")
            allowed.append(
                patient_get_for_user(ctx=ctx, patient_id=int(raw), action=Action.PATIENT_VIEW_CLINICAL).patient.pk
            )
        rows = rows.filter(session__patient_id__in=allowed)
    categories = search.tokens.get("category")
    if categories is not None and not any(
        tk.code == "vital-signs" and tk.system in (None, t.OBSERVATION_CATEGORY) for tk in categories
    ):
        return VitalsPage([], set(), set(), False)
    keys = _vital_keys(search.tokens.get("code"))
    if keys is not None and not keys:
        return VitalsPage([], set(), set(), False)
    for bound in search.dates.get("date", []):
        rows = rows.filter(_date_q("measured_at", bound))
    per_set = len(keys) if keys else len(t.VITALS)
    page = _page(rows.order_by("-measured_at", "-id"), search, size=max(1, search.count // per_set))
    if not patients:  # found by id: each patient shown is still a clinical read through the door
        for pid in sorted({v.session.patient_id for v in page.items}):
            patient_get_for_user(ctx=ctx, patient_id=pid, action=Action.PATIENT_VIEW_CLINICAL)
    return VitalsPage(page.items, keys, _superseded(page.items), page.more)


def _superseded(vitals: list[VitalSign]) -> set[int]:
    ids = [v.pk for v in vitals]
    return set(VitalSign.objects.filter(corrects_id__in=ids).values_list("corrects_id", flat=True))


def _vital_id(raw: str) -> tuple[int | None, str]:
    """ "vs-<set id>-<key>" → (set id, key); (None, "") when it is not one of ours."""
    parts = raw.split("-")
    if len(parts) == 3 and parts[0] == "vs" and parts[1].isdigit() and parts[2] in t.VITALS:
        return int(parts[1]), parts[2]
    return None, ""


def observation_read(*, ctx: AuditContext, observation_id: str) -> tuple[VitalSign, str, bool]:
    """One observation by id: the set of vital signs, which of them, and whether a correction replaced it."""
    pk, key = _vital_id(observation_id)
    vital = VitalSign.objects.select_related("session").filter(pk=pk or 0).first()
    if vital is None:
        raise NotFound("No observation with that id.")
    patient_get_for_user(ctx=ctx, patient_id=vital.session.patient_id, action=Action.PATIENT_VIEW_CLINICAL)
    return vital, key, bool(_superseded([vital]))

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
from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.clinical.registry import search_fold
from kapclinic.dosing.models import VitalSign
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.fhir import terminology as t
from kapclinic.fhir.resources import score_code, score_observation, vital_keys, vital_observation, vital_observations
from kapclinic.fhir.search import DateBound, Search, SearchError, Token
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.patients.access import patient_get_for_user, patients_visible_to, portal_patient_id
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


def patient_context(ctx: AuditContext, search: Search) -> None:
    """A patient's own token searches in their own context (SMART patient/*.rs): a search that names no patient
    (nor _id) is about their own record, as if it named it."""
    if ctx.user.role == Role.PATIENT and not search.references.get("patient") and "_id" not in search.tokens:
        own = portal_patient_id(ctx.user)
        if own is not None:
            search.references["patient"] = [str(own)]


# --- Patient -------------------------------------------------------------------------------------------------


def patient_read(*, ctx: AuditContext, patient_id: int) -> Patient:
    return patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PATIENT_VIEW).patient


def patient_search(*, ctx: AuditContext, search: Search, mrn_system: str) -> Page[Patient]:
    """The patients the user may list matching every parameter (names by prefix, case and accents folded, as the
    patient search does); each returned is an audited read. A patient's own token finds their own record only
    (PATIENT_VIEW is OWN for them: the patient/*.rs sense of a patient's access), staff those they may list."""
    rows = patients_visible_to(ctx=ctx, action=Action.PATIENT_VIEW)
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


# --- Observation: vital signs and questionnaire scores ----------------------------------------------------------


@dataclass(frozen=True)
class ObservationsPage:
    """One page of a patient's observations, newest first: sets of vital signs (each up to four observations) and
    questionnaire totals, `records` of them read (the next page's offset moves by records)."""

    resources: list[dict[str, object]]
    records: int
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
            codes_of = {c for c, _ in vital.codes} | ({t.SYSTOLIC[0], t.DIASTOLIC[0]} if key == "bp" else set())
            if token.code in codes_of:
                keys.add(key)
    return keys


def _score_instruments(codes: list[Token] | None) -> set[str] | None:
    """The instruments whose total the `code` tokens name; None: any."""
    if codes is None:
        return None
    found = {code: score_code(code) for code in INSTRUMENTS}
    return {
        code
        for code, named in found.items()
        if named is not None and any(tk.code == named[1] and tk.system in (None, named[0]) for tk in codes)
    }


def _categories(search: Search) -> set[str]:
    tokens = search.tokens.get("category")
    if tokens is None:
        return {"vital-signs", "survey"}
    return {tk.code for tk in tokens if tk.system in (None, t.OBSERVATION_CATEGORY)}


def observation_search(*, ctx: AuditContext, search: Search) -> ObservationsPage:
    """A patient's vital signs and questionnaire totals as observations (US Core: patient with category, code or
    date), newest first. Each patient is an audited clinical read through the access door (the scores' own row,
    MEASURE_VIEW, opens to the same roles as PATIENT_VIEW_CLINICAL: roles.py)."""
    if scope_for(ctx.user.role, Action.PATIENT_VIEW_CLINICAL) is Scope.NONE:
        access_event_record(ctx=ctx, action=Action.PATIENT_VIEW_CLINICAL, outcome=Outcome.DENIED)
        raise AccessDenied("Your role does not see clinical records.")
    patient_context(ctx, search)
    patients = search.references.get("patient")
    ids = search.tokens.get("_id")
    if not patients and ids is None:
        raise SearchError("Search Observation by patient (US Core): e.g. ?patient=123&category=vital-signs.")
    vitals = VitalSign.objects.select_related("session")
    scores = QuestionnaireResponse.objects.filter(total__isnull=False)
    if ids is not None:
        wanted = [_observation_id(tk.code) for tk in ids]
        vitals = vitals.filter(pk__in=[pk for kind, pk, _ in wanted if kind == "vs"])
        scores = scores.filter(pk__in=[pk for kind, pk, _ in wanted if kind == "qr"])
    if patients:
        allowed = []
        for raw in patients:
            if not raw.isdigit():
                raise SearchError(f"patient must be a Patient id: {raw!r}.")
            door = patient_get_for_user(ctx=ctx, patient_id=int(raw), action=Action.PATIENT_VIEW_CLINICAL)
            allowed.append(door.patient.pk)
        vitals = vitals.filter(session__patient_id__in=allowed)
        scores = scores.filter(patient_id__in=allowed)
    categories = _categories(search)
    keys = _vital_keys(search.tokens.get("code"))
    instruments = _score_instruments(search.tokens.get("code"))
    use_vitals = "vital-signs" in categories and (keys is None or bool(keys))
    use_scores = "survey" in categories and (instruments is None or bool(instruments))
    scores = scores.filter(instrument__in=instruments if instruments is not None else _SCORED)
    for bound in search.dates.get("date", []):
        vitals = vitals.filter(_date_q("measured_at", bound))
        scores = scores.filter(_date_q("submitted_at", bound))
    # Newest first across both: the first offset+count+1 records of each, merged, so that every page is a slice
    # of one order whatever the offset.
    reach = search.offset + search.count + 1
    merged: list[VitalSign | QuestionnaireResponse] = []
    if use_vitals:
        merged.extend(vitals.order_by("-measured_at", "-id")[:reach])
    if use_scores:
        merged.extend(scores.order_by("-submitted_at", "-id")[:reach])
    merged.sort(key=_when, reverse=True)
    window = merged[search.offset :]
    if not patients:  # found by id: each patient shown is still a clinical read through the door
        for pid in sorted({_patient_of(r) for r in window[: search.count]}):
            patient_get_for_user(ctx=ctx, patient_id=pid, action=Action.PATIENT_VIEW_CLINICAL)
    superseded_vitals = _superseded_vitals([r for r in window if isinstance(r, VitalSign)])
    superseded_scores = set(
        QuestionnaireResponse.objects.filter(
            corrects_id__in=[r.pk for r in window if isinstance(r, QuestionnaireResponse)]
        ).values_list("corrects_id", flat=True)
    )
    out: list[dict[str, object]] = []
    records = 0
    for record in window:
        if isinstance(record, VitalSign):
            made = vital_observations([record], keys, superseded=superseded_vitals)
        else:
            made = [score_observation(record, superseded=record.pk in superseded_scores)]
        if out and len(out) + len(made) > search.count:
            break
        out.extend(made)
        records += 1
    return ObservationsPage(out, records, records < len(window))


_SCORED = [code for code in INSTRUMENTS if score_code(code) is not None]


def _when(record: VitalSign | QuestionnaireResponse) -> tuple[object, int, int]:
    if isinstance(record, VitalSign):
        return (record.measured_at, 1, record.pk)
    return (record.submitted_at, 0, record.pk)


def _patient_of(record: VitalSign | QuestionnaireResponse) -> int:
    return record.session.patient_id if isinstance(record, VitalSign) else record.patient_id


def _superseded_vitals(vitals: list[VitalSign]) -> set[int]:
    ids = [v.pk for v in vitals]
    return set(VitalSign.objects.filter(corrects_id__in=ids).values_list("corrects_id", flat=True))


def _observation_id(raw: str) -> tuple[str, int | None, str]:
    """ "vs-<set id>-<key>" or "qr-<response id>-total" → (kind, id, part); ("", None, "") when not one of ours."""
    parts = raw.split("-")
    if len(parts) == 3 and parts[1].isdigit():
        if parts[0] == "vs" and parts[2] in t.VITALS:
            return "vs", int(parts[1]), parts[2]
        if parts[0] == "qr" and parts[2] == "total":
            return "qr", int(parts[1]), parts[2]
    return "", None, ""


def observation_read(*, ctx: AuditContext, observation_id: str) -> dict[str, object]:
    """One observation by id, through the patient's access door."""
    kind, pk, part = _observation_id(observation_id)
    if kind == "vs":
        vital = VitalSign.objects.select_related("session").filter(pk=pk or 0).first()
        if vital is not None and part in vital_keys(vital):
            patient_get_for_user(ctx=ctx, patient_id=vital.session.patient_id, action=Action.PATIENT_VIEW_CLINICAL)
            superseded = _superseded_vitals([vital])
            return vital_observation(
                vital, part, patient_id=vital.session.patient_id, superseded=vital.pk in superseded
            )
    elif kind == "qr":
        response = QuestionnaireResponse.objects.filter(pk=pk or 0, total__isnull=False).first()
        if response is not None and score_code(response.instrument) is not None:
            patient_get_for_user(ctx=ctx, patient_id=response.patient_id, action=Action.PATIENT_VIEW_CLINICAL)
            replaced = QuestionnaireResponse.objects.filter(corrects_id=response.pk).exists()
            return score_observation(response, superseded=replaced)
    raise NotFound("No observation with that id.")

"""Reads that the pages and the API share; each has a fixed number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_events_record_many
from kapclinic.clinical.registry import PersonKey, SearchTerms, duplicate_reasons, parse_search, search_fold
from kapclinic.patients.access import on_care_team_of, patients_in_scope, patients_visible_to
from kapclinic.patients.models import CareTeamMember, DuplicateFlag, Patient
from kapclinic.prepared import AFTER_ALL, prepared_rows
from kapclinic.roles import Action, Scope, scope_for

MAX_PAGE_SIZE = 100


# The list counts its matches only this far past the page shown: "more than 50" instead of counting the whole
# table on every keystroke (issue 15, item 3).
COUNT_CAP = 50


@dataclass(frozen=True)
class PatientPage:
    items: list[Patient]
    count: int  # exact, unless count_capped: then there are more than `count`
    offset: int
    limit: int
    count_capped: bool = False

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.count_capped or self.offset + len(self.items) < self.count

    @property
    def first_shown(self) -> int:
        return self.offset + 1 if self.items else 0

    @property
    def last_shown(self) -> int:
        return self.offset + len(self.items)


def _starts_with(column: str, prefix: str) -> Q:
    """`column` starts with `prefix`, as a lookup an index answers on either database.

    PostgreSQL: LIKE 'prefix%', which a btree answers when the column compares in the "C" collation (the search
    columns, migration 0002) or has a varchar_pattern_ops index (phone_digits: Django makes one beside every
    indexed CharField). SQLite: LIKE ignores its index unless case-sensitive, so a range [prefix, prefix +
    U+10FFFF) on the column, which the plain index answers (SQLite compares text by code point).
    """
    if connection.vendor == "postgresql":
        return Q(**{f"{column}__startswith": prefix})
    return Q(**{f"{column}__gte": prefix, f"{column}__lt": prefix + AFTER_ALL})


def _apply_search(patients: QuerySet[Patient], terms: SearchTerms) -> QuerySet[Patient]:
    """Every kind of search is an indexed lookup: MRN and date of birth by equality, a phone number whole or by
    its first or last digits (4 or more), each name word as a prefix of the given, family or preferred name
    compared case-, accent- and apostrophe-blind (registry.search_fold)."""
    if terms.mrn:
        return patients.filter(mrn=terms.mrn)
    if terms.birth_date:
        return patients.filter(birth_date=terms.birth_date)
    if terms.phone_digits:
        if len(terms.phone_digits) >= 10:  # a whole number: an indexed equality lookup
            return patients.filter(phone_digits=terms.phone_digits)
        return patients.filter(
            _starts_with("phone_digits", terms.phone_digits)
            | _starts_with("phone_digits_reversed", terms.phone_digits[::-1])
        )
    for word in _folded_words(terms):
        # Each word must start the given, family or preferred name ("ash syn" finds Ash Synthetic).
        patients = patients.filter(_name_starts_with(word))
    return patients


_NAME_COLUMNS = ("search_family", "search_given", "search_preferred")
# The order of a name search: by the folded family and given names, as the patient_search_family index holds them.
_NAME_ORDER = ("search_family", "search_given", "id")


def _folded_words(terms: SearchTerms) -> list[str]:
    return [folded for folded in (search_fold(word) for word in terms.name_words) if folded]  # "'" alone: nothing


def _name_starts_with(word: str) -> Q:
    match = Q()
    for column in _NAME_COLUMNS:
        match |= _starts_with(column, word)
    return match


def _name_page(patients: QuerySet[Patient], words: list[str], *, offset: int, limit: int) -> list[Patient]:
    """One page of a name search, in _NAME_ORDER, without sorting every match.

    "Name starts with w" is an OR over three columns, which no one index both answers and orders: a database
    reads every match and sorts them (6,000 for "sampl" at 50,000 patients) or walks the name index from "a"
    until 25 match. Instead, one query per column, each a range on its own index ordered and cut at the page's
    end (the family one is read straight off patient_search_family), then the pages merged here: at most three
    times offset + limit rows read. The other words narrow each query as in _apply_search.
    """
    first, *rest = words
    narrowed = patients
    for word in rest:
        narrowed = narrowed.filter(_name_starts_with(word))
    end = offset + limit
    keys: set[tuple[str, str, int]] = set()
    for column in _NAME_COLUMNS:
        keys.update(narrowed.filter(_starts_with(column, first)).order_by(*_NAME_ORDER).values_list(*_NAME_ORDER)[:end])
    chosen = [pk for _, _, pk in sorted(keys)[offset:end]]
    found = Patient.objects.in_bulk(chosen)
    return [found[pk] for pk in chosen]


def _count_capped(patients: QuerySet[Patient], *, offset: int, limit: int) -> tuple[int, bool]:
    """How many match, counted at most up to the larger of COUNT_CAP and the end of the page; and whether more do.

    One query, SELECT COUNT(*) FROM (SELECT ... LIMIT n): it stops reading at n rows.
    """
    ceiling = max(COUNT_CAP, offset + limit)
    counted = patients.order_by()[: ceiling + 1].count()
    return (ceiling, True) if counted > ceiling else (counted, False)


def patient_search_for_user(
    *, ctx: AuditContext, query: str = "", limit: int = 25, offset: int = 0, own_caseload: bool = False
) -> PatientPage:
    """Return one page of the patients the user may list that match `query`; audit each one shown.

    `own_caseload` keeps only patients on the user's care team. Queries: a count capped at COUNT_CAP (or the
    page's end), the page, one INSERT of audit rows.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    offset = max(0, offset)
    terms = parse_search(query)
    patients_visible_to(ctx=ctx)  # the role's check (and its refusal recorded); the rows come from the shapes below
    role = ctx.user.role
    scope = scope_for(role, Action.PATIENT_LIST)
    caseload = own_caseload and scope is not Scope.TEAM  # a team-scoped role sees only its caseload already
    words = _folded_words(terms) if not (terms.mrn or terms.birth_date or terms.phone_digits) else []
    if terms.mrn or terms.birth_date or (terms.phone_digits and len(terms.phone_digits) >= 10):
        # Rare and exact: built per request.
        patients = _apply_search(patients_in_scope(scope, ctx.user.pk), terms)
        if caseload:
            patients = patients.filter(on_care_team_of(ctx.user.pk))
        count, capped = _count_capped(patients, offset=offset, limit=limit)
        items = list(patients.order_by("family_name", "given_name", "id")[offset : offset + limit])
    else:
        count, capped, items = _prepared_page(
            scope, ctx.user.pk, caseload, terms.phone_digits or "", words, offset, limit
        )
    detail = {"query": query[:100], "offset": offset} if query else {"offset": offset}
    access_events_record_many(ctx=ctx, action=Action.PATIENT_LIST, patient_ids=[p.pk for p in items], detail=detail)
    return PatientPage(items=items, count=count, offset=offset, limit=limit, count_capped=capped)


def _prepared_page(
    scope: Scope, user_id: int, caseload: bool, digits: str, words: list[str], offset: int, limit: int
) -> tuple[int, bool, list[Patient]]:
    """The list, the caseload, a name search and a search by some of a phone number's digits: the capped count
    and the page, each query built once per process and shape (kapclinic/prepared.py) and run with the user's id
    and the typed words; the same SQL as patient_search_for_user built them each time."""
    shape = (scope, caseload, bool(digits), len(words), offset, limit)

    def matching(user: int, *typed: str) -> QuerySet[Patient]:
        patients = patients_in_scope(scope, user)
        if caseload:
            patients = patients.filter(on_care_team_of(user))
        if digits:
            return patients.filter(
                _starts_with("phone_digits", typed[0]) | _starts_with("phone_digits_reversed", typed[1])
            )
        for word in typed:
            patients = patients.filter(_name_starts_with(word))
        return patients

    typed = [digits, digits[::-1]] if digits else words
    ceiling = max(COUNT_CAP, offset + limit)
    counted = len(
        prepared_rows(
            ("patients.count", *shape),
            lambda user, *t: matching(user, *t).order_by().values_list("pk", flat=True)[: ceiling + 1],
            user_id,
            *typed,
        )
    )
    count, capped = (ceiling, True) if counted > ceiling else (counted, False)
    end = offset + limit
    if not words:
        items = prepared_rows(
            ("patients.page", *shape),
            lambda user, *t: matching(user, *t).order_by("family_name", "given_name", "id")[offset:end],
            user_id,
            *typed,
        )
        return count, capped, items
    # A name search's page as _name_page reads it: one query per name column, merged here.
    keys: set[tuple[str, str, int]] = set()
    for column in _NAME_COLUMNS:

        def by_column(user: int, first: str, *rest: str, column: str = column) -> QuerySet[Any]:
            narrowed = matching(user, *rest)
            return narrowed.filter(_starts_with(column, first)).order_by(*_NAME_ORDER).values_list(*_NAME_ORDER)[:end]

        keys.update(prepared_rows(("patients.names", column, *shape), by_column, user_id, *words))
    chosen = [pk for _, _, pk in sorted(keys)[offset:end]]
    found = Patient.objects.in_bulk(chosen)
    return count, capped, [found[pk] for pk in chosen]


@dataclass(frozen=True)
class PossibleDuplicate:
    patient: Patient
    reasons: list[str]


# Registration runs this on every new patient: plain SQL, as building the ORM query cost twenty times the query
# (issue 15, item 3). The folded names are at most as strict as duplicate_reasons' comparison, so it sees every
# candidate the names could match; index patient_search_family, or the phone digits' index. NULL never equals.
_DUPLICATE_CANDIDATES = (
    "SELECT id, given_name, family_name, birth_date, phone_digits FROM {table} "
    "WHERE ((search_family = %s AND search_given = %s AND birth_date = %s) OR phone_digits = %s) AND id <> %s "
    "ORDER BY id LIMIT 20"
)


def possible_duplicates(key: PersonKey, *, exclude_id: int | None = None) -> list[PossibleDuplicate]:
    """Return registered patients who may be the person described by `key`.

    One indexed query when nobody matches: candidates share the folded names and the date of birth, or the
    phone digits. A second one loads the patients who do match.
    """
    query = duplicate_candidates_query(key, exclude_id=exclude_id)
    if query is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(*query)
        rows = cursor.fetchall()
    return duplicates_among(key, rows)


def duplicate_candidates_query(key: PersonKey, *, exclude_id: int | None = None) -> tuple[str, list[Any]] | None:
    """Return the candidates' query as (sql, params), for `duplicates_among` (None: nothing to compare)."""
    if key.birth_date is None and not key.phone_digits:
        return None
    birth_date = connection.ops.adapt_datefield_value(key.birth_date)
    params = [search_fold(key.family_name), search_fold(key.given_name), birth_date, key.phone_digits or None]
    return _DUPLICATE_CANDIDATES.format(table=Patient._meta.db_table), [*params, exclude_id or 0]


def duplicates_among(key: PersonKey, rows: Sequence[Sequence[Any]]) -> list[PossibleDuplicate]:
    """Return the possible duplicates among the candidates' rows, in id order; loads the patients who match."""
    birth_date_field = Patient._meta.get_field("birth_date")
    reasons_by_id = {}
    for pk, given, family, born, digits in sorted(rows, key=lambda row: row[0]):
        born = birth_date_field.to_python(born)  # text on SQLite
        reasons = duplicate_reasons(key, PersonKey(given, family, born, digits))
        if reasons:
            reasons_by_id[pk] = reasons
    if not reasons_by_id:
        return []
    patients = Patient.objects.in_bulk(list(reasons_by_id))
    return [PossibleDuplicate(patient=patients[pk], reasons=reasons) for pk, reasons in reasons_by_id.items()]


# What a name on a page reads (the person and patient_name filters, User.display_name, the MRN beside a name).
STAFF_NAME_FIELDS = ("username", "first_name", "last_name", "role")
PATIENT_NAME_FIELDS = ("given_name", "family_name", "preferred_name", "mrn")


@dataclass(frozen=True)
class DuplicateAlert:
    other: Patient
    reasons: str


@dataclass(frozen=True)
class ChartHeader:
    care_team: list[CareTeamMember]
    duplicate_alerts: list[DuplicateAlert]


def chart_header(*, patient: Patient) -> ChartHeader:
    """Return what the chart banner shows beside identity: care team and alerts. Two queries.

    A possible duplicate shows on both charts: the one registered later and the one it matched.
    """
    # Prepared (kapclinic/prepared.py): the banner of every patient page asks when it is drawn.
    care_team = prepared_rows("patients.chart_header.care_team", _care_team_named, patient.pk)
    flags = prepared_rows("patients.chart_header.duplicates", _duplicates_named, patient.pk)
    alerts = [
        DuplicateAlert(other=flag.other if flag.patient_id == patient.pk else flag.patient, reasons=flag.reasons)
        for flag in flags
    ]
    return ChartHeader(care_team=care_team, duplicate_alerts=alerts)


def _care_team_named(patient_id: int) -> QuerySet[CareTeamMember]:
    # Only the columns shown (names, MRN): building whole joined rows cost more than reading them.
    return (
        CareTeamMember.objects.filter(patient_id=patient_id)
        .select_related("user")
        .only("patient", "role", "user", *(f"user__{name}" for name in STAFF_NAME_FIELDS))
        .order_by("role")
    )


def _duplicates_named(patient_id: int) -> QuerySet[DuplicateFlag]:
    return (
        DuplicateFlag.objects.filter(Q(patient_id=patient_id) | Q(other_id=patient_id))
        .select_related("patient", "other")
        .only(
            "reasons",
            "patient",
            "other",
            *(f"{side}__{name}" for side in ("patient", "other") for name in PATIENT_NAME_FIELDS),
        )
    )

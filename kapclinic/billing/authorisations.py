"""Prior authorisations (issue 18 item 7): recorded by the coordinator or the biller from the payer's letter, read
on the patient's page and the API, checked when a dosing session is scheduled (a warning, which the scheduler may
go on past with a reason, recorded here), and listed on the coordinator's home when one ends soon or is used up.

Writes are one transaction each with their audit row; every read of a patient's authorisations is audited.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, CharField, Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from kapclinic.audit.context import AuditContext
from kapclinic.audit.services import access_event_record, access_events_record_many, invalid_value_record
from kapclinic.billing.models import REASON_MAX, AuthorisationGoOn, AuthorisedFor, Payer, PriorAuthorisation
from kapclinic.clinical import billing as rules
from kapclinic.clinical.session_states import SessionState
from kapclinic.dosing.models import DosingSession, Route
from kapclinic.patients.access import PatientAccess, patient_get_for_user
from kapclinic.prepared import prepared_rows
from kapclinic.roles import Action, may

NUMBER_MAX = 50
UNITS_MAX = 999
YEARS_MAX = 3  # an authorisation longer than this is a typing error

# Which dosing route a covered drug or code is given by: the scheduling check counts that route's sessions.
ROUTE_OF = {AuthorisedFor.ESKETAMINE: Route.INTRANASAL, AuthorisedFor.IV_KETAMINE: Route.IV}
CONCEPT_ROUTE = {
    rules.Concept.ESKETAMINE_VISIT_UP_TO_56: Route.INTRANASAL,
    rules.Concept.ESKETAMINE_VISIT_OVER_56: Route.INTRANASAL,
    rules.Concept.ESKETAMINE_PER_MG: Route.INTRANASAL,
    rules.Concept.INFUSION_FIRST_HOUR: Route.IV,
}
# A session counts against an authorisation once it is on the calendar (scheduled or later), unless cancelled.
NOT_COUNTED = (SessionState.PROPOSED, SessionState.CANCELLED)


def route_covered(authorisation: PriorAuthorisation) -> str | None:
    """The dosing route whose sessions count against `authorisation` (None: a code not given at a session)."""
    covers = AuthorisedFor(authorisation.covers)
    if covers is not AuthorisedFor.CODE:
        return ROUTE_OF[covers]
    row = rules.code_in_force(authorisation.code, authorisation.effective_from)
    return CONCEPT_ROUTE.get(row.concept) if row is not None else None


# --- reads ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorisationShown:
    authorisation: PriorAuthorisation
    used: int | None  # sessions scheduled or given within its days; None for a code not given at a session
    attention: str  # "ends soon", "used up" or ""

    @property
    def left(self) -> int | None:
        return None if self.used is None else max(self.authorisation.approved_units - self.used, 0)


def _used(authorisations: Sequence[PriorAuthorisation], exclude_session: int | None = None) -> dict[int, int]:
    """Sessions counted against each authorisation, from one query over the patients' sessions."""
    routes = {a.pk: route_covered(a) for a in authorisations}
    wanted = {a.patient_id for a in authorisations if routes[a.pk] is not None}
    if not wanted:
        return {}
    rows = DosingSession.objects.filter(patient_id__in=wanted).exclude(state__in=NOT_COUNTED)
    if exclude_session is not None:
        rows = rows.exclude(pk=exclude_session)
    sessions = rows.values_list("patient_id", "plan__route", "scheduled_for")
    per_day = Counter((patient, route, timezone.localdate(at)) for patient, route, at in sessions)
    used: dict[int, int] = {}
    for a in authorisations:
        route = routes[a.pk]
        if route is None:
            continue
        used[a.pk] = sum(
            n
            for (patient, r, day), n in per_day.items()
            if patient == a.patient_id and r == route and a.effective_from <= day <= a.effective_to
        )
    return used


def _shown(authorisations: Sequence[PriorAuthorisation], today: date) -> list[AuthorisationShown]:
    used = _used(authorisations)
    shown = []
    for a in authorisations:
        count = used.get(a.pk)
        attention = rules.authorisation_needs_attention(
            today=today, last_day=a.effective_to, approved=a.approved_units, used=count if count is not None else 0
        )
        shown.append(AuthorisationShown(a, count, attention))
    return shown


@dataclass(frozen=True)
class PatientAuthorisations:
    access: PatientAccess
    authorisations: list[AuthorisationShown]
    went_on: list[AuthorisationGoOn]


def authorisations_for_patient(*, ctx: AuditContext, patient_id: int) -> PatientAuthorisations:
    """A patient's prior authorisations with the sessions counted against each (audited)."""
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.AUTHORISATION_VIEW)
    found = list(PriorAuthorisation.objects.filter(patient_id=patient_id).select_related("payer", "recorded_by"))
    went_on = list(AuthorisationGoOn.objects.filter(patient_id=patient_id).select_related("by", "session")[:50])
    return PatientAuthorisations(access, _shown(found, timezone.localdate()), went_on)


def shown_one(authorisation: PriorAuthorisation) -> AuthorisationShown:
    """One authorisation just recorded, as the lists show it (its writer's answer: already audited)."""
    fresh = PriorAuthorisation.objects.select_related("payer").get(pk=authorisation.pk)
    return _shown([fresh], timezone.localdate())[0]


def _route_case() -> Case:
    """The dosing route an authorisation's sessions are given by, in SQL (ROUTE_OF and CONCEPT_ROUTE)."""
    by_code: dict[str, list[str]] = {}
    for row in rules.CODES:
        if row.concept in CONCEPT_ROUTE:
            by_code.setdefault(CONCEPT_ROUTE[row.concept], []).append(row.code)
    return Case(
        *(When(covers=covers, then=Value(route)) for covers, route in ROUTE_OF.items()),
        *(When(covers=AuthorisedFor.CODE, code__in=codes, then=Value(route)) for route, codes in by_code.items()),
        default=Value(""),
        output_field=CharField(),
    )


def needing_attention_rows(today: date) -> QuerySet[PriorAuthorisation]:
    """Authorisations in force on `today` (not replaced) that end within the notice days or whose sessions are used
    up, soonest end first, with `used` annotated: one query, no loop per patient (the home list and the inbox
    count both read it). The rule is rules.authorisation_needs_attention's, in SQL."""
    return _needing_attention(today, today + timedelta(days=rules.AUTHORISATION_EXPIRY_NOTICE_DAYS))


def _needing_attention(today: date, soon: date) -> QuerySet[PriorAuthorisation]:
    """needing_attention_rows, with the notice's last day `soon` given (a prepared query's argument)."""
    counted = (
        DosingSession.objects.filter(
            patient_id=OuterRef("patient_id"),
            plan__route=OuterRef("route"),
            scheduled_for__date__gte=OuterRef("effective_from"),
            scheduled_for__date__lte=OuterRef("effective_to"),
        )
        .exclude(state__in=NOT_COUNTED)
        .order_by()
        .values("patient_id")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return (
        PriorAuthorisation.objects.filter(effective_from__lte=today, effective_to__gte=today, replaced_by__isnull=True)
        .annotate(route=_route_case())
        .annotate(used=Coalesce(Subquery(counted, output_field=IntegerField()), 0))
        .filter(Q(effective_to__lte=soon) | Q(used__gte=F("approved_units"), route__gt=""))
        .order_by("effective_to", "id")
    )


def authorisations_needing_attention(*, ctx: AuditContext, limit: int = 50) -> list[AuthorisationShown]:
    """What the coordinator's home and inbox list (audited: it names patients)."""
    if not may(ctx.user.role, Action.AUTHORISATION_VIEW):
        return []
    today = timezone.localdate()
    # Built and compiled once per process (kapclinic/prepared.py): the coordinator's home asks on every load, and
    # the query's route CASE and count subquery cost more to compile than to run.
    found = prepared_rows(
        ("billing.authorisations_needing_attention", limit),
        lambda day, soon: _needing_attention(day, soon).select_related("payer", "patient")[:limit],
        today,
        today + timedelta(days=rules.AUTHORISATION_EXPIRY_NOTICE_DAYS),
    )
    access_events_record_many(
        ctx=ctx, action="authorisation.attention_list", patient_ids=sorted({a.patient_id for a in found})
    )
    shown = []
    for a in found:
        used = int(a.used) if a.route else None  # type: ignore[attr-defined]
        attention = rules.authorisation_needs_attention(
            today=today, last_day=a.effective_to, approved=a.approved_units, used=used or 0
        )
        shown.append(AuthorisationShown(a, used, attention))
    return shown


# --- the scheduling check (receivers of dosing's signals, connected in apps.py) ------------------------------


def scheduling_warnings_for(
    *, patient_id: int, route: str, day: date, session_id: int
) -> list[rules.AuthorisationWarning]:
    """The warnings for scheduling a session of `route` on `day`: from the patient's authorisations covering it."""
    found = [
        a
        for a in PriorAuthorisation.objects.filter(patient_id=patient_id, replaced_by__isnull=True)
        if route_covered(a) == route
    ]
    used = _used(found, exclude_session=session_id)
    return list(
        rules.scheduling_warnings(
            day=day,
            authorisations=[
                rules.Authorisation(a.pk, a.number, a.approved_units, a.effective_from, a.effective_to, used[a.pk])
                for a in found
            ],
        )
    )


def went_on_record(*, ctx: AuditContext, session: DosingSession, warnings: Iterable[object], reason: str) -> None:
    """Record who went on past the warnings, when and why (inside the scheduling transaction; audited)."""
    rows = [
        AuthorisationGoOn(
            patient_id=session.patient_id,
            session=session,
            authorisation_id=w.authorisation_id,
            warning=w.message,
            reason=reason[:REASON_MAX],
            by=ctx.user,
        )
        for w in warnings
        if isinstance(w, rules.AuthorisationWarning)
    ]
    if not rows:
        return
    AuthorisationGoOn.objects.bulk_create(rows)
    access_event_record(
        ctx=ctx,
        action=Action.DOSING_SCHEDULE,
        patient_id=session.patient_id,
        detail={
            "op": "went_on_past_authorisation",
            "session": session.pk,
            "authorisations": [r.authorisation_id for r in rows],
        },
    )


# --- writes --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorisationInput:
    payer_id: int | None = None
    covers: str = ""
    code: str = ""
    number: str = ""
    approved_units: int | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    note: str = ""
    replaces_id: int | None = None


def _errors(patient_id: int, given: AuthorisationInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    if given.payer_id is None or not Payer.objects.filter(pk=given.payer_id, active=True).exists():
        errors["payer"] = "Choose the payer that gave the authorisation."
    if given.covers not in AuthorisedFor.values:
        errors["covers"] = "Choose what it covers: esketamine sessions, IV ketamine infusions, or a code."
    code = given.code.strip().upper()
    if given.covers == AuthorisedFor.CODE:
        day = given.effective_from or timezone.localdate()
        if not code:
            errors["code"] = "Give the code the authorisation covers."
        elif rules.code_in_force(code, day) is None:
            errors["code"] = f"{code} is not in the clinic's code table on {day.isoformat()}: no record supports it."
    elif code:
        errors["code"] = "A code is given only when the authorisation covers a code."
    number = given.number.strip()
    if not number:
        errors["number"] = "Give the authorisation number from the payer's letter."
    elif len(number) > NUMBER_MAX:
        errors["number"] = f"Keep the number under {NUMBER_MAX} characters."
    if given.approved_units is None or not 1 <= given.approved_units <= UNITS_MAX:
        errors["approved_units"] = f"Give the approved sessions or units, a whole number from 1 to {UNITS_MAX}."
    if given.effective_from is None:
        errors["effective_from"] = "Give the first day it is in force."
    if given.effective_to is None:
        errors["effective_to"] = "Give the last day it is in force."
    elif given.effective_from is not None:
        if given.effective_to < given.effective_from:
            errors["effective_to"] = "The last day cannot be before the first."
        elif given.effective_to > given.effective_from + timedelta(days=366 * YEARS_MAX):
            errors["effective_to"] = f"An authorisation of more than {YEARS_MAX} years: check the dates."
    if len(given.note) > REASON_MAX:
        errors["note"] = f"Keep the note under {REASON_MAX:,} characters."
    if given.replaces_id is not None:
        replaced = PriorAuthorisation.objects.filter(pk=given.replaces_id).first()
        if replaced is None or replaced.patient_id != patient_id:
            errors["replaces"] = "That authorisation is not this patient's."
        elif PriorAuthorisation.objects.filter(replaces=replaced).exists():
            errors["replaces"] = "That authorisation was already replaced."
    return errors


def prior_authorisation_add(*, ctx: AuditContext, patient_id: int, given: AuthorisationInput) -> PriorAuthorisation:
    """Record a payer's prior authorisation for the patient (coordinator, director or biller)."""
    access = patient_get_for_user(
        ctx=ctx, patient_id=patient_id, action=Action.AUTHORISATION_RECORD, record_allowed=False
    )
    errors = _errors(patient_id, given)
    if errors:
        raise invalid_value_record(
            ctx=ctx, action=Action.AUTHORISATION_RECORD, patient_id=patient_id, exc=ValidationError(errors)
        )
    assert given.effective_from is not None and given.effective_to is not None and given.approved_units is not None
    assert given.payer_id is not None
    with transaction.atomic():
        authorisation = PriorAuthorisation.objects.create(
            patient_id=patient_id,
            payer_id=given.payer_id,
            covers=given.covers,
            code=given.code.strip().upper() if given.covers == AuthorisedFor.CODE else "",
            number=given.number.strip(),
            approved_units=given.approved_units,
            effective_from=given.effective_from,
            effective_to=given.effective_to,
            note=given.note.strip(),
            replaces_id=given.replaces_id,
            recorded_by=ctx.user,
        )
        access_event_record(
            ctx=ctx,
            action=Action.AUTHORISATION_RECORD,
            patient_id=patient_id,
            detail={"authorisation": authorisation.pk, "op": "add"},
            emergency=access.emergency,
        )
    return authorisation


def may_record(role: str) -> bool:
    return may(role, Action.AUTHORISATION_RECORD)

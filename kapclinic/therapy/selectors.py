"""Therapy reads shared by pages and the API: each checks who may see what, audits, and runs a fixed
number of queries however many notes, addenda or reflections there are.

Who sees a note:
- a draft: its author only;
- a signed preparation, in-session, integration or therapy note: whoever may view notes for the
  patient (role matrix NOTE_VIEW: the care team, the director, the auditor), and the supervisor
  the author named to co-sign it;
- a process note: its author, the colleagues the author shares it with, the named co-signer; nobody
  else, whatever their role (HIPAA 45 CFR 164.508(a)(2)).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.db import connection
from django.db.models import Count, Exists, Func, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record, access_events_record_many, emergency_access_active
from kapclinic.dosing.models import Discharge, DosingSession, SessionState
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.patients.access import PatientAccess, is_on_care_team, patient_get_for_user
from kapclinic.patients.models import Patient
from kapclinic.patients.selectors import PATIENT_NAME_FIELDS, STAFF_NAME_FIELDS
from kapclinic.plans.models import TreatmentPlan
from kapclinic.plans.selectors import current_plan
from kapclinic.prepared import prepared_rows
from kapclinic.roles import Action, Role, Scope, may, scope_for
from kapclinic.therapy.kinds import NoteKind
from kapclinic.therapy.models import GoalProgress, NoteAddendum, NoteCosignature, NoteShare, Reflection, TherapyNote

PROCESS_REFUSAL = (
    "This is a psychotherapy process note: only its author and the colleagues they share it with may read it."
)
DRAFT_REFUSAL = "This note is a draft: only its author can read it until it is signed."


class Document(Func):
    """to_tsvector('english', COALESCE(column, '')): the very expression the GIN indexes are built on."""

    template = "to_tsvector('english'::regconfig, COALESCE(%(expressions)s, ''))"
    output_field = SearchVectorField()


def _active_share_for(user_id: int) -> Exists:
    return Exists(
        NoteShare.objects.filter(
            note=OuterRef("pk"), shared_with_id=user_id, revokes__isnull=True, revocation__isnull=True
        )
    )


def visible_notes_q(user: User, *, may_view_notes: bool) -> Q:
    """The notes of one patient `user` may see; `may_view_notes` says whether they passed NOTE_VIEW for the patient."""
    return _visible_notes_q(user.pk, may_view_notes, may(user.role, Action.PROCESS_NOTE_VIEW))


def _visible_notes_q(user_id: int, may_view_notes: bool, may_view_shared_process_notes: bool) -> Q:
    visible = Q(author_id=user_id) | Q(cosigner_id=user_id, signed_at__isnull=False)
    if may_view_notes:
        visible |= Q(signed_at__isnull=False) & ~Q(kind=NoteKind.PROCESS)
    if may_view_shared_process_notes:
        visible |= Q(_active_share_for(user_id), kind=NoteKind.PROCESS)
    return visible


def may_view_notes_of(user: User, patient_id: int, *, care_team: Collection[int] | None = None) -> bool:
    """Whether the role matrix lets `user` read this patient's notes (team or emergency access); not audited.

    `care_team`: the user ids of the patient's care team when the page has read them already (the chart).
    """
    scope = scope_for(user.role, Action.NOTE_VIEW)
    if scope is Scope.ALL:
        return True
    if scope is Scope.TEAM:
        if care_team is not None:
            on_team = user.pk in care_team
        else:
            on_team = is_on_care_team(user_id=user.pk, patient_id=patient_id)
        return on_team or (emergency_access_active(user_id=user.pk, patient_id=patient_id) is not None)
    return False


# --- one note -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteDetail:
    """A note as one user may see it, with what shows beneath it and what they may do with it."""

    note: TherapyNote
    access: PatientAccess
    addenda: list[NoteAddendum]
    cosignatures: list[NoteCosignature]
    shares: list[NoteShare]  # grants still in force (shown to the author only)
    user_id: int

    @property
    def is_author(self) -> bool:
        return self.note.author_id == self.user_id

    @property
    def can_edit(self) -> bool:
        return self.is_author and not self.note.is_signed

    @property
    def can_amend(self) -> bool:
        return self.is_author and self.note.is_signed

    @property
    def can_share(self) -> bool:
        return self.is_author and self.note.is_process

    @property
    def can_cosign(self) -> bool:
        return (
            self.note.is_signed
            and self.note.cosigner_id == self.user_id
            and not any(c.cosigner_id == self.user_id for c in self.cosignatures)
        )


def _view_action(note: TherapyNote, user: User) -> Action:
    if note.is_process:
        return Action.PROCESS_NOTE_VIEW
    if note.cosigner_id == user.pk and note.author_id != user.pk:
        return Action.NOTE_COSIGN
    return Action.NOTE_VIEW


def note_get_for_user(*, ctx: AuditContext, note_id: int) -> NoteDetail:
    """Return the note with its addenda, co-signatures and shares if `ctx.user` may read it; audit either way.

    Queries: the note, addenda, co-signatures, shares; the patient and care-team check; one audit INSERT.
    """
    note = (
        TherapyNote.objects.select_related("author", "cosigner", "signed_by", "dosing_session")
        .prefetch_related(
            Prefetch("addenda", queryset=NoteAddendum.objects.select_related("author").order_by("written_at", "id")),
            Prefetch("cosignatures", queryset=NoteCosignature.objects.select_related("cosigner")),
            Prefetch("shares", queryset=NoteShare.objects.select_related("shared_with").order_by("at", "id")),
        )
        .filter(pk=note_id)
        .first()
    )
    user = ctx.user
    if note is None:
        access_event_record(ctx=ctx, action=Action.NOTE_VIEW, outcome=Outcome.NOT_FOUND, detail={"note": note_id})
        raise NotFound("No therapy note with that id.")
    action = _view_action(note, user)
    detail: dict[str, Any] = {"note": note.pk, "kind": note.kind}
    if not may(user.role, action):
        access_event_record(ctx=ctx, action=action, patient_id=note.patient_id, outcome=Outcome.DENIED, detail=detail)
        if note.is_process:
            raise AccessDenied(PROCESS_REFUSAL)
        raise AccessDenied("Your role cannot read therapy notes.")
    access = patient_get_for_user(ctx=ctx, patient_id=note.patient_id, action=action, record_allowed=False)
    is_author = note.author_id == user.pk
    is_cosigner = note.cosigner_id == user.pk
    shares = list(note.shares.all())
    revoked = {s.revokes_id for s in shares if s.revokes_id is not None}
    grants = [s for s in shares if s.revokes_id is None and s.pk not in revoked]
    shared_with_user = any(s.shared_with_id == user.pk for s in grants)
    problem = None
    if note.is_process and not (is_author or is_cosigner or shared_with_user):
        problem = PROCESS_REFUSAL
    elif not note.is_signed and not is_author:
        problem = DRAFT_REFUSAL
    if problem is not None:
        access_event_record(ctx=ctx, action=action, patient_id=note.patient_id, outcome=Outcome.DENIED, detail=detail)
        raise AccessDenied(problem)
    access_event_record(ctx=ctx, action=action, patient_id=note.patient_id, detail=detail, emergency=access.emergency)
    note.patient = access.patient
    return NoteDetail(
        note=note,
        access=access,
        addenda=list(note.addenda.all()),
        cosignatures=list(note.cosignatures.all()),
        shares=grants if is_author else [],
        user_id=user.pk,
    )


NOT_SIGNED_FOR_PRINT = (
    "Only a signed note can be printed or downloaded as a PDF: this one is a draft. Sign it first; what is "
    "printed is then exactly what was signed."
)
PROCESS_PRINT_REFUSAL = (
    "A psychotherapy process note is printed only by its author: like a record export, a copy of it leaves the "
    "clinic only when its author releases it."
)


def note_for_print(*, ctx: AuditContext, note_id: int) -> NoteDetail:
    """Return the note for its PDF: read as the note page reads it (audited), then only if signed, and a process
    note only for its author (the rule of notes_for_export: nobody releases a colleague's process note)."""
    detail = note_get_for_user(ctx=ctx, note_id=note_id)
    note = detail.note
    if note.is_process and not detail.is_author:
        access_event_record(
            ctx=ctx,
            action="record.print",
            patient_id=note.patient_id,
            outcome=Outcome.DENIED,
            detail={"what": "therapy_note", "id": note.pk, "kind": note.kind},
        )
        raise AccessDenied(PROCESS_PRINT_REFUSAL)
    if not note.is_signed:
        raise Conflict(NOT_SIGNED_FOR_PRINT)
    return detail


# --- a patient's notes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientNotes:
    access: PatientAccess
    notes: list[TherapyNote]


def patient_notes_for_user(*, ctx: AuditContext, patient_id: int, kind: str | None = None) -> PatientNotes:
    """Return the patient's notes `ctx.user` may see, newest session first; the read is audited.

    Each note carries `addenda_count`. Queries: patient, care-team check, audit INSERT, the notes.
    """
    user = ctx.user
    if not may(user.role, Action.NOTE_VIEW):
        access_event_record(ctx=ctx, action=Action.NOTE_VIEW, patient_id=None, outcome=Outcome.DENIED)
        raise AccessDenied("Your role cannot read therapy notes.")
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.NOTE_VIEW)
    notes = (
        TherapyNote.objects.filter(patient_id=patient_id)
        .filter(visible_notes_q(user, may_view_notes=True))
        .select_related("author")
        .annotate(addenda_count=Count("addenda"))
        .order_by("-occurred_at", "-id")
    )
    if kind:
        notes = notes.filter(kind=kind)
    return PatientNotes(access=access, notes=list(notes))


def notes_for_patient(*, ctx: AuditContext, patient_id: int, kind: str | None = None) -> list[TherapyNote]:
    """The notes of `patient_notes_for_user` (for the API)."""
    return patient_notes_for_user(ctx=ctx, patient_id=patient_id, kind=kind).notes


def notes_for_chart(
    *, user: User, patient_id: int, limit: int = 20, care_team: Collection[int] | None = None
) -> list[TherapyNote]:
    """The chart's list of therapy notes (kind, author, time, signed or draft) for a chart already opened.

    The chart read itself is audited by the chart; opening a note is audited by `note_get_for_user`.
    A prescriber who may open the chart but is not on the team sees none (NOTE_VIEW is team-scoped).
    `care_team`: as for `may_view_notes_of`.
    """
    may_view = may_view_notes_of(user, patient_id, care_team=care_team)
    may_view_shared = may(user.role, Action.PROCESS_NOTE_VIEW)
    if not may_view and not may_view_shared:
        return []

    def listed(pid: int, user_id: int) -> QuerySet[TherapyNote]:
        return (
            TherapyNote.objects.filter(patient_id=pid)
            .filter(_visible_notes_q(user_id, may_view, may_view_shared))
            .select_related("author")
            .order_by("-occurred_at", "-id")[:limit]
        )

    # Prepared (kapclinic/prepared.py), as the chart's other reads: what the user may see is in the key.
    return prepared_rows(("therapy.notes_for_chart", may_view, may_view_shared, limit), listed, patient_id, user.pk)


def notes_for_dosing_session(*, user: User, session_id: int) -> list[TherapyNote]:
    """The notes about one dosing session that `user` may see (in-session guiding notes, integration notes)."""
    patient_id = TherapyNote.objects.filter(dosing_session_id=session_id).values_list("patient_id", flat=True).first()
    if patient_id is None:
        return []
    return list(
        TherapyNote.objects.filter(dosing_session_id=session_id)
        .filter(visible_notes_q(user, may_view_notes=may_view_notes_of(user, patient_id)))
        .select_related("author")
        .order_by("occurred_at", "id")
    )


def notes_for_export(*, ctx: AuditContext, patient_id: int, include_process_notes_of: set[int]) -> list[TherapyNote]:
    """Return the signed notes that go into the patient's record export, with their addenda.

    Process notes stay out unless their author includes them: `include_process_notes_of` holds author ids,
    and only the exporting user's own id may be in it (nobody can release a colleague's process notes).
    """
    user = ctx.user
    others = set(include_process_notes_of) - {user.pk}
    if others or (include_process_notes_of and not may(user.role, Action.PROCESS_NOTE_VIEW)):
        access_event_record(
            ctx=ctx,
            action="note.export",
            patient_id=patient_id,
            outcome=Outcome.DENIED,
            detail={"include_process_notes_of": sorted(include_process_notes_of)},
        )
        raise AccessDenied("Only its author may include a process note in an export.")
    access = patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.NOTE_VIEW, record_allowed=False)
    included = Q(signed_at__isnull=False) & ~Q(kind=NoteKind.PROCESS)
    if user.pk in include_process_notes_of:
        included |= Q(signed_at__isnull=False, kind=NoteKind.PROCESS, author_id=user.pk)
    notes = list(
        TherapyNote.objects.filter(patient_id=patient_id)
        .filter(included)
        .select_related("author", "cosigner")
        .prefetch_related(
            Prefetch("addenda", queryset=NoteAddendum.objects.select_related("author").order_by("written_at", "id"))
        )
        .order_by("occurred_at", "id")
    )
    access_event_record(
        ctx=ctx,
        action="note.export",
        patient_id=patient_id,
        emergency=access.emergency,
        detail={"notes": len(notes), "process_notes": sum(1 for n in notes if n.is_process)},
    )
    return notes


# --- reflections and goals ----------------------------------------------------------------------------


def reflections_for_patient(*, ctx: AuditContext, patient_id: int, limit: int = 50) -> list[Reflection]:
    """The patient's own entries (patient user) or the ones they shared (care team), newest first; audited."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.REFLECTION_VIEW)
    reflections = Reflection.objects.filter(patient_id=patient_id).select_related("dosing_session")
    if ctx.user.role != Role.PATIENT:
        reflections = reflections.filter(shared_at__isnull=False)
    return list(reflections.order_by("-written_at", "-id")[: max(1, min(limit, 500))])


@dataclass(frozen=True)
class GoalRow:
    index: int
    text: str
    progress: list[GoalProgress] = field(default_factory=list)  # oldest first

    @property
    def latest(self) -> GoalProgress | None:
        return self.progress[-1] if self.progress else None


@dataclass(frozen=True)
class Goals:
    plan: TreatmentPlan | None
    rows: list[GoalRow]


def goals_for_patient(*, patient_id: int) -> Goals:
    """The goals of the patient's signed plan, in their words, with the progress recorded on each (two queries).

    The caller has already checked access (plan view, note screen or portal).
    """
    plan = current_plan(patient_id)
    if plan is None:
        return Goals(plan=None, rows=[])
    by_goal: dict[int, list[GoalProgress]] = {}
    for progress in GoalProgress.objects.filter(plan=plan).select_related("recorded_by").order_by("recorded_at", "id"):
        by_goal.setdefault(progress.goal_index, []).append(progress)
    rows = [GoalRow(index=i, text=str(text), progress=by_goal.get(i, [])) for i, text in enumerate(plan.goals)]
    return Goals(plan=plan, rows=rows)


def goals_get_for_user(*, ctx: AuditContext, patient_id: int) -> Goals:
    """The goals and their progress, for whoever may view the plan (the patient their own); audited."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.PLAN_VIEW)
    return goals_for_patient(patient_id=patient_id)


# --- search and the home lists --------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResults:
    query: str
    notes: list[TherapyNote]
    reflections: list[Reflection]


def _words(query: str) -> list[str]:
    return [w for w in query.split() if w][:10]


def therapy_search(*, ctx: AuditContext, query: str, limit: int = 50) -> SearchResults:
    """Search the user's own notes and their team patients' shared reflections; each patient shown is audited.

    Full text (English stemming, web-search syntax, ranked) on PostgreSQL; every word as a substring on SQLite.
    """
    user = ctx.user
    if not may(user.role, Action.NOTE_WRITE):
        access_event_record(ctx=ctx, action="note.search", outcome=Outcome.DENIED)
        raise AccessDenied("Only clinicians who write therapy notes search them.")
    query = query.strip()[:200]
    if not _words(query):
        return SearchResults(query=query, notes=[], reflections=[])
    notes: QuerySet[TherapyNote] = TherapyNote.objects.filter(author_id=user.pk).select_related("patient")
    reflections: QuerySet[Reflection] = Reflection.objects.filter(
        shared_at__isnull=False, patient__care_team__user_id=user.pk
    ).select_related("patient")
    if connection.vendor == "postgresql":
        terms = SearchQuery(query, config="english", search_type="websearch")
        notes = (
            notes.annotate(document=Document("search_text"))
            .filter(document=terms)
            .annotate(rank=SearchRank(Document("search_text"), terms))
            .order_by("-rank", "-occurred_at", "-id")
        )
        reflections = (
            reflections.annotate(document=Document("body"))
            .filter(document=terms)
            .annotate(rank=SearchRank(Document("body"), terms))
            .order_by("-rank", "-written_at", "-id")
        )
    else:
        for word in _words(query):
            notes = notes.filter(search_text__icontains=word)
            reflections = reflections.filter(body__icontains=word)
        notes = notes.order_by("-occurred_at", "-id")
        reflections = reflections.order_by("-written_at", "-id")
    found_notes = list(notes[:limit])
    found_reflections = list(reflections[:limit])
    patient_ids = sorted({n.patient_id for n in found_notes} | {r.patient_id for r in found_reflections})
    access_events_record_many(ctx=ctx, action="note.search", patient_ids=patient_ids, detail={"query": query[:100]})
    return SearchResults(query=query, notes=found_notes, reflections=found_reflections)


@dataclass(frozen=True)
class Draft:
    note: TherapyNote
    overdue: bool  # unsigned for longer than KAPCLINIC_UNSIGNED_NOTE_DAYS


@dataclass(frozen=True)
class NotesToSign:
    days: int
    own_drafts: list[Draft]  # the user's drafts, oldest first
    overdue_all: list[TherapyNote]  # the director's view: everyone's drafts older than `days`
    to_cosign: list[TherapyNote]


@dataclass(frozen=True)
class NotesWaiting:
    """The notes waiting on a user, unread: each empty for a role it does not apply to."""

    own_drafts: QuerySet[TherapyNote]  # their own drafts (a role that writes notes)
    to_cosign: QuerySet[TherapyNote]  # signed notes naming them as co-signer, not co-signed by them yet
    overdue_all: QuerySet[TherapyNote]  # the director's: everyone's drafts older than KAPCLINIC_UNSIGNED_NOTE_DAYS


def notes_waiting(user: User) -> NotesWaiting:
    """What waits on `user` to sign or co-sign, unread: notes_to_sign lists it, the header counts it."""
    cutoff = timezone.now() - timedelta(days=int(settings.KAPCLINIC_UNSIGNED_NOTE_DAYS))
    return _notes_waiting(user.role, user.pk, cutoff)


def _notes_waiting(role: str, user_id: int, cutoff: datetime) -> NotesWaiting:
    none = TherapyNote.objects.none()
    return NotesWaiting(
        own_drafts=TherapyNote.objects.filter(author_id=user_id, signed_at__isnull=True)
        if may(role, Action.NOTE_WRITE)
        else none,
        to_cosign=TherapyNote.objects.filter(cosigner_id=user_id, signed_at__isnull=False).exclude(
            cosignatures__cosigner_id=user_id
        )
        if may(role, Action.NOTE_COSIGN)
        else none,
        overdue_all=TherapyNote.objects.filter(signed_at__isnull=True, created_at__lt=cutoff)
        if role == Role.DIRECTOR
        else none,
    )


# What the lists of notes to sign show (the home pages' card, the inbox): kind, dates, the patient's and the author's
# names; not the notes' text, sections and search columns, nor whole patient rows (issue 15, item 3).
_LISTED = ("kind", "created_at", "signed_at", "patient", "author")
_PATIENT_NAMED = tuple(f"patient__{name}" for name in PATIENT_NAME_FIELDS)
_AUTHOR_NAMED = tuple(f"author__{name}" for name in STAFF_NAME_FIELDS)


def notes_to_sign(*, ctx: AuditContext, limit: int = 50) -> NotesToSign:
    """What the home pages list: the user's drafts (overdue ones marked), notes waiting for their co-signature,
    and for the director every draft unsigned longer than KAPCLINIC_UNSIGNED_NOTE_DAYS. Each patient shown is audited.
    """
    days = int(settings.KAPCLINIC_UNSIGNED_NOTE_DAYS)
    cutoff = timezone.now() - timedelta(days=days)
    role = ctx.user.role

    # Each list built and compiled once per process, role and limit (kapclinic/prepared.py): every home page asks.
    def own_drafts(user_id: int, before: datetime) -> QuerySet[TherapyNote]:
        return (
            _notes_waiting(role, user_id, before)
            .own_drafts.select_related("patient")
            .only(*_LISTED, *_PATIENT_NAMED)
            .order_by("created_at", "id")[:limit]
        )

    def cosign(user_id: int, before: datetime) -> QuerySet[TherapyNote]:
        return (
            _notes_waiting(role, user_id, before)
            .to_cosign.select_related("patient", "author")
            .only(*_LISTED, *_PATIENT_NAMED, *_AUTHOR_NAMED)
            .order_by("signed_at", "id")[:limit]
        )

    def overdue(user_id: int, before: datetime) -> QuerySet[TherapyNote]:
        return (
            _notes_waiting(role, user_id, before)
            .overdue_all.select_related("patient", "author")
            .only(*_LISTED, *_PATIENT_NAMED, *_AUTHOR_NAMED)
            .order_by("created_at", "id")[:limit]
        )

    user_id = ctx.user.pk
    own = [
        Draft(note=note, overdue=note.created_at < cutoff)
        for note in prepared_rows(("therapy.notes_to_sign.own", role, limit), own_drafts, user_id, cutoff)
    ]
    to_cosign = prepared_rows(("therapy.notes_to_sign.cosign", role, limit), cosign, user_id, cutoff)
    overdue_all = prepared_rows(("therapy.notes_to_sign.overdue", role, limit), overdue, user_id, cutoff)
    patient_ids = sorted({n.patient_id for n in [*(d.note for d in own), *to_cosign, *overdue_all]})
    access_events_record_many(ctx=ctx, action="note.unsigned_list", patient_ids=patient_ids)
    return NotesToSign(days=days, own_drafts=own, overdue_all=overdue_all, to_cosign=to_cosign)


def cosigners_for(user: User) -> QuerySet[User]:
    """The colleagues who may be named to co-sign `user`'s notes."""
    roles = [r.value for r in Role if may(r, Action.NOTE_COSIGN)]
    return User.objects.filter(role__in=roles, is_active=True).exclude(pk=user.pk).order_by("last_name", "first_name")


def share_candidates_for(user: User) -> QuerySet[User]:
    """The colleagues the author may share a process note with."""
    roles = [r.value for r in Role if may(r, Action.PROCESS_NOTE_VIEW)]
    return User.objects.filter(role__in=roles, is_active=True).exclude(pk=user.pk).order_by("last_name", "first_name")


@dataclass(frozen=True)
class IntegrationDue:
    """A patient discharged from a dosing session with no integration session since."""

    session: DosingSession  # the latest discharged session, with its patient
    discharged_at: datetime

    @property
    def days_waiting(self) -> int:
        return (timezone.localdate() - timezone.localdate(self.discharged_at)).days


def integration_waiting(user: User) -> QuerySet[Discharge]:
    """The discharges of the user's care-team patients' latest dosing sessions with no integration session since,
    unread: integration_sessions_due lists them, the header counts them."""
    # Each team patient's latest discharged session (a discharge sets the session's end to its own time), one
    # probe each of the index on (patient, state, end): the caseload decides the work, not every discharge ever
    # written (issue 15, item 3; before, each of the team's discharges was compared with its patient's latest).
    latest = (
        DosingSession.objects.filter(patient=OuterRef("pk"), state=SessionState.DISCHARGED)
        .order_by("-ended_at", "-id")
        .values("pk")[:1]
    )
    last_sessions = Patient.objects.filter(care_team__user=user).annotate(last=Subquery(latest)).values("last")
    integrated_since = TherapyNote.objects.filter(
        patient=OuterRef("session__patient"), kind=NoteKind.INTEGRATION, occurred_at__gte=OuterRef("at")
    )
    return Discharge.objects.filter(session_id__in=last_sessions).exclude(Exists(integrated_since))


def integration_sessions_due(*, ctx: AuditContext, limit: int = 50) -> list[IntegrationDue]:
    """The therapist's patients (care team) whose latest dosing session was discharged and who have had no
    integration session (an integration note, draft or signed) since; longest waiting first. One query, and
    the patients shown are audited.

    Integration follows each dosing session (../shared/design/pathway.md, stage 6).
    """
    discharges = list(integration_waiting(ctx.user).select_related("session__patient").order_by("at", "id")[:limit])
    access_events_record_many(
        ctx=ctx, action="integration.due_list", patient_ids=[d.session.patient_id for d in discharges]
    )
    return [IntegrationDue(session=d.session, discharged_at=d.at) for d in discharges]

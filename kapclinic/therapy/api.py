"""Therapy notes, addenda, co-signatures, shares, the patient's reflections and goals over JSON.

The same services and selectors as the pages, so the same privacy rules: a process note is read only by
its author and whom they share it with; editing a signed note answers 409; refusals are audited.
Text lengths are checked by the services (not the schemas) so that an over-long entry is audited too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import BaseModel, ConfigDict

from kapclinic.accounts.web import api_context, api_user
from kapclinic.apitypes import DB_INT_MAX, ERROR_ANSWERS, DbId, DbInt
from kapclinic.therapy import selectors, services
from kapclinic.therapy.kinds import PROMPT_TEXT
from kapclinic.therapy.models import GoalProgress, NoteAddendum, NoteCosignature, NoteShare, Reflection, TherapyNote

router = Router(tags=["therapy"])


# --- schemas --------------------------------------------------------------------------------------------


class NoteIn(BaseModel):
    """A new note. The kind's template fields (e.g. "intentions", "safety_plan") may sit beside `body`."""

    # A plain pydantic model: ninja's Schema drops the extra (template) fields on the way in.

    model_config = ConfigDict(extra="allow")

    kind: str = Field(description="preparation, in_session, integration, therapy or process")
    body: str = ""
    occurred_at: datetime | None = Field(default=None, description="when the session took place (default: now)")
    modality: str | None = Field(default=None, description="in_person, video or phone")
    minutes: DbInt | None = None
    dosing_session: DbId | None = None
    cosigner: DbId | None = Field(default=None, description="the supervisor who co-signs (trainees)")


class NotePatch(BaseModel):
    """Changes to a draft: only the fields sent change; template fields by name beside them."""

    model_config = ConfigDict(extra="allow")

    body: str | None = None
    occurred_at: datetime | None = None
    modality: str | None = None
    minutes: DbInt | None = None
    dosing_session: DbId | None = None
    cosigner: DbId | None = None
    version: DbInt | None = Field(default=None, description="the version you read; a newer one answers 409")


class AddendumIn(Schema):
    model_config = ConfigDict(extra="forbid")

    body: str = ""
    reason: str = ""


class CosignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    comment: str = ""


class ShareIn(Schema):
    model_config = ConfigDict(extra="forbid")

    user: DbId


class AddendumOut(Schema):
    id: int
    author: str
    written_at: datetime
    reason: str
    body: str


class CosignatureOut(Schema):
    cosigner: str
    cosigned_at: datetime
    comment: str


class NoteOut(Schema):
    id: int
    patient: int
    kind: str
    author: str
    occurred_at: datetime
    modality: str
    minutes: int | None
    dosing_session: int | None
    sections: dict[str, str]
    body: str
    status: str = Field(description="draft or signed")
    signed_at: datetime | None
    signed_digest: str
    cosigner: str | None
    version: int
    addenda: list[AddendumOut]
    cosignatures: list[CosignatureOut]


class NoteSummaryOut(Schema):
    id: int
    kind: str
    author: str
    occurred_at: datetime
    status: str
    signed_at: datetime | None


class ShareOut(Schema):
    note: int
    user: DbId
    at: datetime
    active: bool


class ReflectionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    body: str = ""
    kind: str = Field(default="journal", description="journal or post_session")
    prompt: str = Field(default="", description=f"one of: {', '.join(PROMPT_TEXT)} (or empty)")
    shared: bool = Field(default=False, description="share with the therapist")
    dosing_session: DbId | None = None


class ReflectionShareIn(Schema):
    model_config = ConfigDict(extra="forbid")

    shared: bool


class ReflectionOut(Schema):
    id: int
    kind: str
    prompt: str
    prompt_text: str
    body: str
    dosing_session: int | None
    written_at: datetime
    shared: bool
    shared_at: datetime | None


class ProgressOut(Schema):
    id: int
    level: str
    level_label: str
    comment: str
    note: int | None
    recorded_by: str
    recorded_at: datetime


class GoalOut(Schema):
    index: int
    text: str
    progress: list[ProgressOut]


class GoalsOut(Schema):
    plan: int | None
    goals: list[GoalOut]


class ProgressIn(Schema):
    model_config = ConfigDict(extra="forbid")

    level: str = Field(description="worse, no_change, some, much or achieved")
    comment: str = ""
    note: DbId | None = Field(default=None, description="the integration note it was recorded with")


class SearchOut(Schema):
    query: str
    notes: list[NoteSummaryOut]
    reflections: list[ReflectionOut]


# --- mapping --------------------------------------------------------------------------------------------


def _addendum_out(a: NoteAddendum) -> dict[str, Any]:
    return {"id": a.pk, "author": a.author.username, "written_at": a.written_at, "reason": a.reason, "body": a.body}


def _cosignature_out(c: NoteCosignature) -> dict[str, Any]:
    return {"cosigner": c.cosigner.username, "cosigned_at": c.cosigned_at, "comment": c.comment}


def _summary_out(note: TherapyNote) -> dict[str, Any]:
    return {
        "id": note.pk,
        "kind": note.kind,
        "author": note.author.username,
        "occurred_at": note.occurred_at,
        "status": "signed" if note.is_signed else "draft",
        "signed_at": note.signed_at,
    }


def _detail_out(detail: selectors.NoteDetail) -> dict[str, Any]:
    note = detail.note
    return {
        **_summary_out(note),
        "patient": note.patient_id,
        "modality": note.modality,
        "minutes": note.minutes,
        "dosing_session": note.dosing_session_id,
        "sections": dict(note.sections),
        "body": note.body,
        "signed_digest": note.signed_digest,
        "cosigner": note.cosigner.username if note.cosigner else None,
        "version": note.version,
        "addenda": [_addendum_out(a) for a in detail.addenda],
        "cosignatures": [_cosignature_out(c) for c in detail.cosignatures],
    }


def _reflection_out(r: Reflection) -> dict[str, Any]:
    return {
        "id": r.pk,
        "kind": r.kind,
        "prompt": r.prompt,
        "prompt_text": PROMPT_TEXT.get(r.prompt, ""),
        "body": r.body,
        "dosing_session": r.dosing_session_id,
        "written_at": r.written_at,
        "shared": r.is_shared,
        "shared_at": r.shared_at,
    }


def _progress_out(p: GoalProgress) -> dict[str, Any]:
    return {
        "id": p.pk,
        "level": p.level,
        "level_label": p.level_label,
        "comment": p.comment,
        "note": p.note_id,
        "recorded_by": p.recorded_by.username,
        "recorded_at": p.recorded_at,
    }


def _note_values(payload: BaseModel, fields: tuple[str, ...]) -> dict[str, Any]:
    """The service's values: the fields sent, and the template fields (beside them or under "sections")."""
    sent = payload.model_fields_set
    values: dict[str, Any] = {name: getattr(payload, name) for name in fields if name in sent}
    extra = dict(payload.model_extra or {})
    sections = extra.pop("sections", {})
    if not isinstance(sections, dict):
        values["sections"] = sections  # the service refuses it, audited
        return values
    merged = {**sections, **extra}
    if merged:
        values["sections"] = merged
    return values


def _detail(request: HttpRequest, note_id: DbId) -> dict[str, Any]:
    return _detail_out(selectors.note_get_for_user(ctx=api_context(request), note_id=note_id))


# --- notes ----------------------------------------------------------------------------------------------

_CREATE_FIELDS = ("body", "occurred_at", "modality", "minutes", "dosing_session", "cosigner")


@router.post("/patients/{patient_id}/notes", response={201: NoteOut, **ERROR_ANSWERS})
def note_create(request: HttpRequest, patient_id: DbId, payload: NoteIn) -> Status[dict[str, Any]]:
    """Start a note (a draft until signed). Template fields of the kind may be sent beside `body`."""
    values = _note_values(payload, _CREATE_FIELDS)
    note = services.note_draft_create(ctx=api_context(request), patient_id=patient_id, kind=payload.kind, values=values)
    return Status(201, _detail(request, note.pk))


@router.get("/patients/{patient_id}/notes", response={200: list[NoteSummaryOut], **ERROR_ANSWERS})
def note_list(request: HttpRequest, patient_id: DbId, kind: str | None = None) -> list[dict[str, Any]]:
    """The patient's notes you may see: signed notes for the care team; your drafts; process notes yours or shared."""
    notes = selectors.notes_for_patient(ctx=api_context(request), patient_id=patient_id, kind=kind)
    return [_summary_out(n) for n in notes]


@router.get("/notes/search", response={200: SearchOut, **ERROR_ANSWERS})
def note_search(request: HttpRequest, q: str = "") -> dict[str, Any]:
    """Search your own notes and the reflections your team's patients shared with you."""
    found = selectors.therapy_search(ctx=api_context(request), query=q)
    return {
        "query": found.query,
        "notes": [_summary_out(n) for n in found.notes],
        "reflections": [_reflection_out(r) for r in found.reflections],
    }


@router.get("/notes/{note_id}", response={200: NoteOut, **ERROR_ANSWERS})
def note_get(request: HttpRequest, note_id: DbId) -> dict[str, Any]:
    """One note with its addenda and co-signatures, if you may read it (every read is audited)."""
    return _detail(request, note_id)


@router.patch("/notes/{note_id}", response={200: NoteOut, **ERROR_ANSWERS})
def note_patch(request: HttpRequest, note_id: DbId, payload: NotePatch) -> dict[str, Any]:
    """Change your draft; a signed note answers 409 (add an addendum instead)."""
    values = _note_values(payload, _CREATE_FIELDS)
    services.note_draft_update(ctx=api_context(request), note_id=note_id, values=values, version=payload.version)
    return _detail(request, note_id)


@router.post("/notes/{note_id}/sign", response={200: NoteOut, **ERROR_ANSWERS})
def note_sign(request: HttpRequest, note_id: DbId) -> dict[str, Any]:
    """Sign your draft; after this it cannot change."""
    services.note_sign(ctx=api_context(request), note_id=note_id)
    return _detail(request, note_id)


@router.post("/notes/{note_id}/addenda", response={201: AddendumOut, **ERROR_ANSWERS})
def addendum_create(request: HttpRequest, note_id: DbId, payload: AddendumIn) -> Status[dict[str, Any]]:
    """Amend your signed note: `body` and `reason` are both required."""
    addendum = services.note_addendum_add(
        ctx=api_context(request), note_id=note_id, body=payload.body, reason=payload.reason
    )
    addendum.author = api_user(request)
    return Status(201, _addendum_out(addendum))


@router.post("/notes/{note_id}/cosign", response={201: CosignatureOut, **ERROR_ANSWERS})
def note_cosign(request: HttpRequest, note_id: DbId, payload: CosignIn) -> Status[dict[str, Any]]:
    """Co-sign a trainee's signed note (only the supervisor they named)."""
    cosignature = services.note_cosign(ctx=api_context(request), note_id=note_id, comment=payload.comment)
    return Status(201, _cosignature_out(cosignature))


def _share_out(share: NoteShare, active: bool) -> dict[str, Any]:
    return {"note": share.note_id, "user": share.shared_with_id, "at": share.at, "active": active}


@router.post("/notes/{note_id}/shares", response={201: ShareOut, **ERROR_ANSWERS})
def share_create(request: HttpRequest, note_id: DbId, payload: ShareIn) -> Status[dict[str, Any]]:
    """Share your process note with a colleague."""
    share = services.note_share(ctx=api_context(request), note_id=note_id, user_id=payload.user)
    return Status(201, _share_out(share, True))


@router.delete("/notes/{note_id}/shares/{user_id}", response={200: ShareOut, **ERROR_ANSWERS})
def share_delete(request: HttpRequest, note_id: DbId, user_id: DbId) -> dict[str, Any]:
    """Stop sharing your process note with a colleague (the record of the share stays)."""
    return _share_out(services.note_unshare(ctx=api_context(request), note_id=note_id, user_id=user_id), False)


# --- reflections and goals ------------------------------------------------------------------------------


@router.get("/patients/{patient_id}/reflections", response={200: list[ReflectionOut], **ERROR_ANSWERS})
def reflection_list(
    request: HttpRequest, patient_id: DbId, limit: Annotated[int, Field(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """A patient's own entries (the patient), or the ones they shared (their therapist and prescriber)."""
    reflections = selectors.reflections_for_patient(ctx=api_context(request), patient_id=patient_id, limit=limit)
    return [_reflection_out(r) for r in reflections]


@router.post("/patients/{patient_id}/reflections", response={201: ReflectionOut, **ERROR_ANSWERS})
def reflection_create(request: HttpRequest, patient_id: DbId, payload: ReflectionIn) -> Status[dict[str, Any]]:
    """The patient writes a journal entry or a post-session reflection, shared with their therapist or not."""
    reflection = services.reflection_write(
        ctx=api_context(request),
        patient_id=patient_id,
        body=payload.body,
        kind=payload.kind,
        prompt=payload.prompt,
        share=payload.shared,
        dosing_session_id=payload.dosing_session,
    )
    return Status(201, _reflection_out(reflection))


@router.post("/reflections/{reflection_id}/share", response={200: ReflectionOut, **ERROR_ANSWERS})
def reflection_share(request: HttpRequest, reflection_id: DbId, payload: ReflectionShareIn) -> dict[str, Any]:
    """The patient shares an entry with their therapist, or stops sharing it."""
    reflection = services.reflection_share_set(
        ctx=api_context(request), reflection_id=reflection_id, shared=payload.shared
    )
    return _reflection_out(reflection)


@router.get("/patients/{patient_id}/goals", response={200: GoalsOut, **ERROR_ANSWERS})
def goal_list(request: HttpRequest, patient_id: DbId) -> dict[str, Any]:
    """The goals of the signed plan, in the patient's words, with the progress recorded on each."""
    goals = selectors.goals_get_for_user(ctx=api_context(request), patient_id=patient_id)
    return {
        "plan": goals.plan.pk if goals.plan else None,
        "goals": [
            {"index": g.index, "text": g.text, "progress": [_progress_out(p) for p in g.progress]} for g in goals.rows
        ],
    }


@router.post("/patients/{patient_id}/goals/{goal_index}/progress", response={201: ProgressOut, **ERROR_ANSWERS})
def goal_progress_create(
    request: HttpRequest, patient_id: DbId, goal_index: Annotated[int, Field(ge=0, le=DB_INT_MAX)], payload: ProgressIn
) -> Status[dict[str, Any]]:
    """Record progress on one goal (0-based index), at an integration session."""
    progress = services.goal_progress_record(
        ctx=api_context(request),
        patient_id=patient_id,
        goal_index=goal_index,
        level=payload.level,
        comment=payload.comment,
        note_id=payload.note,
    )
    progress.recorded_by = api_user(request)
    return Status(201, _progress_out(progress))

"""Therapy writes: note drafts (autosaved), signing, addenda, co-signatures, shares of process notes;
the patient's reflections; progress on the plan's goals.

Each write is one transaction with its audit row. A refusal (someone else's note, a signed note,
a missing reason, an over-long text) changes nothing and is audited outside the transaction, so the
refusal row stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import Outcome
from kapclinic.audit.services import access_event_record
from kapclinic.dosing.models import DosingSession
from kapclinic.errors import AccessDenied, Conflict, NotFound
from kapclinic.patients.access import patient_get_for_user
from kapclinic.plans.selectors import current_plan
from kapclinic.roles import Action, may
from kapclinic.therapy.kinds import (
    ADDENDUM_MAX,
    BODY_MAX,
    MINUTES_MAX,
    PROMPT_TEXT,
    REASON_MAX,
    REFLECTION_MAX,
    Modality,
    NoteKind,
    ProgressLevel,
    ReflectionKind,
    searchable_text,
    section_problems,
)
from kapclinic.therapy.models import (
    GoalProgress,
    NoteAddendum,
    NoteCosignature,
    NoteShare,
    Reflection,
    TherapyNote,
)

# What may be set on a draft, besides its kind (fixed at creation).
NOTE_FIELDS = ("occurred_at", "modality", "minutes", "dosing_session", "sections", "body", "cosigner")
NOTE_KINDS = frozenset(k.value for k in NoteKind)


def _id_or_none(value: Any) -> int | None:
    """Return a positive whole-number id from a form or JSON value, or None."""
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def write_action(kind: str) -> Action:
    """The role-matrix action for writing a note of `kind`."""
    return Action.PROCESS_NOTE_WRITE if kind == NoteKind.PROCESS else Action.NOTE_WRITE


def _refused(
    ctx: AuditContext,
    action: str,
    patient_id: int | None,
    exc: Exception,
    *,
    outcome: str = Outcome.DENIED,
    detail: dict[str, Any] | None = None,
) -> Exception:
    """Audit a refusal and return the error to raise."""
    info = dict(detail or {})
    if isinstance(exc, ValidationError):
        info["errors"] = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        info["errors"] = {k: v[:1] for k, v in info["errors"].items()}
        outcome = Outcome.INVALID
    else:
        if isinstance(exc, NotFound):
            outcome = Outcome.NOT_FOUND
        info["why"] = str(exc)[:200]
    access_event_record(ctx=ctx, action=action, patient_id=patient_id, outcome=outcome, detail=info)
    return exc


def _note_or_404(ctx: AuditContext, note_id: int, action: str) -> TherapyNote:
    note = TherapyNote.objects.filter(pk=note_id).first()
    if note is None:
        access_event_record(ctx=ctx, action=action, outcome=Outcome.NOT_FOUND, detail={"note": note_id})
        raise NotFound("No therapy note with that id.")
    return note


# --- drafts -------------------------------------------------------------------------------------------


def _clean_note_values(note: TherapyNote, raw: Mapping[str, Any]) -> None:
    """Apply `raw` (any of NOTE_FIELDS) to the unsaved draft, or raise ValidationError with every problem."""
    errors: dict[str, str] = {}
    unknown = sorted(set(raw) - set(NOTE_FIELDS))
    for key in unknown:
        errors[key] = "This field cannot be set on a note."
    kind = NoteKind(note.kind)
    if "sections" in raw:
        sections = raw["sections"]
        if not isinstance(sections, Mapping):
            errors["sections"] = "Template fields must be given by name."
        else:
            errors.update(section_problems(kind, dict(sections)))
            merged = dict(note.sections or {})
            for key, value in sections.items():
                if isinstance(value, str):
                    text = value.strip()
                    if text:
                        merged[key] = text
                    else:
                        merged.pop(key, None)
            note.sections = merged
    if "body" in raw:
        body = str(raw["body"] or "").strip()
        if len(body) > BODY_MAX:
            errors["body"] = f"Keep the free text under {BODY_MAX:,} characters (it has {len(body):,})."
        note.body = body
    if "occurred_at" in raw:
        when = raw["occurred_at"]
        if not isinstance(when, datetime):
            errors["occurred_at"] = "Enter the date and time of the session."
        else:
            if timezone.is_naive(when):
                when = timezone.make_aware(when)
            if when > timezone.now() + timedelta(days=1):
                errors["occurred_at"] = "The session time cannot be more than a day ahead."
            note.occurred_at = when
    if "modality" in raw:
        if raw["modality"] not in {m.value for m in Modality}:
            errors["modality"] = "Choose in person, video or telephone."
        else:
            note.modality = str(raw["modality"])
    if "minutes" in raw:
        minutes = raw["minutes"]
        if minutes in (None, ""):
            note.minutes = None
        elif not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MINUTES_MAX:
            errors["minutes"] = f"Enter the duration in whole minutes, 1 to {MINUTES_MAX}."
        else:
            note.minutes = minutes
    if "dosing_session" in raw:
        session_id = _id_or_none(raw["dosing_session"])
        if raw["dosing_session"] in (None, ""):
            note.dosing_session = None
        elif session_id is None or not DosingSession.objects.filter(pk=session_id, patient_id=note.patient_id).exists():
            errors["dosing_session"] = "That dosing session is not one of this patient's."
        else:
            note.dosing_session_id = session_id
    if "cosigner" in raw:
        cosigner_id = _id_or_none(raw["cosigner"])
        if raw["cosigner"] in (None, ""):
            note.cosigner = None
        else:
            cosigner = User.objects.filter(pk=cosigner_id, is_active=True).first() if cosigner_id else None
            if cosigner is None or not may(cosigner.role, Action.NOTE_COSIGN):
                errors["cosigner"] = "Choose a supervising therapist or prescriber to co-sign."
            elif cosigner.pk == note.author_id:
                errors["cosigner"] = "The co-signer must be someone other than the author."
            else:
                note.cosigner = cosigner
    if errors:
        raise ValidationError(errors)
    note.search_text = searchable_text(note.sections, note.body)


def note_draft_create(
    *, ctx: AuditContext, patient_id: int, kind: str, values: Mapping[str, Any] | None = None
) -> TherapyNote:
    """Start a note of `kind` for the patient (author: the user); it is a draft until they sign it.

    `values` may hold any of NOTE_FIELDS; the template fields go in values["sections"] by key.
    """
    if kind not in NOTE_KINDS:
        access_event_record(
            ctx=ctx, action=Action.NOTE_WRITE, patient_id=patient_id, outcome=Outcome.INVALID, detail={"kind": kind}
        )
        raise ValidationError({"kind": "Choose preparation, in_session, integration, therapy or process."})
    action = write_action(kind)
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=action, record_allowed=False)
    now = timezone.now()
    note = TherapyNote(
        patient_id=patient_id, author=ctx.user, kind=kind, occurred_at=now, created_at=now, updated_at=now
    )
    try:
        _clean_note_values(note, values or {})
    except ValidationError as exc:
        raise _refused(ctx, action, patient_id, exc, detail={"kind": kind}) from None
    with transaction.atomic():
        note.save(force_insert=True)
        access_event_record(
            ctx=ctx, action=action, patient_id=patient_id, detail={"note": note.pk, "kind": kind, "op": "create"}
        )
    return note


def _edit_problem(ctx: AuditContext, note: TherapyNote, version: int | None) -> Exception | None:
    if note.author_id != ctx.user.pk:
        return AccessDenied("Only the author of a note may change it.")
    if note.is_signed:
        return Conflict("This note is signed and cannot be changed; add an addendum instead.")
    if version is not None and version != note.version:
        return Conflict("This note was changed in another window since you opened it; reload it to continue.")
    return None


def note_draft_update(
    *, ctx: AuditContext, note_id: int, values: Mapping[str, Any], version: int | None = None
) -> TherapyNote:
    """Change the author's draft (autosave and the API both come here): only the fields given change.

    A signed note answers Conflict (409); so does a stale `version` (another tab saved newer text).
    """
    note = _note_or_404(ctx, note_id, Action.NOTE_WRITE)
    action = write_action(note.kind)
    patient_get_for_user(ctx=ctx, patient_id=note.patient_id, action=action, record_allowed=False)
    problem: Exception | None = None
    with transaction.atomic():
        # Lock the draft: an autosave and a sign in two tabs are applied one after the other.
        note = TherapyNote.objects.select_for_update().get(pk=note_id)
        problem = _edit_problem(ctx, note, version)
        if problem is None:
            try:
                _clean_note_values(note, values)
            except ValidationError as exc:
                problem = exc
        if problem is None:
            note.updated_at = timezone.now()
            note.version += 1
            note.save()
            access_event_record(
                ctx=ctx, action=action, patient_id=note.patient_id, detail={"note": note.pk, "op": "edit"}
            )
    if problem is not None:
        raise _refused(ctx, action, note.patient_id, problem, detail={"note": note_id, "op": "edit"})
    return note


def note_sign(*, ctx: AuditContext, note_id: int) -> TherapyNote:
    """Sign the author's own draft: the digest of what was signed is stored; after this only addenda."""
    note = _note_or_404(ctx, note_id, "note.sign")
    patient_get_for_user(ctx=ctx, patient_id=note.patient_id, action=write_action(note.kind), record_allowed=False)
    problem: Exception | None = None
    with transaction.atomic():
        note = TherapyNote.objects.select_for_update().get(pk=note_id)
        if note.author_id != ctx.user.pk:
            problem = AccessDenied("Only the author of a note may sign it.")
        elif note.is_signed:
            problem = Conflict("This note is already signed.")
        elif not note.body and not any(note.sections.values()):
            problem = ValidationError({"body": "Write the note before signing it."})
        else:
            note.signature_stamp(ctx.user.pk)
            note.save()
            access_event_record(
                ctx=ctx,
                action="note.sign",
                patient_id=note.patient_id,
                detail={"note": note.pk, "kind": note.kind, "digest": note.signed_digest},
            )
    if problem is not None:
        raise _refused(ctx, "note.sign", note.patient_id, problem, detail={"note": note_id})
    return note


# --- after signing: addenda, co-signature, shares ---------------------------------------------------


def note_addendum_add(*, ctx: AuditContext, note_id: int, body: str, reason: str) -> NoteAddendum:
    """Amend the author's signed note: the addendum (who, when, why) shows beneath it; the note is unchanged."""
    note = _note_or_404(ctx, note_id, "note.addendum")
    patient_get_for_user(ctx=ctx, patient_id=note.patient_id, action=write_action(note.kind), record_allowed=False)
    body, reason = (body or "").strip(), (reason or "").strip()
    problem: Exception | None = None
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "Say why the note is being amended."
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"Keep the reason under {REASON_MAX:,} characters."
    if not body:
        errors["body"] = "Write the addendum."
    elif len(body) > ADDENDUM_MAX:
        errors["body"] = f"Keep the addendum under {ADDENDUM_MAX:,} characters (it has {len(body):,})."
    if note.author_id != ctx.user.pk:
        problem = AccessDenied("Only the author of a note may add an addendum to it.")
    elif not note.is_signed:
        problem = Conflict("This note is still a draft: change the draft instead of adding an addendum.")
    elif errors:
        problem = ValidationError(errors)
    if problem is not None:
        raise _refused(ctx, "note.addendum", note.patient_id, problem, detail={"note": note_id})
    with transaction.atomic():
        addendum = NoteAddendum(note=note, reason=reason, body=body)
        addendum.signature_stamp(ctx.user.pk)
        addendum.save(force_insert=True)
        access_event_record(
            ctx=ctx,
            action="note.addendum",
            patient_id=note.patient_id,
            detail={"note": note.pk, "addendum": addendum.pk},
        )
    return addendum


def note_cosign(*, ctx: AuditContext, note_id: int, comment: str = "") -> NoteCosignature:
    """Co-sign a trainee's signed note: only the supervisor the author named, once, over the signed digest."""
    note = _note_or_404(ctx, note_id, Action.NOTE_COSIGN)
    patient_get_for_user(ctx=ctx, patient_id=note.patient_id, action=Action.NOTE_COSIGN, record_allowed=False)
    comment = (comment or "").strip()
    problem: Exception | None = None
    if note.cosigner_id != ctx.user.pk:
        problem = AccessDenied("Only the supervisor the author named may co-sign this note.")
    elif not note.is_signed:
        problem = Conflict("The author has not signed this note yet.")
    elif len(comment) > REASON_MAX:
        problem = ValidationError({"comment": f"Keep the comment under {REASON_MAX:,} characters."})
    elif NoteCosignature.objects.filter(note=note, cosigner=ctx.user).exists():
        problem = Conflict("You have already co-signed this note.")
    if problem is not None:
        raise _refused(ctx, Action.NOTE_COSIGN, note.patient_id, problem, detail={"note": note_id})
    with transaction.atomic():
        cosignature = NoteCosignature.objects.create(
            note=note, cosigner=ctx.user, note_digest=note.signed_digest, comment=comment
        )
        access_event_record(ctx=ctx, action=Action.NOTE_COSIGN, patient_id=note.patient_id, detail={"note": note.pk})
    return cosignature


def active_share(note_id: int, user_id: int) -> NoteShare | None:
    """The grant that currently lets `user_id` read the process note, if any."""
    return NoteShare.objects.filter(
        note_id=note_id, shared_with_id=user_id, revokes__isnull=True, revocation__isnull=True
    ).first()


def _share_problem(ctx: AuditContext, note: TherapyNote) -> Exception | None:
    if note.author_id != ctx.user.pk:
        return AccessDenied("Only the author of a process note may share it.")
    if not note.is_process:
        return ValidationError(
            {"note": "Only process notes are shared one by one; other notes are already visible to the care team."}
        )
    return None


def note_share(*, ctx: AuditContext, note_id: int, user_id: int) -> NoteShare:
    """Let a colleague read the author's process note (until the author stops sharing it)."""
    note = _note_or_404(ctx, note_id, "note.share")
    problem = _share_problem(ctx, note)
    colleague = User.objects.filter(pk=user_id, is_active=True).first()
    if problem is None and (colleague is None or not may(colleague.role, Action.PROCESS_NOTE_VIEW)):
        problem = ValidationError({"user": "Choose a clinician (therapist, prescriber or nurse) to share with."})
    if problem is None and user_id == note.author_id:
        problem = ValidationError({"user": "You are the author: you can already read it."})
    if problem is None and active_share(note.pk, user_id) is not None:
        problem = Conflict("The note is already shared with them.")
    if problem is not None:
        raise _refused(ctx, "note.share", note.patient_id, problem, detail={"note": note_id, "with": user_id})
    with transaction.atomic():
        share = NoteShare.objects.create(note=note, shared_with_id=user_id, by=ctx.user)
        access_event_record(
            ctx=ctx, action="note.share", patient_id=note.patient_id, detail={"note": note.pk, "with": user_id}
        )
    return share


def note_unshare(*, ctx: AuditContext, note_id: int, user_id: int) -> NoteShare:
    """Stop sharing the author's process note with a colleague (a revocation row; the grant stays on record)."""
    note = _note_or_404(ctx, note_id, "note.unshare")
    problem = _share_problem(ctx, note)
    grant = None
    if problem is None:
        grant = active_share(note.pk, user_id)
        if grant is None:
            problem = NotFound("The note is not shared with them.")
    if problem is not None:
        raise _refused(ctx, "note.unshare", note.patient_id, problem, detail={"note": note_id, "with": user_id})
    assert grant is not None
    with transaction.atomic():
        revocation = NoteShare.objects.create(note=note, shared_with_id=user_id, by=ctx.user, revokes=grant)
        access_event_record(
            ctx=ctx, action="note.unshare", patient_id=note.patient_id, detail={"note": note.pk, "with": user_id}
        )
    return revocation


def in_session_note_start(*, ctx: AuditContext, session_id: int) -> TherapyNote:
    """Return the user's in-session draft for this dosing session, starting one if they have none.

    For the dosing session screen: a therapist's guiding notes (music, imagery, what came up).
    """
    session = DosingSession.objects.filter(pk=session_id).first()
    if session is None:
        access_event_record(
            ctx=ctx, action=Action.NOTE_WRITE, outcome=Outcome.NOT_FOUND, detail={"session": session_id}
        )
        raise NotFound("No dosing session with that id.")
    existing = TherapyNote.objects.filter(
        dosing_session=session, author=ctx.user, kind=NoteKind.IN_SESSION, signed_at__isnull=True
    ).first()
    if existing is not None:
        patient_get_for_user(ctx=ctx, patient_id=session.patient_id, action=Action.NOTE_WRITE, record_allowed=False)
        return existing
    when = session.started_at or session.scheduled_for
    return note_draft_create(
        ctx=ctx,
        patient_id=session.patient_id,
        kind=NoteKind.IN_SESSION,
        values={"dosing_session": session.pk, "occurred_at": min(when, timezone.now()), "minutes": session.minutes},
    )


# --- the patient's reflections --------------------------------------------------------------------------


def _clean_reflection(body: str, prompt: str) -> tuple[str, str]:
    body, prompt = (body or "").strip(), (prompt or "").strip()
    errors: dict[str, str] = {}
    if not body:
        errors["body"] = "Write something first."
    elif len(body) > REFLECTION_MAX:
        errors["body"] = f"Please keep an entry under {REFLECTION_MAX:,} characters (this one has {len(body):,})."
    if prompt and prompt not in PROMPT_TEXT:
        errors["prompt"] = "Choose one of the prompts, or none."
    if errors:
        raise ValidationError(errors)
    return body, prompt


def reflection_write(
    *,
    ctx: AuditContext,
    patient_id: int,
    body: str,
    kind: str = ReflectionKind.JOURNAL,
    prompt: str = "",
    share: bool = False,
    dosing_session_id: int | None = None,
) -> Reflection:
    """The patient writes a journal entry or a post-session reflection; shared with the therapist if they choose."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.REFLECTION_WRITE, record_allowed=False)
    try:
        if kind not in {k.value for k in ReflectionKind}:
            raise ValidationError({"kind": "Choose a journal entry or a reflection after a session."})
        body, prompt = _clean_reflection(body, prompt)
        if (
            dosing_session_id is not None
            and not DosingSession.objects.filter(pk=dosing_session_id, patient_id=patient_id).exists()
        ):
            raise ValidationError({"dosing_session": "That is not one of your sessions."})
    except ValidationError as exc:
        raise _refused(ctx, Action.REFLECTION_WRITE, patient_id, exc) from None
    now = timezone.now()
    with transaction.atomic():
        reflection = Reflection.objects.create(
            patient_id=patient_id,
            kind=kind,
            prompt=prompt,
            body=body,
            dosing_session_id=dosing_session_id,
            written_at=now,
            updated_at=now,
            shared_at=now if share else None,
        )
        access_event_record(
            ctx=ctx,
            action=Action.REFLECTION_WRITE,
            patient_id=patient_id,
            detail={"reflection": reflection.pk, "shared": share},
        )
    return reflection


def _own_reflection(ctx: AuditContext, reflection_id: int) -> Reflection:
    reflection = Reflection.objects.filter(pk=reflection_id).first()
    if reflection is None:
        access_event_record(
            ctx=ctx, action=Action.REFLECTION_WRITE, outcome=Outcome.NOT_FOUND, detail={"reflection": reflection_id}
        )
        raise NotFound("No such entry.")
    # A patient reaches only their own record (anyone else's is "not found"); staff never write here.
    patient_get_for_user(
        ctx=ctx, patient_id=reflection.patient_id, action=Action.REFLECTION_WRITE, record_allowed=False
    )
    return reflection


def reflection_update(*, ctx: AuditContext, reflection_id: int, body: str, prompt: str = "") -> Reflection:
    """The patient changes a private entry; a shared one stays as the therapist may have read it."""
    reflection = _own_reflection(ctx, reflection_id)
    try:
        if reflection.is_shared:
            raise Conflict("This entry is shared with your therapist; stop sharing it before changing it.")
        body, prompt = _clean_reflection(body, prompt)
    except (ValidationError, Conflict) as exc:
        raise _refused(
            ctx, Action.REFLECTION_WRITE, reflection.patient_id, exc, detail={"reflection": reflection_id}
        ) from None
    with transaction.atomic():
        reflection.body, reflection.prompt, reflection.updated_at = body, prompt, timezone.now()
        reflection.save(update_fields=["body", "prompt", "updated_at"])
        access_event_record(
            ctx=ctx,
            action=Action.REFLECTION_WRITE,
            patient_id=reflection.patient_id,
            detail={"reflection": reflection.pk, "op": "edit"},
        )
    return reflection


def reflection_share_set(*, ctx: AuditContext, reflection_id: int, shared: bool) -> Reflection:
    """The patient shares an entry with their therapist, or stops sharing it."""
    reflection = _own_reflection(ctx, reflection_id)
    with transaction.atomic():
        if shared and reflection.shared_at is None:
            reflection.shared_at = timezone.now()
        elif not shared:
            reflection.shared_at = None
        reflection.save(update_fields=["shared_at"])
        access_event_record(
            ctx=ctx,
            action=Action.REFLECTION_WRITE,
            patient_id=reflection.patient_id,
            detail={"reflection": reflection.pk, "op": "share" if shared else "unshare"},
        )
    return reflection


# --- goals ----------------------------------------------------------------------------------------------


def goal_progress_record(
    *,
    ctx: AuditContext,
    patient_id: int,
    goal_index: int,
    level: str,
    comment: str = "",
    note_id: int | None = None,
) -> GoalProgress:
    """Record progress on one goal of the patient's signed plan, at an integration session (append-only)."""
    patient_get_for_user(ctx=ctx, patient_id=patient_id, action=Action.GOAL_PROGRESS, record_allowed=False)
    plan = current_plan(patient_id)
    comment = (comment or "").strip()
    errors: dict[str, str] = {}
    goals = list(plan.goals) if plan is not None else []
    if plan is None:
        errors["goal"] = "The patient has no signed treatment plan with goals yet."
    elif not 0 <= goal_index < len(goals):
        errors["goal"] = "The plan has no such goal."
    if level not in {p.value for p in ProgressLevel}:
        errors["level"] = "Choose how the goal has moved."
    if len(comment) > REASON_MAX:
        errors["comment"] = f"Keep the comment under {REASON_MAX:,} characters."
    if (
        note_id is not None
        and not TherapyNote.objects.filter(
            pk=note_id, patient_id=patient_id, author=ctx.user, kind=NoteKind.INTEGRATION
        ).exists()
    ):
        errors["note"] = "Progress is recorded with one of your integration notes for this patient."
    if errors:
        raise _refused(ctx, Action.GOAL_PROGRESS, patient_id, ValidationError(errors))
    assert plan is not None
    with transaction.atomic():
        progress = GoalProgress.objects.create(
            patient_id=patient_id,
            plan=plan,
            goal_index=goal_index,
            goal_text=str(goals[goal_index])[:300],
            level=level,
            comment=comment,
            note_id=note_id,
            recorded_by=ctx.user,
        )
        access_event_record(
            ctx=ctx,
            action=Action.GOAL_PROGRESS,
            patient_id=patient_id,
            detail={"plan": plan.pk, "goal": goal_index, "level": level, "note": note_id},
        )
    return progress

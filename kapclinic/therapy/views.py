"""Therapy pages: a patient's notes, the note screen (autosaved draft, signing, addenda, co-signature,
shares, the patient's shared reflections and goals beside an integration note), search, and the
patient's journal in the portal. Thin: every rule is in services.py and selectors.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.web import (
    current_user,
    not_found,
    refusal_text,
    refusals_as_plain_pages,
    refused_status,
    submitted,
)
from kapclinic.audit.context import AuditContext
from kapclinic.dosing.models import DosingSession
from kapclinic.errors import AccessDenied, NotFound
from kapclinic.measures.selectors import open_safety_flags_for_patient
from kapclinic.patients.access import portal_patient_id
from kapclinic.patients.models import Patient
from kapclinic.patients.pages import refusals_as_pages
from kapclinic.patients.printing import not_printable_as_page, printed_pdf_response
from kapclinic.patients.selectors import chart_header
from kapclinic.roles import Action, Role, may
from kapclinic.therapy import selectors, services
from kapclinic.therapy.forms import (
    AddendumForm,
    CosignForm,
    GoalProgressForm,
    NoteForm,
    NoteNewForm,
    NoteShareForm,
    ReflectionForm,
)
from kapclinic.therapy.kinds import KIND_LABELS, PROMPT_TEXT, SECTIONS, NoteKind
from kapclinic.therapy.models import Reflection, TherapyNote

# Kinds offered as "new note" buttons, in pathway order; process notes last and marked private.
NEW_NOTE_KINDS = [NoteKind.PREPARATION, NoteKind.IN_SESSION, NoteKind.INTEGRATION, NoteKind.THERAPY, NoteKind.PROCESS]
BESIDE_LIMIT = 10  # shared reflections shown beside an integration note


def _banner(user_role: str, patient: Patient) -> dict[str, Any]:
    """What chart/_banner.html shows beside identity (three queries)."""
    return {
        "header": chart_header(patient=patient),
        "safety_flags": open_safety_flags_for_patient(patient_id=patient.pk)
        if may(user_role, Action.MEASURE_VIEW)
        else [],
    }


# --- a patient's notes ----------------------------------------------------------------------------------


@login_required
@refusals_as_pages
def patient_notes(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's therapy notes the user may see, by kind; new-note buttons; shared reflections; goals."""
    user = current_user(request)
    if user.role == Role.PATIENT:
        return redirect("journal:home")
    ctx = AuditContext.from_request(request)
    kind = request.GET.get("kind", "")
    kind = kind if kind in services.NOTE_KINDS else ""
    found = selectors.patient_notes_for_user(ctx=ctx, patient_id=patient_id, kind=kind or None)
    reflections: list[Reflection] = []
    if may(user.role, Action.REFLECTION_VIEW):
        try:
            reflections = selectors.reflections_for_patient(ctx=ctx, patient_id=patient_id, limit=BESIDE_LIMIT)
        except AccessDenied:  # a side panel, not the page: the notes show without it
            reflections = []
    kinds = [(k, KIND_LABELS[k]) for k in NEW_NOTE_KINDS]
    return render(
        request,
        "therapy/patient_notes.html",
        {
            "patient": found.access.patient,
            "access": found.access,
            **_banner(user.role, found.access.patient),
            "notes": found.notes,
            "kind": kind,
            "kinds": kinds,
            "new_kinds": [(k, label) for k, label in kinds if may(user.role, services.write_action(k))],
            "reflections": reflections,
            "show_reflections": may(user.role, Action.REFLECTION_VIEW),
            "goals": selectors.goals_for_patient(patient_id=patient_id) if may(user.role, Action.PLAN_VIEW) else None,
            "prompt_text": PROMPT_TEXT,
        },
    )


@login_required
@require_POST
@refusals_as_pages
def note_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Start a draft of the chosen kind and open it (it exists from now on: nothing typed is lost)."""
    form = NoteNewForm(request.POST)
    note = submitted(
        form,
        lambda: services.note_draft_create(
            ctx=AuditContext.from_request(request),
            patient_id=patient_id,
            kind=form.cleaned_data["kind"],
            values=form.values(),
        ),
    )
    if note is None:
        # The buttons are bare (the notes page, the therapist's home): the refusal goes back as a message.
        messages.error(request, refusal_text(form))
        return redirect("therapy:patient_notes", patient_id=patient_id)
    return redirect("therapy:note", note_id=note.pk)


@login_required
@require_POST
@refusals_as_pages
def in_session_note(request: HttpRequest, session_id: int) -> HttpResponse:
    """From the dosing session screen: open the user's in-session (guiding) note for the session."""
    note = services.in_session_note_start(ctx=AuditContext.from_request(request), session_id=session_id)
    return redirect("therapy:note", note_id=note.pk)


# --- one note -------------------------------------------------------------------------------------------


def _note_form(detail: selectors.NoteDetail, data: Any = None) -> NoteForm:
    return _note_form_for(detail.note, data)


def _note_form_for(note: TherapyNote, data: Any = None) -> NoteForm:
    sessions = list(DosingSession.objects.filter(patient_id=note.patient_id).order_by("scheduled_for", "id"))
    cosigners = list(selectors.cosigners_for(note.author))
    return NoteForm(data, note=note, sessions=sessions, cosigners=cosigners)


def _note_context(
    request: HttpRequest, ctx: AuditContext, detail: selectors.NoteDetail, **extra: Any
) -> dict[str, Any]:
    note = detail.note
    user = current_user(request)
    beside = note.kind == NoteKind.INTEGRATION and detail.is_author
    reflections: list[Reflection] = []
    if beside and may(user.role, Action.REFLECTION_VIEW):
        try:
            reflections = selectors.reflections_for_patient(ctx=ctx, patient_id=note.patient_id, limit=BESIDE_LIMIT)
        except AccessDenied:  # a side panel, not the page: the note shows without it
            reflections = []
    goals = selectors.goals_for_patient(patient_id=note.patient_id) if beside else None
    context: dict[str, Any] = {
        "detail": detail,
        "note": note,
        "patient": note.patient,
        "access": detail.access,
        **_banner(user.role, note.patient),
        "sections": [
            (s.label, note.sections.get(s.key, "")) for s in SECTIONS[NoteKind(note.kind)] if note.sections.get(s.key)
        ],
        "beside": beside,
        "reflections": reflections,
        "goals": goals,
        "can_record_progress": beside and may(user.role, Action.GOAL_PROGRESS),
        "progress_form": GoalProgressForm(),
        "prompt_text": PROMPT_TEXT,
        "share_candidates": list(selectors.share_candidates_for(user)) if detail.can_share else [],
    }
    if detail.can_edit and "form" not in extra:
        context["form"] = _note_form(detail)
    if detail.can_amend and "addendum_form" not in extra:
        context["addendum_form"] = AddendumForm()
    if detail.can_cosign and "cosign_form" not in extra:
        context["cosign_form"] = CosignForm(auto_id="cosign-%s")
    if detail.can_share and "share_form" not in extra:
        context["share_form"] = NoteShareForm(auto_id="share-%s")
    context.update(extra)
    return context


def _open(request: HttpRequest, note_id: int) -> tuple[AuditContext, selectors.NoteDetail]:
    """The note the user may see (the read is audited); a refusal is answered by `refusals_as_pages`."""
    ctx = AuditContext.from_request(request)
    return ctx, selectors.note_get_for_user(ctx=ctx, note_id=note_id)


@login_required
@refusals_as_pages
def note_detail(request: HttpRequest, note_id: int) -> HttpResponse:
    """The note screen. A draft is a form that saves itself as the author types (and on "Save draft")."""
    ctx, detail = _open(request, note_id)
    if request.method == "POST":
        if not detail.can_edit:
            return _conflict_page(request, ctx, detail)
        form = _note_form(detail, request.POST)
        saved = submitted(
            form,
            lambda: services.note_draft_update(
                ctx=ctx, note_id=note_id, values=form.values(), version=form.cleaned_data["version"]
            ),
        )
        if saved is not None:
            messages.success(request, "The draft was saved.")
            return redirect("therapy:note", note_id=note_id)
        return _refused_page(request, ctx, detail, form, shown_as="form")
    return render(request, "therapy/note.html", _note_context(request, ctx, detail))


@login_required
@refusals_as_pages
@not_printable_as_page
def note_pdf(request: HttpRequest, note_id: int) -> HttpResponse:
    """The signed note as a PDF (a draft is refused with the reason; a process note prints for its author only)."""
    ctx = AuditContext.from_request(request)
    detail = selectors.note_for_print(ctx=ctx, note_id=note_id)
    note = detail.note
    sections = [(s.label, note.sections[s.key]) for s in SECTIONS[NoteKind(note.kind)] if note.sections.get(s.key)]
    return printed_pdf_response(
        request,
        ctx=ctx,
        patient=note.patient,
        what="therapy_note",
        record_id=note.pk,
        title=f"Therapy note: {note.get_kind_display()}",
        template="therapy/note_print.html",
        context={"note": note, "detail": detail, "sections": sections},
        emergency=detail.access.emergency,
    )


def _refused_page(
    request: HttpRequest,
    ctx: AuditContext,
    detail: selectors.NoteDetail,
    form: forms.BaseForm,
    *,
    shown_as: str | None = None,
) -> HttpResponse:
    """The note screen again after a refusal: the form shown as `shown_as` keeps what was typed, with the
    reason beside its field; a refusal whose form the screen does not show is a message at the top."""
    extra: dict[str, Any] = {}
    if shown_as:
        extra[shown_as] = form
    else:
        messages.error(request, refusal_text(form))
    context = _note_context(request, ctx, detail, **extra)
    return render(request, "therapy/note.html", context, status=refused_status(form))


def _conflict_page(request: HttpRequest, ctx: AuditContext, detail: selectors.NoteDetail) -> HttpResponse:
    """A signed note was posted to as if it were a draft: say so, change nothing (the service audits)."""
    refused = forms.Form(request.POST)
    if submitted(refused, lambda: services.note_draft_update(ctx=ctx, note_id=detail.note.pk, values={})) is not None:
        return redirect("therapy:note", note_id=detail.note.pk)  # not reached: the note cannot be edited
    return _refused_page(request, ctx, detail, refused)


@login_required
@require_POST
def note_autosave(request: HttpRequest, note_id: int) -> HttpResponse:
    """Save the draft as the author types (htmx every second of quiet, and a beacon when the page closes).

    Answers the status line; the new version rides along out of band so the next save is not stale.
    """
    ctx = AuditContext.from_request(request)
    # Not `note_get_for_user`: that audits a read, and this runs every second of typing. The service checks
    # the author, the care team and the signature, and audits the write (or its refusal).
    note = TherapyNote.objects.select_related("author").filter(pk=note_id).first()
    if note is None:
        return _autosave_status(request, "This note no longer exists.", status=404)
    form = _note_form_for(note, request.POST)
    if not form.is_valid():
        problems = "; ".join(
            f"{form[f].label if f in form.fields else 'Form'}: {' '.join(str(m) for m in e)}"
            for f, e in form.errors.items()
        )
        return _autosave_status(request, f"Not saved yet: {problems}", status=422)
    try:
        saved = submitted(
            form,
            lambda: services.note_draft_update(
                ctx=ctx, note_id=note_id, values=form.values(), version=form.cleaned_data["version"]
            ),
        )
    except AccessDenied as exc:  # the status line inside the note screen says so, not a whole 403 page
        return _autosave_status(request, exc.message, status=403)
    if saved is None:
        return _autosave_status(request, f"Not saved: {refusal_text(form)}", status=refused_status(form))
    return _autosave_status(
        request, f"Draft saved at {timezone.localtime(saved.updated_at):%H:%M:%S}.", version=saved.version
    )


def _autosave_status(
    request: HttpRequest, message: str, *, status: int = 200, version: int | None = None
) -> HttpResponse:
    return render(
        request,
        "therapy/_autosave_status.html",
        {"message": message, "ok": status == 200, "version": version},
        status=status,
    )


@login_required
@require_POST
@refusals_as_pages
def note_sign(request: HttpRequest, note_id: int) -> HttpResponse:
    """Sign the draft (saving what the form holds first): from now on only addenda."""
    ctx, detail = _open(request, note_id)
    form: forms.BaseForm = forms.Form(request.POST)
    if detail.can_edit and "version" in request.POST:
        draft = _note_form(detail, request.POST)
        saved = submitted(
            draft,
            lambda: services.note_draft_update(
                ctx=ctx, note_id=note_id, values=draft.values(), version=draft.cleaned_data["version"]
            ),
        )
        if saved is None:
            return _refused_page(request, ctx, detail, draft, shown_as="form")
        # Saved: the form shown again if signing is refused carries the new version, so the next save is not stale.
        data = request.POST.copy()
        data["version"] = str(saved.version)
        form = _note_form_for(saved, data)
    if submitted(form, lambda: services.note_sign(ctx=ctx, note_id=note_id)) is None:
        return _refused_page(request, ctx, detail, form, shown_as="form" if isinstance(form, NoteForm) else None)
    messages.success(request, "The note is signed. Any later change is an addendum.")
    return redirect("therapy:note", note_id=note_id)


@login_required
@require_POST
@refusals_as_pages
def note_addendum(request: HttpRequest, note_id: int) -> HttpResponse:
    ctx, detail = _open(request, note_id)
    form = AddendumForm(request.POST)
    added = submitted(
        form,
        lambda: services.note_addendum_add(
            ctx=ctx, note_id=note_id, body=form.cleaned_data["body"], reason=form.cleaned_data["reason"]
        ),
    )
    if added is None:
        return _refused_page(request, ctx, detail, form, shown_as="addendum_form" if detail.can_amend else None)
    messages.success(request, "The addendum was added beneath the note.")
    return redirect("therapy:note", note_id=note_id)


@login_required
@require_POST
@refusals_as_pages
def note_cosign(request: HttpRequest, note_id: int) -> HttpResponse:
    ctx, detail = _open(request, note_id)
    form = CosignForm(request.POST, auto_id="cosign-%s")
    cosigned = submitted(
        form, lambda: services.note_cosign(ctx=ctx, note_id=note_id, comment=form.cleaned_data["comment"])
    )
    if cosigned is None:
        return _refused_page(request, ctx, detail, form, shown_as="cosign_form" if detail.can_cosign else None)
    messages.success(request, "You co-signed the note.")
    return redirect("therapy:note", note_id=note_id)


@login_required
@require_POST
@refusals_as_pages
def note_shares(request: HttpRequest, note_id: int) -> HttpResponse:
    """Share the author's process note with a colleague, or stop sharing it."""
    ctx = AuditContext.from_request(request)
    form = NoteShareForm(request.POST, auto_id="share-%s")
    if not form.is_valid():
        # No colleague chosen (the page's list always has one): no service has checked who may see the note
        # yet, so the note screen says so after its own check.
        messages.error(request, refusal_text(form))
        return redirect("therapy:note", note_id=note_id)
    try:
        changed = submitted(
            form,
            lambda: (services.note_unshare if form.unshare else services.note_share)(
                ctx=ctx, note_id=note_id, user_id=form.cleaned_data["user"]
            ),
        )
    except NotFound as exc:  # a share that is not there (stopped in another tab): about the share, not the note
        form.add_error("user", exc.message)
        changed = None
    if changed is None:
        ctx, detail = _open(request, note_id)
        return _refused_page(request, ctx, detail, form, shown_as="share_form" if detail.can_share else None)
    if form.unshare:
        messages.success(request, "The note is no longer shared with them.")
    else:
        messages.success(request, "The note is shared; they can read it (not change it).")
    return redirect("therapy:note", note_id=note_id)


@login_required
@require_POST
@refusals_as_pages
def note_goal_progress(request: HttpRequest, note_id: int) -> HttpResponse:
    """Record progress on a goal from the integration note screen (htmx: the goals panel is redrawn)."""
    ctx, detail = _open(request, note_id)
    form = GoalProgressForm(request.POST)
    parsed = form.is_valid()
    recorded = submitted(
        form,
        lambda: services.goal_progress_record(
            ctx=ctx,
            patient_id=detail.note.patient_id,
            goal_index=form.cleaned_data["goal_index"],
            level=form.cleaned_data["level"],
            comment=form.cleaned_data["comment"],
            note_id=note_id,
        ),
    )
    error = "" if recorded is not None else refusal_text(form) if parsed else "Choose the goal and how it has moved."
    if request.htmx:  # type: ignore[attr-defined]
        context = _note_context(request, ctx, detail, goals_error=error)
        return render(request, "therapy/_goals_panel.html", context, status=refused_status(form) if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Progress recorded.")
    return redirect("therapy:note", note_id=note_id)


# --- search ---------------------------------------------------------------------------------------------


@login_required
@refusals_as_plain_pages
def search(request: HttpRequest) -> HttpResponse:
    """Search your own notes and your patients' shared reflections."""
    query = request.GET.get("q", "").strip()[:200]
    results = selectors.therapy_search(ctx=AuditContext.from_request(request), query=query)
    return render(request, "therapy/search.html", {"results": results, "q": query, "prompt_text": PROMPT_TEXT})


# --- the patient's journal (portal) ------------------------------------------------------------------------


@login_required
@refusals_as_plain_pages
def journal(request: HttpRequest) -> HttpResponse:
    """The patient's journal: write (with an optional prompt), choose what to share, read back over time."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    ctx = AuditContext.from_request(request)
    form = ReflectionForm(request.POST or None, initial={"prompt": request.GET.get("prompt", "")})
    status = 200
    if request.method == "POST":
        written = submitted(
            form,
            lambda: services.reflection_write(
                ctx=ctx,
                patient_id=patient_id,
                body=form.cleaned_data["body"],
                kind=form.cleaned_data["kind"],
                prompt=form.cleaned_data["prompt"],
                share=form.cleaned_data["share"],
                dosing_session_id=_session_choice(request, patient_id),
            ),
        )
        if written is not None:
            shared = form.cleaned_data["share"]
            messages.success(
                request, "Saved and shared with your therapist." if shared else "Saved. Only you can see it."
            )
            return redirect("journal:home")
        status = refused_status(form)
    entries = selectors.reflections_for_patient(ctx=ctx, patient_id=patient_id, limit=200)
    sessions = list(
        DosingSession.objects.filter(patient_id=patient_id, scheduled_for__lte=timezone.now()).order_by(
            "-scheduled_for"
        )[:10]
    )
    return render(
        request,
        "therapy/journal.html",
        {
            "form": form,
            "entries": entries,
            "sessions": sessions,
            "goals": selectors.goals_for_patient(patient_id=patient_id),
            "prompt_text": PROMPT_TEXT,
        },
        status=status,
    )


def _session_choice(request: HttpRequest, patient_id: int) -> int | None:
    raw = request.POST.get("dosing_session", "")
    return int(raw) if raw.isdigit() else None


@login_required
@refusals_as_plain_pages
def journal_entry(request: HttpRequest, reflection_id: int) -> HttpResponse:
    """Change a private entry."""
    patient_id = portal_patient_id(current_user(request))
    if patient_id is None:
        return redirect("home:home")
    entry = Reflection.objects.filter(pk=reflection_id, patient_id=patient_id).first()
    if entry is None:
        return not_found(request, "There is no such entry.")
    form = ReflectionForm(
        request.POST or None,
        initial={"kind": entry.kind, "prompt": entry.prompt, "body": entry.body, "share": entry.is_shared},
    )
    status = 200
    if request.method == "POST":
        saved = submitted(
            form,
            lambda: services.reflection_update(
                ctx=AuditContext.from_request(request),
                reflection_id=reflection_id,
                body=form.cleaned_data["body"],
                prompt=form.cleaned_data["prompt"],
            ),
        )
        if saved is not None:
            messages.success(request, "Your entry was saved.")
            return redirect("journal:home")
        status = refused_status(form)
    return render(
        request, "therapy/journal_entry.html", {"form": form, "entry": entry, "prompt_text": PROMPT_TEXT}, status=status
    )


@login_required
@require_POST
def journal_share(request: HttpRequest, reflection_id: int) -> HttpResponse:
    """Share an entry with the therapist, or stop sharing it."""
    if portal_patient_id(current_user(request)) is None:
        return redirect("home:home")
    shared = request.POST.get("shared") == "1"
    try:
        services.reflection_share_set(
            ctx=AuditContext.from_request(request), reflection_id=reflection_id, shared=shared
        )
    except (NotFound, AccessDenied):  # someone else's entry is answered as a missing one: nothing to learn
        return not_found(request, "There is no such entry.")
    messages.success(request, "Shared with your therapist." if shared else "No longer shared. Only you can see it.")
    return redirect("journal:home")

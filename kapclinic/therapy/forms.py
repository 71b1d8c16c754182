"""Forms of the therapy pages. Text lengths are checked by the services (so an over-long entry is audited);
the widgets carry `maxlength` so a browser stops the typing first."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.dosing.models import DosingSession
from kapclinic.therapy.kinds import (
    ADDENDUM_MAX,
    BODY_MAX,
    MINUTES_MAX,
    PROGRESS_LABELS,
    PROMPTS,
    REASON_MAX,
    REFLECTION_MAX,
    SECTION_MAX,
    SECTIONS,
    Modality,
    NoteKind,
    ReflectionKind,
)
from kapclinic.therapy.models import TherapyNote

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _textarea(limit: int, rows: int = 4, **attrs: Any) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "maxlength": limit, **attrs})


class NoteForm(forms.Form):
    """A draft note: time, modality, duration, session, co-signer, the kind's template fields and free text."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    occurred_at = forms.DateTimeField(
        label="Session date and time",
        input_formats=[DATETIME_LOCAL],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    modality = forms.ChoiceField(label="Modality", choices=[(m.value, m.label) for m in Modality])
    minutes = forms.IntegerField(
        label="Duration (minutes)",
        required=False,
        min_value=1,
        max_value=MINUTES_MAX,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    dosing_session = forms.TypedChoiceField(label="Dosing session", required=False, coerce=int, empty_value=None)
    cosigner = forms.TypedChoiceField(
        label="Co-signer (supervisor)",
        required=False,
        coerce=int,
        empty_value=None,
        help_text="Trainees: the supervisor who co-signs this note after you sign it.",
    )

    def __init__(
        self,
        *args: Any,
        note: TherapyNote,
        sessions: list[DosingSession],
        cosigners: list[User],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "initial",
            {
                "version": note.version,
                "occurred_at": timezone.localtime(note.occurred_at).strftime(DATETIME_LOCAL),
                "modality": note.modality,
                "minutes": note.minutes,
                "dosing_session": note.dosing_session_id,
                "cosigner": note.cosigner_id,
                "body": note.body,
                **{key: note.sections.get(key, "") for key in (s.key for s in SECTIONS[NoteKind(note.kind)])},
            },
        )
        super().__init__(*args, **kwargs)
        self.kind = NoteKind(note.kind)
        session_field = self.fields["dosing_session"]
        assert isinstance(session_field, forms.ChoiceField)
        session_field.choices = [("", "— none —")] + [
            (s.pk, f"Session {s.number}, {timezone.localtime(s.scheduled_for):%b %-d, %Y}") for s in sessions
        ]
        cosigner_field = self.fields["cosigner"]
        assert isinstance(cosigner_field, forms.ChoiceField)
        cosigner_field.choices = [("", "— no co-signature needed —")] + [
            (u.pk, f"{u.display_name} ({u.get_role_display()})") for u in cosigners
        ]
        for section in SECTIONS[self.kind]:
            self.fields[section.key] = forms.CharField(
                label=section.label, required=False, help_text=section.hint, widget=_textarea(SECTION_MAX)
            )
        self.fields["body"] = forms.CharField(
            label="Note" if self.kind is NoteKind.PROCESS else "Free text",
            required=False,
            strip=False,
            widget=_textarea(BODY_MAX, rows=8 if self.kind is NoteKind.PROCESS else 5),
            help_text="Visible only to you and the colleagues you share it with."
            if self.kind is NoteKind.PROCESS
            else "Anything the template does not cover.",
        )

    @property
    def section_fields(self) -> list[forms.BoundField]:
        return [self[s.key] for s in SECTIONS[self.kind]]

    def values(self) -> dict[str, Any]:
        """The service's values from the cleaned form."""
        data = self.cleaned_data
        return {
            "occurred_at": data["occurred_at"],
            "modality": data["modality"],
            "minutes": data.get("minutes"),
            "dosing_session": data.get("dosing_session"),
            "cosigner": data.get("cosigner"),
            "body": data.get("body", ""),
            "sections": {s.key: data.get(s.key, "") for s in SECTIONS[self.kind]},
        }


class AddendumForm(forms.Form):
    reason = forms.CharField(
        label="Why is the note being amended?",
        required=False,
        widget=forms.TextInput(attrs={"maxlength": REASON_MAX}),
        help_text="e.g. late information, a correction, a clarification.",
    )
    body = forms.CharField(label="Addendum", required=False, widget=_textarea(ADDENDUM_MAX))


class GoalProgressForm(forms.Form):
    goal_index = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    level = forms.ChoiceField(label="Progress", choices=[(k.value, v) for k, v in PROGRESS_LABELS.items()])
    comment = forms.CharField(label="In the patient's words (optional)", required=False)


class ReflectionForm(forms.Form):
    """The patient's journal entry or post-session reflection."""

    kind = forms.ChoiceField(
        label="What are you writing?",
        choices=[(k.value, k.label) for k in ReflectionKind],
        widget=forms.RadioSelect,
        initial=ReflectionKind.JOURNAL.value,
    )
    prompt = forms.ChoiceField(
        label="A question to start from (optional)",
        required=False,
        choices=[("", "No prompt: just write")] + [(p.key, p.text) for p in PROMPTS],
    )
    body = forms.CharField(
        label="Your entry",
        required=False,
        widget=_textarea(REFLECTION_MAX, rows=8),
        help_text=f"Up to {REFLECTION_MAX:,} characters.",
    )
    share = forms.BooleanField(label="Share this with my therapist", required=False)


class NoteNewForm(forms.Form):
    """The "new note" buttons. The kind is checked by the service, which records a refused kind in the audit log."""

    kind = forms.CharField(required=False)
    dosing_session = forms.CharField(required=False)

    def values(self) -> dict[str, Any]:
        session = self.cleaned_data["dosing_session"]
        return {"dosing_session": session} if session else {}


class CosignForm(forms.Form):
    comment = forms.CharField(
        label="Comment (optional)", required=False, widget=forms.TextInput(attrs={"maxlength": REASON_MAX})
    )


class NoteShareForm(forms.Form):
    """Share a process note with a colleague ("share"), or stop sharing it ("unshare")."""

    op = forms.CharField(required=False)
    user = forms.IntegerField(
        label="Share with", error_messages={"required": "Choose a colleague.", "invalid": "Choose a colleague."}
    )

    @property
    def unshare(self) -> bool:
        return bool(self.cleaned_data["op"] == "unshare")

"""Forms of the portal's booking and reminder pages; the services check the values (so a refusal is audited)."""

from __future__ import annotations

from django import forms

from kapclinic.clinical.reminders import Channel
from kapclinic.reminders.models import NOTE_MAX


class ConfirmForm(forms.Form):
    """The confirm button: nothing to type; its refusals (a booking no longer ahead) show at the top."""


class RescheduleForm(ConfirmForm):
    note = forms.CharField(
        label="Anything the clinic should know (optional)",
        required=False,
        widget=forms.TextInput(attrs={"maxlength": NOTE_MAX}),
        help_text=f"e.g. the days or times that suit you. Up to {NOTE_MAX} characters. Not for medical questions.",
    )


class PreferenceForm(forms.Form):
    channel = forms.ChoiceField(label="How should reminders reach you?", widget=forms.RadioSelect)
    name_visit = forms.BooleanField(
        label="Say what kind of visit it is (for example \u201cintegration session\u201d)",
        required=False,
        help_text="Off: a reminder says only where and when, in case someone else sees it.",
    )

    def __init__(self, *args: object, sms: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["channel"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(c.value, c.label) for c in Channel if sms or c is not Channel.SMS]

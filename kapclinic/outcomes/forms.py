"""The clinician's answer to a prompt."""

from __future__ import annotations

from django import forms

from kapclinic.outcomes.models import PromptChoice


class PromptActionForm(forms.Form):
    choice = forms.ChoiceField(label="What will you do?", choices=PromptChoice.choices, widget=forms.RadioSelect)
    reason = forms.CharField(
        label="Why",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="On the record with your name and the time; the prompt is cleared.",
    )

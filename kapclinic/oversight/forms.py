"""The director's review of an emergency access."""

from __future__ import annotations

from django import forms


class EmergencyReviewForm(forms.Form):
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

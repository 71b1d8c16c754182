"""The clinician's answer to a prompt."""

from __future__ import annotations

from typing import Any

from django import forms

from kapclinic.clinical.instruments import INSTRUMENTS
from kapclinic.dosing.models import Route
from kapclinic.outcomes.courses import JUDGED
from kapclinic.outcomes.models import PromptChoice


class PromptActionForm(forms.Form):
    choice = forms.ChoiceField(label="What will you do?", choices=PromptChoice.choices, widget=forms.RadioSelect)
    reason = forms.CharField(
        label="Why",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="On the record with your name and the time; the prompt is cleared.",
    )


ROUTE_CHOICES = list(Route.choices)
INSTRUMENT_CHOICES = [(code, INSTRUMENTS[code].name) for code in JUDGED]

GROUPINGS = (
    ("month", "Start month"),
    ("indication", "Indication"),
    ("route", "Route"),
    ("prescriber", "Prescriber"),
)


class CohortFilterForm(forms.Form):
    """The dashboard's filters: every field optional; an empty result says "no patients"."""

    start_from = forms.DateField(
        label="First dose from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    start_to = forms.DateField(label="First dose to", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    route = forms.ChoiceField(label="Route", required=False, choices=[("", "Every route"), *ROUTE_CHOICES])
    indication = forms.CharField(
        label="Indication (ICD-10-CM)", required=False, max_length=10, help_text="A code or its start, e.g. F33"
    )
    clinician = forms.TypedChoiceField(label="Clinician", required=False, coerce=int, empty_value=None, choices=())
    group = forms.ChoiceField(label="Cohorts by", required=False, choices=GROUPINGS, initial="month")
    instrument = forms.ChoiceField(
        label="Measure",
        required=False,
        choices=INSTRUMENT_CHOICES,
        help_text="Each by its own definitions of response and remission",
    )

    def __init__(self, *args: Any, clinicians: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinician"].choices = [("", "Every clinician"), *clinicians]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        low, high = cleaned.get("start_from"), cleaned.get("start_to")
        if low and high and high < low:
            self.add_error("start_to", "The end of the period cannot come before its start.")
        return cleaned


class OverdueFilterForm(forms.Form):
    """Which overdue patients to list: one clinician's, at one point of the schedule (both optional)."""

    clinician = forms.TypedChoiceField(label="Clinician", required=False, coerce=int, empty_value=None, choices=())
    point = forms.ChoiceField(label="Schedule point", required=False, choices=())

    def __init__(self, *args: Any, clinicians: list[tuple[int, str]], points: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinician"].choices = [("", "Every clinician"), *clinicians]  # type: ignore[attr-defined]
        self.fields["point"].choices = [("", "Every point"), *((p, p) for p in points)]  # type: ignore[attr-defined]


class ReferrerReportForm(forms.Form):
    addressed_to = forms.CharField(
        label="For", max_length=200, help_text="The referring clinician and practice, as the letter is addressed"
    )
    plan_ahead = forms.CharField(
        label="Plan ahead",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What happens next: booster or maintenance sessions, integration, follow-up measures",
    )

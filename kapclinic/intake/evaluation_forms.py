"""The evaluation page's form, built from the engine's snapshot fields (the field list is written once)."""

from __future__ import annotations

from typing import Any

from django import forms

from kapclinic.clinical.eligibility import PLAUSIBLE_RANGES
from kapclinic.intake.evaluation_fields import (
    ANSWER_ITEMS,
    LIST_FIELDS,
    RECORDED_FIELDS,
    _allowed_literals,
    stored_value_problems,
)

YES_NO = [("", "Unknown / not asked"), ("yes", "Yes"), ("no", "No")]


# Labels a generated one would get wrong ("Phq9 item9", "Bp rise hazard"); the rest come from the field name.
LABELS = {
    "phq9_item9": "PHQ-9 item 9 (thoughts of self-harm)",
    "cssrs_risk": "C-SSRS screener risk",
    "bp_rise_hazard": "Condition where a rise in blood pressure is a serious hazard",
    "systolic_bp": "Systolic blood pressure",
    "diastolic_bp": "Diastolic blood pressure",
    "bmi": "BMI",
}
# Shown with "nothing known" boxes: an empty list (none) is not the same as not asked.
NONE_KNOWN = {"allergies": "No known drug allergies", "medications": "Takes no medications"}
_UNIT_SUFFIXES = ("_cm", "_kg", "_mmhg", "_bpm")


def _label(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    for suffix in _UNIT_SUFFIXES:
        name = name.removesuffix(suffix)
    return name.replace("_", " ").capitalize()


def _number(value: object) -> object:
    """118.0 shows as 118."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class EvaluationForm(forms.Form):
    """One field per recorded snapshot field, of the field's own type, so a saved value reads back as entered.

    Prior treatment trials have their own table (TrialFormSet). A stored value that cannot be read is shown
    as unknown, with a note under the field saying so (intake.evaluation_fields.stored_value_problems).
    """

    def __init__(self, *args: Any, data_in: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = data_in or {}
        unreadable = stored_value_problems(stored)
        current = {name: value for name, value in stored.items() if name not in unreadable}
        for name in RECORDED_FIELDS:
            if name == "prior_trials":
                continue
            value = current.get(name)
            field: forms.Field
            if name in ANSWER_ITEMS:
                item = ANSWER_ITEMS[name]
                field = forms.TypedChoiceField(
                    label=_label(name),
                    required=False,
                    coerce=int,
                    empty_value=None,
                    choices=[("", "Unknown / not asked")]
                    + [(str(o.value), f"{o.value}: {o.text}") for o in item.options],
                    initial="" if value is None else str(value),
                )
            elif name in LIST_FIELDS:
                field = forms.CharField(
                    label=_label(name)
                    + (" (ICD-10-CM codes, one per line)" if name == "diagnoses" else " (one per line)"),
                    required=False,
                    widget=forms.Textarea(attrs={"rows": 3}),
                    initial="\n".join(value or []),
                )
            elif name in PLAUSIBLE_RANGES:
                field = forms.FloatField(
                    label=f"{_label(name)} ({PLAUSIBLE_RANGES[name][2]})", required=False, initial=_number(value)
                )
            elif (choices := _allowed_literals(name)) is not None:
                field = forms.ChoiceField(
                    label=_label(name),
                    required=False,
                    choices=[("", "Unknown / not asked")]
                    + [(c, str(c).replace("_", " ").capitalize()) for c in choices],
                    initial=value or "",
                )
            elif name == "contraception":
                field = forms.CharField(label=_label(name), required=False, initial=value or "")
            else:
                initial = "" if value is None else "yes" if value else "no"
                field = forms.ChoiceField(label=_label(name), required=False, choices=YES_NO, initial=initial)
            if name in unreadable:
                field.help_text = unreadable[name]
            self.fields[name] = field
            if name in NONE_KNOWN:
                self.fields[f"{name}_none"] = forms.BooleanField(
                    label=NONE_KNOWN[name], required=False, initial=value == []
                )

    def values(self) -> dict[str, Any]:
        """Return the answers as the service takes them (unknown = None)."""
        out: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if name.endswith("_none"):
                continue
            if name in NONE_KNOWN and self.cleaned_data.get(f"{name}_none") and not value:
                out[name] = []
            elif name in LIST_FIELDS:
                out[name] = [line.strip() for line in str(value).splitlines() if line.strip()] if value else None
            elif name in PLAUSIBLE_RANGES or name in ANSWER_ITEMS:
                out[name] = value
            elif isinstance(self.fields[name], forms.ChoiceField) and set(dict(YES_NO)) == {
                c[0]
                for c in self.fields[name].choices  # type: ignore[attr-defined]
            }:
                out[name] = None if value == "" else value == "yes"
            else:
                out[name] = value or None
        return out


TRIAL_RESPONSES = [
    ("", "Not recorded"),
    ("none", "No response"),
    ("partial", "Partial response"),
    ("response", "Response"),
    ("remission", "Remission"),
    ("not_tolerated", "Stopped: not tolerated"),
]


class TrialForm(forms.Form):
    """One prior treatment trial; treatment resistance is derived from these (eligibility.treatment_resistance)."""

    drug = forms.CharField(label="Drug", max_length=100, required=False)
    dose = forms.CharField(label="Dose", max_length=60, required=False, help_text="e.g. 200 mg/day")
    duration_weeks = forms.FloatField(label="Weeks", min_value=0, max_value=520, required=False)
    response = forms.ChoiceField(label="Response", choices=TRIAL_RESPONSES, required=False)
    adequate_dose = forms.ChoiceField(label="Adequate dose?", choices=YES_NO, required=False)
    current_episode = forms.ChoiceField(label="Current episode?", choices=YES_NO, required=False)

    def trial(self) -> dict[str, Any] | None:
        """The trial as the evaluation stores it, or None for an empty row."""
        data = self.cleaned_data
        if not data.get("drug"):
            return None
        return {
            "drug": data["drug"].strip(),
            "dose": data.get("dose") or None,
            "duration_weeks": data.get("duration_weeks"),
            "response": data.get("response") or None,
            "adequate_dose": None if not data.get("adequate_dose") else data["adequate_dose"] == "yes",
            "current_episode": None if not data.get("current_episode") else data["current_episode"] == "yes",
        }


TrialFormSet = forms.formset_factory(TrialForm, extra=2, max_num=20)


def trial_initial(trials: object) -> list[dict[str, Any]]:
    """The stored trials as the table's initial rows; a stored value that is not a list of trials shows none."""

    def yn(value: object) -> str:
        return "" if value is None else "yes" if value else "no"

    if not isinstance(trials, list) or not all(isinstance(t, dict) for t in trials):
        return []

    return [
        {
            **t,
            "dose": t.get("dose") or "",
            "response": t.get("response") or "",
            "adequate_dose": yn(t.get("adequate_dose")),
            "current_episode": yn(t.get("current_episode")),
        }
        for t in trials or []
    ]

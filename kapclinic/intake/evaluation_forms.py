"""The evaluation page's form, built from the engine's snapshot fields (the field list is written once)."""

from __future__ import annotations

from typing import Any

from django import forms

from kapclinic.clinical.eligibility import PLAUSIBLE_RANGES
from kapclinic.intake.eligibility import RECORDED_FIELDS, _allowed_literals

LIST_FIELDS = ("diagnoses", "medications", "allergies")
YES_NO = [("", "Unknown / not asked"), ("yes", "Yes"), ("no", "No")]


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


class EvaluationForm(forms.Form):
    """One field per recorded snapshot field; prior treatment trials are entered through the API for now."""

    def __init__(self, *args: Any, data_in: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = data_in or {}
        for name in RECORDED_FIELDS:
            if name == "prior_trials":
                continue
            value = current.get(name)
            field: forms.Field
            if name in LIST_FIELDS:
                field = forms.CharField(
                    label=_label(name)
                    + (" (ICD-10-CM codes, one per line)" if name == "diagnoses" else " (one per line)"),
                    required=False,
                    widget=forms.Textarea(attrs={"rows": 3}),
                    initial="\n".join(value or []),
                )
            elif name in PLAUSIBLE_RANGES:
                field = forms.FloatField(
                    label=f"{_label(name)} ({PLAUSIBLE_RANGES[name][2]})", required=False, initial=value
                )
            elif (choices := _allowed_literals(name)) is not None:
                field = forms.ChoiceField(
                    label=_label(name),
                    required=False,
                    choices=[("", "Unknown / not asked")] + [(c, c) for c in choices],
                    initial=value or "",
                )
            elif name == "contraception":
                field = forms.CharField(label=_label(name), required=False, initial=value or "")
            else:
                initial = "" if value is None else "yes" if value else "no"
                field = forms.ChoiceField(label=_label(name), required=False, choices=YES_NO, initial=initial)
            self.fields[name] = field

    def values(self) -> dict[str, Any]:
        """Return the answers as the service takes them (unknown = None)."""
        out: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if name in LIST_FIELDS:
                out[name] = [line.strip() for line in str(value).splitlines() if line.strip()] if value else None
            elif name in PLAUSIBLE_RANGES:
                out[name] = value
            elif isinstance(self.fields[name], forms.ChoiceField) and set(dict(YES_NO)) == {
                c[0]
                for c in self.fields[name].choices  # type: ignore[attr-defined]
            }:
                out[name] = None if value == "" else value == "yes"
            else:
                out[name] = value or None
        return out

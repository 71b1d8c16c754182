"""What an evaluation records, field by field, and how a value is checked: read from the eligibility snapshot's
own type hints, so the field list is written once (the rules are in kapclinic/clinical/eligibility/). No
database: the services check what is typed with it and the selectors read what is stored."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from kapclinic.clinical.eligibility import (
    PLAUSIBLE_RANGES,
    EvaluationSnapshot,
    TreatmentTrial,
    TrialResponse,
)
from kapclinic.clinical.icd10 import is_icd10_cm
from kapclinic.clinical.instruments import PHQ9, Item

# Taken from the patient record and the questionnaires, not typed into the evaluation.
DERIVED = {"age", "sex_at_birth", "baseline_scores"}
_HINTS = typing.get_type_hints(EvaluationSnapshot)
_TRIAL_FIELDS = {f.name for f in dataclasses.fields(TreatmentTrial)}
RECORDED_FIELDS = tuple(f.name for f in dataclasses.fields(EvaluationSnapshot) if f.name not in DERIVED)
LIST_FIELDS = ("diagnoses", "medications", "allergies")
# Fields that record one instrument item's answer: the answer's value, with the instrument's own answer texts.
# PHQ-9 item 9 is 0-3 (instruments.md PHQ-9), never yes/no: a "No" was once stored as the text "False".
ANSWER_ITEMS: dict[str, Item] = {"phq9_item9": PHQ9.item("9")}


_RESPONSES = typing.get_args(TrialResponse)


def _trial(trial: Mapping[str, Any]) -> dict[str, Any]:
    """One prior trial with each field of the type the rules read; a wrong one is a clear error, not a crash later."""
    drug = trial.get("drug")
    if not isinstance(drug, str) or not drug.strip():
        raise ValueError("Each prior trial needs the drug's name.")
    clean: dict[str, Any] = {"drug": drug.strip()[:100]}
    dose = trial.get("dose")
    if dose is not None and not isinstance(dose, str):
        raise ValueError(f'Trial of {drug}: the dose is text, e.g. "200 mg/day".')
    clean["dose"] = dose.strip()[:60] if isinstance(dose, str) and dose.strip() else None
    weeks = trial.get("duration_weeks")
    if weeks is not None and (isinstance(weeks, bool) or not isinstance(weeks, int | float) or not 0 <= weeks <= 520):
        raise ValueError(f"Trial of {drug}: the duration is a number of weeks from 0 to 520.")
    clean["duration_weeks"] = weeks
    response = trial.get("response")
    if response is not None and response not in _RESPONSES:
        raise ValueError(f"Trial of {drug}: the response is one of {', '.join(_RESPONSES)}.")
    clean["response"] = response
    for flag in ("adequate_dose", "current_episode", "antidepressant"):
        value = trial.get(flag)
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"Trial of {drug}: {flag.replace('_', ' ')} is true, false or null.")
        if flag in trial:
            clean[flag] = value
    return clean


def _allowed_literals(name: str) -> tuple[object, ...] | None:
    for arg in typing.get_args(_HINTS[name]):
        if typing.get_origin(arg) is typing.Literal:
            return typing.get_args(arg)
    return None


def _check(name: str, value: Any) -> Any:
    """Return the value as the snapshot wants it, or raise ValueError with a clear message."""
    if value is None:
        return None
    if name == "diagnoses":
        if not isinstance(value, list | tuple) or not all(isinstance(code, str) for code in value):
            raise ValueError("A list of ICD-10-CM codes (an empty list: none).")
        codes = [str(code).strip().upper() for code in value if str(code).strip()]
        unknown = [code for code in codes if not is_icd10_cm(code)]
        if unknown:
            raise ValueError(f"Not an ICD-10-CM code: {', '.join(unknown)}.")
        return codes
    if name == "prior_trials":
        trials = []
        for trial in value:
            if not isinstance(trial, Mapping) or not trial.get("drug"):
                raise ValueError("Each prior trial needs at least the drug.")
            extra = set(trial) - _TRIAL_FIELDS
            if extra:
                raise ValueError(f"Unknown trial fields: {', '.join(sorted(extra))}.")
            trials.append(_trial(trial))
        return trials
    if name in ("medications", "allergies"):
        if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
            raise ValueError("A list of names, one per entry (an empty list: none known).")
        return [item.strip()[:200] for item in value if item.strip()]
    if name in ANSWER_ITEMS:
        item = ANSWER_ITEMS[name]
        if isinstance(value, bool) or not isinstance(value, int) or value not in item.allowed:
            answers = ", ".join(f"{o.value} ({o.text.lower()})" for o in item.options)
            raise ValueError(f"Answer with one of {answers}.")
        return value
    if name in PLAUSIBLE_RANGES:
        low, high, unit = PLAUSIBLE_RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"Enter a number in {unit}.")
        number = float(value)
        if not low <= number <= high:
            raise ValueError(f"{number:g} {unit} is outside {low:g} to {high:g} {unit}; check the value.")
        return number
    literals = _allowed_literals(name)
    if literals is not None:
        if value not in literals:
            raise ValueError(f"Choose one of: {', '.join(str(v) for v in literals)}.")
        return value
    if "bool" in str(_HINTS[name]):
        if not isinstance(value, bool):
            raise ValueError("Answer yes (true), no (false) or leave it unknown (null).")
        return value
    if not isinstance(value, str):
        raise ValueError("Enter text.")
    return value[:200]


def stored_value_problems(data: Mapping[str, Any]) -> dict[str, str]:
    """Return the stored evaluation fields that cannot be read, each with why (none for a sound evaluation).

    A value written by an older version, a script or an import must never make a page fail: it is read as
    "not recorded", so the rules that need it ask for it, and the form says it could not be read.
    """
    problems: dict[str, str] = {}
    for name in RECORDED_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        try:
            if name == "diagnoses":
                # The code list was checked when saved; a read only checks the shape (no 3 s code-list load).
                if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
                    raise ValueError("not a list of codes")
            else:
                _check(name, value)
        except (ValueError, TypeError) as exc:
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            problems[name] = f"The stored value {shown} could not be read ({exc}): enter it again."
    return problems


def evaluation_validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return the cleaned evaluation data; every bad field is reported at once."""
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name not in RECORDED_FIELDS:
            errors[name] = "This is not part of the evaluation."
            continue
        try:
            cleaned[name] = _check(name, value)
        except (ValueError, TypeError) as exc:
            errors[name] = str(exc) if isinstance(exc, ValueError) else "This value has the wrong form."
    if errors:
        raise ValidationError(errors)
    return cleaned

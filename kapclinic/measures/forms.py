"""Measures forms: they parse what was typed; the services decide what is allowed (the same rules as the API)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django import forms

from kapclinic.accounts.web import submitted
from kapclinic.audit.context import AuditContext
from kapclinic.clinical.instruments import Instrument, Item
from kapclinic.measures import services
from kapclinic.measures.models import QuestionnaireResponse

# The questionnaires the chart offers to schedule (measures/_chart_outcomes.html).
STANDARD_MEASURES = [("phq9", "PHQ-9"), ("gad7", "GAD-7"), ("pcl5", "PCL-5"), ("auditc", "AUDIT-C")]


@dataclass(frozen=True)
class QuestionField:
    item: Item
    number: int
    value: int | None

    @property
    def name(self) -> str:
        return self.item.id

    @property
    def is_scale(self) -> bool:
        return not self.item.options


def question_fields(instrument: Instrument, values: dict[str, object]) -> list[QuestionField]:
    return [
        QuestionField(item=item, number=n, value=v if isinstance(v := values.get(item.id), int) else None)
        for n, item in enumerate(instrument.items, start=1)
    ]


class QuestionnaireForm(forms.Form):
    """A posted questionnaire: one field per item (named by item id), the version shown and the device's token.

    Every answer is taken as typed: the service refuses one out of range or not a number, in the same words as for
    the API, and audits the refusal.
    """

    version = forms.CharField(required=False)
    client_token = forms.CharField(required=False)

    def __init__(self, *args: Any, instrument: Instrument, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        for item in instrument.items:
            self.fields[item.id] = forms.CharField(required=False)

    def clean_client_token(self) -> uuid.UUID | None:
        """The token that makes a second tap on "Submit" harmless; none when missing or garbled."""
        try:
            return uuid.UUID(self.cleaned_data.get("client_token") or "")
        except ValueError:
            return None

    def answers(self) -> dict[str, object]:
        """The answers by item id: a whole number, None when skipped, or the raw text (for the service to refuse)."""
        answers: dict[str, object] = {}
        for item in self.instrument.items:
            raw = str(getattr(self, "cleaned_data", {}).get(item.id) or "")
            answers[item.id] = None if raw == "" else int(raw) if raw.lstrip("-").isdigit() and len(raw) < 7 else raw
        return answers

    def submit(self, ctx: AuditContext, patient_id: int) -> tuple[QuestionnaireResponse, bool] | None:
        """Store the answers as the patient's response (the staff's paper entry and the portal alike): the response
        and whether it is new, or None when refused (the refusal is on the form, `submitted`)."""
        return submitted(
            self,
            lambda: services.response_submit(
                ctx=ctx,
                patient_id=patient_id,
                instrument_code=self.instrument.code,
                answers=self.answers(),
                version=self.cleaned_data["version"] or None,
                client_token=self.cleaned_data["client_token"],
            ),
        )

    def problems(self) -> list[str]:
        """Every refusal in words, for the summary above the questions."""
        return [str(error) for errors in self.errors.values() for error in errors]


class StandardMeasures(forms.MultipleChoiceField):
    """The questionnaires ticked, as posted: the service checks each code."""

    def valid_value(self, value: Any) -> bool:
        return True


class ScheduleForm(forms.Form):
    """Schedule the standard measures: baseline, end of course, and follow-ups after it."""

    instruments = StandardMeasures(
        label="Questionnaires", choices=STANDARD_MEASURES, required=False, widget=forms.CheckboxSelectMultiple
    )
    baseline_on = forms.DateField(
        label="Baseline",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Enter the baseline date.", "invalid": "Enter the baseline date."},
    )
    course_end_on = forms.DateField(
        label="End of course",
        help_text="Follow-ups are set 1, 3 and 6 months after it.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Enter the end-of-course date.", "invalid": "Enter the end-of-course date."},
    )


class AcknowledgeForm(forms.Form):
    """Close a safety flag with the action taken (the service asks for one)."""

    action_taken = forms.CharField(label="Action taken", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    next = forms.CharField(required=False, widget=forms.HiddenInput)

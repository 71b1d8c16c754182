"""Forms of the claim and remittance pages: they parse what was typed; the services check the values (a refusal is
audited and lands next to its field)."""

from __future__ import annotations

from django import forms

from kapclinic.billing.models import REASON_MAX
from kapclinic.clinical.claims import MAX_LINES


class ClaimNewForm(forms.Form):
    lines = forms.TypedMultipleChoiceField(
        label="Approved lines to claim",
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose the approved lines to claim."},
    )

    def __init__(self, *args: object, line_ids: list[int] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["lines"]
        assert isinstance(field, forms.TypedMultipleChoiceField)
        field.choices = [(i, str(i)) for i in (line_ids or [])]

    def clean_lines(self) -> list[int]:
        chosen: list[int] = self.cleaned_data["lines"]
        if len(chosen) > MAX_LINES:
            raise forms.ValidationError(f"One claim holds at most {MAX_LINES} lines.")
        return chosen


class SubmittedForm(forms.Form):
    confirm = forms.BooleanField(
        label="This claim was sent to the clearinghouse (its 837P file); marking it cannot be undone.",
        error_messages={"required": "Tick the box to confirm, then mark it submitted."},
    )


class DeniedForm(forms.Form):
    reason = forms.CharField(
        label="The payer's reason for the denial", max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )
    confirm = forms.BooleanField(
        label="The payer denied this claim; marking it cannot be undone.",
        error_messages={"required": "Tick the box to confirm, then mark it denied."},
    )


class ResubmitForm(forms.Form):
    reason = forms.CharField(
        label="What the resubmission corrects", max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )
    confirm = forms.BooleanField(
        label="Replace this claim by a new one (frequency 7) with its lines; this claim is then closed.",
        error_messages={"required": "Tick the box to confirm, then resubmit."},
    )


class RemittanceForm(forms.Form):
    file = forms.FileField(label="835 remittance file", help_text="The ERA file the payer or clearinghouse sent.")

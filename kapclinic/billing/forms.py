"""Forms of the billing pages: they parse what was typed; the services check the values (so a refusal is
audited and lands next to its field)."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from kapclinic.billing.models import NAME_MAX, REASON_MAX, CoverageRank, Payer, Relationship
from kapclinic.clinical.billing import EsketamineScheme


class PayerForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX)
    payer_id = forms.CharField(label="Payer id", max_length=80, required=False, help_text="The electronic payer id.")
    in_network = forms.BooleanField(label="In network for this clinic", required=False)
    esketamine_scheme = forms.ChoiceField(
        label="How it pays a Spravato session",
        choices=[
            (EsketamineScheme.VISIT_CODE.value, "G2082/G2083 visit code"),
            (EsketamineScheme.DRUG_PER_MG.value, "Drug per mg (J0013) beside a visit"),
        ],
    )


class FeeForm(forms.Form):
    code = forms.CharField(label="Code (CPT/HCPCS)", max_length=5)
    price = forms.DecimalField(
        label="Price per unit ($)", min_value=Decimal(0), max_digits=9, decimal_places=2, help_text="e.g. 250.00"
    )
    effective_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))

    def price_cents(self) -> int:
        return int(self.cleaned_data["price"] * 100)


class CoverageForm(forms.Form):
    rank = forms.ChoiceField(choices=CoverageRank.choices)
    self_pay = forms.BooleanField(label="Self-pay (no insurer)", required=False)
    payer = forms.ModelChoiceField(queryset=Payer.objects.none(), required=False, empty_label="(self-pay)")
    member_id = forms.CharField(label="Member id", max_length=80, required=False)
    group_number = forms.CharField(label="Group number", max_length=80, required=False)
    subscriber_name = forms.CharField(
        label="Subscriber", max_length=200, required=False, help_text="Blank when the patient is the subscriber."
    )
    subscriber_birth_date = forms.DateField(
        label="Subscriber's date of birth", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    relationship = forms.ChoiceField(label="Patient's relationship to the subscriber", choices=Relationship.choices)
    effective_from = forms.DateField(label="In force from", widget=forms.DateInput(attrs={"type": "date"}))
    effective_to = forms.DateField(
        label="In force through", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["payer"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Payer.objects.filter(active=True)


class CoverageEndForm(forms.Form):
    coverage = forms.IntegerField(widget=forms.HiddenInput)
    last_day = forms.DateField(label="Last day in force", widget=forms.DateInput(attrs={"type": "date"}))


class ApproveForm(forms.Form):
    confirm = forms.BooleanField(
        label="I checked this line against the record; approving cannot be undone (a later fix is a new line).",
        error_messages={"required": "Tick the box to confirm, then approve."},
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Why is the line rejected?", max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )


class CorrectForm(forms.Form):
    code = forms.CharField(max_length=5)
    units = forms.IntegerField(min_value=1, max_value=999)
    modifiers = forms.CharField(max_length=20, required=False, help_text="Separated by spaces, e.g. 95")
    place_of_service = forms.ChoiceField(
        label="Place of service",
        choices=[("11", "11 office"), ("02", "02 telehealth, not at home"), ("10", "10 telehealth at home")],
    )
    diagnoses = forms.CharField(
        label="Diagnoses (ICD-10-CM)", max_length=100, help_text="Separated by spaces, in order"
    )
    reason = forms.CharField(label="What the correction changes and why", max_length=REASON_MAX)

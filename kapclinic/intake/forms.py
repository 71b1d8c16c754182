from __future__ import annotations

from django import forms

from kapclinic.intake.models import Inquiry, InquirySource
from kapclinic.intake.services import INQUIRY_FIELDS
from kapclinic.patients.models import SexAtBirth

FIELDS = list(INQUIRY_FIELDS)


class InquiryForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Inquiry
        fields = FIELDS
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "phone": forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
            "reason": forms.Textarea(attrs={"rows": 4}),
        }
        labels = {
            "consent_to_contact": "The clinic may contact me by phone or email",
            "reason": "What brings you to us",
            "referral_source": "How you heard of us, or who referred you",
        }
        help_texts = {"phone": "A phone number or an email address is needed."}

    def _post_clean(self) -> None:
        # The service validates (one place for the public form, staff entry and the API).
        pass


class PublicInquiryForm(InquiryForm):
    # Honeypot: hidden from people, filled by bots. A filled one is dropped silently.
    website = forms.CharField(required=False, label="Leave this empty")


class StaffInquiryForm(InquiryForm):
    source = forms.ChoiceField(choices=[c for c in InquirySource.choices if c[0] != InquirySource.WEB])
    field_order = ["source", *FIELDS]


class ConvertForm(forms.Form):
    birth_date = forms.DateField(
        label="Date of birth", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    sex_at_birth = forms.ChoiceField(
        label="Sex at birth", choices=SexAtBirth.choices, initial=SexAtBirth.UNKNOWN, required=False
    )
    allow_duplicate = forms.BooleanField(
        required=False, label="I checked: this is a different person from the possible duplicates shown."
    )


class InquiryStatusForm(forms.Form):
    """Mark an inquiry contacted, or close it with a reason (the service checks both)."""

    status = forms.CharField(max_length=40, required=False)
    closed_reason = forms.CharField(label="Close because", required=False)


class DecisionForm(forms.Form):
    """The prescriber's eligibility decision (the service checks it against the findings)."""

    decision = forms.CharField(max_length=40, required=False)
    reason = forms.CharField(label="Reason", required=False)
    # The evaluation's E/M level, signed with the decision (optional; billing reads it).
    em_code = forms.CharField(label="E/M level", max_length=5, required=False)
    em_basis = forms.CharField(label="Chosen by", max_length=4, required=False)
    em_minutes = forms.IntegerField(label="Total minutes on the day", required=False, min_value=1, max_value=1440)

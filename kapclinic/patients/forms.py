from __future__ import annotations

from typing import Any

from django import forms

from kapclinic.patients.models import CareTeamRole, Patient
from kapclinic.patients.services import CONTACT_FIELDS, DEMOGRAPHIC_FIELDS

_AUTOCOMPLETE = {
    "given_name": "off",
    "family_name": "off",
    "phone": "off",
    "email": "off",
}


class PatientForm(forms.ModelForm):  # type: ignore[type-arg]
    """Registration and demographics; the service validates again, so the API gets the same rules."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Patient
        fields = list(DEMOGRAPHIC_FIELDS)
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "phone": forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
            "emergency_contact_phone": forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
        }
        help_texts = {
            "phone": "10 digits, or + and the country code.",
            "pronouns": "e.g. she/her, he/him, they/them",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, value in _AUTOCOMPLETE.items():
            if name in self.fields:
                self.fields[name].widget.attrs.setdefault("autocomplete", value)

    def _post_clean(self) -> None:
        # Model validation runs in the service (one place for pages and API); skip the form's copy.
        pass

    def values(self) -> dict[str, object]:
        return {name: self.cleaned_data[name] for name in self._meta.fields or []}


class ContactForm(PatientForm):
    class Meta(PatientForm.Meta):
        fields = list(CONTACT_FIELDS)


class DuplicateConfirmForm(forms.Form):
    confirm_not_duplicate = forms.BooleanField(
        required=False, label="I checked: this is a different person. Register them anyway."
    )


class EmergencyAccessForm(forms.Form):
    reason = forms.CharField(
        min_length=10,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Clinical reason for emergency access",
        help_text="Recorded in the audit log and reviewed by the clinic director.",
    )


class CareTeamForm(forms.Form):
    role = forms.ChoiceField(choices=CareTeamRole.choices)
    user = forms.IntegerField(required=False)


class PatientSearchForm(forms.Form):
    """The patient list's search box and page number; a page number that is not one shows the first page."""

    q = forms.CharField(required=False, strip=True)
    page = forms.IntegerField(required=False, min_value=1)

    def query(self) -> str:
        self.is_valid()
        return str(self.cleaned_data.get("q") or "")[:100]

    def page_number(self) -> int:
        self.is_valid()
        return int(self.cleaned_data.get("page") or 1)


class PortalAccountForm(forms.Form):
    """The username of the patient's portal login; the service checks it is given and free."""

    username = forms.CharField(required=False)

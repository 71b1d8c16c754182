from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from kapclinic.accounts.models import User
from kapclinic.accounts.services import password_check
from kapclinic.accounts.smart import smart_client_accounts
from kapclinic.roles import Role


class SignInForm(AuthenticationForm):
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"})
    )

    def clean(self) -> dict[str, Any]:
        """Check the password through the one throttled, audited door (as the API token and the witness do)."""
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password and self.request is not None:
            check = password_check(self.request, username=username, password=password, purpose="sign_in")
            if check.user is None:
                raise self.get_invalid_login_error()
            self.user_cache = check.user
            self.confirm_login_allowed(check.user)
        return self.cleaned_data


class OneTimeCodeForm(forms.Form):
    code = forms.CharField(
        label="6-digit code from your authenticator app",
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]{6}", "autofocus": True}
        ),
    )


STAFF_ROLE_CHOICES = [(r.value, r.label) for r in Role if r is not Role.PATIENT]


class StaffUserForm(forms.Form):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES)
    licence_type = forms.CharField(max_length=40, required=False, help_text="e.g. MD, NP, RN")
    licence_number = forms.CharField(max_length=40, required=False)
    password = forms.CharField(
        label="Temporary password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters; the user chooses their own at first sign-in.",
    )

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that username already exists.")
        return username


class PasswordResetByDirectorForm(forms.Form):
    new_password = forms.CharField(
        label="Temporary password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Tell the user in person or by phone; they must change it when they sign in.",
    )


class UserActiveForm(forms.Form):
    """The staff list's Deactivate / Reactivate button: "1" reactivates, anything else deactivates."""

    active = forms.BooleanField(required=False)

    def clean_active(self) -> bool:
        return self.data.get("active") == "1"


class SmartClientForm(forms.Form):
    """A system client of the FHIR face: its public keys, the scopes it may be granted, the account it reads as."""

    name = forms.CharField(max_length=120, help_text="Who runs it and what for, e.g. 'Payer quality export'.")
    user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Reads as",
        help_text="The staff account whose role and care team bound what the client may read (a dedicated one).",
    )
    scopes = forms.CharField(
        max_length=2000,
        help_text="SMART v2 system scopes, space-separated, e.g. system/Patient.rs system/Observation.rs",
    )
    jwks = forms.CharField(
        label="Public keys (JWK Set)",
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        help_text='Paste the JSON: {"keys": [...]}, RSA (RS384) or EC P-384 (ES384) public keys, each with a kid.',
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = smart_client_accounts()  # type: ignore[attr-defined]

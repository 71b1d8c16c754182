"""The prior-authorisation form: it parses what was typed; the service checks the values (a refusal is audited and
lands next to its field, the typed values kept)."""

from __future__ import annotations

from django import forms

from kapclinic.billing.models import REASON_MAX, AuthorisedFor, Payer


class AuthorisationForm(forms.Form):
    payer = forms.ModelChoiceField(queryset=Payer.objects.filter(active=True), empty_label="— payer —")
    covers = forms.ChoiceField(label="Covers", choices=AuthorisedFor.choices)
    code = forms.CharField(
        label="Code (when it covers a code)", max_length=5, required=False, help_text="CPT or HCPCS, e.g. G2083."
    )
    number = forms.CharField(label="Authorisation number", max_length=50)
    approved_units = forms.IntegerField(label="Approved sessions or units", min_value=1, max_value=999)
    effective_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    effective_to = forms.DateField(label="Through", widget=forms.DateInput(attrs={"type": "date"}))
    replaces = forms.IntegerField(label="Replaces (an earlier authorisation)", required=False, widget=forms.Select)
    note = forms.CharField(
        label="Note", max_length=REASON_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: object, replaceable: list[tuple[int, str]] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        widget = self.fields["replaces"].widget
        assert isinstance(widget, forms.Select)
        widget.choices = [("", "— none —"), *(replaceable or [])]

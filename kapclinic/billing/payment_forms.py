"""Forms of the money pages: they parse what was typed (dollars to cents, never through float); the services check
the values against the account, so a refusal is audited and lands next to its field."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from kapclinic.billing.models import NAME_MAX, REASON_MAX, MoneyKind, Payer, PaymentMethod
from kapclinic.clinical.money import cents_from_text

KINDS_ON_THE_PAGE = [
    (MoneyKind.PAYMENT.value, "Payment received"),
    (MoneyKind.REFUND.value, "Refund given back"),
    (MoneyKind.WRITE_OFF.value, "Write-off"),
]
# An insurance adjustment comes with a remittance (835), recorded through POST /api/v1/payments.


class AmountField(forms.Field):
    """Dollars as typed ("80", "1,234.50") to integer cents."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "maxlength": "16", "autocomplete": "off"})

    def to_python(self, value: Any) -> int | None:
        text = str(value or "").strip()
        if not text:
            return None
        cents = cents_from_text(text)
        if cents is None:
            raise forms.ValidationError("Give the amount in dollars and cents, e.g. 125.00.")
        return cents


class MoneyForm(forms.Form):
    kind = forms.ChoiceField(label="What happened", choices=KINDS_ON_THE_PAGE, widget=forms.RadioSelect)
    amount = AmountField(label="Amount ($)", help_text="e.g. 125.00")
    method = forms.ChoiceField(
        label="How the money moved",
        required=False,
        choices=[("", "(not for a write-off)"), *PaymentMethod.choices],
    )
    reference = forms.CharField(
        label="Reference",
        max_length=80,
        required=False,
        help_text="The card terminal's reference, or the check number.",
    )
    payer = forms.ModelChoiceField(
        label="Payer (an insurance payment)", queryset=Payer.objects.none(), required=False, empty_label="(none)"
    )
    apply_to = forms.ChoiceField(label="Apply to", required=False)
    received_on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(
        label="Reason",
        max_length=REASON_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed for a write-off.",
    )
    keep_as_credit = forms.BooleanField(label="Keep what is over the balance as the patient's credit", required=False)
    confirm = forms.BooleanField(
        label="I checked the amount: a refund or a write-off is not undone (a later fix is a correcting entry).",
        required=False,
    )

    def __init__(self, *args: Any, targets: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["apply_to"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "The account (no one line)"), *targets]
        payer = self.fields["payer"]
        assert isinstance(payer, forms.ModelChoiceField)
        payer.queryset = Payer.objects.filter(active=True)
        if not self.is_bound:
            self.initial.setdefault("received_on", timezone.localdate())
            self.initial.setdefault("kind", MoneyKind.PAYMENT.value)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") in (MoneyKind.REFUND, MoneyKind.WRITE_OFF) and not data.get("confirm"):
            self.add_error("confirm", "Tick the box to confirm the refund or write-off.")
        return data

    def target(self) -> tuple[int | None, int | None]:
        """(line id, purchase id) chosen in "Apply to"."""
        chosen = self.cleaned_data.get("apply_to") or ""
        kind, _, pk = chosen.partition(":")
        if not pk.isdigit():
            return None, None
        return (int(pk), None) if kind == "line" else (None, int(pk))


class PackageForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX, help_text="e.g. Six IV sessions with integration")
    description = forms.CharField(
        label="What it includes", max_length=REASON_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    sessions = forms.IntegerField(label="Dosing sessions included", min_value=1, max_value=52)
    price = AmountField(label="Price ($)", help_text="e.g. 4500.00")
    effective_from = forms.DateField(label="Offered from", widget=forms.DateInput(attrs={"type": "date"}))
    effective_to = forms.DateField(
        label="Offered through", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class SellForm(forms.Form):
    package = forms.ChoiceField(label="Package")
    bought_on = forms.DateField(label="Bought on", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, packages: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["package"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "(choose)"), *packages]
        if not self.is_bound:
            self.initial.setdefault("bought_on", timezone.localdate())


class PeriodForm(forms.Form):
    """A superbill's period (GET ?from=&to=)."""

    first = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label="Through", widget=forms.DateInput(attrs={"type": "date"}))

    @staticmethod
    def from_query(query: Any, default_first: date, default_last: date) -> PeriodForm:
        return PeriodForm({"first": query.get("from") or default_first, "last": query.get("to") or default_last})


class CorrectEntryForm(forms.Form):
    """A correction of an entry: a new entry with the right amount (0 voids it), pointing at the one it replaces."""

    entry = forms.ChoiceField(label="Entry to correct")
    amount = AmountField(label="Right amount ($)", help_text="0.00 voids the entry (e.g. a check that bounced).")
    reason = forms.CharField(label="What the correction changes and why", max_length=REASON_MAX)
    confirm = forms.BooleanField(
        label="I checked it: the entry stays in the ledger, marked as corrected by this one.",
        error_messages={"required": "Tick the box to confirm the correction."},
    )

    def __init__(self, *args: Any, entries: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["entry"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "(choose)"), *entries]

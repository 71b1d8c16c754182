from __future__ import annotations

from typing import Any

from django import forms

from kapclinic.clinical.ledger import EntryKind
from kapclinic.ledger.models import (
    BusinessTime,
    CountKind,
    LossReportKind,
    Lot,
    Product,
    ProductUnit,
    StorageLocation,
)
from kapclinic.ledger.services import DIRECT_KINDS

UNIT_CHOICES = [("mg", "mg"), *ProductUnit.choices]


def _lot_choices() -> list[tuple[int | str, str]]:
    return [("", "— choose a lot —")] + [(lot.pk, str(lot)) for lot in Lot.objects.select_related("product")]


def _location_choices() -> list[tuple[int | str, str]]:
    return [("", "— choose —")] + [(loc.pk, loc.name) for loc in StorageLocation.objects.filter(active=True)]


class _Quantity(forms.Form):
    quantity = forms.DecimalField(
        max_digits=12, decimal_places=3, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    unit = forms.ChoiceField(choices=UNIT_CHOICES, initial="mL")


class ReceiveForm(_Quantity):
    product = forms.ModelChoiceField(queryset=Product.objects.filter(active=True))
    lot_number = forms.CharField(max_length=40)
    expires_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    supplier_name = forms.CharField(max_length=120)
    supplier_address = forms.CharField(max_length=200, required=False)
    supplier_dea_number = forms.CharField(label="Supplier DEA number", max_length=9, required=False)
    invoice_reference = forms.CharField(label="Invoice or packing-slip number", max_length=60)
    received_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    location = forms.TypedChoiceField(coerce=int, choices=[])

    field_order = [
        "product",
        "lot_number",
        "expires_on",
        "quantity",
        "unit",
        "location",
        "supplier_name",
        "supplier_address",
        "supplier_dea_number",
        "invoice_reference",
        "received_on",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].choices = _location_choices()  # type: ignore[attr-defined]


class MovementForm(_Quantity):
    kind = forms.ChoiceField(choices=[(k.value, k.label) for k in DIRECT_KINDS])
    lot = forms.TypedChoiceField(coerce=int, choices=[])
    location = forms.TypedChoiceField(coerce=int, choices=[])
    patient = forms.IntegerField(required=False, help_text="Patient id, for an administration.")
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    reference = forms.CharField(required=False, max_length=80, help_text="DEA Form 106 / 41, return record")
    corrects = forms.IntegerField(required=False, label="Entry corrected (id)", help_text="For a correction.")
    witness_username = forms.CharField(
        required=False, label="Witness username", help_text="Waste and destruction: a second licensed person."
    )
    witness_password = forms.CharField(
        required=False, label="Witness password", widget=forms.PasswordInput(attrs={"autocomplete": "off"})
    )

    field_order = [
        "kind",
        "lot",
        "location",
        "quantity",
        "unit",
        "patient",
        "witness_username",
        "witness_password",
        "reason",
        "reference",
        "corrects",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lot"].choices = _lot_choices()  # type: ignore[attr-defined]
        self.fields["location"].choices = _location_choices()  # type: ignore[attr-defined]


class TransferForm(_Quantity):
    lot = forms.TypedChoiceField(coerce=int, choices=[])
    from_location = forms.TypedChoiceField(coerce=int, choices=[])
    to_location = forms.TypedChoiceField(coerce=int, choices=[])
    reason = forms.CharField(required=False, max_length=2000)

    field_order = ["lot", "from_location", "to_location", "quantity", "unit", "reason"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lot"].choices = _lot_choices()  # type: ignore[attr-defined]
        for name in ("from_location", "to_location"):
            self.fields[name].choices = _location_choices()  # type: ignore[attr-defined]


class LocationForm(forms.Form):
    name = forms.CharField(max_length=80)
    description = forms.CharField(max_length=200, required=False)


class ProductForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="e.g. Ketamine HCl injection")
    form = forms.CharField(max_length=60, help_text="e.g. multi-dose vial")
    mg_per_unit = forms.DecimalField(label="mg per unit", max_digits=9, decimal_places=3, min_value=0.001)
    unit = forms.ChoiceField(choices=ProductUnit.choices)
    units_per_container = forms.DecimalField(max_digits=9, decimal_places=3, min_value=0.001)
    ndc = forms.CharField(label="NDC", max_length=14, required=False)


ENTRY_KINDS = [(k.value, k.label) for k in EntryKind]


class CountForm(forms.Form):
    """A blind count: one quantity per lot kept at the location, never the expected figure."""

    kind = forms.ChoiceField(choices=CountKind.choices, initial=CountKind.DAILY)
    business_time = forms.ChoiceField(choices=BusinessTime.choices, initial=BusinessTime.CLOSE)
    witness_username = forms.CharField(label="Witness username", help_text="A second licensed person.")
    witness_password = forms.CharField(
        label="Witness password", widget=forms.PasswordInput(attrs={"autocomplete": "off"})
    )

    def __init__(self, *args: Any, lots: list[Lot], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lot_fields = []
        for lot in lots:
            self.fields[f"lot_{lot.pk}"] = forms.DecimalField(
                label=f"{lot.product} · lot {lot.lot_number}",
                max_digits=12,
                decimal_places=3,
                min_value=0,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            )
            self.fields[f"unit_{lot.pk}"] = forms.ChoiceField(
                label=f"Unit for lot {lot.lot_number}", choices=[(lot.product.unit, lot.product.unit), ("mg", "mg")]
            )
            self.lot_fields.append((self[f"lot_{lot.pk}"], self[f"unit_{lot.pk}"]))


class InvestigationForm(forms.Form):
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=4000, label="What was found")
    adjust_ledger = forms.BooleanField(
        required=False,
        label="Adjust the ledger to the count (writes a count-adjustment entry)",
        help_text="For theft or significant loss, record a loss entry with its DEA Form 106 reference instead.",
    )


class RegistrationForm(forms.Form):
    registrant_name = forms.CharField(max_length=200)
    dea_number = forms.CharField(label="DEA number", max_length=9)
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    schedules = forms.CharField(max_length=40, initial="3N")
    expires_on = forms.DateField(label="Registration expires", widget=forms.DateInput(attrs={"type": "date"}))


class LossReportForm(forms.Form):
    """One DEA filing of a theft or loss: the written notice or Form 106 (21 CFR 1301.76(b))."""

    kind = forms.ChoiceField(label="Filing", choices=LossReportKind.choices)
    filed_on = forms.DateField(label="Filed on", widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(
        label="Reference", max_length=80, required=False, help_text="Form 106: its confirmation number."
    )


class DispensingLogFilters(forms.Form):
    """The dispensing log's range of days (?from=&to=); blank means the report's default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword, so the fields are added here rather than declared.
        for name, label in (("from", "start date"), ("to", "end date")):
            self.fields[name] = forms.DateField(
                required=False, error_messages={"invalid": f"The {label} is not a date (YYYY-MM-DD)."}
            )


class InventoryFilters(forms.Form):
    """The inventory's moment (?date=&time=) and timing, as typed: the report reads them."""

    date = forms.CharField(required=False)
    time = forms.CharField(required=False)
    timing = forms.CharField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("time") and not data.get("date"):
            self.add_error("date", "Choose the date the time belongs to.")
        return data

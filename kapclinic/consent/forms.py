"""Consent forms: they parse what was typed; the services decide what is allowed (the same rules as the API)."""

from __future__ import annotations

from typing import Any

from django import forms

from kapclinic.consent.models import ConsentVersion

EMPTY_RISK_ROWS = 3


class PublishForm(forms.Form):
    """A new version of a consent text: title, body, key risks (one row each), what changed."""

    document = forms.SlugField(
        max_length=60,
        help_text="Which consent this is a version of. Every patient signs “kap-treatment” before dosing.",
    )
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        label="Text the patient reads",
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 18, "class": "consent-body-input"}),
        help_text="Plain text; a blank line starts a new paragraph.",
    )
    change_summary = forms.CharField(
        label="What changed since the last version",
        max_length=300,
        required=False,
        help_text="Shown in the version list, e.g. “Added the bladder risk with repeated use.”",
    )
    confirm = forms.BooleanField(
        label="I understand that a published version can never be changed or deleted; patients sign it from now on.",
    )

    def __init__(self, *args: Any, risk_rows: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.risk_rows = risk_rows + EMPTY_RISK_ROWS
        for i in range(1, self.risk_rows + 1):
            self.fields[f"risk_code_{i}"] = forms.CharField(label=f"Risk {i}: code", max_length=40, required=False)
            self.fields[f"risk_text_{i}"] = forms.CharField(
                label=f"Risk {i}: text the patient ticks",
                max_length=600,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
            )

    @classmethod
    def from_version(cls, version: ConsentVersion | None, document: str, data: Any = None) -> PublishForm:
        """Return the form prefilled with `version` (the current text), so the director edits a copy of it."""
        risks = version.risks if version else []
        initial: dict[str, Any] = {"document": document}
        if version is not None:
            initial.update(title=version.title, body=version.body)
        for i, risk in enumerate(risks, start=1):
            initial[f"risk_code_{i}"] = risk["code"]
            initial[f"risk_text_{i}"] = risk["text"]
        rows = len(risks)
        if data is not None:
            # Keep every row the director filled in (and three empty ones after them).
            filled = [int(k.rsplit("_", 1)[1]) for k, v in data.items() if _is_risk_key(k) and str(v).strip()]
            rows = max(filled, default=0)
        return cls(data, initial=initial, risk_rows=min(rows, 60))

    def risk_fields(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"risk_code_{i}"], self[f"risk_text_{i}"]) for i in range(1, self.risk_rows + 1)]

    def risks(self) -> list[dict[str, str]]:
        """The rows with anything typed in them, in order (the service checks codes and texts)."""
        rows = []
        for i in range(1, self.risk_rows + 1):
            code = self.cleaned_data.get(f"risk_code_{i}", "").strip()
            text = self.cleaned_data.get(f"risk_text_{i}", "").strip()
            if code or text:
                rows.append({"code": code, "text": text})
        return rows


def _is_risk_key(key: str) -> bool:
    head, _, number = key.rpartition("_")
    return head in ("risk_code", "risk_text") and number.isdigit()


class RiskTicks(forms.MultipleChoiceField):
    """The ticked risk codes, as posted: the service checks them against the version signed, which may be an older
    one than the form shows (the text changed while the patient read it)."""

    def valid_value(self, value: Any) -> bool:
        return True


class SignForm(forms.Form):
    """The patient's signature: each key risk ticked and the full legal name typed."""

    version_id = forms.CharField(widget=forms.HiddenInput, required=False)
    risks_acknowledged = RiskTicks(label="Key risks", required=False, widget=forms.CheckboxSelectMultiple)
    typed_name = forms.CharField(
        label="Type your full legal name to sign",
        max_length=200,
        required=False,
        help_text="Your first and last name as the clinic registered them.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "words", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, version: ConsentVersion, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"version_id": version.pk})
        super().__init__(*args, **kwargs)
        self.version = version
        # Shown above the form when the patient must start again (the text changed while they read it).
        self.notice = ""
        field = self.fields["risks_acknowledged"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(r["code"], r["text"]) for r in version.risks]

    def clean_version_id(self) -> int:
        """The version the form showed; 0, which matches none, when missing or garbled (the service says so)."""
        raw = str(self.cleaned_data.get("version_id") or "")
        return int(raw) if raw.isdigit() and len(raw) < 12 else 0


class WitnessForm(forms.Form):
    note = forms.CharField(label="Note (optional)", max_length=300, required=False)
    confirm = forms.BooleanField(
        label="I confirmed with the patient that they read and signed this consent themselves.",
        error_messages={"required": "Tick the box to confirm you checked with the patient, then witness."},
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    confirm = forms.BooleanField(
        label="I understand: withdrawing stops the treatment, and every dosing session not yet started is cancelled.",
    )

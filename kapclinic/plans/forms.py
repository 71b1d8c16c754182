"""The treatment-plan form: field validation shared by the page and the API (through the service)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from kapclinic.accounts.models import User
from kapclinic.clinical.instruments import Use, instruments_for
from kapclinic.clinical.schedule import FREQUENCIES
from kapclinic.dosing.models import EsketamineIndication, Route
from kapclinic.plans.models import TitrationKind, TreatmentPlan
from kapclinic.roles import Role

# Frequency, stored as `interval_days` (kapclinic/clinical/schedule.py FREQUENCIES).
INTERVAL_CHOICES = [(days, frequency.label) for days, frequency in FREQUENCIES.items()]


def _display_name(user: User) -> str:
    return user.display_name


class PlanForm(forms.ModelForm[TreatmentPlan]):
    dose = forms.DecimalField(
        label="Starting dose",
        min_value=Decimal("0.001"),
        max_digits=7,
        decimal_places=3,
        help_text="mg/kg for IV and IM; mg for intranasal esketamine and sublingual lozenges.",
    )
    interval_days = forms.TypedChoiceField(label="Frequency", coerce=int, choices=INTERVAL_CHOICES, initial=3)
    goals_text = forms.CharField(
        label="Goals, in the patient's words (one per line)",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=3000,
        required=False,
    )
    measures = forms.MultipleChoiceField(
        label="Questionnaires before each dosing session",
        # The instruments' own uses say which are answered before a session (kapclinic/clinical/instruments).
        choices=[(i.code, i.name) for i in instruments_for(Use.PRE_SESSION)],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=[i.code for i in instruments_for(Use.PRE_SESSION, by_default=True)],
    )

    class Meta:
        model = TreatmentPlan
        fields = [
            "indication_code",
            "indication_text",
            "route",
            "esketamine_indication",
            "dose",
            "titration",
            "titration_step",
            "titration_ceiling",
            "session_count",
            "interval_days",
            "first_session_on",
            "session_time",
            "session_minutes",
            "therapist",
            "measures",
            "notes",
        ]
        widgets = {
            "first_session_on": forms.DateInput(attrs={"type": "date"}),
            "session_time": forms.TimeInput(attrs={"type": "time"}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "titration_step": "Titration step",
            "titration_ceiling": "Titration ceiling",
            "esketamine_indication": "Esketamine indication (intranasal only)",
        }
        help_texts = {
            "esketamine_indication": "The US label doses them differently: TRD starts at 56 mg; MDSI may start at "
            "84 mg, for 4 weeks (Spravato US PI 2.1, 2.2).",
            "titration_step": "Same unit as the starting dose.",
            "titration_ceiling": "Same unit as the starting dose; never above the policy maximum.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        therapist = self.fields["therapist"]
        assert isinstance(therapist, forms.ModelChoiceField)
        therapist.queryset = User.objects.filter(role=Role.THERAPIST, is_active=True).order_by("last_name")
        self.fields["indication_code"].widget.attrs.update(
            {
                "list": "icd10-options",
                "autocomplete": "off",
                "hx-get": "/intake/icd10/",
                "hx-trigger": "input changed delay:250ms",
                "hx-target": "#icd10-options",
                "placeholder": "Type a code or words, e.g. F33 or recurrent depressive",
            }
        )
        therapist.label_from_instance = _display_name  # type: ignore[method-assign,assignment]
        self.fields["session_count"].widget.attrs.update({"min": 1, "max": 24})
        self.fields["session_minutes"].widget.attrs.update({"min": 30, "max": 480})
        route, titration = self.fields["route"], self.fields["titration"]
        assert isinstance(route, forms.ChoiceField) and isinstance(titration, forms.ChoiceField)
        route.choices = [("", "— choose —"), *Route.choices]
        indication = self.fields["esketamine_indication"]
        assert isinstance(indication, forms.ChoiceField)
        indication.choices = [("", "— intranasal esketamine only —"), *EsketamineIndication.choices]
        titration.choices = TitrationKind.choices
        titration.required = False
        if self.instance.pk:
            self.fields["dose"].initial = self.instance.starting_dose_mg_per_kg or self.instance.starting_dose_mg
            self.fields["goals_text"].initial = "\n".join(self.instance.goals)

    def clean_indication_code(self) -> str:
        return str(self.cleaned_data["indication_code"]).strip().upper()

    def clean_titration(self) -> str:
        return str(self.cleaned_data.get("titration") or TitrationKind.NONE)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("route") == Route.INTRANASAL:
            if not cleaned.get("esketamine_indication"):
                self.add_error(
                    "esketamine_indication",
                    "Choose the indication for intranasal esketamine, TRD or MDSI: the US label doses them "
                    "differently (Spravato US PI 2.1, 2.2).",
                )
        else:
            cleaned["esketamine_indication"] = ""  # only esketamine has label indications to dose by
        return cleaned

    def clean_session_count(self) -> int:
        count = int(self.cleaned_data["session_count"])
        if not 1 <= count <= 24:
            raise forms.ValidationError("A course has 1 to 24 dosing sessions.")
        return count

    def clean_session_minutes(self) -> int:
        minutes = int(self.cleaned_data["session_minutes"])
        if not 30 <= minutes <= 480:
            raise forms.ValidationError("A session lasts 30 minutes to 8 hours.")
        return minutes

    def plan_values(self) -> dict[str, Any]:
        """The cleaned values in the model's terms (dose in the route's unit, goals as a list)."""
        values = {name: self.cleaned_data[name] for name in self.Meta.fields}
        values["therapist_id"] = values.pop("therapist").pk
        values["dose"] = self.cleaned_data["dose"]
        values["goals"] = [g.strip() for g in self.cleaned_data.get("goals_text", "").splitlines() if g.strip()]
        return values


class PlanSignForm(forms.Form):
    """The prescriber's confirmation under the plan (signing is final)."""

    confirm = forms.BooleanField(
        label="I have reviewed this plan and sign it as the prescriber.",
        error_messages={"required": "Tick the confirmation to sign the plan."},
    )

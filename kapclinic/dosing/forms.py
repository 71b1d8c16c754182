"""The patient's preparation checklist (pathway stage 4)."""

from __future__ import annotations

from django import forms

from kapclinic.dosing.models import PreparationChecklist


class ChecklistForm(forms.ModelForm[PreparationChecklist]):
    class Meta:
        model = PreparationChecklist
        fields = ["fasting_since", "medications_held", "ride_name", "ride_phone", "no_driving_until_next_day"]
        widgets = {
            "fasting_since": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "ride_phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        }
        labels = {
            "fasting_since": "When did you last eat?",
            "medications_held": "I have held my medications as my prescriber instructed",
            "ride_name": "Who is driving you home?",
            "ride_phone": "Their phone number",
            "no_driving_until_next_day": "I will not drive or operate machinery until the next day, after sleep",
        }
        help_texts = {
            "fasting_since": "Clinic instructions: no solid food for 4-6 hours before a ketamine session; for "
            "esketamine nasal spray, no food for 2 hours and no liquids for 30 minutes.",
        }

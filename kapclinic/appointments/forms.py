from __future__ import annotations

from typing import Any

from django import forms

from kapclinic.accounts.models import User
from kapclinic.appointments.models import AppointmentKind, AppointmentMode, ConsultationOutcome


class BookingForm(forms.Form):
    kind = forms.ChoiceField(choices=AppointmentKind.choices, initial=AppointmentKind.CONSULTATION)
    with_user = forms.TypedChoiceField(label="With", coerce=int, choices=[])
    starts_at = forms.DateTimeField(
        label="Starts", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    minutes = forms.IntegerField(label="Length (minutes)", initial=30, min_value=10, max_value=480)
    mode = forms.ChoiceField(choices=AppointmentMode.choices, widget=forms.RadioSelect, initial=AppointmentMode.VIDEO)
    video_link = forms.URLField(required=False, assume_scheme="https", help_text="For a video appointment.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff = User.objects.filter(is_active=True).exclude(role="patient").order_by("last_name", "first_name")
        self.fields["with_user"].choices = [  # type: ignore[attr-defined]
            (u.pk, f"{u.display_name} ({u.get_role_display()})") for u in staff
        ]


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=ConsultationOutcome.choices, widget=forms.RadioSelect)
    outcome_note = forms.CharField(
        label="Note (where referred, or why declined)", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    send_pre_screen = forms.BooleanField(
        required=False, initial=True, label="Send the pre-screen questionnaires to the patient's portal"
    )

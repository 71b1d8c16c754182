"""Forms of the message pages. Lengths and emptiness are checked by the services (so a refused message is
audited); the widgets carry `maxlength` so a browser stops the typing first."""

from __future__ import annotations

from django import forms

from kapclinic.measures.services import SAFETY_REASON_MAX
from kapclinic.messaging.models import BODY_MAX, SUBJECT_MAX

BODY_HELP = f"Up to {BODY_MAX:,} characters. No attachments."


def _body_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": BODY_MAX}),
        help_text=BODY_HELP,
    )


class ReplyForm(forms.Form):
    body = _body_field("Your message")


class ThreadStartForm(forms.Form):
    """A new conversation about the patient (staff may make it staff-only)."""

    subject = forms.CharField(label="Subject", required=False, widget=forms.TextInput(attrs={"maxlength": SUBJECT_MAX}))
    body = _body_field("Message")
    staff_only = forms.BooleanField(label="Staff only: among the care team, never shown to the patient", required=False)


class PatientThreadStartForm(forms.Form):
    """The patient's new conversation with their care team."""

    subject = forms.CharField(
        label="What is it about?", required=False, widget=forms.TextInput(attrs={"maxlength": SUBJECT_MAX})
    )
    body = _body_field("Your message")


class InboxThreadStartForm(ThreadStartForm):
    """A new conversation from the inbox: the patient is chosen among the user's care-team patients."""

    patient = forms.IntegerField(label="Patient", min_value=1, max_value=2_147_483_647, widget=forms.Select)

    field_order = ["patient", "subject", "body", "staff_only"]

    def __init__(self, *args: object, patients: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["patient"].widget.choices = [("", "— choose a patient —"), *patients]


class SafetyFlagForm(forms.Form):
    reason = forms.CharField(
        label="Why does this message need a safety flag?",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": SAFETY_REASON_MAX}),
        help_text="What in it worries you. Shown with the flag on the chart until someone acknowledges it.",
    )

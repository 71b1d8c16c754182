"""The patient's preparation checklist (pathway stage 4) and the dosing session screen's steps."""

from __future__ import annotations

from typing import Any, ClassVar

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


class SessionScheduleForm(forms.Form):
    """Confirming a proposed session from the plan page: its nurse, its chair or room, its time (the proposed one
    unless changed), the version the page showed. The service says what is missing or taken."""

    nurse = forms.IntegerField(required=False, min_value=1)
    place = forms.IntegerField(required=False, min_value=1)
    starts_at = forms.DateTimeField(required=False)
    version = forms.IntegerField(required=False, min_value=0)
    # Given after a warning (a prior authorisation used up or out of its dates): why it is scheduled anyway.
    go_on_reason = forms.CharField(required=False, max_length=1000)


# The session key a refused schedule form's typed values and errors travel in to the plan page, which draws the
# form (kapclinic/plans/views.py), and the fields kept.
SCHEDULE_REFUSED = "schedule_refused"
SCHEDULE_FIELDS = ("starts_at", "place", "nurse", "go_on_reason")


# The session screen's steps (issue 14: one write-view pattern): each form parses what the nurse or prescriber
# typed and the view hands the values to the step's service, which judges them (ranges, state, safety). The
# fields are lenient on purpose: a value the service refuses is refused in the service's words, once.


class Version(forms.Field):
    """The record version the screen showed; anything but digits is no version (the step then does not check)."""

    widget = forms.HiddenInput

    def to_python(self, value: object) -> int | None:
        return int(value) if isinstance(value, str) and value.isdigit() else None


class Answer(forms.Field):
    """A yes/no question answered with radio buttons; anything else is not answered (None)."""

    def to_python(self, value: object) -> bool | None:
        return {"yes": True, "no": False}.get(value if isinstance(value, str) else "")


class Flag(forms.Field):
    """A hidden field that is on only when it says "1" (a checkbox field would read "0" as ticked)."""

    def to_python(self, value: object) -> bool:
        return value == "1"


def _text(label: str | None = None) -> forms.CharField:
    return forms.CharField(required=False, label=label)


def _number(what: str = "a number") -> forms.DecimalField:
    return forms.DecimalField(required=False, error_messages={"invalid": f"Enter {what}."})


def _whole(label: str | None = None) -> forms.IntegerField:
    return forms.IntegerField(required=False, label=label, error_messages={"invalid": "Enter a whole number."})


def _when(label: str | None = None) -> forms.DateTimeField:
    return forms.DateTimeField(required=False, label=label, error_messages={"invalid": "Enter a date and time."})


def _ticked() -> forms.BooleanField:
    return forms.BooleanField(required=False)


class StepForm(forms.Form):
    """A step's form; the page's markup names each input by its field, or by `ids` where the page says otherwise."""

    ids: ClassVar[dict[str, str]] = {}

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, auto_id="%s", **kwargs)
        for name, id_ in self.ids.items():
            self.fields[name].widget.attrs["id"] = id_


class CheckInForm(StepForm):
    version = Version(required=False)
    identity_confirmed = _ticked()
    checklist_confirmed = _ticked()
    checklist_note = _text("What is missing from the checklist")
    pregnancy_test = _text()
    weight_kg = forms.DecimalField(
        label="Today's weight (kg)",
        error_messages={"required": "Enter today's weight.", "invalid": "Enter a number."},
    )
    last_food_at = _when("Last ate")
    last_liquid_at = _when("Last drank")
    escort_confirmed = Answer(required=False)
    substances_today = Answer(required=False)
    substances_note = _text("Substances today: what and when")


class VitalsForm(StepForm):
    version = Version(required=False)
    systolic = _whole()
    diastolic = _whole()
    heart_rate = _whole()
    spo2 = _whole("SpO₂")
    respiratory_rate = _whole("Respiratory rate")
    measured_at = _when("Measured at")


class OverrideForm(StepForm):
    ids = {"reason": "override-reason"}
    version = Version(required=False)
    reason = _text()


class DoseOrderForm(StepForm):
    ids = {"indication": "order-indication", "infusion_minutes": "order-minutes", "override_reason": "order-override"}
    version = Version(required=False)
    product = _whole()
    escalate = Flag(required=False)
    indication = _text()
    infusion_minutes = _whole("Infusion over (minutes)")
    override_reason = _text("Reason to proceed despite the stop")


class AdministrationForm(StepForm):
    version = Version(required=False)
    lot = _whole()
    location = _whole()
    drawn = forms.DecimalField(error_messages={"required": "Enter a number.", "invalid": "Enter a number."})
    given = forms.DecimalField(error_messages={"required": "Enter a number.", "invalid": "Enter a number."})
    started_at = _when()
    ended_at = _when()
    infusion_rate = _number()
    short_infusion_reason = _text("Why the infusion ended early")
    witness_username = _text()
    witness_password = forms.CharField(required=False, strip=False, widget=forms.PasswordInput)


class AdvanceForm(StepForm):
    """Infusion ended (dosing to monitoring, with the reason when it ran far shorter than planned), or recovery."""

    ids = {"reason": "infusion-end-reason"}
    version = Version(required=False)
    to = _text()
    at = _when()
    reason = _text("Why it ended early")


class EventForm(StepForm):
    ids = {
        "kind": "event-kind",
        "code": "event-code",
        "severity": "event-severity",
        "value": "event-value",
        "note": "event-note",
        "occurred_at": "event-time",
    }
    kind = _text()
    code = _text()
    severity = _text()
    value = _text()
    note = _text()
    occurred_at = _when()


class AcknowledgeForm(StepForm):
    alert = _whole()
    action_taken = _text()


class DischargeForm(StepForm):
    ids = {"override_reason": "discharge-override"}
    version = Version(required=False)
    moaas = _whole("MOAA/S")
    oriented = _ticked()
    walks_steadily = _ticked()
    nausea_controlled = _ticked()
    escort_present = _ticked()
    new_suicidal_ideation = Answer(required=False)
    driver_name = _text("Who is driving the patient home")
    override_reason = _text("Reason to discharge with a criterion unmet")


class StopForm(StepForm):
    ids = {"reason": "stop-reason"}
    version = Version(required=False)
    outcome = _text()
    reason = _text()


class SignForm(StepForm):
    version = Version(required=False)


class RemsSubmissionForm(StepForm):
    reference = _text()


class AdverseEventForm(StepForm):
    ids = {
        "what": "ae-what",
        "severity": "ae-severity",
        "action": "ae-action",
        "outcome": "ae-outcome",
        "occurred_at": "ae-time",
    }
    what = _text()
    severity = _text()
    serious = _ticked()
    action = _text()
    outcome = _text()
    occurred_at = _when()


class RemsEnrollmentForm(StepForm):
    ids = {"reference": "rems-ref", "enrolled_on": "rems-date"}
    reference = _text()
    enrolled_on = forms.DateField(
        error_messages={"required": "Enter the enrollment date.", "invalid": "Enter the enrollment date."}
    )


class AdverseReviewForm(forms.Form):
    note = _text()

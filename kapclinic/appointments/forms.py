from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from kapclinic.accounts.models import User
from kapclinic.appointments.models import AppointmentKind, AppointmentMode, ConsultationOutcome, Place
from kapclinic.appointments.services import BOOKED_DIRECTLY, REASON_MAX, WHO_HOLDS, may_hold
from kapclinic.clinical.availability import LONGEST_BOOKING_MINUTES, SHORTEST_BOOKING_MINUTES


class StaffSelect(forms.Select):
    """A staff select whose options say which kinds of appointment each person holds (data-kinds), so the page
    offers only them for the chosen kind (page_behaviours.js); the service checks it again."""

    kinds_by_user: dict[str, str]

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        kinds = getattr(self, "kinds_by_user", {}).get(str(value))
        if kinds:
            option["attrs"]["data-kinds"] = kinds
        return option


def staff_choices(field: forms.Field, *, kind: str | None = None) -> None:
    """Offer the active staff who hold some kind of appointment (or only `kind`), a blank choice first: no one is
    chosen for the booker by the alphabet."""
    roles = {role for k in BOOKED_DIRECTLY for role in WHO_HOLDS[k]} if kind is None else set(WHO_HOLDS[kind])
    staff = User.objects.filter(is_active=True, role__in=roles).order_by("last_name", "first_name")
    field.choices = [("", "— choose who holds it —")] + [  # type: ignore[attr-defined]
        (u.pk, f"{u.display_name} ({u.get_role_display()})") for u in staff
    ]
    if isinstance(field.widget, StaffSelect):
        field.widget.kinds_by_user = {
            str(u.pk): " ".join(k for k in BOOKED_DIRECTLY if may_hold(u.role, k)) for u in staff
        }


class BookingForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(k, AppointmentKind(k).label) for k in BOOKED_DIRECTLY], initial=AppointmentKind.CONSULTATION
    )
    with_user = forms.TypedChoiceField(label="With", coerce=int, choices=[], widget=StaffSelect)
    starts_at = forms.DateTimeField(
        label="Starts", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    minutes = forms.IntegerField(
        label="Length (minutes)", initial=30, min_value=SHORTEST_BOOKING_MINUTES, max_value=LONGEST_BOOKING_MINUTES
    )
    mode = forms.ChoiceField(choices=AppointmentMode.choices, widget=forms.RadioSelect, initial=AppointmentMode.VIDEO)
    video_link = forms.URLField(required=False, assume_scheme="https", help_text="For a video appointment.")
    place = forms.TypedChoiceField(
        label="Room",
        coerce=int,
        required=False,
        empty_value=None,
        choices=[],
        help_text="In person: the room it holds, so nobody else is booked into it. A video appointment takes none.",
    )

    def __init__(self, *args: Any, booker: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff_choices(self.fields["with_user"])
        rooms = Place.objects.filter(kind="room", active=True).order_by("name").values_list("pk", "name")
        place = self.fields["place"]
        assert isinstance(place, forms.TypedChoiceField)
        place.choices = [("", "No room")] + [(pk, name) for pk, name in rooms]
        self.fields["kind"].widget.attrs["data-holds-for"] = "id_with_user"
        # The booker is the suggestion only when they hold the first kind offered (a coordinator and a consultation).
        if booker is not None and may_hold(booker.role, str(self.fields["kind"].initial)):
            self.fields["with_user"].initial = booker.pk


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=ConsultationOutcome.choices, widget=forms.RadioSelect)
    outcome_note = forms.CharField(
        label="Note (where referred, or why declined)", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    send_pre_screen = forms.BooleanField(
        required=False, initial=True, label="Send the pre-screen questionnaires to the patient's portal"
    )


class ChangeReasonForm(forms.Form):
    """Cancel, or mark did not attend: the reason is kept in the appointment's history."""

    reason = forms.CharField(label="Reason", max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}))


class RescheduleForm(forms.Form):
    starts_at = forms.DateTimeField(
        label="New start", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    minutes = forms.IntegerField(
        label="Length (minutes)", min_value=SHORTEST_BOOKING_MINUTES, max_value=LONGEST_BOOKING_MINUTES
    )
    with_user = forms.TypedChoiceField(label="With", coerce=int, choices=[], widget=StaffSelect)
    reason = forms.CharField(label="Reason for the move", max_length=REASON_MAX)

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff_choices(self.fields["with_user"], kind=kind)


# --- Rooms, hours, time off and closures (issue 16, item 2) -----------------------------------------------------

WEEKDAY_CHOICES = [
    ("MO", "Mon"),
    ("TU", "Tue"),
    ("WE", "Wed"),
    ("TH", "Thu"),
    ("FR", "Fri"),
    ("SA", "Sat"),
    ("SU", "Sun"),
]
_LOCAL = {"type": "datetime-local"}


def owner_choices(field: forms.Field) -> None:
    """Staff members and places in one list, each value saying which ("user:3", "place:2")."""
    staff = User.objects.filter(is_active=True).exclude(role="patient").order_by("last_name", "first_name")
    places = Place.objects.filter(active=True).order_by("kind", "name")
    assert isinstance(field, forms.ChoiceField)
    field.choices = [
        ("", "— choose —"),
        ("Staff", [(f"user:{u.pk}", f"{u.display_name} ({u.get_role_display()})") for u in staff]),
        ("Rooms and chairs", [(f"place:{p.pk}", f"{p.name} ({p.get_kind_display().lower()})") for p in places]),
    ]


def owner_ids(value: str) -> dict[str, int | None]:
    """ "user:3" → {"user_id": 3, "place_id": None}; the form's choices only allow these two shapes."""
    kind, _, pk = value.partition(":")
    return {"user_id": int(pk) if kind == "user" else None, "place_id": int(pk) if kind == "place" else None}


class HoursForm(forms.Form):
    owner = forms.ChoiceField(label="Whose hours")
    days = forms.MultipleChoiceField(
        label="Days",
        choices=WEEKDAY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        initial=["MO", "TU", "WE", "TH", "FR"],
    )
    fortnightly = forms.BooleanField(label="Every other week (counted from the first day)", required=False)
    starts = forms.TimeField(label="From", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    ends = forms.TimeField(label="Until", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    since = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        label="Last day", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Empty: open-ended."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner_choices(self.fields["owner"])

    def rule(self) -> str:
        """The days as an iCalendar RRULE (RFC 5545): weekly on the days ticked, every other week if asked."""
        interval = ";INTERVAL=2" if self.cleaned_data["fortnightly"] else ""
        return f"FREQ=WEEKLY{interval};BYDAY={','.join(self.cleaned_data['days'])}"


class TimeOffForm(forms.Form):
    owner = forms.ChoiceField(label="Who or what is away")
    starts_at = forms.DateTimeField(label="From", widget=forms.DateTimeInput(attrs=_LOCAL, format="%Y-%m-%dT%H:%M"))
    ends_at = forms.DateTimeField(label="Until", widget=forms.DateTimeInput(attrs=_LOCAL, format="%Y-%m-%dT%H:%M"))
    reason = forms.CharField(label="Reason (optional)", max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner_choices(self.fields["owner"])


class ClosureForm(forms.Form):
    starts_at = forms.DateTimeField(label="From", widget=forms.DateTimeInput(attrs=_LOCAL, format="%Y-%m-%dT%H:%M"))
    ends_at = forms.DateTimeField(label="Until", widget=forms.DateTimeInput(attrs=_LOCAL, format="%Y-%m-%dT%H:%M"))
    reason = forms.CharField(label="Reason", max_length=200, help_text="Shown when a booking over it is refused.")


class CalendarForm(forms.Form):
    """What the calendar shows: a week or a day, from a date, for a staff member or a room (each optional)."""

    view = forms.ChoiceField(label="Show", choices=[("week", "Week"), ("day", "Day")], required=False, initial="week")
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    staff = forms.TypedChoiceField(label="Staff member", coerce=int, required=False, empty_value=None, choices=[])
    place = forms.TypedChoiceField(label="Room", coerce=int, required=False, empty_value=None, choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff = User.objects.filter(is_active=True, role__in=sorted({r for h in WHO_HOLDS.values() for r in h}))
        staff_field = self.fields["staff"]
        place_field = self.fields["place"]
        assert isinstance(staff_field, forms.TypedChoiceField) and isinstance(place_field, forms.TypedChoiceField)
        staff_field.choices = [("", "Everyone")] + [
            (u.pk, u.display_name) for u in staff.order_by("last_name", "first_name")
        ]
        places = Place.objects.filter(active=True).order_by("-kind", "name").values_list("pk", "name")
        place_field.choices = [("", "Any room")] + [(pk, name) for pk, name in places]

    def clean_start(self) -> object:
        start = self.cleaned_data.get("start")
        if start is not None and not date(2000, 1, 1) <= start <= date(2100, 12, 31):
            raise forms.ValidationError("Choose a date between 2000 and 2100.")
        return start

"""The demo clinic's rooms, chairs and hours (issue 16): two rooms, three infusion chairs in the second, and the
clinical staff's working hours. Made up, as every name in the demo."""

from __future__ import annotations

from datetime import date, time

from django.db import transaction

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Place, WorkingHours

# Every day, so the demo books whatever day of the week it is loaded on; the rooms open before the first session.
DAILY = "FREQ=DAILY"
SINCE = date(2026, 1, 1)
ROOMS = ("Garden room", "Infusion suite")
CHAIRS = ("Chair 1", "Chair 2", "Chair 3")
STAFF_HOURS = {
    "prescriber": (time(8), time(18)),
    "nurse": (time(7, 30), time(19)),
    "therapist": (time(9), time(19)),
    "coordinator": (time(8), time(17)),
}


@transaction.atomic
def places_ensure() -> dict[str, Place]:
    """Create the rooms and chairs that do not exist yet; return the places by name."""
    places = {p.name: p for p in Place.objects.filter(name__in=[*ROOMS, *CHAIRS])}
    for name in ROOMS:
        if name not in places:
            places[name] = Place.objects.create(name=name, kind="room")
    for name in CHAIRS:
        if name not in places:
            places[name] = Place.objects.create(name=name, kind="chair", in_room=places["Infusion suite"])
    return places


@transaction.atomic
def places_and_hours_ensure(staff: dict[str, User]) -> dict[str, Place]:
    """Create the rooms, chairs and hours that do not exist yet; return the places by name. (Today's live sessions
    are booked before the hours exist: a demo loaded at night still has its sessions under way.)"""
    director = staff["director"]
    places = places_ensure()
    for place in places.values():
        if not WorkingHours.objects.filter(place=place).exists():
            WorkingHours.objects.create(
                place=place, rule=DAILY, starts=time(7), ends=time(20), since=SINCE, recorded_by=director
            )
    for username, (starts, ends) in STAFF_HOURS.items():
        user = staff.get(username)
        if user is not None and not WorkingHours.objects.filter(user=user).exists():
            WorkingHours.objects.create(
                user=user, rule=DAILY, starts=starts, ends=ends, since=SINCE, recorded_by=director
            )
    return places

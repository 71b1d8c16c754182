"""Dosing sessions held as bookings (issue 16, item 1): each session gets the booking that holds its nurse and its
chair or room. Sessions already scheduled or under way, with a nurse, get theirs now (in the room of that name,
if the clinic has recorded one); proposed, finished and nurse-less sessions are booked when they are scheduled."""

from datetime import timedelta

import django.db.models.deletion
from django.db import migrations, models

from kapclinic.dbtriggers import frozen_once_signed

BOOKED_STATES = ("scheduled", "checked_in", "cleared", "held", "dosing", "monitoring", "recovery")


def sessions_book(apps, schema_editor):
    DosingSession = apps.get_model("dosing", "DosingSession")
    Appointment = apps.get_model("appointments", "Appointment")
    Place = apps.get_model("appointments", "Place")
    places = {p.name.casefold(): p for p in Place.objects.all()}
    for session in DosingSession.objects.filter(state__in=BOOKED_STATES, nurse__isnull=False, booking__isnull=True):
        booking = Appointment.objects.create(
            kind="dosing",
            patient_id=session.patient_id,
            with_user_id=session.nurse_id,
            place=places.get(session.room.strip().casefold()),
            starts_at=session.scheduled_for,
            ends_at=session.scheduled_for + timedelta(minutes=max(session.minutes, 10)),
            mode="in_person",
            status="booked",
            created_by_id=session.nurse_id,
        )
        DosingSession.objects.filter(pk=session.pk).update(booking=booking)


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0004_dosing_kind"),
        ("dosing", "0010_vitals_partitioned_by_month"),
    ]

    operations = [
        migrations.AddField(
            model_name="dosingsession",
            name="booking",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="dosing_session",
                to="appointments.appointment",
            ),
        ),
        # On SQLite the added column rebuilds the table, which drops its triggers: signed sessions stay frozen.
        frozen_once_signed("dosing_dosingsession"),
        migrations.RunPython(sessions_book, migrations.RunPython.noop),
    ]

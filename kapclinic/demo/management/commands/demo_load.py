"""Load the synthetic demo clinic; running it again adds nothing twice."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from kapclinic.accounts.models import User
from kapclinic.audit.chain import CHAINS, checkpoint_take
from kapclinic.clinical.registry import SYNTHETIC_MRN_BASE, mrn_from_number
from kapclinic.demo.appointments import clinician_appointments_ensure, week_of_bookings_ensure
from kapclinic.demo.billing import billing_demo_ensure
from kapclinic.demo.claims import claims_demo_ensure
from kapclinic.demo.consent import load_consent
from kapclinic.demo.discharged import discharged_demo_ensure
from kapclinic.demo.dosing import dosing_demo_decide, dosing_demo_ensure
from kapclinic.demo.intake import intake_demo_ensure
from kapclinic.demo.iv_billing import iv_session_billing_demo_ensure
from kapclinic.demo.ledger import ledger_demo_ensure
from kapclinic.demo.measures import measures_demo_ensure
from kapclinic.demo.messages import load_messages
from kapclinic.demo.money import money_demo_ensure
from kapclinic.demo.outcomes import outcome_cohort_ensure, outcomes_demo_ensure
from kapclinic.demo.places import places_and_hours_ensure, places_ensure
from kapclinic.demo.reminders import reminders_demo_ensure
from kapclinic.demo.synthetic import (
    DEMO_PASSWORD,
    DEMO_STAFF,
    patients_ensure,
    staff_ensure,
)
from kapclinic.demo.therapy import load_therapy
from kapclinic.patients.models import Patient
from kapclinic.roles import Role

DEMO_PATIENT_COUNT = 24
# Portal logins, each linked to one synthetic patient (by serial).
DEMO_PATIENT_USERS = (("patient", 1), ("patient2", 3))


def real_data_in_database() -> str:
    """Say what in the database is not the demo's own (empty: an empty database or an earlier demo load)."""
    demo_users = {spec.username for spec in DEMO_STAFF} | {username for username, _ in DEMO_PATIENT_USERS}
    users = User.objects.exclude(username__in=demo_users).count()
    synthetic_start = mrn_from_number(SYNTHETIC_MRN_BASE)[:2]  # synthetic MRNs are K9...: see clinical.registry
    patients = Patient.objects.exclude(mrn__startswith=synthetic_start).count()
    found = [f"{users} other user(s)" if users else "", f"{patients} patient(s) with real MRNs" if patients else ""]
    return ", ".join(part for part in found if part)


class Command(BaseCommand):
    help = "Load the synthetic demo clinic (staff, patients, care teams). Idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--quiet", action="store_true", help="Do not print the logins.")
        parser.add_argument(
            "--i-know-this-is-not-production",
            action="store_true",
            dest="not_production",
            help="Load even though the database holds data that is not the demo's own.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Demo logins share one printed password: never add them to a clinic's real database by mistake.
        foreign = real_data_in_database()
        if foreign and not options["not_production"]:
            raise CommandError(
                f"This database holds data that is not the demo's ({foreign}); the demo adds users with a published "
                "password, so it refuses. Use an empty database, or pass --i-know-this-is-not-production."
            )
        # Load in one transaction, print after it: a closed pipe while printing must not undo the load.
        with transaction.atomic():
            made, entries = self._load()
        if options["quiet"]:
            return
        self._print(made, entries)

    def _load(self) -> tuple[int, int]:
        staff = staff_ensure()
        made = patients_ensure(DEMO_PATIENT_COUNT, staff=staff)
        hashed = staff["coordinator"].password
        for username, serial in DEMO_PATIENT_USERS:
            patient = Patient.objects.get(mrn=mrn_from_number(SYNTHETIC_MRN_BASE + serial))
            if patient.user_id is not None:
                continue
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "role": Role.PATIENT,
                    "first_name": patient.given_name,
                    "last_name": patient.family_name,
                    "email": patient.email,
                    "password": hashed,
                },
            )
            patient.user = user
            patient.save(update_fields=["user"])
        entries = ledger_demo_ensure(staff, DEMO_PASSWORD)
        measures_demo_ensure(staff)
        intake_demo_ensure(staff)
        dosing_demo_decide(staff)
        load_consent(staff)
        places_ensure()  # the chairs and rooms today's sessions take (their hours come after, see places.py)
        dosing_demo_ensure(staff, DEMO_PASSWORD)
        load_therapy(staff)
        load_messages(staff)
        discharged_demo_ensure(staff)  # integration due: discharged yesterday, no integration session since
        outcomes_demo_ensure(staff)  # a non-responder and a relapse, each with the prompt the rules raise
        places_and_hours_ensure(staff)  # two rooms, three chairs, the clinicians' hours (issue 16)
        clinician_appointments_ensure(staff)  # after the discharged patient: her integration session is booked
        week_of_bookings_ensure(staff)  # after the hours: every kind, at free times
        reminders_demo_ensure(staff)  # last of the bookings: it takes the first times left free
        billing_demo_ensure(staff)  # after every signed session and note: their charge lines (issue 18)
        money_demo_ensure(staff)  # after the approved lines: payments, a balance, a package counting down
        claims_demo_ensure(staff)  # claims of the approved lines and a posted 835 (issue 18 item 5)
        outcome_cohort_ensure(staff)  # after billing: a few hundred past courses for the outcomes dashboard (issue 19)
        iv_session_billing_demo_ensure(staff)  # after the cohort: one of its IV sessions signed and billed (issue 18)
        for chain in CHAINS:  # a signed starting point for verify_audit (docs/operations.md)
            checkpoint_take(chain)
        return made, entries

    def _print(self, made: int, entries: int) -> None:
        self.stdout.write(f"Demo clinic ready: {made} patients added, {Patient.objects.count()} in all.")
        if entries:
            self.stdout.write(f"Controlled-substance ledger: {entries} entries, one count discrepancy to investigate.")
        self.stdout.write("Sign in at the address below with any of these users; the password is the same:")
        for spec in DEMO_STAFF:
            self.stdout.write(f"  {spec.username:<12} {spec.role.label}")
        for username, _serial in DEMO_PATIENT_USERS:
            self.stdout.write(f"  {username:<12} Patient (portal)")
        self.stdout.write(f"  password:    {DEMO_PASSWORD}")

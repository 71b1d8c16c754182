"""Synthetic dosing sessions in bulk, for the benchmarks (bench/day_pages.py): past days, today and the coming days.

Written with bulk_create, not through the services (a past session's steps would each be stamped now): signed
plans of twelve IM sessions for the synthetic patients, the finished sessions signed by the nurse at their end.
Past sessions are mostly discharged, some cancelled or stopped early, spread over two years of clinic days.
Today's sessions are in every state of a working day. A discharged session has its discharge (the criteria as
the rules assess the demo's calm readings); there are no vitals, orders, alerts or audit history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.clinical import monitoring as rules
from kapclinic.days import day_start
from kapclinic.dosing.models import Discharge, DosingSession, SessionState
from kapclinic.patients.models import Patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.policy import dosing_policy, monitoring_policy

MARK = "Synthetic sessions (benchmark)."  # the plans' notes: how an ensure finds what it made before
PER_PLAN = 12
PAST_DAYS = 730
FINISHED_SHARE = ((SessionState.DISCHARGED, 90), (SessionState.CANCELLED, 7), (SessionState.STOPPED_EARLY, 3))
TODAY_STATES = (
    SessionState.DISCHARGED,
    SessionState.RECOVERY,
    SessionState.MONITORING,
    SessionState.DOSING,
    SessionState.CLEARED,
    SessionState.HELD,
    SessionState.CHECKED_IN,
    SessionState.SCHEDULED,
)


@dataclass(frozen=True)
class SessionCounts:
    past: int
    today: int
    coming: int


def sessions_counted(today: date | None = None) -> SessionCounts:
    """How many synthetic sessions there are before today, today, and after today."""
    day = today or timezone.localdate()
    start, after = day_start(day), day_start(day + timedelta(days=1))
    ours = DosingSession.objects.filter(plan__notes=MARK)
    return SessionCounts(
        past=ours.filter(scheduled_for__lt=start).count(),
        today=ours.filter(scheduled_for__gte=start, scheduled_for__lt=after).count(),
        coming=ours.filter(scheduled_for__gte=after).count(),
    )


@transaction.atomic
def sessions_ensure(
    *, staff: dict[str, User], past: int, today: int = 24, coming: int = 48, seed: int = 2026
) -> SessionCounts:
    """Add the synthetic sessions missing to reach `past` before today, `today` today and `coming` in the next
    13 days (never removes any); return how many were made of each.

    Sessions go to the synthetic patients (demo_load's or patients_ensure's), today's and the coming ones to those
    on the demo care team, so the nurse's and therapist's pages list them.
    """
    day = timezone.localdate()
    have = sessions_counted(day)
    patients = list(Patient.objects.filter(mrn__startswith="K9").order_by("pk"))
    if not patients:
        raise ValueError("No synthetic patients: run patients_ensure first")
    team = list(Patient.objects.filter(mrn__startswith="K9", care_team__role="nurse").order_by("pk")) or patients
    rng = random.Random(seed + have.past + have.today + have.coming)
    wanted: list[tuple[Patient, datetime, SessionState]] = []
    for _ in range(max(past - have.past, 0)):
        when = datetime.combine(day - timedelta(days=rng.randint(1, PAST_DAYS)), time(rng.randint(8, 16)))
        state = rng.choices([s for s, _ in FINISHED_SHARE], [w for _, w in FINISHED_SHARE])[0]
        wanted.append((rng.choice(patients), when, state))
    for n in range(have.today, today):
        minute = 8 * 60 + (n * 540) // max(today, 1)  # 08:00 to 17:00
        when = datetime.combine(day, time(minute // 60, minute % 60))
        wanted.append((team[n % len(team)], when, TODAY_STATES[n % len(TODAY_STATES)]))
    for n in range(have.coming, coming):
        when = datetime.combine(day + timedelta(days=1 + n % 13), time(8 + n % 9))
        wanted.append((team[(n * 7) % len(team)], when, SessionState.SCHEDULED))
    _write(staff, wanted)
    return SessionCounts(max(past - have.past, 0), max(today - have.today, 0), max(coming - have.coming, 0))


def _write(staff: dict[str, User], wanted: list[tuple[Patient, datetime, SessionState]]) -> None:
    prescriber, nurse, therapist = staff["prescriber"], staff["nurse"], staff["therapist"]
    zone = timezone.get_default_timezone()
    by_patient: dict[int, list[tuple[Patient, datetime, SessionState]]] = {}
    for row in wanted:
        by_patient.setdefault(row[0].pk, []).append(row)
    policy = dosing_policy().version
    plans: list[TreatmentPlan] = []
    chunks: list[list[tuple[Patient, datetime, SessionState]]] = []
    for rows in by_patient.values():
        rows.sort(key=lambda r: r[1])
        for first in range(0, len(rows), PER_PLAN):
            chunk = rows[first : first + PER_PLAN]
            begins = timezone.make_aware(chunk[0][1], zone)
            plan = TreatmentPlan(
                patient=chunk[0][0],
                indication_code="F33.1",
                indication_text="Major depressive disorder, recurrent, moderate",
                route="im",
                starting_dose_mg_per_kg=Decimal("0.5"),
                session_count=len(chunk),
                interval_days=3,
                first_session_on=chunk[0][1].date(),
                session_time=chunk[0][1].time(),
                therapist=therapist,
                goals=["Synthetic goal"],
                measures=["phq9"],
                notes=MARK,
                dosing_policy_version=policy,
                created_at=begins - timedelta(days=7),
                created_by=prescriber,
                updated_at=begins - timedelta(days=7),
            )
            plan.signature_stamp(prescriber.pk, at=begins - timedelta(days=6))
            plans.append(plan)
            chunks.append(chunk)
    TreatmentPlan.objects.bulk_create(plans, batch_size=1000)  # ids come back on both engines
    sessions = []
    for plan, chunk in zip(plans, chunks, strict=True):
        for number, (patient, when, state) in enumerate(chunk, start=1):
            at = timezone.make_aware(when, zone)
            finished = state in (SessionState.DISCHARGED, SessionState.STOPPED_EARLY)
            began = state not in (SessionState.SCHEDULED, SessionState.CANCELLED)
            session = DosingSession(
                patient=patient,
                plan=plan,
                number=number,
                scheduled_for=at,
                room=f"Room {1 + number % 3}",
                state=state,
                nurse=nurse,
                therapist=therapist,
                started_at=at + timedelta(minutes=5) if began else None,
                ended_at=at + timedelta(minutes=150) if finished else None,
                created_at=plan.created_at,
                updated_at=at,
            )
            if finished:
                session.signature_stamp(nurse.pk, at=at + timedelta(minutes=155))
            sessions.append(session)
    DosingSession.objects.bulk_create(sessions, batch_size=2000)
    criteria = [c.as_dict() for c in _criteria()]
    Discharge.objects.bulk_create(
        (
            Discharge(session=s, criteria=criteria, driver_name="A synthetic friend", at=s.ended_at, by=nurse)
            for s in sessions
            if s.state == SessionState.DISCHARGED and s.ended_at is not None
        ),
        batch_size=2000,
    )


def _criteria() -> list[rules.DischargeCriterion]:
    calm = rules.VitalReading(systolic=124, diastolic=78, heart_rate=72, spo2=98, respiratory_rate=14)
    return rules.discharge_check(
        route="im",
        minutes_since_dose=125,
        last_reading=calm,
        baseline_reading=calm,
        moaas=5,
        oriented=True,
        walks_steadily=True,
        nausea_controlled=True,
        new_suicidal_ideation=False,
        escort_present=True,
        policy=monitoring_policy(),
    )

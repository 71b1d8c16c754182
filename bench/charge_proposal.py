"""Charge proposal speed (issue 18, "charge proposal for a day of 200 sessions"): each figure against a floor measured
in the same run.

    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true python bench/charge_proposal.py [--sessions 200] [--reps 3]

Without DATABASE_URL: a fresh SQLite file in a temporary folder. With DATABASE_URL (e.g. PostgreSQL through
scripts/with-postgres, as the owner, which may migrate): that database, which should start empty. It makes a day of
`--sessions` synthetic patients' signed IV dosing sessions (signed plan, signed dose order, administration from
the ledger), each with the therapist's signed integration note; every fourth patient also has the prescriber's
signed evaluation with an E/M level and the prescriber's own signed therapy note the same day (the add-on path).
Then, taking turns `--reps` times after one untimed run of each:
  propose       services.charges_propose as the biller: reading, coding, fees, writing the lines and the audit
                rows (rolled back after each run: lines are append-only)
  propose_floor the same signed rows read with values_list, and the same number of charge lines, already built,
                bulk-inserted (rolled back): reading and writing, no rules
  read          proposals.* alone: the signed records read and coded, nothing written
  read_floor    the same signed rows read with values_list, nothing else
Reported: the median seconds of each, records/s, and each figure's share of its floor's speed (floor s / figure s).
`measure_charge_proposal()` returns the same figures for `make bench`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import django_setup  # noqa: E402

NDC = "0409-2051-05"
DOSE_MG = Decimal(35)
FEES = {"96365": 45_000, "J3490": 5_000, "90837": 22_500, "90836": 16_000, "99214": 20_000}


def _load(sessions: int) -> datetime:
    """A day of `sessions` signed sessions with notes (see the module's text); return the day's start."""
    from django.db import transaction
    from django.utils import timezone

    from kapclinic.audit.context import AuditContext
    from kapclinic.billing.models import FeeScheduleEntry
    from kapclinic.demo.synthetic import patients_ensure, staff_ensure
    from kapclinic.dosing.models import Administration, DoseOrder, DosingSession
    from kapclinic.intake.models import EligibilityDecision
    from kapclinic.ledger.models import Product, StorageLocation
    from kapclinic.ledger.services import Quantity, ledger_entry_record, ledger_receive
    from kapclinic.patients.models import Patient
    from kapclinic.plans.models import TreatmentPlan
    from kapclinic.therapy.models import TherapyNote

    staff = staff_ensure()
    patients_ensure(sessions, staff=staff)
    prescriber, nurse, therapist, director = (staff[n] for n in ("prescriber", "nurse", "therapist", "director"))
    day = timezone.localdate() - timedelta(days=1)
    start = timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(hours=8)
    as_nurse = AuditContext(user=nurse, channel="system")
    with transaction.atomic():
        for code, cents in FEES.items():
            FeeScheduleEntry.objects.get_or_create(
                code=code, effective_from=day.replace(month=1, day=1), defaults={"price_cents": cents,
                                                                                  "recorded_by": director}
            )  # fmt: skip
        product = Product.objects.create(
            name="Ketamine HCl injection 100 mg/mL (bench)", form="vial", mg_per_unit=Decimal(100), unit="mL",
            units_per_container=5, ndc=NDC,
        )  # fmt: skip
        shelf, _ = StorageLocation.objects.get_or_create(name="Bench safe")
        received = ledger_receive(
            ctx=as_nurse, product_id=product.pk, lot_number="BENCH-LOT", location_id=shelf.pk,
            quantity=Quantity(str(sessions), "mL"), expires_on=day + timedelta(days=300),
            supplier_name="Synthetic supplier", invoice_reference="INV-BENCH", received_on=day - timedelta(days=1),
        )  # fmt: skip
        lot = received.lot
        for n, patient in enumerate(Patient.objects.order_by("pk")[:sessions]):
            at = start + timedelta(minutes=2 * n)
            plan = TreatmentPlan(
                patient=patient, therapist=therapist, created_by=prescriber, first_session_on=day,
                indication_code="F33.2", indication_text="Major depressive disorder, recurrent, severe", route="iv",
                starting_dose_mg_per_kg=Decimal("0.5"), session_count=6, interval_days=3,
                session_time=at.time(), dosing_policy_version="bench",
            )  # fmt: skip
            plan.signature_stamp(prescriber.pk)
            plan.save()
            session = DosingSession.objects.create(
                patient=patient, plan=plan, number=1, scheduled_for=at, state="discharged"
            )
            order = DoseOrder(
                session=session, route="iv", dose_mg=DOSE_MG, product=product, infusion_minutes=40,
                policy_version="bench",
            )  # fmt: skip
            order.signature_stamp(prescriber.pk)
            order.save(force_insert=True)
            entry = ledger_entry_record(
                ctx=as_nurse, kind="administration", lot_id=lot.pk, location_id=shelf.pk,
                quantity=Quantity("0.35", "mL"), occurred_at=at + timedelta(minutes=20), patient_id=patient.pk,
                reference=f"Bench session {session.pk}",
            )  # fmt: skip
            Administration.objects.create(
                session=session, order=order, route="iv", lot=lot, location=shelf,
                started_at=at + timedelta(minutes=20), ended_at=at + timedelta(minutes=60), drawn_mg=DOSE_MG,
                given_mg=DOSE_MG, ledger_entry=entry, by=nurse,
            )  # fmt: skip
            session.signature_stamp(nurse.pk, at=at + timedelta(hours=3))
            session.save()
            note = TherapyNote(
                patient=patient, author=therapist, kind="integration", occurred_at=at + timedelta(hours=4),
                minutes=55, dosing_session=session, body="Bench integration note (synthetic).",
            )  # fmt: skip
            note.signature_stamp(therapist.pk)
            note.save()
            if n % 4 == 0:
                decision = EligibilityDecision(
                    patient=patient, decision="eligible", decided_by=prescriber, decided_at=at - timedelta(hours=1),
                    rule_set_version="bench", policy_version="bench", em_code="99214", em_basis="mdm",
                )  # fmt: skip
                decision.signature_stamp(prescriber.pk, at=at - timedelta(hours=1))
                decision.save(force_insert=True)
                own = TherapyNote(
                    patient=patient, author=prescriber, kind="therapy", occurred_at=at - timedelta(minutes=30),
                    minutes=40, body="Bench therapy note (synthetic).",
                )  # fmt: skip
                own.signature_stamp(prescriber.pk)
                own.save()
    return start


def _read_floor(since: datetime) -> int:
    """The signed rows the proposal reads, read bare."""
    from kapclinic.dosing.models import DosingSession
    from kapclinic.intake.models import EligibilityDecision
    from kapclinic.plans.models import TreatmentPlan
    from kapclinic.therapy.models import TherapyNote

    rows: list[tuple[Any, ...]] = list(
        TherapyNote.objects.filter(signed_at__isnull=False, occurred_at__gte=since).values_list(
            "pk", "patient_id", "kind", "occurred_at", "minutes", "modality", "signed_by_id", "dosing_session_id"
        )
    )
    rows += list(
        DosingSession.objects.filter(signed_at__isnull=False, administration__started_at__gte=since).values_list(
            "pk", "patient_id", "number", "plan__route", "plan__indication_code", "administration__route",
            "administration__started_at", "administration__ended_at", "administration__given_mg",
            "administration__order__signed_by_id", "administration__order__product__ndc",
            "administration__order__product__mg_per_unit",
        )
    )  # fmt: skip
    rows += list(
        EligibilityDecision.objects.filter(decided_at__gte=since - timedelta(days=1))
        .exclude(em_code="")
        .values_list("pk", "patient_id", "decided_by_id", "decided_at", "em_code", "em_basis", "em_minutes")
    )
    rows += list(TreatmentPlan.objects.filter(signed_at__isnull=False).values_list("patient_id", "indication_code"))
    return len(rows)


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def measure_charge_proposal(sessions: int, reps: int) -> dict[str, Any]:
    django_setup(KAPCLINIC_REQUIRE_MFA="false")

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from kapclinic.accounts.models import User
    from kapclinic.audit.context import AuditContext
    from kapclinic.billing import proposals, services
    from kapclinic.billing.models import ChargeLine

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    start = _load(sessions)
    print(f"  {sessions:,} signed sessions with notes on {connection.vendor}, {time.perf_counter() - started:.1f} s")
    biller = User.objects.get(username="biller")
    ctx = AuditContext(user=biller, channel="system")
    since = timezone.localdate(start) - timedelta(days=1)

    def propose() -> int:
        with transaction.atomic():
            made = len(services.charges_propose(ctx=ctx, since=since).lines)
            transaction.set_rollback(True)
        return made

    with transaction.atomic():  # the lines' shape, for the floor's insert
        built = services.charges_propose(ctx=ctx, since=since)
        records = built.records
        template = [
            {f.attname: getattr(line, f.attname) for f in ChargeLine._meta.concrete_fields if f.attname != "id"}
            for line in built.lines
        ]
        transaction.set_rollback(True)
    assert len(template) >= 3 * sessions, f"{len(template)} lines for {sessions} sessions"

    def propose_floor() -> int:
        with transaction.atomic():
            _read_floor(start)
            ChargeLine.objects.bulk_create(ChargeLine(**values) for values in template)
            transaction.set_rollback(True)
        return len(template)

    def read() -> int:
        found = [
            *proposals.evaluation_proposals(since),
            *proposals.note_proposals(since),
            *proposals.session_proposals(since),
        ]
        return sum(len(p.coding.lines) for p in found)

    def read_floor() -> int:
        return _read_floor(start)

    assert read() == len(template), "reading alone codes the same lines"
    timed = {"propose": propose, "propose_floor": propose_floor, "read": read, "read_floor": read_floor}
    for fn in timed.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(reps):
        for name, fn in timed.items():
            begin = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - begin)
    med = {name: _median(values) for name, values in times.items()}
    return {
        "vendor": connection.vendor,
        "sessions": sessions,
        "records": records,
        "lines": len(template),
        "seconds": med,
        "records_per_s": {name: round(records / s) if s else None for name, s in med.items()},
        "share": {
            "propose": round(med["propose_floor"] / med["propose"], 3),
            "read": round(med["read_floor"] / med["read"], 3),
        },
    }


def charge_proposal_table(result: dict[str, Any]) -> str:
    s, per, share = result["seconds"], result["records_per_s"], result["share"]
    lines = [
        f"{result['sessions']:,} sessions: {result['records']:,} signed records, {result['lines']:,} lines "
        f"({result['vendor']})",
        f"{'figure':<9} {'seconds':>9} {'records/s':>10} {'floor':<14} {'floor s':>9} {'share of floor speed':>21}",
    ]
    for figure, floor in (("propose", "propose_floor"), ("read", "read_floor")):
        lines.append(
            f"{figure:<9} {s[figure]:>9.4f} {per[figure]:>10,} {floor:<14} {s[floor]:>9.4f} {share[figure]:>21.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=200, help="signed sessions in the day")
    parser.add_argument("--reps", type=int, default=3, help="timed runs of each (median)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        folder = Path(tempfile.mkdtemp(prefix="kapclinic-charges-db-"))
        os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    result = measure_charge_proposal(args.sessions, args.reps)
    print()
    print(f"Charge proposal ({result['vendor']}), median of {args.reps}:")
    print(charge_proposal_table(result))


if __name__ == "__main__":
    main()

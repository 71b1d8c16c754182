"""837P batch speed (issue 18, "an 837P batch of 1,000 claims"): each figure against a floor measured in the same run.

    PYTHONPATH=$PWD KAPCLINIC_DEBUG=true python bench/claims.py [--claims 1000] [--reps 3]

Without DATABASE_URL: a fresh SQLite file in a temporary folder. With DATABASE_URL (e.g. PostgreSQL through
scripts/with-postgres, as the owner, which may migrate): that database, which should start empty. It makes
`--claims` synthetic patients (demo.synthetic.patients_ensure), each with a primary coverage, and one draft claim
each of three approved lines as a signed IV session with integration therapy gives them (96365, J3490 with its NDC,
90837), written directly (what is timed is the file, not the claim making).
Then, taking turns `--reps` times after one untimed run of each:
  write        the 837P writer alone (x12_837.claim_file) over the claims' values already in memory
  write_floor  the same segments' text, already built, joined with "~\\n" (what any writer must at least do)
  batch        the whole batch from the database: claims.claim_file_for(the biller, every claim id) - reading the
               claims, lines, patients and coverages, the audit rows (one per patient), the writer
  batch_floor  the same rows read with values_list (claims with patient, coverage and payer; lines with their charge
               line) and the prebuilt segments joined: reading and joining, nothing else
  validate     pyx12's validator over the batch file (x12_check.x12_errors, which must find no error)
  read_floor   pyx12's X12Reader only tokenising the same file into segments (no map, no validation)
Reported: the median seconds of each, claims/s, and each figure's share of its floor's speed (floor s / figure s).
`measure_claims()` returns the same figures for `make bench`.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import django_setup  # noqa: E402

LINES = (("96365", 45_000, "", None), ("J3490", 5_000, "0409-2051-05", Decimal("0.350")), ("90837", 22_500, "", None))
NPI = "1234567893"  # synthetic; passes the check digit


def _load(claims: int) -> list[int]:
    """Bring the database up to `claims` patients with one draft claim each; return the claim ids."""
    from django.db import transaction
    from django.utils import timezone

    from kapclinic.accounts.models import User
    from kapclinic.billing.models import ChargeLine, ChargeReview, Claim, ClaimEvent, ClaimLine, Coverage, Payer
    from kapclinic.demo.synthetic import patients_ensure, staff_ensure
    from kapclinic.patients.models import Patient

    staff = staff_ensure()
    patients_ensure(claims, staff=staff)
    director, biller, nurse = staff["director"], staff["biller"], staff["prescriber"]
    User.objects.filter(pk=nurse.pk).update(licence_number=NPI)
    day = timezone.localdate() - timedelta(days=3)
    with transaction.atomic():
        Patient.objects.filter(address_line1="").update(
            address_line1="1 Bench Road", city="Austin", region="TX", postal_code="78701"
        )
        payer, _ = Payer.objects.get_or_create(
            name="Bench Mutual (synthetic)", defaults={"payer_id": "BENCH1", "created_by": director}
        )
        claimed = set(Claim.objects.values_list("patient_id", flat=True))
        patients = [p for p in Patient.objects.order_by("pk")[:claims] if p.pk not in claimed]
        covered = set(Coverage.objects.filter(payer=payer).values_list("patient_id", flat=True))
        Coverage.objects.bulk_create(
            Coverage(
                patient=p,
                payer=payer,
                member_id=f"BM{p.pk:08d}",
                group_number="BENCH-G",
                effective_from=date(day.year, 1, 1),
                recorded_by=director,
            )
            for p in patients
            if p.pk not in covered
        )
        coverage = {c.patient_id: c for c in Coverage.objects.filter(payer=payer)}
        lines = ChargeLine.objects.bulk_create(
            ChargeLine(
                patient=p,
                source_kind="dosing_session" if code != "90837" else "therapy_note",
                source_id=900_000 + p.pk,
                date_of_service=day,
                place_of_service="11",
                rendering_provider=nurse,
                code=code,
                units=1,
                diagnoses=["F33.2", "F43.10"] if code == "90837" else ["F33.2"],
                ndc=ndc,
                ndc_quantity=quantity,
                ndc_unit="ML" if ndc else "",
                amount_cents=cents,
                justification="Bench line",
                rules_version="bench",
                proposed_by=biller,
            )
            for p in patients
            for code, cents, ndc, quantity in LINES
        )
        ChargeReview.objects.bulk_create(ChargeReview(line=line, decision="approved", by=biller) for line in lines)
        made = Claim.objects.bulk_create(
            Claim(
                patient=p,
                coverage=coverage[p.pk],
                payer=payer,
                rendering_provider=nurse,
                state="draft",
                diagnoses=["F33.2", "F43.10"],
                place_of_service="11",
                total_cents=sum(c for _, c, _, _ in LINES),
                created_by=biller,
            )
            for p in patients
        )
        by_patient = {c.patient_id: c for c in made}
        ClaimLine.objects.bulk_create(
            ClaimLine(
                claim=by_patient[line.patient_id],
                line=line,
                position=[c for c, _, _, _ in LINES].index(line.code) + 1,
                pointers=[1, 2] if line.code == "90837" else [1],
                amount_cents=line.amount_cents or 0,
            )
            for line in lines
        )
        ClaimEvent.objects.bulk_create(ClaimEvent(claim=c, state="draft", reason="Bench", by=biller) for c in made)
    return list(Claim.objects.order_by("pk").values_list("pk", flat=True)[:claims])


def _records(ids: list[int]) -> list[Any]:
    from kapclinic.billing import claims as service

    rows = service.claim_rows(ids)
    return [service.claim_record(rows[i]) for i in ids]


def _segments(practice: Any, records: list[Any]) -> list[str]:
    """The file's segments (without terminators), built once for the floors."""
    from datetime import UTC, datetime

    from kapclinic.billing import x12_837

    text = x12_837.claim_file(practice, records, control_number=1, created=datetime(2026, 12, 6, 3, 0, tzinfo=UTC))
    return [s for s in text.split("~\n") if s]


def _batch_floor(ids: list[int], segments: list[str]) -> int:
    from kapclinic.billing.models import Claim, ClaimLine

    rows: list[tuple[Any, ...]] = list(
        Claim.objects.filter(pk__in=ids).values_list(
            "pk", "total_cents", "diagnoses", "patient__family_name", "patient__given_name", "patient__birth_date",
            "patient__address_line1", "coverage__member_id", "payer__payer_id",
        )
    )  # fmt: skip
    rows += list(
        ClaimLine.objects.filter(claim_id__in=ids).values_list(
            "claim_id", "position", "pointers", "amount_cents", "line__code", "line__date_of_service", "line__ndc"
        )
    )
    text = "~\n".join(segments) + "~\n"
    return len(rows) + len(text)


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def measure_claims(claims: int, reps: int) -> dict[str, Any]:
    django_setup(KAPCLINIC_REQUIRE_MFA="false")

    from datetime import UTC, datetime

    import pyx12.x12file
    from django.core.management import call_command
    from django.db import connection

    from kapclinic.accounts.models import User
    from kapclinic.audit.context import AuditContext
    from kapclinic.billing import claims as service
    from kapclinic.billing import x12_837
    from kapclinic.billing.x12_check import x12_errors

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    ids = _load(claims)
    print(f"  {len(ids):,} claims on {connection.vendor}, {time.perf_counter() - started:.1f} s to load")
    ctx = AuditContext(user=User.objects.get(username="biller"), channel="system")
    practice = service.practice()
    records = _records(ids)
    segments = _segments(practice, records)
    created = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)

    def write() -> str:
        return x12_837.claim_file(practice, records, control_number=1, created=created)

    def write_floor() -> str:
        return "~\n".join(segments) + "~\n"

    def batch() -> str:
        return service.claim_file_for(ctx=ctx, claim_ids=ids)

    def batch_floor() -> int:
        return _batch_floor(ids, segments)

    text = batch()  # untimed once each, and the file checked
    errors = x12_errors(text)
    assert errors == [], errors[:5]
    assert write() == write_floor(), "the floor joins the writer's own segments"

    def validate() -> list[str]:
        return x12_errors(text)

    def read_floor() -> int:
        return sum(1 for _ in pyx12.x12file.X12Reader(io.StringIO(text)))

    timed = {"write": write, "write_floor": write_floor, "batch": batch, "batch_floor": batch_floor}
    slow = {"validate": validate, "read_floor": read_floor}
    for fn in (*timed.values(), *slow.values()):
        fn()
    times: dict[str, list[float]] = {name: [] for name in (*timed, *slow)}
    for _ in range(reps):
        for name, fn in timed.items():
            begin = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - begin)
    for name, fn in slow.items():  # seconds each: one rep is enough to see them
        for _ in range(max(1, reps // 3)):
            begin = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - begin)
    med = {name: _median(values) for name, values in times.items()}
    return {
        "vendor": connection.vendor,
        "claims": len(ids),
        "segments": len(segments),
        "bytes": len(text),
        "seconds": med,
        "claims_per_s": {name: round(len(ids) / s) if s else None for name, s in med.items()},
        "share": {
            "write": round(med["write_floor"] / med["write"], 3),
            "batch": round(med["batch_floor"] / med["batch"], 3),
            "validate": round(med["read_floor"] / med["validate"], 3),
        },
    }


def claims_table(result: dict[str, Any]) -> str:
    s, per, share = result["seconds"], result["claims_per_s"], result["share"]
    lines = [
        f"{result['claims']:,} claims, {result['segments']:,} segments, {result['bytes']:,} bytes ({result['vendor']})",
        f"{'figure':<12} {'seconds':>9} {'claims/s':>10} {'floor':<12} {'floor s':>9} {'share of floor speed':>21}",
    ]
    for figure, floor in (("write", "write_floor"), ("batch", "batch_floor"), ("validate", "read_floor")):
        lines.append(
            f"{figure:<12} {s[figure]:>9.4f} {per[figure]:>10,} {floor:<12} {s[floor]:>9.4f} {share[figure]:>21.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--claims", type=int, default=1000, help="claims in the batch")
    parser.add_argument("--reps", type=int, default=3, help="timed runs of each (median)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        folder = Path(tempfile.mkdtemp(prefix="kapclinic-claims-db-"))
        os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    result = measure_claims(args.claims, args.reps)
    print()
    print(f"837P batch ({result['vendor']}), median of {args.reps}:")
    print(claims_table(result))


if __name__ == "__main__":
    main()

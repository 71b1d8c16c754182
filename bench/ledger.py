"""The ledger workload of `make bench`: all balances and the reconciliation, as a ratio to one SQL aggregate.

Loads N synthetic ledger entries (default 1,000,000) over 200 lots of two products at three
storage locations: receipts into the safe, transfers to the procedure room and the crash cart
and back, administrations (most with a witnessed waste of what was drawn but not given), a few
corrections, destructions and losses, and returns to a reverse distributor when a lot leaves
use (no count adjustments: those are written only through a count). Every entry carries the
right balance and none goes below zero; the first reconciliation checks that, and the run
stops if any lot or location does not balance.

Rows are written with explicit ids and their hash chain links (kapclinic/hashchain.py, the same
canonical content as kapclinic/audit/chain.py, so verify_ledger passes over them), in batches:
executemany on SQLite, COPY on PostgreSQL (the table refuses UPDATE and DELETE, so nothing is
ever rewritten). On a shared database
(DATABASE_URL) only the entries missing to reach N are added, continuing from the balances
found there.

Then, in the same process and turn by turn: the baseline (one GROUP BY over the table,
every row fetched through a cursor), ledger_balances() and ledger_reconciliation() as the
pages and the API call them, signed in as the auditor. An untimed first call of each counts
its queries and measures its peak Python memory (tracemalloc, which slows it down: hence
untimed).
"""

from __future__ import annotations

import functools
import random
import statistics
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import django_setup

LEDGER_ENTRIES = 1_000_000
LEDGER_REPS = 3  # timed calls of the reconciliation
FAST_REPS = 7  # timed calls of the baseline and the balances (they take well under a second)
LOTS_PER_PRODUCT = 100
LOT_WINDOW = 3  # lots of a product in use at the same time
PATIENTS = 200
BATCH = 50_000
SEED = 2026
LOT_PREFIX = "BENCH"
SPAN = timedelta(days=730)  # the entries are spread over the two years before the run

BASELINE_SQL = "SELECT lot_id, location_id, SUM(quantity_mg) FROM inventory_ledgerentry GROUP BY lot_id, location_id"


@functools.cache
def hashed_columns() -> tuple[str, ...]:
    """What a bench row holds before its two hashes: the ledger chain's fields (kapclinic.audit.chain.LEDGER, after
    django.setup()) but the count line, which no bench entry has."""
    from kapclinic.audit.chain import LEDGER

    return tuple(name for name in LEDGER.fields if name != "count_line_id")


SAFE, ROOM, CART = 0, 1, 2
LOCATIONS = (
    ("Main safe", "Double-locked safe in the pharmacy room (synthetic, benchmark)"),
    ("Procedure room lockbox", "Where doses are drawn (synthetic, benchmark)"),
    ("Crash cart", "Emergency stock (synthetic, benchmark)"),
)

Row = tuple[Any, ...]


@dataclass(frozen=True)
class ProductSpec:
    """A product and how the synthetic clinic uses it; quantities in micrograms (1/1000 mg)."""

    name: str
    form: str
    mg_per_unit: int
    unit: str
    units_per_container: int
    share: float  # of the draws
    step_ug: int  # every quantity is a multiple of this: 0.01 mL, or one device
    dose_steps: tuple[int, int]  # drawn per administration, in steps
    waste_chance: float
    waste_steps: tuple[int, int]
    receipt_ug: int
    restock_ug: int  # moved from the safe to the procedure room at a time
    crash_cart_ug: int  # kept on the crash cart (0: none)


PRODUCTS = (
    # 50 mg/mL: 0.01 mL = 0.5 mg; draws of 25-80 mg; deliveries of 20 vials; 4 vials to the room.
    ProductSpec(
        "Ketamine HCl injection (synthetic, benchmark)", "multi-dose vial, 10 mL", 50, "mL", 10, 0.7,
        500, (50, 160), 0.6, (1, 40), 10_000_000, 2_000_000, 500_000,
    ),
    # 28 mg per device: 2-3 devices a session, rarely one wasted; 30 kits of 2 a delivery.
    ProductSpec(
        "Esketamine nasal spray (synthetic, benchmark)", "single-use device", 28, "device", 2, 0.3,
        28_000, (2, 3), 0.02, (1, 1), 1_680_000, 336_000, 0,
    ),
)  # fmt: skip


def mg_text(ug: int) -> str:
    """Return micrograms as the 3-place decimal text the DecimalField stores (e.g. -12.500)."""
    if ug < 0:
        return "-%d.%03d" % divmod(-ug, 1000)  # noqa: UP031 - the fastest way, a million times over
    return "%d.%03d" % divmod(ug, 1000)  # noqa: UP031


def units_text(ug: int, mg_per_unit: int) -> str:
    """Return the signed shelf units for `ug`, rounded half up to 3 places (as units_for_mg does)."""
    per = mg_per_unit * 1000  # micrograms per unit -> thousandths of a unit = ug * 1000 / per
    thousandths = (2 * abs(ug) * 1000 + per) // (2 * per)
    return mg_text(thousandths if ug >= 0 else -thousandths)


class LedgerLoader:
    """Writes a consistent synthetic ledger with consecutive ids, in batches.

    State is in integer micrograms so that every balance is exact; `balances` and `latest`
    (the last entry id) are kept per (lot id, location id).
    """

    def __init__(
        self,
        *,
        total: int,
        already: int,
        next_id: int,
        lots: list[list[int]],
        locations: list[int],
        staff: dict[str, int],
        patients: list[int],
        balances: dict[tuple[int, int], int],
        latest: dict[tuple[int, int], int],
        insert: Callable[[list[Row]], None],
        start: datetime,
        last_hash: str | None = None,
        seed: int = SEED,
    ) -> None:
        from kapclinic.hashchain import genesis

        self.last_hash = last_hash if last_hash is not None else genesis("ledger")
        self.total = total
        self.done = already  # entries in the table (all of them, for the lot windows)
        self.next_id = next_id
        self.lots = lots
        self.locations = locations
        self.staff = staff
        self.patients = patients
        self.balances = balances
        self.latest = latest
        self.insert = insert
        self.rng = random.Random(seed + already)
        self.rows: list[Row] = []
        self.kinds: Counter[str] = Counter()
        self.windows = [0 for _ in PRODUCTS]
        # Entries are spread evenly from `start` (aware: PostgreSQL; naive UTC: SQLite) to now.
        self.start = start
        self.made = 0
        now = datetime.now(UTC) if start.tzinfo else datetime.now(UTC).replace(tzinfo=None)
        self.seconds_per_entry = max((now - start).total_seconds(), 0) / max(total - already, 1)
        self.changes: dict[tuple[int, int], tuple[str, str]] = {}  # (ug, mg per unit) -> texts
        self.insert_seconds = 0.0

    # --- writing ---------------------------------------------------------------------------

    def emit(
        self,
        kind: str,
        product: ProductSpec,
        lot: int,
        where: int,
        change: int,
        actor: str,
        *,
        witness: str | None = None,
        patient: int | None = None,
        reason: str = "",
        reference: str = "",
        corrects: int | None = None,
        counterpart: int | None = None,
    ) -> int:
        location = self.locations[where]
        key = (lot, location)
        balance = self.balances.get(key, 0) + change
        if balance < 0:
            raise AssertionError(f"the generator overdrew lot {lot} at {location}")
        self.balances[key] = balance
        entry_id = self.next_id
        self.next_id += 1
        moment = self.start + timedelta(seconds=int(self.made * self.seconds_per_entry))
        when = moment.isoformat(" ")
        texts = self.changes.get((change, product.mg_per_unit))
        if texts is None:
            texts = self.changes[(change, product.mg_per_unit)] = (
                mg_text(change),
                units_text(change, product.mg_per_unit),
            )
        values = (
            entry_id,
            kind,
            lot,
            location,
            texts[0],
            texts[1],
            mg_text(balance),
            when,
            when,
            self.staff[actor],
            self.staff[witness] if witness else None,
            patient,
            reason,
            reference,
            corrects,
            counterpart,
        )
        previous = self.last_hash
        self.last_hash = self.link(previous, values, moment)
        self.rows.append((*values, previous, self.last_hash))
        self.latest[key] = entry_id
        self.done += 1
        self.made += 1
        self.kinds[kind] += 1
        if len(self.rows) >= BATCH:
            self.flush()
        return entry_id

    def link(self, previous: str, values: Row, moment: datetime) -> str:
        """Return the row's hash: its content as kapclinic.audit.chain.LEDGER canonicalises it (times in UTC)."""
        from kapclinic.hashchain import canonical, link_hash

        utc = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # start is UTC, aware or naive
        content = dict(zip(hashed_columns(), values, strict=True))
        content.update(occurred_at=utc, recorded_at=utc, count_line_id=None)
        return link_hash(previous, canonical(content))

    def flush(self) -> None:
        if self.rows:
            begin = time.perf_counter()
            self.insert(self.rows)
            self.insert_seconds += time.perf_counter() - begin
            self.rows = []

    # --- the clinic's day ------------------------------------------------------------------

    def balance(self, lot: int, where: int) -> int:
        return self.balances.get((lot, self.locations[where]), 0)

    def transfer(self, product: ProductSpec, lot: int, source: int, target: int, ug: int, reason: str) -> None:
        out = self.emit("transfer_out", product, lot, source, -ug, "nurse", reason=reason)
        self.emit("transfer_in", product, lot, target, ug, "nurse", reason=reason, counterpart=out)

    def receive(self, product: ProductSpec, lot: int) -> None:
        self.emit(
            "receipt",
            product,
            lot,
            SAFE,
            product.receipt_ug,
            "nurse",
            reference=f"INV-{self.rng.randrange(10**6):06d} (synthetic)",
        )

    def administer(self, product: ProductSpec, lot: int, room: int) -> None:
        rng = self.rng
        drawn = min(rng.randint(*product.dose_steps), room // product.step_ug)
        wasted = 0
        if drawn > 1 and rng.random() < product.waste_chance and self.total - self.done >= 2:
            wasted = min(rng.randint(*product.waste_steps), drawn - 1)
        actor = "prescriber" if rng.random() < 0.5 else "nurse"
        patient = self.patients[rng.randrange(len(self.patients))]
        given = (drawn - wasted) * product.step_ug
        self.emit("administration", product, lot, ROOM, -given, actor, patient=patient)
        if wasted:
            witness = "nurse2" if actor == "nurse" else "nurse"
            self.emit(
                "waste",
                product,
                lot,
                ROOM,
                -wasted * product.step_ug,
                actor,
                witness=witness,
                reason="Drawn but not given",
            )

    def retire(self, product: ProductSpec, lot: int) -> None:
        """A lot leaves use: bring its stock back to the safe and return it to a reverse distributor."""
        for where in (ROOM, CART):
            left = self.balance(lot, where)
            if left and self.total - self.done >= 2:
                self.transfer(product, lot, where, SAFE, left, "Lot taken out of use")
        left = self.balance(lot, SAFE)
        if left and self.total - self.done >= 1:
            self.emit(
                "return",
                product,
                lot,
                SAFE,
                -left,
                "nurse",
                reason="Lot taken out of use: to the reverse distributor",
                reference=f"RD-{lot}-{self.done} (synthetic)",
            )

    def step(self) -> None:
        rng = self.rng
        index = 0 if rng.random() < PRODUCTS[0].share else 1
        product = PRODUCTS[index]
        lots = self.lots[index]
        window = min(self.done * (len(lots) - LOT_WINDOW + 1) // self.total, len(lots) - LOT_WINDOW)
        while self.windows[index] < window and self.total - self.done >= 5:
            self.retire(product, lots[self.windows[index]])
            self.windows[index] += 1
        lot = lots[rng.randrange(self.windows[index], self.windows[index] + LOT_WINDOW)]
        room = self.balance(lot, ROOM)
        safe = self.balance(lot, SAFE)
        step = product.step_ug
        if room < product.dose_steps[1] * step:
            if safe >= product.restock_ug and self.total - self.done >= 2:
                self.transfer(product, lot, SAFE, ROOM, product.restock_ug, "Restock the procedure room")
            elif room >= step:
                self.administer(product, lot, room)
            else:
                self.receive(product, lot)
            return
        roll = rng.random()
        room_left = self.total - self.done
        if roll < 0.012 and product.crash_cart_ug and room_left >= 2:
            cart = self.balance(lot, CART)
            if cart < product.crash_cart_ug and safe >= product.crash_cart_ug:
                self.transfer(product, lot, SAFE, CART, product.crash_cart_ug, "Stock the crash cart")
            elif cart:
                self.transfer(product, lot, CART, SAFE, cart, "Crash cart restocked from a newer lot")
            else:
                self.administer(product, lot, room)
        elif roll < 0.027 and room_left >= 2:
            back = room // 2 // step * step
            self.transfer(product, lot, ROOM, SAFE, back, "End of day: back to the safe")
        elif roll < 0.030:
            corrected = self.latest[(lot, self.locations[ROOM])]
            change = step if rng.random() < 0.5 else -step
            self.emit(
                "correction",
                product,
                lot,
                ROOM,
                change,
                "prescriber",
                reason=f"Entry #{corrected} was written with the wrong volume",
                corrects=corrected,
            )
        elif roll < 0.0303:
            self.emit(
                "destruction",
                product,
                lot,
                ROOM,
                -step,
                "nurse",
                witness="prescriber",
                reason="Contaminated on drawing; destroyed on site",
                reference=f"DEA Form 41 {self.done} (synthetic)",
            )
        elif roll < 0.0304:
            self.emit(
                "loss",
                product,
                lot,
                ROOM,
                -step,
                "nurse",
                reason="Breakage found at count",
                reference=f"DEA Form 106 {self.done} (synthetic)",
            )
        else:
            self.administer(product, lot, room)

    def run(self) -> None:
        while self.done < self.total:
            self.step()
        self.flush()


# --- set-up, loading and timing (need Django) -------------------------------------------------


def _fixture(staff: dict[str, Any]) -> tuple[list[list[int]], list[int]]:
    """Create the products, locations and lots that are missing; return lot ids per product and location ids."""
    from django.utils import timezone

    from kapclinic.ledger.models import Lot, Product, StorageLocation

    locations = []
    for name, description in LOCATIONS:
        location, _ = StorageLocation.objects.get_or_create(name=name, defaults={"description": description})
        locations.append(location.pk)
    today = timezone.localdate()
    lots = []
    for p, spec in enumerate(PRODUCTS):
        product, _ = Product.objects.get_or_create(
            name=spec.name,
            defaults={
                "form": spec.form,
                "mg_per_unit": spec.mg_per_unit,
                "unit": spec.unit,
                "units_per_container": spec.units_per_container,
            },
        )
        numbers = [f"{LOT_PREFIX}-{p + 1}-{k:03d}" for k in range(LOTS_PER_PRODUCT)]
        existing = set(Lot.objects.filter(product=product, lot_number__in=numbers).values_list("lot_number", flat=True))
        received = today - SPAN
        step = SPAN / LOTS_PER_PRODUCT
        Lot.objects.bulk_create(
            Lot(
                product=product,
                lot_number=number,
                expires_on=received + k * step + timedelta(days=540),
                supplier_name="Example Pharma Distribution (synthetic)",
                invoice_reference=f"INV-{p + 1}{k:05d}",
                received_on=received + k * step,
                received_by=staff["nurse"],
            )
            for k, number in enumerate(numbers)
            if number not in existing
        )
        by_number = dict(Lot.objects.filter(product=product, lot_number__in=numbers).values_list("lot_number", "pk"))
        lots.append([by_number[n] for n in numbers])
    return lots, locations


def _state(lot_ids: list[int]) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """Return the current balance (in micrograms) and latest entry id of every bench lot and location."""
    from django.db.models import Max, Sum

    from kapclinic.clinical.ledger import to_mg
    from kapclinic.ledger.models import LedgerEntry

    balances, latest = {}, {}
    rows = (
        LedgerEntry.objects.filter(lot_id__in=lot_ids)
        .values("lot_id", "location_id")
        .annotate(mg=Sum("quantity_mg"), last=Max("id"))
    )
    for r in rows:
        key = (r["lot_id"], r["location_id"])
        balances[key] = int(to_mg(r["mg"]) * 1000)
        latest[key] = r["last"]
    return balances, latest


def _inserter() -> Callable[[list[Row]], None]:
    from django.db import connection, transaction

    names = (*hashed_columns(), "previous_hash", "row_hash")
    columns = ", ".join(names)
    if connection.vendor == "postgresql":

        def copy(rows: list[Row]) -> None:
            with transaction.atomic(), connection.cursor() as cursor:
                raw = cursor.cursor  # psycopg's own cursor
                with raw.copy(f"COPY inventory_ledgerentry ({columns}) FROM STDIN") as pipe:
                    for row in rows:
                        pipe.write_row(row)

        return copy

    sql = f"INSERT INTO inventory_ledgerentry ({columns}) VALUES ({', '.join(['%s'] * len(names))})"  # noqa: S608

    def many(rows: list[Row]) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    return many


def ledger_load(entries: int, staff: dict[str, Any]) -> dict[str, Any]:
    """Bring the table to `entries` rows with synthetic bench entries; return what was done."""
    from django.core.management.color import no_style
    from django.db import connection
    from django.db.models import Max

    from kapclinic.demo.synthetic import patients_ensure
    from kapclinic.ledger.models import LedgerEntry
    from kapclinic.patients.models import Patient

    started = time.perf_counter()
    patients_ensure(PATIENTS, staff=staff)
    patients = sorted(Patient.objects.filter(mrn__startswith="K9").values_list("pk", flat=True))[:PATIENTS]
    lots, locations = _fixture(staff)
    already = LedgerEntry.objects.count()
    made: Counter[str] = Counter()
    data: dict[str, Any] = {}
    if already < entries:
        balances, latest = _state([pk for product in lots for pk in product])
        # Times as Django writes them: naive UTC text on SQLite, aware for PostgreSQL.
        last = LedgerEntry.objects.aggregate(m=Max("occurred_at"))["m"]
        start = last + timedelta(seconds=1) if last else datetime.now(UTC).replace(microsecond=0) - SPAN
        start = start.astimezone(UTC).replace(microsecond=0)
        loader = LedgerLoader(
            total=entries,
            already=already,
            next_id=(LedgerEntry.objects.aggregate(m=Max("id"))["m"] or 0) + 1,
            lots=lots,
            locations=locations,
            staff={name: staff[name].pk for name in ("prescriber", "nurse", "nurse2")},
            patients=patients,
            balances=balances,
            latest=latest,
            insert=_inserter(),
            start=start if connection.vendor == "postgresql" else start.replace(tzinfo=None),
            last_hash=LedgerEntry.objects.order_by("-id").values_list("row_hash", flat=True).first(),
        )
        loader.run()
        made = loader.kinds
        data["insert_seconds"] = round(loader.insert_seconds, 1)
        if connection.vendor == "postgresql":  # ids were given explicitly: move the identity past them
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), [LedgerEntry]):
                    cursor.execute(sql)
    return {
        **data,
        "entries": LedgerEntry.objects.count(),
        "entries_made": sum(made.values()),
        "kinds_made": dict(sorted(made.items())),
        "lots": sum(len(p) for p in lots),
        "products": len(lots),
        "locations": len(locations),
        "load_seconds": round(time.perf_counter() - started, 1),
    }


def _peak(call: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure_ledger(entries: int, reps: int) -> dict[str, Any]:
    """Load the ledger to `entries` rows in the configured database and time the three workloads."""
    django_setup(KAPCLINIC_REQUIRE_MFA="false")

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    from kapclinic.audit.context import AuditContext
    from kapclinic.audit.models import Channel
    from kapclinic.demo.synthetic import staff_ensure
    from kapclinic.ledger.selectors import ledger_balances, ledger_reconciliation

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    staff = staff_ensure()
    data = ledger_load(entries, staff)
    data["load_seconds"] = round(time.perf_counter() - started, 1)
    print(
        f"  ledger: {data['entries']} entries ({data['entries_made']} made), {data['lots']} lots at "
        f"{data['locations']} locations, {data['load_seconds']:.1f} s to load"
    )
    ctx = AuditContext(user=staff["auditor"], channel=Channel.PAGE, method="GET", path="/bench/ledger")

    def baseline() -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows

    workloads: dict[str, Callable[[], Any]] = {
        "sql_aggregate": baseline,
        "ledger_balances": lambda: ledger_balances(ctx=ctx),
        "ledger_reconciliation": lambda: ledger_reconciliation(ctx=ctx),
    }
    with override_settings(DEBUG=False):
        # Untimed first calls: the query count, the peak Python memory, and a check of the books.
        queries: dict[str, int] = {}
        peaks: dict[str, int] = {}
        results: dict[str, Any] = {}
        for name, call in workloads.items():
            with CaptureQueriesContext(connection) as captured:
                results[name], peaks[name] = _peak(call)
            queries[name] = len(captured)
        unbalanced = [r for r in results["ledger_reconciliation"] if not r.balanced]
        if unbalanced:
            raise SystemExit(f"{len(unbalanced)} lots/locations do not reconcile, e.g. {unbalanced[0].problems[:2]}")
        nonzero = sum(1 for row in results["sql_aggregate"] if row[2])
        if len(results["ledger_balances"]) != nonzero or any(b.mg < 0 for b in results["ledger_balances"]):
            raise SystemExit("ledger_balances does not match the SQL aggregate")
        data["balances"] = len(results["ledger_balances"])
        data["reconciled_rows"] = len(results["ledger_reconciliation"])
        del results

        timings: dict[str, list[float]] = {name: [] for name in workloads}
        for turn in range(max(reps, FAST_REPS)):
            for name, call in workloads.items():
                if name == "ledger_reconciliation" and turn >= reps:
                    continue
                begin = time.perf_counter()
                call()
                timings[name].append(time.perf_counter() - begin)

    base = statistics.median(timings["sql_aggregate"])
    rows = []
    for name, values in timings.items():
        median = statistics.median(values)
        rows.append(
            {
                "workload": name,
                "entries": data["entries"],
                "n": len(values),
                "median_ms": round(median * 1000, 1),
                "min_ms": round(min(values) * 1000, 1),
                "ratio_to_sql": round(median / base, 1),
                "peak_mib": round(peaks[name] / 2**20, 1),
                "queries": queries[name],
            }
        )
    return {"data": data, "rows": rows}


def ledger_table(rows: list[dict[str, Any]]) -> str:
    line = "{:<22} {:>9} {:>3} {:>10} {:>10} {:>7} {:>8} {:>7}"
    header = line.format("workload", "entries", "n", "median ms", "min ms", "ratio", "peak MiB", "queries")
    lines = [header, "-" * len(header)]
    lines += [
        line.format(
            r["workload"],
            r["entries"],
            r["n"],
            f"{r['median_ms']:.1f}",
            f"{r['min_ms']:.1f}",
            f"{r['ratio_to_sql']:.1f}",
            f"{r['peak_mib']:.1f}",
            r["queries"],
        )
        for r in rows
    ]
    return "\n".join(lines)

"""The 835 remittance (ASC X12N 005010X221A1): read with pyx12's X12 reader into plain values (what was paid on
which claim and line, and why the rest was not), after pyx12's validator has accepted the whole file. No database:
matching the claims and posting the money is kapclinic/billing/remittances.py.

`remittance_text` writes an 835 as a payer would, for the demo and the tests (a synthetic payer; no real file).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import pyx12.errors
import pyx12.x12file

from kapclinic.billing.x12_837 import COMPONENT, ELEMENT, REPETITION, SEGMENT_END, clean, money


class RemittanceUnreadable(ValueError):
    """The file is not an 835 this clinic can post, said for the biller."""


@dataclass(frozen=True)
class Adjustment:
    group: str  # CAS01: CO, PR, OA, PI, CR
    reason: str  # CARC, e.g. 45
    cents: int

    @property
    def label(self) -> str:
        return f"{self.group}-{self.reason}"


@dataclass(frozen=True)
class RemitService:
    code: str
    modifiers: tuple[str, ...]
    charged_cents: int
    paid_cents: int
    adjustments: tuple[Adjustment, ...] = ()


@dataclass(frozen=True)
class RemitClaim:
    number: str  # CLP01: the CLM01 the clinic sent
    status: str  # CLP02
    charged_cents: int
    paid_cents: int
    patient_cents: int
    payer_claim_number: str  # CLP07
    adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS
    services: tuple[RemitService, ...] = ()

    @property
    def all_adjustments(self) -> list[Adjustment]:
        return [*self.adjustments, *(a for s in self.services for a in s.adjustments)]


@dataclass(frozen=True)
class Remit:
    payer_name: str
    trace_number: str
    paid_on: date
    total_cents: int
    claims: tuple[RemitClaim, ...] = field(default_factory=tuple)


def cents(value: str | None, what: str) -> int:
    if value is None or value == "":
        return 0
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise RemittanceUnreadable(f"{what} is not an amount: {value!r}.") from None
    return int((amount * 100).to_integral_value())


def _adjustments(seg: pyx12.segment.Segment) -> list[Adjustment]:
    group = seg.get_value("CAS01") or ""
    found = []
    for first in (2, 5, 8, 11, 14, 17):  # up to six reason/amount/quantity triples
        reason = seg.get_value(f"CAS{first:02d}")
        if not reason:
            continue
        found.append(Adjustment(group, reason, cents(seg.get_value(f"CAS{first + 1:02d}"), "An adjustment")))
    return found


def read_835(text: str) -> Remit:
    """The remittance in `text`, which pyx12's validator has already accepted."""
    try:
        reader = pyx12.x12file.X12Reader(io.StringIO(text))
        segments = list(reader)
    except pyx12.errors.X12Error as exc:
        raise RemittanceUnreadable(f"Not a readable X12 file: {exc}") from None
    payer_name, trace, paid_on, total = "", "", None, 0
    claims: list[RemitClaim] = []
    claim: dict[str, object] | None = None
    services: list[RemitService] = []
    service: dict[str, object] | None = None
    in_payer = False

    def close_service() -> None:
        nonlocal service
        if service is not None:
            services.append(RemitService(**service))  # type: ignore[arg-type]
            service = None

    def close_claim() -> None:
        nonlocal claim, services
        close_service()
        if claim is not None:
            claims.append(RemitClaim(**claim, services=tuple(services)))  # type: ignore[arg-type]
            claim, services = None, []

    for seg in segments:
        sid = seg.get_seg_id()
        if sid == "ST" and seg.get_value("ST01") != "835":
            raise RemittanceUnreadable(f"This is an X12 {seg.get_value('ST01')}, not an 835 remittance.")
        if sid == "BPR":
            total = cents(seg.get_value("BPR02"), "The total paid (BPR02)")
            day = seg.get_value("BPR16") or ""
            try:
                paid_on = date(int(day[:4]), int(day[4:6]), int(day[6:8])) if len(day) == 8 else date.fromisoformat("")
            except ValueError:
                raise RemittanceUnreadable(f"The payment date (BPR16) is not a date: {day!r}.") from None
        elif sid == "TRN":
            trace = seg.get_value("TRN02") or ""
        elif sid == "N1":
            in_payer = seg.get_value("N101") == "PR"
            if in_payer:
                payer_name = seg.get_value("N102") or ""
        elif sid == "CLP":
            close_claim()
            claim = {
                "number": seg.get_value("CLP01") or "",
                "status": seg.get_value("CLP02") or "",
                "charged_cents": cents(seg.get_value("CLP03"), "A claim's charge (CLP03)"),
                "paid_cents": cents(seg.get_value("CLP04"), "A claim's payment (CLP04)"),
                "patient_cents": cents(seg.get_value("CLP05"), "A claim's patient responsibility (CLP05)"),
                "payer_claim_number": seg.get_value("CLP07") or "",
                "adjustments": (),
            }
        elif sid == "SVC" and claim is not None:
            close_service()
            modifiers = (seg.get_value(f"SVC01-{i}") for i in range(3, 7))
            service = {
                "code": seg.get_value("SVC01-2") or "",
                "modifiers": tuple(m for m in modifiers if m),
                "charged_cents": cents(seg.get_value("SVC02"), "A line's charge (SVC02)"),
                "paid_cents": cents(seg.get_value("SVC03"), "A line's payment (SVC03)"),
                "adjustments": (),
            }
        elif sid == "CAS":
            if service is not None:
                service["adjustments"] = (*service["adjustments"], *_adjustments(seg))  # type: ignore[misc]
            elif claim is not None:
                claim["adjustments"] = (*claim["adjustments"], *_adjustments(seg))  # type: ignore[misc]
        elif sid in ("SE", "PLB"):
            close_claim()
    close_claim()
    if paid_on is None:
        raise RemittanceUnreadable("No payment segment (BPR) in the file.")
    return Remit(payer_name=payer_name, trace_number=trace, paid_on=paid_on, total_cents=total, claims=tuple(claims))


# --- a synthetic payer's 835, for the demo and the tests ----------------------------------------------------------


@dataclass(frozen=True)
class RemitLineIn:
    code: str
    modifiers: Sequence[str]
    charged_cents: int
    paid_cents: int
    day: date
    adjustments: Sequence[Adjustment] = ()


@dataclass(frozen=True)
class RemitClaimIn:
    number: str
    status: str
    charged_cents: int
    paid_cents: int
    patient_cents: int
    payer_claim_number: str
    patient_last: str
    patient_first: str
    member_id: str
    lines: Sequence[RemitLineIn] = ()


def remittance_text(
    *,
    payer_name: str,
    payer_tax_id: str,
    payee_name: str,
    payee_npi: str,
    trace_number: str,
    paid_on: date,
    claims: Sequence[RemitClaimIn],
    control_number: int = 1,
) -> str:
    """An 835 as a payer sends it: one check (`trace_number`) paying `claims`."""
    total = sum(c.paid_cents for c in claims)
    day = paid_on.strftime("%Y%m%d")
    control = f"{control_number:09d}"

    def seg(*elements: str) -> str:
        items = list(elements)
        while items and items[-1] == "":
            items.pop()
        return ELEMENT.join(items)

    body = [
        seg("ST", "835", "0001"),
        seg("BPR", "I", money(total), "C", "CHK", "", "", "", "", "", "", "", "", "", "", "", day),
        seg("TRN", "1", clean(trace_number, 50), "1" + payer_tax_id),
        seg("N1", "PR", clean(payer_name, 60)),
        seg("N3", "1 PAYER PLAZA"),
        seg("N4", "DALLAS", "TX", "752010001"),
        seg("PER", "BL", "PROVIDER SERVICES", "TE", "8005550100"),
        seg("N1", "PE", clean(payee_name, 60), "XX", payee_npi),
        seg("LX", "1"),
    ]
    for c in claims:
        body.append(
            seg(
                "CLP",
                c.number,
                c.status,
                money(c.charged_cents),
                money(c.paid_cents),
                money(c.patient_cents) if c.patient_cents else "",
                "12",
                c.payer_claim_number,
            )
        )
        body.append(
            seg("NM1", "QC", "1", clean(c.patient_last, 60), clean(c.patient_first, 35), "", "", "", "MI", c.member_id)
        )
        for line in c.lines:
            body.append(
                seg(
                    "SVC",
                    COMPONENT.join(["HC", line.code, *line.modifiers]),
                    money(line.charged_cents),
                    money(line.paid_cents),
                    "",
                    "1",
                )
            )
            body.append(seg("DTM", "472", line.day.strftime("%Y%m%d")))
            by_group: dict[str, list[Adjustment]] = {}
            for adj in line.adjustments:
                by_group.setdefault(adj.group, []).append(adj)
            for group, adjs in by_group.items():
                triples: list[str] = []
                for adj in adjs[:6]:
                    triples += [adj.reason, money(adj.cents), ""]
                body.append(seg("CAS", group, *triples))
    body.append(seg("SE", str(len(body) + 1), "0001"))
    isa = ELEMENT.join(
        [
            "ISA", "00", " " * 10, "00", " " * 10, "ZZ", "SYNPAYER".ljust(15), "ZZ", "KAPDEMO".ljust(15),
            paid_on.strftime("%y%m%d"), "1200", REPETITION, "00501", control, "0", "T", COMPONENT,
        ]
    )  # fmt: skip
    start = [isa, seg("GS", "HP", "SYNPAYER", "KAPDEMO", day, "1200", str(control_number), "X", "005010X221A1")]
    end = [seg("GE", "1", str(control_number)), seg("IEA", "1", control)]
    return (SEGMENT_END + "\n").join(start + body + end) + SEGMENT_END + "\n"

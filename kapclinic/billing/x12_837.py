"""The 837P claim file (ASC X12N 005010X222A1), written from plain values: no database, so the bench times the
writing alone and the tests validate the result with pyx12.

One file holds one interchange (ISA/GS/ST) with the submitter, the receiver and one billing provider (the practice),
then per claim a subscriber (and a patient loop when the patient is not the subscriber), the payer, the claim (CLM,
HI), the rendering provider and the service lines (LX/SV1/DTP, and LIN/CTP for a drug's NDC). Loop and segment
order follow pyx12's map 837.5010.X222.A1.xml (the implementation guide as a maintained validator reads it).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

SEGMENT_END = "~"
ELEMENT = "*"
COMPONENT = ":"
REPETITION = "^"
# The patient's relationship to the subscriber (SBR02 / PAT01): 18 self, 01 spouse, 19 child, G8 other.
RELATIONSHIP_CODES = {"self": "18", "spouse": "01", "child": "19", "other": "G8"}
SEX_CODES = {"female": "F", "male": "M"}  # DMG03; anything else is U (unknown)


@dataclass(frozen=True)
class Practice:
    """The billing provider and the envelope's parties (settings KAPCLINIC_BILLING_*, KAPCLINIC_X12_*)."""

    name: str
    npi: str
    tax_id: str
    taxonomy: str
    street: str
    city: str
    state: str
    zip_code: str
    phone: str
    contact: str
    submitter_id: str
    receiver_id: str
    receiver_name: str
    usage: str = "T"


@dataclass(frozen=True)
class Person:
    last: str
    first: str
    street: str = ""
    city: str = ""
    state: str = ""
    zip_code: str = ""
    birth_date: date | None = None
    sex: str = ""  # female, male, or anything else (unknown)


@dataclass(frozen=True)
class ServiceLine:
    code: str
    modifiers: Sequence[str]
    amount_cents: int
    units: int
    pointers: Sequence[int]
    date_of_service: date
    ndc: str = ""
    ndc_quantity: Decimal | None = None
    ndc_unit: str = ""


@dataclass(frozen=True)
class ClaimRecord:
    number: str  # CLM01, returned in the 835's CLP01
    total_cents: int
    place_of_service: str
    frequency: str  # 1 original, 7 replacement
    diagnoses: Sequence[str]
    rank: str  # primary / secondary
    relationship: str  # self, spouse, child, other
    member_id: str
    group_number: str
    subscriber: Person  # the patient themself when relationship is self
    patient: Person
    payer_name: str
    payer_id: str
    rendering_last: str
    rendering_first: str
    rendering_npi: str
    lines: Sequence[ServiceLine] = field(default_factory=tuple)
    original_reference: str = ""  # REF*F8 of a replacement: the payer's claim control number


def clean(text: str, limit: int = 60) -> str:
    """Upper-case ASCII without the delimiters, as clearinghouses expect names and addresses."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    for ch in (SEGMENT_END, ELEMENT, COMPONENT, REPETITION):
        plain = plain.replace(ch, " ")
    return " ".join(plain.upper().split())[:limit]


def money(cents: int) -> str:
    """X12 decimal: no trailing zeros after the point, no point for whole dollars."""
    whole, part = divmod(cents, 100)
    if part == 0:
        return str(whole)
    return f"{whole}.{part:02d}".rstrip("0")


def quantity(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def icd(code: str) -> str:
    return code.replace(".", "").upper()


def ndc11(ndc: str) -> str:
    """The 11-digit 5-4-2 NDC the 837P asks for (LIN03), from a labeled 10-digit 4-4-2, 5-3-2 or 5-4-1."""
    parts = ndc.split("-")
    if len(parts) == 3:
        labeler, product, package = parts
        return labeler.zfill(5) + product.zfill(4) + package.zfill(2)
    digits = "".join(c for c in ndc if c.isdigit())
    return digits.zfill(11)


def _seg(*elements: str) -> str:
    # Trailing empty elements are dropped, as the standard requires.
    items = list(elements)
    while items and items[-1] == "":
        items.pop()
    return ELEMENT.join(items)


def _n3_n4(person_or_practice: Person | Practice) -> list[str]:
    return [
        _seg("N3", clean(person_or_practice.street, 55)),
        _seg(
            "N4",
            clean(person_or_practice.city, 30),
            clean(person_or_practice.state, 2),
            "".join(c for c in person_or_practice.zip_code if c.isdigit()),
        ),
    ]


def _dmg(person: Person) -> str:
    born = person.birth_date.strftime("%Y%m%d") if person.birth_date else ""
    return _seg("DMG", "D8", born, SEX_CODES.get(person.sex, "U"))


def claim_segments(claim: ClaimRecord, hl_next: int, billing_hl: int) -> tuple[list[str], int]:
    """The 2000B (and 2000C) loops of one claim; returns the segments and the next HL number."""
    out: list[str] = []
    is_self = claim.relationship == "self"
    subscriber_hl = hl_next
    out.append(_seg("HL", str(subscriber_hl), str(billing_hl), "22", "0" if is_self else "1"))
    out.append(
        _seg(
            "SBR",
            "P" if claim.rank == "primary" else "S",
            "18" if is_self else "",
            clean(claim.group_number, 50),
            "",
            "",
            "",
            "",
            "",
            "CI",  # commercial insurance; the payer table does not say Medicare/Medicaid yet
        )
    )
    sub = claim.subscriber
    out.append(
        _seg("NM1", "IL", "1", clean(sub.last, 60), clean(sub.first, 35), "", "", "", "MI", clean(claim.member_id, 80))
    )
    if is_self:
        out += _n3_n4(sub)
        out.append(_dmg(sub))
    out.append(_seg("NM1", "PR", "2", clean(claim.payer_name, 60), "", "", "", "", "PI", clean(claim.payer_id, 80)))
    hl = subscriber_hl + 1
    if not is_self:
        out.append(_seg("HL", str(hl), str(subscriber_hl), "23", "0"))
        out.append(_seg("PAT", RELATIONSHIP_CODES.get(claim.relationship, "G8")))
        pat = claim.patient
        out.append(_seg("NM1", "QC", "1", clean(pat.last, 60), clean(pat.first, 35)))
        out += _n3_n4(pat)
        out.append(_dmg(pat))
        hl += 1
    out.append(
        _seg(
            "CLM",
            claim.number,
            money(claim.total_cents),
            "",
            "",
            COMPONENT.join((claim.place_of_service, "B", claim.frequency)),
            "Y",  # provider signature on file
            "A",  # assignment of benefits accepted
            "Y",  # benefits assigned
            "Y",  # release of information
        )
    )
    if claim.frequency == "7":
        out.append(_seg("REF", "F8", clean(claim.original_reference, 50)))
    out.append(
        ELEMENT.join(
            ["HI"] + [COMPONENT.join(("ABK" if i == 0 else "ABF", icd(code))) for i, code in enumerate(claim.diagnoses)]
        )
    )
    out.append(
        _seg(
            "NM1",
            "82",
            "1",
            clean(claim.rendering_last, 60),
            clean(claim.rendering_first, 35),
            "",
            "",
            "",
            "XX",
            claim.rendering_npi,
        )
    )
    for number, line in enumerate(claim.lines, start=1):
        out.append(_seg("LX", str(number)))
        procedure = COMPONENT.join(["HC", line.code, *line.modifiers])
        out.append(
            _seg(
                "SV1",
                procedure,
                money(line.amount_cents),
                "UN",
                str(line.units),
                "",
                "",
                COMPONENT.join(str(p) for p in line.pointers),
            )
        )
        out.append(_seg("DTP", "472", "D8", line.date_of_service.strftime("%Y%m%d")))
        if line.ndc and line.ndc_quantity is not None:
            out.append(_seg("LIN", "", "N4", ndc11(line.ndc)))
            out.append(_seg("CTP", "", "", "", quantity(line.ndc_quantity), line.ndc_unit or "UN"))
    return out, hl


def claim_file(practice: Practice, claims: Sequence[ClaimRecord], *, control_number: int, created: datetime) -> str:
    """One 837P interchange for `claims` (one or many). `control_number` (1..999999999) numbers ISA13, GS06 and
    BHT03; the clearinghouse refuses a number it has seen, so the caller gives a fresh one."""
    day, clock = created.strftime("%Y%m%d"), created.strftime("%H%M")
    control = f"{control_number:09d}"
    body: list[str] = [
        _seg("ST", "837", "0001", "005010X222A1"),
        _seg("BHT", "0019", "00", control, day, clock, "CH"),
        _seg("NM1", "41", "2", clean(practice.name, 60), "", "", "", "", "46", clean(practice.submitter_id, 80)),
        _seg("PER", "IC", clean(practice.contact, 60), "TE", "".join(c for c in practice.phone if c.isdigit())),
        _seg(
            "NM1", "40", "2", clean(practice.receiver_name, 60), "", "", "", "", "46", clean(practice.receiver_id, 80)
        ),
        _seg("HL", "1", "", "20", "1"),
        _seg("PRV", "BI", "PXC", practice.taxonomy),
        _seg("NM1", "85", "2", clean(practice.name, 60), "", "", "", "", "XX", practice.npi),
        *_n3_n4(practice),
        _seg("REF", "EI", "".join(c for c in practice.tax_id if c.isdigit())),
    ]
    hl = 2
    for claim in claims:
        segments, hl = claim_segments(claim, hl, 1)
        body += segments
    body.append(_seg("SE", str(len(body) + 1), "0001"))
    isa = ELEMENT.join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            clean(practice.submitter_id, 15).ljust(15),
            "ZZ",
            clean(practice.receiver_id, 15).ljust(15),
            created.strftime("%y%m%d"),
            clock,
            REPETITION,
            "00501",
            control,
            "0",
            practice.usage,
            COMPONENT,
        ]
    )
    envelope_start = [
        isa,
        _seg(
            "GS",
            "HC",
            clean(practice.submitter_id, 15),
            clean(practice.receiver_id, 15),
            day,
            clock,
            str(control_number),
            "X",
            "005010X222A1",
        ),
    ]
    envelope_end = [_seg("GE", "1", str(control_number)), _seg("IEA", "1", control)]
    return (SEGMENT_END + "\n").join(envelope_start + body + envelope_end) + SEGMENT_END + "\n"

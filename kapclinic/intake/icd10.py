"""Searching ICD-10-CM codes for the diagnosis and indication pickers (the list of kapclinic/clinical/icd10.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from kapclinic.clinical.icd10 import code_list, icd10_description


@dataclass(frozen=True)
class Icd10Code:
    code: str
    description: str
    billable: bool


@cache
def _index() -> tuple[Icd10Code, ...]:
    # Loaded on the first search (about 2 s), then kept: 98,000 codes, about 15 MB.
    module = code_list()
    rows = []
    for code in module.get_all_codes(True):
        if "-" in code or not code[:1].isalpha():  # chapters and blocks are not codes
            continue
        rows.append(Icd10Code(code, module.get_description(code), bool(module.is_leaf(code))))
    return tuple(rows)


def icd10_search(query: str, *, limit: int = 20) -> list[Icd10Code]:
    """Codes whose code starts with `query`, or whose description holds every word of it; F codes first."""
    words = query.strip().lower().split()
    if not words:
        return []
    head = words[0].upper().replace(" ", "")
    found: list[Icd10Code] = []
    by_code = [row for row in _index() if row.code.startswith(head)] if len(words) == 1 else []
    found.extend(by_code[:limit])
    if len(found) < limit:
        seen = {row.code for row in found}
        matches = [
            row for row in _index() if row.code not in seen and all(word in row.description.lower() for word in words)
        ]
        # Mental and behavioural disorders (chapter F) first: they are what this clinic codes most.
        matches.sort(key=lambda row: (not row.code.startswith("F"), not row.billable, row.code))
        found.extend(matches[: limit - len(found)])
    return found


__all__ = ["Icd10Code", "icd10_description", "icd10_search"]

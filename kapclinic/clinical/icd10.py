"""The ICD-10-CM code list: whether a code is in it, and what it says. Plain Python, no Django.

One list for every screen: the evaluation's diagnoses, the plan's indication, the eligibility code groups and the
pickers all read the bundled simple-icd-10-cm package (the FY ICD-10-CM tables, codes with or without the dot).
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any


@cache
def code_list() -> Any:
    # Imported on first use: loading the bundled list takes a few seconds, too long for every start-up. The package
    # is untyped, hence Any.
    return importlib.import_module("simple_icd_10_cm")


def is_icd10_cm(code: str) -> bool:
    """Return whether `code` is in the ICD-10-CM list (a code, a category, or a block such as "F20-F29")."""
    return bool(code_list().is_valid_item(code))


def icd10_description(code: str) -> str:
    """Return the code's description, or "" for a code not in the list."""
    return str(code_list().get_description(code)) if is_icd10_cm(code) else ""


__all__ = ["code_list", "icd10_description", "is_icd10_cm"]

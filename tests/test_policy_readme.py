"""The README's policy-file section lists every policy setting with its default (issue 13): a setting added,
renamed or given a new default without its line there fails here."""

from __future__ import annotations

import re
from dataclasses import fields
from decimal import Decimal
from pathlib import Path

import pytest

from kapclinic.clinical.dosing import DosingPolicy
from kapclinic.clinical.eligibility import EligibilityPolicy
from kapclinic.clinical.monitoring import MonitoringPolicy

README = Path(__file__).resolve().parent.parent / "README.md"


def _documented() -> dict[str, str]:
    """Return each `| `setting` | default |` row of the README: setting -> default as written."""
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+?) \|", README.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return dict(rows)


def _same(default: object, written: str) -> bool:
    if isinstance(default, bool):
        return written == str(default).lower()
    if isinstance(default, str):
        return written == f'`"{default}"`'
    assert isinstance(default, int | float | Decimal)
    return Decimal(str(default)) == Decimal(written)


@pytest.mark.parametrize("policy", [EligibilityPolicy, DosingPolicy, MonitoringPolicy])
def test_every_policy_setting_is_in_the_readme_with_its_default(policy: type) -> None:
    documented = _documented()
    default = policy()
    for field in fields(policy):
        if field.name == "version":
            continue
        assert field.name in documented, f"README: add a line for the {policy.__name__} setting {field.name}"
        value = getattr(default, field.name)
        assert _same(value, documented[field.name]), f"README: {field.name} defaults to {value!r}"

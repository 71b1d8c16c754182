"""The clinic's policy thresholds: the pure rule modules' defaults, with the clinic's settings applied.

The rules live in kapclinic/clinical/ (eligibility, dosing, monitoring) with the domain notes' defaults; a
clinic changes a threshold in the file named by KAPCLINIC_POLICY_FILE. A changed area must name its new
version, so every decision, plan and order records which policy produced it.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from kapclinic.clinical.dosing import DosingPolicy
from kapclinic.clinical.eligibility import EligibilityPolicy
from kapclinic.clinical.monitoring import MonitoringPolicy

P = TypeVar("P")


@cache
def _file(path: str) -> dict[str, dict[str, Any]]:
    if not path:
        return {}
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(f"KAPCLINIC_POLICY_FILE {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ImproperlyConfigured(f"KAPCLINIC_POLICY_FILE {path} must hold one object per area.")
    return loaded


def _build(area: str, cls: type[P]) -> P:
    overrides = dict(_file(settings.KAPCLINIC_POLICY_FILE).get(area, {}))
    default = cls()
    if not overrides:
        return default
    fields = {f.name: f for f in dataclasses.fields(default)}  # type: ignore[arg-type]
    unknown = set(overrides) - set(fields)
    if unknown:
        raise ImproperlyConfigured(f"Unknown {area} policy settings: {', '.join(sorted(unknown))}.")
    if overrides.get("version", getattr(default, "version", None)) == getattr(default, "version", None):
        raise ImproperlyConfigured(f"A changed {area} policy needs a new version string.")
    for name, value in overrides.items():
        current = getattr(default, name)
        if isinstance(current, Decimal):
            overrides[name] = Decimal(str(value))
        elif isinstance(current, float):
            overrides[name] = float(value)
        elif isinstance(current, bool | int):
            overrides[name] = type(current)(value)
    return dataclasses.replace(default, **overrides)  # type: ignore[type-var]


def eligibility_policy() -> EligibilityPolicy:
    return _build("eligibility", EligibilityPolicy)


def dosing_policy() -> DosingPolicy:
    from kapclinic.clinical.dosing import DosingPolicy

    return _build("dosing", DosingPolicy)


def monitoring_policy() -> MonitoringPolicy:
    from kapclinic.clinical.monitoring import MonitoringPolicy

    return _build("monitoring", MonitoringPolicy)

"""Role-matrix probes for each area, collected by tests/test_role_matrix.py.

A probe tries one action as the World's persona on one patient and says whether it worked.
Each area keeps its probes in its own module here and registers its dict in PROBES_BY_AREA.
"""

from __future__ import annotations

from kapclinic.roles import Action
from tests.probes import (
    billing,
    billing_codes,
    claims,
    consent,
    dosing,
    messaging,
    outcomes,
    referrals,
    reminders,
    smart,
    therapy,
)
from tests.probes.world import Probe, World

# Each area's module defines PROBES: {action: (probe, whether the probe is about one patient)}.
PROBES_BY_AREA: list[dict[Action, tuple[Probe, bool]]] = []
PROBES_BY_AREA.append(consent.PROBES)
PROBES_BY_AREA.append(therapy.PROBES)
PROBES_BY_AREA.append(dosing.PROBES)
PROBES_BY_AREA.append(messaging.PROBES)
PROBES_BY_AREA.append(reminders.PROBES)
PROBES_BY_AREA.append(smart.PROBES)
PROBES_BY_AREA.append(billing.PROBES)
PROBES_BY_AREA.append(billing_codes.PROBES)
PROBES_BY_AREA.append(claims.PROBES)
PROBES_BY_AREA.append(referrals.PROBES)
PROBES_BY_AREA.append(outcomes.PROBES)

__all__ = ["PROBES_BY_AREA", "Probe", "World"]

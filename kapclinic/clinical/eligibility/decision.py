"""The prescriber's decision: which decisions the findings allow, and when a written reason is needed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from kapclinic.clinical.eligibility.findings import Finding

Decision = Literal["eligible", "eligible_with_precautions", "not_eligible"]
DECISIONS: tuple[Decision, ...] = ("eligible", "eligible_with_precautions", "not_eligible")


def decision_allowed(findings: Iterable[Finding], decision: str, reason: str | None) -> tuple[bool, str]:
    """Return whether the decision may be recorded against these findings, and why (or why not).

    "not_eligible" is always allowed. Any absolute finding refuses "eligible" and "eligible_with_precautions"
    alike (proceeding with precautions is still proceeding). A relative finding (contraindication or precaution)
    lets the prescriber proceed only with a written reason.
    """
    if decision not in DECISIONS:
        return False, f"Unknown decision {decision!r}; choose one of {', '.join(DECISIONS)}."
    if decision == "not_eligible":
        return True, "Not eligible can always be recorded."
    findings = list(findings)
    absolute = [finding.code for finding in findings if finding.severity == "absolute"]
    if absolute:
        return False, (
            f"Cannot record {decision.replace('_', ' ')}: absolute contraindication ({', '.join(absolute)}). "
            "Record not eligible, or correct the evaluation if a finding rests on a wrong entry."
        )
    relative = [finding.code for finding in findings if finding.severity == "relative"]
    if relative and not (reason or "").strip():
        return False, (
            f"A written reason is needed to proceed despite relative contraindications or precautions "
            f"({', '.join(relative)})."
        )
    if relative:
        return True, f"Allowed with the written reason, despite {', '.join(relative)}."
    return True, "No absolute or relative findings."

"""What the dosing, eligibility and monitoring policies do with settings that contradict each other."""

from __future__ import annotations


def refuse_inconsistent(kind: str, version: str, problems: list[str]) -> None:
    """Refuse a policy with every problem its settings have, so a bad setting fails when the policy is saved or
    loaded, not in clinic (ValueError: "Dosing policy 'v1': ...; ...")."""
    if problems:
        raise ValueError(f"{kind} policy {version!r}: " + "; ".join(problems))

"""Findings: what a rule returns, how serious it is, and the helpers every rule builds its findings with.

Severity follows the notes' engine convention: "absolute" blocks; "relative" (a relative contraindication or a
precaution) lets the prescriber proceed only with a written reason; "interaction" warns and is documented;
"missing" names information a rule needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from kapclinic.clinical.eligibility.policy import EligibilityPolicy
from kapclinic.clinical.eligibility.snapshot import EvaluationSnapshot

Severity = Literal["absolute", "relative", "interaction", "missing"]
SEVERITIES: tuple[Severity, ...] = ("absolute", "relative", "interaction", "missing")

EvidenceValue = str | int | float | bool | None | tuple[str, ...]
Evidence = Mapping[str, EvidenceValue]

# A source carrying one of these marks is not confirmed: it never yields an "absolute" finding (see `make_finding`).
_UNCONFIRMED_MARKS = ("[unverified", "[verify")


@dataclass(frozen=True)
class Finding:
    """One thing the prescriber must see: what (code), how serious, why, from which source, on what evidence."""

    code: str
    severity: Severity
    message: str
    source: str
    evidence: Evidence = field(default_factory=dict, hash=False)

    @property
    def rule(self) -> str:
        """Return the rule that raised it: the code up to the first dot."""
        return self.code.split(".", 1)[0]

    def as_dict(self) -> dict[str, object]:
        """Return the finding as the API shows it (sequences as lists)."""
        evidence = {key: list(value) if isinstance(value, tuple) else value for key, value in self.evidence.items()}
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "source": self.source,
            "evidence": evidence,
        }


Rule = Callable[[EvaluationSnapshot, EligibilityPolicy], list[Finding]]


def make_finding(code: str, severity: Severity, message: str, source: str, evidence: Evidence) -> Finding:
    """Return a finding; an "absolute" one whose source is unconfirmed becomes "relative", saying so."""
    if severity == "absolute" and any(mark in source.lower() for mark in _UNCONFIRMED_MARKS):
        # The notes' convention: a fact marked [unverified] must not hard-block. The prescriber decides, in writing.
        severity = "relative"
        message += (
            " Downgraded from absolute: the basis is marked [unverified] in the domain notes, so the prescriber "
            "decides and records why."
        )
    return Finding(code, severity, message, source, evidence)


# What to collect before the first dose: the source of every "missing" finding.
SECTION_4 = "eligibility.md section 4 (pre-treatment evaluation, Sanacora 2017)"


def missing_finding(code: str, what: str, needed_for: str, source: str, evidence: Evidence) -> Finding:
    """Return the "missing" finding `<code>.unknown`: `what` is not recorded, and a rule needs it."""
    return Finding(
        f"{code}.unknown",
        "missing",
        f"{what} is not recorded; it is needed to screen for {needed_for}.",
        f"{SECTION_4}; {source}",
        evidence,
    )


# --- How serious a contraindication is, in the notes' words --------------------------------------------------

Level = Literal["absolute", "relative", "precaution"]


@dataclass(frozen=True)
class LevelWords:
    """How a level of contraindication grades a finding, and how messages name it."""

    severity: Severity
    title: str  # "Absolute contraindication: ..."
    need: str  # "... needed to screen for an absolute contraindication"


LEVELS: dict[Level, LevelWords] = {
    "absolute": LevelWords("absolute", "Absolute contraindication", "an absolute contraindication"),
    "relative": LevelWords("relative", "Relative contraindication", "a relative contraindication"),
    "precaution": LevelWords("relative", "Precaution", "a precaution"),
}


def absolute_if(policy_says_absolute: bool) -> Level:
    """Return "absolute" when the clinic's policy makes the finding absolute, else "relative"."""
    return "absolute" if policy_says_absolute else "relative"


def level_finding(code: str, level: Level, what: str, source: str, evidence: Evidence) -> Finding:
    """Return the finding "<Level words>: <what>" at the severity of `level`."""
    return make_finding(code, LEVELS[level].severity, f"{LEVELS[level].title}: {what}", source, evidence)


# --- Rules written as rows of a table ------------------------------------------------------------------------


class RuleRow(Protocol):
    """A row of a rule table: its code names the rule, its summary describes it, `findings` applies it."""

    @property
    def code(self) -> str: ...

    @property
    def summary(self) -> str: ...

    def findings(self, snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]: ...


def rules_by_code(rows: tuple[RuleRow, ...]) -> dict[str, Rule]:
    """Return one rule function per row, named by the row's code, its summary as the docstring.

    `evaluate`, the tests and the stored findings know the rules by these names, so each row stays a rule in its
    own right (RULES lists them one by one).
    """
    rules: dict[str, Rule] = {}
    for row in rows:
        if row.code in rules:
            raise ValueError(f"Two rows share the rule code {row.code!r}.")
        rules[row.code] = _as_rule(row)
    return rules


def _as_rule(row: RuleRow) -> Rule:
    def rule(snapshot: EvaluationSnapshot, policy: EligibilityPolicy) -> list[Finding]:
        return row.findings(snapshot, policy)

    rule.__name__ = rule.__qualname__ = row.code
    rule.__doc__ = row.summary
    return rule

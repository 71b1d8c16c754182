"""ICD-10-CM code checks for the diagnosis screens (eligibility.md section 3, completed 2026-12-04).

eligibility.md section 3: "Code lists must be reviewed by a clinician before they hard-block." A code alone asks
the prescriber to confirm the history (`coded_finding`) unless the clinic's policy says its list is reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from kapclinic.clinical.eligibility.findings import LEVELS, Evidence, Finding, Level, Severity, make_finding
from kapclinic.clinical.eligibility.policy import EligibilityPolicy
from kapclinic.clinical.eligibility.snapshot import EvaluationSnapshot
from kapclinic.clinical.icd10 import code_list, is_icd10_cm


def _normalise_code(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


@cache
def _under(code: str, root: str) -> bool:
    """Return whether `code` is `root` or below it in the ICD-10-CM tree (a block such as "F20-F29", a category,
    a subcategory). A code the tree does not know falls back to its prefix (never for a block)."""
    wanted, given = _normalise_code(root), _normalise_code(code)
    if given == wanted:
        return True
    root_key = root.strip().upper()
    if is_icd10_cm(given) and is_icd10_cm(root_key):
        return bool(code_list().is_ancestor(root_key, given))
    return "-" not in root and given.startswith(wanted)


@dataclass(frozen=True)
class CodeGroup:
    """ICD-10-CM codes a screen looks for: everything under `roots` in the code tree, except under `excluding`."""

    roots: tuple[str, ...]
    excluding: tuple[str, ...] = ()

    def matches(self, code: str) -> bool:
        """Return whether the code falls in the group."""
        return any(_under(code, root) for root in self.roots) and not any(_under(code, root) for root in self.excluding)


def coded(snapshot: EvaluationSnapshot, group: CodeGroup | tuple[str, ...]) -> tuple[str, ...]:
    """Return the recorded diagnosis codes in the group (roots given as a tuple: everything under them)."""
    wanted = group if isinstance(group, CodeGroup) else CodeGroup(group)
    if not wanted.roots:
        return ()
    return tuple(code for code in snapshot.diagnoses or () if wanted.matches(code))


def coded_message(label: str, codes: tuple[str, ...], denied: bool, level: Level, blocks: bool) -> str:
    """Return the message of a code-only finding: the codes suggest `label`; the history says no, or nothing."""
    said = "says no" if denied else "does not say"
    text = (
        f"{LEVELS[level].title} suspected: diagnosis {', '.join(codes)} suggests {label}, but the history {said}. "
        "Confirm and record it."
    )
    if level == "absolute" and not blocks:
        text += (
            " A diagnosis code alone does not hard-block until the clinic's code list is reviewed by a clinician "
            "(eligibility.md section 3)."
        )
    return text


def coded_finding(
    code: str,
    label: str,
    codes: tuple[str, ...],
    *,
    denied: bool,
    level: Level,
    policy: EligibilityPolicy,
    source: str,
    evidence: Evidence,
) -> Finding:
    """Return the finding `<code>.coded`: absolute only when the level is and the policy lets codes block."""
    blocks = policy.diagnosis_codes_block
    severity: Severity = "absolute" if level == "absolute" and blocks else "relative"
    return make_finding(f"{code}.coded", severity, coded_message(label, codes, denied, level, blocks), source, evidence)


# Arteriovenous malformation at any site (the label contraindicates AVM, Spravato US PI 4): peripheral (Q27.3x),
# precerebral (Q28.0) and cerebral vessels (Q28.2, Q28.3).
AVM_CODES = CodeGroup(("Q27.3", "Q28.0", "Q28.2", "Q28.3"))
# A current mood episode with psychotic features: bipolar depressed severe (F31.5), single (F32.3) and recurrent
# (F33.3) major depression. Spravato US PI 5.2: "carefully assess patients with psychosis".
PSYCHOTIC_FEATURES_CODES = CodeGroup(("F31.5", "F32.3", "F33.3"))
# Psychotic disorders: the ICD-10-CM block F20-F29 (schizophrenia F20, delusional F22, brief F23, shared F24,
# schizoaffective F25, other F28, unspecified F29) without schizotypal disorder (F21, not a psychosis), and a
# psychotic disorder due to another condition (F06.0 hallucinations, F06.2 delusions).
PSYCHOTIC_DISORDER_CODES = CodeGroup(("F20-F29", "F06.0", "F06.2"), excluding=("F21",))
